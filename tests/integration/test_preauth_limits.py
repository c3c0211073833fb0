"""Before authentication a peer is anonymous: small stanzas only, a bounded
tree per stanza at any time, and bounded connection counts per address and in
total (issue 13). Over a limit: <policy-violation/> with a text, the
connection closed, and nobody else affected."""
import re
import time
import unittest

from harness import ServerTestCase, DOMAIN, RawStream

HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>" % DOMAIN)


def expect_policy_violation(test, s, text_pattern):
    text = s.read_until('</stream:stream>')
    test.assertIn('<policy-violation', text)
    test.assertRegex(text, text_pattern)
    test.assertTrue(s.closed_by_peer(), 'the connection is closed after <policy-violation/>')
    return text


class StanzaSizeBeforeAndAfterAuth(ServerTestCase):
    users = ('alice', 'bob')

    def test_an_unauthenticated_peer_may_not_send_a_large_stanza(self):
        # 20 KB is far under max_stanza_bytes (256 KiB) but over the 10000
        # bytes allowed before authentication.
        s = RawStream(self.server.starttls_port)
        s.send(HEADER)
        s.read_until('</stream:features>')
        try:
            s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + 'A' * 20000 + "</auth>")
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect_policy_violation(self, s, r'larger than 10000 bytes')
        s.close()

    def test_the_same_stanza_is_fine_once_authenticated(self):
        bob = RawStream(self.server.starttls_port)
        bob.login_plain(self.server.ca, 'bob', 'secret')
        alice = RawStream(self.server.starttls_port)
        alice.login_plain(self.server.ca, 'alice', 'secret')
        try:
            body = 'B' * 20000
            alice.send("<message to='bob@%s/raw' type='chat'><body>%s</body></message>" % (DOMAIN, body))
            text = bob.read_until('</message>')
            self.assertIn(body, text, 'a 20 KB message passes after authentication')
        finally:
            alice.close()
            bob.close()

    def test_many_tiny_elements_are_refused_for_their_tree(self):
        # 120 KB of <a/>: under the 256 KiB byte limit, but ~5 MB of tree.
        bob = RawStream(self.server.starttls_port)
        bob.login_plain(self.server.ca, 'bob', 'secret', resource='tree')
        alice = RawStream(self.server.starttls_port)
        alice.login_plain(self.server.ca, 'alice', 'secret', resource='tree')
        try:
            try:
                alice.send("<message to='bob@%s/tree'><x xmlns='urn:x'>%s</x></message>" % (DOMAIN, '<a/>' * 30000))
            except (BrokenPipeError, ConnectionResetError):
                pass
            expect_policy_violation(self, alice, r'element tree')
            # Bob got nothing of it and still works.
            bob.send("<iq type='get' id='p2' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % DOMAIN)
            text = bob.read_until(r"id='p2'")
            self.assertNotIn('<message', text)
        finally:
            alice.close()
            bob.close()


class ConnectionLimits(ServerTestCase):
    users = ('alice',)
    extra = ('\n[limits]\nmax_unauthenticated_connections = 5\nmax_connections_per_address = 4\n'
             'max_unauthenticated_connections_per_address = 2\n')

    def refused(self, source, pattern):
        s = RawStream(self.server.starttls_port, source=source)
        expect_policy_violation(self, s, pattern)
        s.close()

    def opened(self, source):
        """An unauthenticated connection from `source`. The server frees the
        places of connections a previous test closed a moment later: retry
        a refused one (bounded: 20 tries, 2 s)."""
        for _ in range(20):
            s = RawStream(self.server.starttls_port, source=source)
            s.send(HEADER)
            text = s.read_until('</stream:features>|</stream:stream>')
            if '</stream:features>' in text:
                return s
            s.close()
            time.sleep(0.1)
        self.fail('never admitted from %s' % source)

    def login(self, source, resource):
        """Logs in from `source`; a place freed by a close just before may
        take the server a moment to see (bounded: 20 tries, 2 s)."""
        for _ in range(20):
            s = RawStream(self.server.starttls_port, source=source)
            try:
                s.login_plain(self.server.ca, 'alice', 'secret', resource=resource)
                return s
            except AssertionError as e:
                s.close()
                if 'policy-violation' not in str(e):
                    raise
                time.sleep(0.1)
        self.fail('never admitted from %s' % source)

    def test_limits_per_address_and_in_total(self):
        held = []
        try:
            held.append(self.login('127.0.0.2', 'one'))
            # Two unauthenticated connections from 127.0.0.2; a third is refused.
            held += [self.opened('127.0.0.2'), self.opened('127.0.0.2')]
            self.refused('127.0.0.2', r'too many unauthenticated connections from your address \(limit 2\)')
            # One closes; the place is free again for a login; then a fourth
            # connection from the address, and a fifth is over the limit.
            held.pop().close()
            held.append(self.login('127.0.0.2', 'two'))
            held.append(self.opened('127.0.0.2'))
            self.refused('127.0.0.2', r'too many connections from your address \(limit 4\)')
            # In total: 2 unauthenticated from .2, 2 from .3, 1 from .4; .5 is refused.
            held += [self.opened('127.0.0.3'), self.opened('127.0.0.3'), self.opened('127.0.0.4')]
            self.refused('127.0.0.5', r'too many connections are authenticating now \(limit 5\)')
            # The authenticated sessions were not disturbed.
            held[0].send("<iq type='get' id='p3' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % DOMAIN)
            self.assertIn("type='result'", held[0].read_until(r"id='p3'[^>]*>|id='p3'/>"))
        finally:
            for s in held:
                s.close()

    def test_direct_tls_is_closed_before_tls_when_over_a_limit(self):
        held = [self.opened('127.0.0.7'), self.opened('127.0.0.7')]
        try:
            s = RawStream(self.server.direct_port, source='127.0.0.7')
            self.assertTrue(s.closed_by_peer(), 'a refused direct TLS connection is closed')
            self.assertEqual(s.buf, b'', 'nothing in clear text is sent on the direct TLS port: %r' % s.buf)
            s.close()
        finally:
            for h in held:
                h.close()

    def test_refusals_are_logged_once_per_address_per_minute(self):
        held = [self.opened('127.0.0.6'), self.opened('127.0.0.6')]
        try:
            for _ in range(4):
                self.refused('127.0.0.6', r'limit 2')
        finally:
            for s in held:
                s.close()
        # The log is written by a thread of its own: a stream error from
        # another address, logged after the refusals, marks that they are in.
        marker = RawStream(self.server.starttls_port, source='127.0.0.9')
        marker.send(HEADER)
        marker.read_until('</stream:features>')
        marker.send('<!-- marker -->')
        marker.read_until('</stream:stream>')
        marker.close()
        self.assertTrue(self.server.wait_log(r'127\.0\.0\.9: stream error restricted-xml'))
        log = self.server.log_text()
        lines = [l for l in log.splitlines() if '127.0.0.6: connection refused' in l]
        self.assertEqual(len(lines), 1, 'one log line for four refusals: %r' % lines)


if __name__ == '__main__':
    unittest.main()
