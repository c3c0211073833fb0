"""The host's seams from a running parleyd, with the test module mod_testseams:
stream features and nonzas, a pre-authentication iq, the routed hook seeing
each stanza of real clients exactly once, held stanzas delivered in order,
and a domain handler reached from clients on both workers."""
import asyncio
import collections
import os
import re
import tempfile
import unittest

from clients import online
from harness import DOMAIN, ParleyServer, RawStream, cert_dir, module_dir_with_test_modules, run, worker_of

NS = 'urn:parley:test:seams'
ECHO = 'echo.' + DOMAIN


class Seams(unittest.TestCase):
    hold_ms = 0

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='parley-seams-')
        cls.events = os.path.join(cls.tmp, 'events')
        options = {'testseams': 'events_file = "%s"\nhold_ms = %d\necho_domain = "%s"\nvhost = "%s"'
                                % (cls.events, cls.hold_ms, ECHO, DOMAIN)}
        cls.server = ParleyServer(modules=('disco', 'testseams'), module_options=options,
                                  module_dir=module_dir_with_test_modules(os.path.join(cls.tmp, 'modules')))
        for node in ('alice', 'bob'):
            cls.server.add_user(node, 'secret')
        cls.server.start()
        cls.ca = os.path.join(cert_dir(), 'ca.pem')

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def routed(self):
        """The routed hook's records: a list of (kind, name, type, id, worker, origin)."""
        try:
            with open(self.events) as f:
                return [tuple(line.split()[1:]) for line in f if line.startswith('routed ')]
        except FileNotFoundError:
            return []


class StreamSeams(Seams):
    def test_features_nonzas_and_pre_auth_iq(self):
        s = RawStream(self.server.starttls_port)
        try:
            features = s.secure(self.ca)
            self.assertIn("<seams-pre xmlns='%s'/>" % NS, features, 'the module adds a feature before authentication')
            # A module's nonza before authentication, and its pre-authentication iq.
            s.send("<hello xmlns='%s'/>" % NS)
            s.read_until('<hello-back')
            s.send("<iq type='get' id='pre1'><query xmlns='%s'/></iq>" % NS)
            text = s.read_until("id='pre1'.*?</iq>")
            self.assertRegex(text, r"<iq[^>]*type='result'[^>]*>|<iq[^>]*id='pre1'[^>]*type='result'")
            self.assertRegex(text, r'<worker>[01]</worker>')
            # An iq nobody handles before authentication still ends the stream.
            s.auth_plain('alice', 'secret')
            s.read_until('<success')
            s.buf = b''
            s.open()
            after = s.read_until('</stream:features>')
            self.assertRegex(after, r"<seams xmlns='%s' user='alice@%s'/>" % (NS, re.escape(DOMAIN)),
                             'the module adds a feature with bind, knowing the account')
            s.buf = b''
            s.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<resource>raw</resource></bind></iq>")
            s.read_until('</iq>')
            s.buf = b''
            s.send("<ping xmlns='%s'/>" % NS)
            pong = s.read_until('<pong[^>]*/>')
            self.assertRegex(pong, r"jid='alice@%s/raw'" % re.escape(DOMAIN))
            self.assertRegex(pong, r"session='[1-9][0-9]*'")
            # A nonza no module handles is an unsupported stanza type.
            s.buf = b''
            s.send("<nothing xmlns='urn:example:none'/>")
            s.read_until('unsupported-stanza-type')
        finally:
            s.close()

    def test_pre_auth_iq_nobody_handles_ends_the_stream(self):
        s = RawStream(self.server.starttls_port)
        try:
            s.secure(self.ca)
            s.send("<iq type='get' id='x'><query xmlns='urn:example:nothing'/></iq>")
            s.read_until('not-authorized')
        finally:
            s.close()


class RoutedOnce(Seams):
    def test_each_stanza_is_seen_once_with_its_outcome(self):
        async def go():
            alice = await online(self.server, 'alice')
            bob = await online(self.server, 'bob')
            try:
                await asyncio.wait_for(bob.available, 10)
                before = len(self.routed())
                bob_workers = worker_of(self.server, bob.boundjid.full)
                for i in range(10):
                    alice.send_message(mto='bob@' + DOMAIN, mbody='hi %d' % i, mtype='chat')
                    alice.send_message(mto='nobody@' + DOMAIN, mbody='lost %d' % i, mtype='chat')
                got = [await asyncio.wait_for(bob.messages.get(), 10) for _ in range(10)]
                self.assertEqual([m['body'] for m in got], ['hi %d' % i for i in range(10)])
                # Let the bounces of the lost ones arrive too.
                await asyncio.sleep(0.3)
                return before, bob_workers
            finally:
                await alice.bye()
                await bob.bye()
        before, _ = run(go())
        records = self.routed()[before:]
        chats = [r for r in records if r[1] == 'message' and r[2] == 'chat']
        kinds = collections.Counter(r[0] for r in chats)
        self.assertEqual(kinds['delivered'], 10, records)
        self.assertEqual(kinds['no_account'], 10, records)
        ids = [r[3] for r in chats]
        self.assertEqual(len(ids), len(set(ids)), 'no stanza is seen twice: %r' % chats)
        errors = [r for r in records if r[1] == 'message' and r[2] == 'error']
        self.assertEqual(len(errors), 10, 'each bounce is a stanza of its own, seen once')
        self.assertTrue(all(r[5] == 'server' for r in errors))
        self.assertTrue(all(r[5] == 'client' for r in chats))


class DomainHandler(Seams):
    def test_echo_domain_from_both_workers_and_in_disco_items(self):
        async def go():
            clients = []
            try:
                # One session on each worker (the kernel spreads connections
                # over the workers' sockets; a bounded number of tries).
                seen = set()
                for i in range(24):
                    c = await online(self.server, 'alice', resource='r%d' % i, plugins=('xep_0030',))
                    w = worker_of(self.server, c.boundjid.full)
                    if w in seen:
                        await c.bye()
                        continue
                    seen.add(w)
                    clients.append(c)
                    if len(seen) == 2:
                        break
                self.assertEqual(len(seen), 2, 'could not get sessions on both workers')
                workers = set()
                for c in clients:
                    c.send_message(mto='room@' + ECHO, mbody='from ' + c.boundjid.resource, mtype='chat')
                for c in clients:
                    m = await asyncio.wait_for(c.messages.get(), 10)
                    self.assertEqual(m['from'].bare, 'room@' + ECHO)
                    match = re.fullmatch(r'echo: from (r\d) \(worker (\d)\)', m['body'])
                    self.assertIsNotNone(match, m['body'])
                    self.assertEqual(match.group(1), c.boundjid.resource)
                    workers.add(match.group(2))
                    self.assertEqual(match.group(2), str(worker_of(self.server, c.boundjid.full)),
                                     'the handler runs on the worker that routed the stanza')
                items = await clients[0]['xep_0030'].get_items(jid=DOMAIN, timeout=10)
                self.assertIn(ECHO, [i[0] for i in items['disco_items']['items']])
                return workers
            finally:
                for c in clients:
                    await c.bye()
        workers = run(go())
        self.assertEqual(workers, {'0', '1'}, 'sessions on both workers reached the domain handler')


class HeldInOrder(Seams):
    hold_ms = 30

    def test_held_messages_arrive_in_order(self):
        async def go():
            alice = await online(self.server, 'alice')
            bob = await online(self.server, 'bob')
            try:
                await asyncio.wait_for(bob.available, 10)
                for i in range(30):
                    alice.send_message(mto='bob@' + DOMAIN, mbody='n%d' % i, mtype='chat')
                got = [await asyncio.wait_for(bob.messages.get(), 10) for _ in range(30)]
                self.assertEqual([m['body'] for m in got], ['n%d' % i for i in range(30)],
                                 'a sender\'s held stanzas keep their order')
            finally:
                await alice.bye()
                await bob.bye()
        run(go())


if __name__ == '__main__':
    unittest.main()
