"""Every closing connection is freed within a bounded time, and with it the
session's registry entry: even a bound session whose TLS layer failed while
the server still had data on its way to a client that does not read."""
import os
import time
import unittest

from harness import ServerTestCase, RawStream

# One session per account, so that a leftover registry entry of alice's
# shows as a refused second bind; a deep send queue and no read limit, so
# that the flood below stalls in the kernel instead of closing the session.
EXTRA = '''
[limits]
max_sessions_per_account = 1
max_send_queue_bytes = 67108864
max_read_bytes_per_s = 0
'''

BIND = ("<iq type='set' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        "<resource>again</resource></bind></iq>")


class ConnectionEnd(ServerTestCase):
    users = ('alice', 'bob')
    extra = EXTRA

    def test_a_bound_session_whose_tls_fails_is_freed(self):
        ca = self.server.ca
        # Alice binds, then stops reading (with a small receive window).
        alice = RawStream(self.server.starttls_port, rcvbuf=4096)
        alice.login_plain(ca, 'alice', 'secret', resource='stalled')
        # Bob sends her more than the kernel's buffers hold (8 MiB), so the
        # server's writes to her stall; a ping answered afterwards shows
        # that bob's stanzas were all read.
        bob = RawStream(self.server.starttls_port)
        bob.login_plain(ca, 'bob', 'secret', resource='flood')
        body = 'x' * 65536
        chunk = ''.join("<message to='alice@parley.test/stalled' type='chat'><body>%s</body></message>" % body
                        for _ in range(16))
        for _ in range(8):
            bob.send(chunk)
        bob.send("<iq type='get' id='p1' to='parley.test'><ping xmlns='urn:xmpp:ping'/></iq>")
        bob.read_until("id='p1'", timeout=30)
        # Alice's client then sends a TLS record that is not TLS: her
        # server-side TLS layer fails.
        os.write(alice.sock.fileno(), b'\x17\x03\x03\x00\x20' + b'\x00' * 32)
        self.assertTrue(self.server.wait_log(r'TLS failed'), self.server.log_text()[-2000:])

        # Her session must go away in bounded time: once it has, her
        # account may bind again (one session per account here).
        again = RawStream(self.server.starttls_port)
        again.secure(ca)
        again.auth_plain('alice', 'secret')
        again.read_until('<success')
        again.buf = b''
        again.open()
        again.read_until('</stream:features>')
        bound = False
        deadline = time.monotonic() + 20
        attempt = 0
        while time.monotonic() < deadline and not bound:
            attempt += 1
            again.buf = b''
            again.send(BIND % ('b%d' % attempt))
            text = again.read_until("id='b%d'.*?</iq>" % attempt)
            if '<jid>alice@parley.test/again</jid>' in text:
                bound = True
            else:
                self.assertIn('resource-constraint', text)
                time.sleep(0.5)
        self.assertTrue(bound, 'the session whose TLS failed still holds its registry entry after 20 s:\n'
                        + self.server.log_text()[-2000:])
        again.close()
        bob.close()
        alice.close()


if __name__ == '__main__':
    unittest.main()
