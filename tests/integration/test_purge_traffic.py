"""The retention purge under traffic: an archive seeded (tools/bench/
archive-fill, parleyd stopped) with 20,000 chat messages between alice, bob
and carol, 40 to 45 days old; parleyd then starts with a 30-day default
rule and small purge steps, and while alice and bob exchange 300 messages
each way, `parleyctl retention purge` runs (a few passes at most, until one
removes nothing). Afterwards: every message of the conversation was
delivered and is in both parties' archives, including those sent while a
purge pass ran; nothing older than 35 days is left in anyone's archive; the
chain verifies with exactly the conversation's records; the audit log holds
the purge steps, whose counts add up to the 20,000 seeded messages."""
import asyncio
import json
import os
import re
import subprocess
import time
import unittest

from clients import online, ping
from harness import BUILD, DOMAIN, ParleyServer, run

MODULES = ('disco', 'ping', 'offline', 'archive')
SEEDED = 20000
EACH_WAY = 300       # at least, each way; more while a purge pass still runs
MAX_EACH_WAY = 20000  # the bound on those (a loaded machine purges slowly: 5,000 was reached once)
PURGE_BATCH = 50
MAX_PASSES = 5
DAY = 86400
USERS = ('alice', 'bob', 'carol')


def jid(node):
    return '%s@%s' % (node, DOMAIN)


def iso(t):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))


def removed_of(summary):
    m = re.search(r'removed (\d+) record', summary)
    assert m, 'a purge summary says how many records it removed: %r' % summary
    return int(m.group(1))


class PurgeUnderTraffic(unittest.TestCase):
    def setUp(self):
        self.server = ParleyServer(modules=MODULES, module_options={'archive': '''key_file = "archive.key"
[modules.archive.retention]
default_days = 30
purge_interval = 86400
purge_batch = %d''' % PURGE_BATCH})
        self.server.archive_key()
        for node in USERS:
            self.server.add_user(node, 'secret')

    def tearDown(self):
        try:
            self.server.stop()
        finally:
            self.server.cleanup()

    def fill(self, *args):
        return subprocess.run([os.path.join(BUILD, 'tools/bench/archive-fill'), '--config', self.server.config,
                               '--quiet'] + list(args), capture_output=True, text=True, timeout=300)

    def search(self, user, *extra):
        r = self.server.ctl('archive', 'search', '--user', jid(user), '--json', '--limit', '100000', *extra)
        return json.loads(r.stdout)

    def test_purge_while_two_users_chat(self):
        s = self.server
        seeded = self.fill('--messages', str(SEEDED), '--names', ','.join(USERS), '--days-ago', '45', '40')
        self.assertEqual(seeded.returncode, 0, seeded.stderr)
        self.assertIn('records=%d ' % SEEDED, seeded.stdout)
        s.start()
        running = self.fill('--messages', '10', '--names', 'alice,bob', '--days-ago', '2', '1')
        self.assertEqual(running.returncode, 1, 'archive-fill refuses to write under a running parleyd')
        self.assertIn('parleyd is running', running.stderr)

        old_end = iso(time.time() - 35 * DAY)
        before = {u: self.search(u, '--end', old_end)['count'] for u in USERS}
        self.assertEqual(sum(before.values()), 2 * SEEDED, 'each seeded message is in two archives: %s' % before)
        started = iso(time.time() - 60)

        state = {'purging': False, 'purged': False}
        sent_count = {'alice': 0, 'bob': 0}
        during = set()      # bodies sent while a purge pass ran
        passes = []         # (summary, seconds)

        async def conversation():
            alice = await online(s, 'alice', resource='a', plugins=('xep_0199',))
            bob = await online(s, 'bob', resource='b', plugins=('xep_0199',))
            got = {'alice': [], 'bob': []}
            flowing = asyncio.Event()

            async def send_all(sender, name, to):
                # Until the purge is over (on a fast machine the first
                # EACH_WAY are through before the first pass starts), and
                # at least EACH_WAY: the traffic overlaps every pass.
                i = 0
                while (i < EACH_WAY or not state['purged']) and i < MAX_EACH_WAY:
                    body = '%s to %s, message %d' % (name, to, i)
                    sender.send_message(mto=jid(to), mbody=body, mtype='chat')
                    if state['purging']:
                        during.add(body)
                    i += 1
                    sent_count[name] = i
                    if i % 20 == 0:
                        # The server answers once everything sent before is
                        # journaled and delivered: at most 20 in flight.
                        await ping(sender, DOMAIN, timeout=60)
                await ping(sender, DOMAIN, timeout=60)
                state[name + ' done'] = True

            async def receive(client, into, sender):
                # Until the sender is done and everything it sent is here;
                # bounded by a deadline.
                deadline = time.monotonic() + 240
                while not state.get(sender + ' done') or len(into) < sent_count[sender]:
                    self.assertLess(time.monotonic(), deadline, 'messages missing: %d of %d'
                                    % (len(into), sent_count[sender]))
                    try:
                        m = await client.next_message(timeout=0.5)
                    except asyncio.TimeoutError:
                        continue
                    into.append(m['body'])
                    if len(into) == 20:
                        flowing.set()

            async def purge():
                await flowing.wait()
                for _ in range(MAX_PASSES):
                    t0 = time.monotonic()
                    state['purging'] = True
                    proc = await asyncio.create_subprocess_exec(
                        os.path.join(BUILD, 'tools/parleyctl/parleyctl'), '--config', s.config,
                        'retention', 'purge', '--json',
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                    out, err = await asyncio.wait_for(proc.communicate(), 180)
                    state['purging'] = False
                    self.assertEqual(proc.returncode, 0, err.decode())
                    summary = json.loads(out)['summary']
                    passes.append((summary, time.monotonic() - t0))
                    if removed_of(summary) == 0:
                        break
                state['purged'] = True

            tasks = [send_all(alice, 'alice', 'bob'), send_all(bob, 'bob', 'alice'),
                     receive(alice, got['alice'], 'bob'), receive(bob, got['bob'], 'alice'), purge()]
            await asyncio.gather(*tasks)
            await alice.bye()
            await bob.bye()
            return got

        got = run(conversation(), timeout=300)
        self.assertLess(sent_count['alice'], MAX_EACH_WAY, 'the purge ended while the users chatted')
        self.assertEqual(sorted(got['bob']), sorted('alice to bob, message %d' % i for i in range(sent_count['alice'])))
        self.assertEqual(sorted(got['alice']), sorted('bob to alice, message %d' % i for i in range(sent_count['bob'])))
        self.assertTrue(during, 'some messages were sent while a purge pass ran: %s' % passes)
        self.assertEqual(removed_of(passes[-1][0]), 0, 'the last pass found nothing more to remove: %s' % passes)
        self.assertEqual(sum(removed_of(p) for p, _ in passes), SEEDED, passes)

        sent = {'alice to bob, message %d' % i for i in range(sent_count['alice'])} | \
               {'bob to alice, message %d' % i for i in range(sent_count['bob'])}
        self.assertTrue(during <= sent)
        for user in ('alice', 'bob'):
            bodies = [r['body'] for r in self.search(user, '--start', started)['results']]
            self.assertEqual(sorted(bodies), sorted(sent), '%s\'s archive holds the whole conversation, once' % user)
        for user in USERS:
            self.assertEqual(self.search(user, '--end', old_end)['count'], 0,
                             'nothing older than 35 days is left in %s\'s archive' % user)

        r = s.ctl('archive', 'verify', '--json', check=False)
        report = json.loads(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(report['ok'], report['findings'])
        self.assertEqual(report['records'], len(sent), 'only the conversation is left')

        audit = json.loads(s.ctl('archive', 'audit', '--json', '--limit', '100000').stdout)
        self.assertTrue(audit['ok'], audit['problems'])
        purges = [e for e in audit['last'] if e['action'] == 'purge']
        self.assertGreaterEqual(len(purges), SEEDED // PURGE_BATCH, 'one event per step that removed something')
        self.assertTrue(all(e['who'].startswith('parleyd retention (parleyctl:') for e in purges), purges[:3])
        self.assertEqual(sum(removed_of(e['result']) for e in purges), SEEDED)


if __name__ == '__main__':
    unittest.main()
