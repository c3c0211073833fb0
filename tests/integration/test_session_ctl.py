"""parleyctl session list and session kick, over the control socket, with
sessions on both workers: support staff see every session with its worker,
address and login time, end one session by its full JID or all of an
account by its bare JID, and get --json for scripts."""
import json
import unittest

from clients import online
from harness import DOMAIN, ServerTestCase, run, worker_of


class SessionControl(ServerTestCase):
    users = ('alice', 'bob', 'carol')

    def ctl_json(self, *args):
        r = self.server.ctl(*args, '--json')
        return json.loads(r.stdout)

    def test_list_and_kick_across_workers(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='desk')
            wa = worker_of(self.server, 'alice@%s/desk' % DOMAIN)
            # Bob on both workers: open sessions until one lands on the other (bounded).
            bobs = {}
            for i in range(12):
                c = await online(self.server, 'bob', resource='r%d' % i)
                w = worker_of(self.server, 'bob@%s/r%d' % (DOMAIN, i))
                if w in bobs:
                    await c.bye()
                    continue
                bobs[w] = (c, 'r%d' % i)
                if len(bobs) == 2:
                    break
            self.assertEqual(len(bobs), 2, 'bob needs a session on each worker')
            carol = await online(self.server, 'carol', resource='phone')

            listing = self.ctl_json('session', 'list')
            self.assertTrue(listing['ok'])
            by_jid = {s['jid']: s for s in listing['sessions']}
            self.assertEqual(listing['total'], 4)
            self.assertFalse(listing['truncated'])
            self.assertEqual(by_jid['alice@%s/desk' % DOMAIN]['worker'], wa)
            for w, (c, res) in bobs.items():
                s = by_jid['bob@%s/%s' % (DOMAIN, res)]
                self.assertEqual(s['worker'], w)
                self.assertTrue(s['connected'])
                self.assertEqual(s['address'], '127.0.0.1')
                self.assertTrue(s['tls'])
                self.assertGreater(s['since'], 1600000000)
                self.assertTrue(s['available'])
            # One account's sessions; and the same for people.
            bob_only = self.ctl_json('session', 'list', 'bob@%s' % DOMAIN)
            self.assertEqual(sorted(s['jid'] for s in bob_only['sessions']),
                             sorted('bob@%s/%s' % (DOMAIN, res) for c, res in bobs.values()))
            text = self.server.ctl('session', 'list', 'alice@%s' % DOMAIN).stdout
            self.assertIn('alice@%s/desk' % DOMAIN, text)
            self.assertIn('127.0.0.1', text)
            self.assertNotIn('bob@', text)

            # A full JID ends that one session.
            r = self.server.ctl('session', 'kick', 'carol@%s/phone' % DOMAIN)
            self.assertIn('ended 1 session', r.stdout)
            await carol.wait_gone(15)
            self.assertIn('not-authorized', carol.stream_errors)
            # A bare JID ends every session of the account, on both workers.
            kicked = self.ctl_json('session', 'kick', 'bob@%s' % DOMAIN)
            self.assertEqual(kicked['closed'], 2)
            for c, res in bobs.values():
                await c.wait_gone(15)
                self.assertIn('not-authorized', c.stream_errors)
            self.assertTrue(self.server.wait_log(r'an administrator ended this session|closing 2 session'))
            after = self.ctl_json('session', 'list')
            self.assertEqual([s['jid'] for s in after['sessions']], ['alice@%s/desk' % DOMAIN],
                             'only alice is left')
            self.assertFalse(alice.gone.done(), 'alice was not touched')
            # Nothing to end: said, and a failure status.
            r = self.server.ctl('session', 'kick', 'carol@%s/phone' % DOMAIN, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn('has no session', r.stderr)
            r = self.server.ctl('session', 'kick', 'not a jid@@', check=False)
            self.assertEqual(r.returncode, 1)
            await alice.bye()
        run(conversation())

    def test_an_empty_list_and_bad_arguments(self):
        r = self.server.ctl('session', 'list', 'nobody@%s' % DOMAIN)
        self.assertIn('has no session', r.stdout)
        r = self.server.ctl('session', 'list', 'alice@%s/res' % DOMAIN, check=False)
        self.assertEqual(r.returncode, 1, 'a list is of an account, not of a session')
        r = self.server.ctl('session', 'frobnicate', check=False)
        self.assertEqual(r.returncode, 2)


class NotRunning(unittest.TestCase):
    def test_session_commands_need_parleyd(self):
        from harness import ParleyServer
        server = ParleyServer()
        try:
            r = server.ctl('session', 'list', check=False)
            self.assertEqual(r.returncode, 3)
            self.assertIn('not running', r.stderr)
        finally:
            server.cleanup()


if __name__ == '__main__':
    unittest.main()
