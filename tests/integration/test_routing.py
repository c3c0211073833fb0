"""Binding and routing: generated resources, resource conflicts, messages
between sessions on different workers, and the stanza errors of RFC 6120
§10 / RFC 6121 §8."""
import asyncio
import re
import unittest

from clients import online
from harness import ServerTestCase, DOMAIN, RawStream, run, worker_of


class Routing(ServerTestCase):
    users = ('alice', 'bob', 'carol')

    def test_server_generates_a_resource_when_none_is_asked(self):
        s = RawStream(self.server.starttls_port)
        s.secure(self.server.ca)
        s.auth_plain('carol', 'secret')
        s.read_until('<success')
        s.buf = b''
        s.open()
        features = s.read_until('</stream:features>')
        self.assertIn('urn:ietf:params:xml:ns:xmpp-bind', features)
        s.buf = b''
        s.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        text = s.read_until('</iq>')
        m = re.search(r'<jid>carol@parley\.test/([^<]+)</jid>', text)
        self.assertIsNotNone(m, 'bind must return a full JID: ' + text)
        self.assertGreater(len(m.group(1)), 4)
        s.close()

    def test_message_between_sessions_on_different_workers(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='desk')
            self.assertTrue(self.server.wait_log(r'alice@parley.test/desk bound on worker'))
            wa = worker_of(self.server, 'alice@parley.test/desk')
            bob = None
            # The kernel spreads connections over the workers' sockets; try
            # a bounded number of times to land bob on the other worker.
            for i in range(24):
                c = await online(self.server, 'bob', resource='r%d' % i)
                self.server.wait_log(r'bob@parley.test/r%d bound on worker' % i)
                if worker_of(self.server, 'bob@parley.test/r%d' % i) != wa:
                    bob = c
                    break
                await c.bye()
            self.assertIsNotNone(bob, 'could not get sessions on two workers')
            alice.send_message(mto=bob.boundjid.full, mbody='to your full JID', mtype='chat')
            got = await bob.next_message()
            self.assertEqual(got['body'], 'to your full JID')
            self.assertEqual(got['from'].full, 'alice@parley.test/desk', 'from must be stamped by the server')
            alice.send_message(mto='bob@parley.test', mbody='to your bare JID', mtype='chat')
            got = await bob.next_message()
            self.assertEqual(got['body'], 'to your bare JID')
            bob.send_message(mto='alice@parley.test/desk', mbody='and back', mtype='chat')
            got = await alice.next_message()
            self.assertEqual(got['body'], 'and back')
            await bob.bye()
            await alice.bye()
        run(conversation(), timeout=120)

    def test_resource_conflict_ends_the_older_session(self):
        async def conversation():
            laptop = await online(self.server, 'carol', resource='laptop')
            got_unavailable = []
            laptop.add_event_handler('presence_unavailable', lambda p: got_unavailable.append(p['from'].full))
            first = await online(self.server, 'carol', resource='phone')
            await asyncio.sleep(0.3)  # first's available presence reaches laptop
            second = await online(self.server, 'carol', resource='phone')
            await first.wait_gone()
            self.assertIn('conflict', first.stream_errors)
            await asyncio.sleep(0.3)
            self.assertNotIn('carol@parley.test/phone', got_unavailable,
                             'the replaced session must not announce the resource as gone')
            # The newer session is the one that owns the resource now.
            second.send_message(mto='carol@parley.test/phone', mbody='still me', mtype='chat')
            got = await second.next_message()
            self.assertEqual(got['body'], 'still me')
            await second.bye()
            await laptop.bye()
        run(conversation())

    def test_errors_for_unknown_accounts_resources_and_services(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='errs')
            # A message to an account that does not exist.
            alice.send_message(mto='nobody@parley.test', mbody='hello?', mtype='chat')
            err = await alice.next_message()
            self.assertEqual(err['type'], 'error')
            self.assertEqual(err['error']['condition'], 'service-unavailable')
            self.assertEqual(err['from'].bare, 'nobody@parley.test')
            # An iq to an offline resource of an existing account.
            iq = alice.make_iq_get(queryxmlns='jabber:iq:version', ito='bob@parley.test/not-online')
            try:
                await iq.send(timeout=10)
                self.fail('an iq to an offline resource must fail')
            except Exception as e:  # slixmpp raises IqError
                self.assertEqual(getattr(e, 'condition', None), 'service-unavailable', repr(e))
            # An iq to the server in a namespace nobody handles.
            iq = alice.make_iq_get(queryxmlns='urn:example:nothing', ito=DOMAIN)
            try:
                await iq.send(timeout=10)
                self.fail('an unhandled iq must fail')
            except Exception as e:
                self.assertEqual(getattr(e, 'condition', None), 'service-unavailable', repr(e))
            # A remote domain: no federation yet, said plainly.
            alice.send_message(mto='someone@elsewhere.example', mbody='hi', mtype='chat')
            err = await alice.next_message()
            self.assertEqual(err['error']['condition'], 'remote-server-not-found')
            await alice.bye()
        run(conversation())

    def test_iq_results_and_errors_are_never_answered(self):
        s = RawStream(self.server.starttls_port)
        s.login_plain(self.server.ca, 'carol', 'secret', resource='raw1')
        s.send("<iq type='result' id='r1' to='%s'/>" % DOMAIN)
        s.send("<iq type='error' id='r2' to='%s'><error type='cancel'><bad-request "
               "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>" % DOMAIN)
        s.send("<iq type='get' id='p1' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % DOMAIN)
        text = s.read_until("id=['\"]p1['\"]")
        self.assertNotIn("'r1'", text.replace('"', "'"))
        self.assertNotIn("'r2'", text.replace('"', "'"))
        s.close()

    def test_spoofed_from_gets_invalid_from_and_the_stream_closes(self):
        s = RawStream(self.server.starttls_port)
        s.login_plain(self.server.ca, 'carol', 'secret', resource='raw2')
        s.send("<message from='alice@parley.test/desk' to='bob@parley.test' type='chat'><body>x</body></message>")
        text = s.read_until('</stream:stream>')
        self.assertIn('<invalid-from', text)
        self.assertTrue(s.closed_by_peer())
        s.close()

    def test_malformed_to_gets_jid_malformed(self):
        s = RawStream(self.server.starttls_port)
        s.login_plain(self.server.ca, 'carol', 'secret', resource='raw3')
        s.send("<message id='m1' to='a@b@c' type='chat'><body>x</body></message>")
        text = s.read_until('</message>')
        self.assertIn('<jid-malformed', text)
        s.close()


if __name__ == '__main__':
    unittest.main()
