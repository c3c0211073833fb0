"""Logging in: STARTTLS and direct TLS, SCRAM-SHA-1/256 (and -PLUS), wrong
passwords, PLAIN before TLS, and the delay after failures."""
import re
import ssl
import time
import unittest

from clients import Client, online
from harness import ServerTestCase, DOMAIN, RawStream, client_ssl_context, run


class Login(ServerTestCase):
    users = ('alice', 'bob')
    # COMPAT(slixmpp 1.8.3): it sends the GS2 flag "y" for plain SCRAM, which
    # must be refused where -PLUS is offered, and cannot bind on TLS 1.3; so
    # that SCRAM is tested here with a real client, no -PLUS on TLS 1.3.
    # test_channel_binding.py covers the default.
    sasl = 'failure_delay_ms = 50\nfailure_delay_max_ms = 200\nplus_on_tls13 = false'

    def test_starttls_scram_sha_1(self):
        async def conversation():
            alice = await online(self.server, 'alice', mech='SCRAM-SHA-1')
            self.assertEqual(alice.mechanism(), 'SCRAM-SHA-1')
            await alice.bye()
        run(conversation())
        self.assertTrue(self.server.wait_log(r'alice@parley.test authenticated'), self.server.log_text()[-2000:])

    def test_starttls_scram_sha_256(self):
        async def conversation():
            alice = await online(self.server, 'alice', mech='SCRAM-SHA-256')
            self.assertEqual(alice.mechanism(), 'SCRAM-SHA-256')
            await alice.bye()
        run(conversation())

    def test_scram_plus_with_channel_binding_on_tls12(self):
        # tls-unique channel binding exists only up to TLS 1.2.
        async def conversation():
            alice = await online(self.server, 'alice', mech='SCRAM-SHA-256-PLUS', tls_max=ssl.TLSVersion.TLSv1_2)
            self.assertEqual(alice.mechanism(), 'SCRAM-SHA-256-PLUS')
            await alice.bye()
        run(conversation())

    def test_client_default_choice_logs_in_over_tls13(self):
        # Whatever slixmpp picks by itself from what we offer must work.
        async def conversation():
            alice = await online(self.server, 'alice')
            await alice.bye()
        run(conversation())

    def test_direct_tls_xep_0368_with_alpn(self):
        async def conversation():
            bob = await online(self.server, 'bob', use_ssl=True, mech='SCRAM-SHA-256')
            await bob.bye()
        run(conversation())
        ctx = client_ssl_context(self.server.ca)
        ctx.set_alpn_protocols(['xmpp-client'])
        import socket
        with socket.create_connection(('127.0.0.1', self.server.direct_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=DOMAIN) as tls:
                self.assertEqual(tls.selected_alpn_protocol(), 'xmpp-client')
                self.assertIn(tls.version(), ('TLSv1.2', 'TLSv1.3'))

    def test_tls_below_1_2_is_refused(self):
        import socket
        ctx = client_ssl_context(self.server.ca, tls_max=ssl.TLSVersion.TLSv1_1)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        try:
            ctx.set_ciphers('ALL:@SECLEVEL=0')
        except ssl.SSLError:
            pass
        with socket.create_connection(('127.0.0.1', self.server.direct_port), timeout=10) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionResetError, OSError)):
                ctx.wrap_socket(raw, server_hostname=DOMAIN)

    def test_wrong_password_is_refused_with_not_authorized(self):
        async def conversation():
            c = Client('alice@%s' % DOMAIN, 'not-the-password', self.server.ca, mech='SCRAM-SHA-256')
            outcome = await c.login(self.server.starttls_port)
            self.assertNotEqual(outcome, 'session', 'a wrong password must not log in')
            c.disconnect()
        run(conversation())
        s = RawStream(self.server.starttls_port)
        s.secure(self.server.ca)
        s.auth_plain('alice', 'wrong')
        text = s.read_until('</failure>')
        self.assertIn('<not-authorized', text)
        s.close()

    def test_plain_is_not_offered_or_accepted_before_tls(self):
        s = RawStream(self.server.starttls_port)
        s.open()
        features = s.read_until('</stream:features>')
        self.assertRegex(features, r"<starttls xmlns=['\"]urn:ietf:params:xml:ns:xmpp-tls['\"]><required/>")
        self.assertNotIn('PLAIN', features)
        s.auth_plain('alice', 'secret')
        text = s.read_until('</failure>')
        self.assertIn('<encryption-required', text)
        self.assertNotIn('<success', text)
        s.close()

    def test_offered_mechanisms_over_tls(self):
        s = RawStream(self.server.starttls_port)
        features = s.secure(self.server.ca)
        mechs = re.findall(r'<mechanism>([^<]+)</mechanism>', features)
        for m in ('SCRAM-SHA-1', 'SCRAM-SHA-256', 'PLAIN'):
            self.assertIn(m, mechs)
        s.close()


BASE_DELAY = 0.3  # [sasl] failure_delay_ms of FailureDelay's server, in seconds


class FailureDelay(ServerTestCase):
    """A server of its own: the delay grows with the failures counted for
    the client's address, which other tests would add to."""
    settings = {'sasl': 'failure_delay_ms = %d\nfailure_delay_max_ms = %d' % (BASE_DELAY * 1000, BASE_DELAY * 8000)}

    def test_failures_are_delayed_more_each_time(self):
        s = RawStream(self.server.starttls_port)
        s.secure(self.server.ca)
        waits = []
        for _ in range(3):
            t0 = time.monotonic()
            s.auth_plain('nobody', 'wrong')
            s.read_until('</failure>')
            waits.append(time.monotonic() - t0)
        s.close()
        # The n-th failure is answered after base * 2^(n-1): 0.3, 0.6, 1.2 s.
        # A delay is never shorter than that, whatever the machine's load;
        # each must also exceed the one before by a margin (half the growth
        # expected), which a constant delay does not.
        for n, wait in enumerate(waits):
            self.assertGreaterEqual(wait, BASE_DELAY * 2 ** n * 0.95, 'failure %d: %r' % (n + 1, waits))
        for n in range(1, len(waits)):
            self.assertGreater(waits[n] - waits[n - 1], BASE_DELAY * 2 ** (n - 1) / 2,
                               'failure %d was not delayed more than failure %d: %r' % (n + 1, n, waits))


if __name__ == '__main__':
    unittest.main()
