"""SCRAM-*-PLUS over TLS 1.3 with the tls-exporter channel binding (RFC
9266), announced with XEP-0440, and over TLS 1.2 with tls-unique.

No Debian client binds with tls-exporter (CPython's ssl has no exporter API;
slixmpp and aioxmpp bind with tls-unique), so the test client here is our
own: RawStream's TLS socket, the exporter value read through OpenSSL's
SSL_export_keying_material (ctypes, on the SSL* of CPython's _ssl object),
and SCRAM done by hand with hashlib (RFC 5802, RFC 7677)."""
import base64
import ctypes
import os
import re
import ssl
import time
import unittest

from clients import online
from harness import ServerTestCase, RawStream, run
from scram_client import Scram, b64

_libssl = ctypes.CDLL('libssl.so.3')
_libssl.SSL_export_keying_material.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                               ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
_libssl.SSL_get_version.argtypes = [ctypes.c_void_p]
_libssl.SSL_get_version.restype = ctypes.c_char_p


def tls_exporter(sock):
    """RFC 9266: 32 bytes exported with label EXPORTER-Channel-Binding, no context."""
    # CPython 3.11's PySSLSocket: PyObject_HEAD, then the socket weakref, then SSL *ssl.
    ptr = ctypes.c_void_p.from_address(id(sock._sslobj) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
    if not ptr or _libssl.SSL_get_version(ptr).decode() != sock.version():
        raise unittest.SkipTest('cannot reach OpenSSL under this Python ssl module')
    out = ctypes.create_string_buffer(32)
    label = b'EXPORTER-Channel-Binding'
    if _libssl.SSL_export_keying_material(ptr, out, 32, label, len(label), None, 0, 0) != 1:
        raise AssertionError('SSL_export_keying_material failed')
    return out.raw


def login(stream, mech, scram):
    """Runs one SCRAM exchange on a secured RawStream; returns the server's last element."""
    stream.buf = b''
    stream.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>" % (mech, b64(scram.first())))
    text = stream.read_until('</challenge>|</failure>|<failure[^>]*/>')
    m = re.search(r'<challenge[^>]*>([^<]*)</challenge>', text)
    if not m:
        return text
    stream.buf = b''
    server_first = base64.b64decode(m.group(1)).decode()
    stream.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>" % b64(scram.final(server_first)))
    return stream.read_until('</success>|<success[^>]*/>|</failure>')


class ChannelBinding(ServerTestCase):
    users = ('alice',)

    def secured(self, tls_max=None):
        s = RawStream(self.server.starttls_port)
        return s, s.secure(self.server.ca, tls_max)

    def test_tls13_offers_plus_and_announces_tls_exporter(self):
        s, features = self.secured()
        try:
            self.assertEqual(s.sock.version(), 'TLSv1.3')
            mechs = re.findall(r'<mechanism>([^<]+)</mechanism>', features)
            self.assertIn('SCRAM-SHA-256-PLUS', mechs)
            self.assertIn('SCRAM-SHA-1-PLUS', mechs)
            cb = re.search(r"<sasl-channel-binding xmlns=['\"]urn:xmpp:sasl-cb:0['\"]>(.*?)</sasl-channel-binding>",
                           features)
            self.assertTrue(cb, 'XEP-0440 announcement missing: ' + features)
            self.assertEqual(re.findall(r"<channel-binding type=['\"]([^'\"]+)['\"]/>", cb.group(1)), ['tls-exporter'])
        finally:
            s.close()

    def test_tls12_announces_tls_unique(self):
        s, features = self.secured(ssl.TLSVersion.TLSv1_2)
        try:
            self.assertEqual(s.sock.version(), 'TLSv1.2')
            self.assertIn('SCRAM-SHA-256-PLUS', features)
            self.assertRegex(features, r"<channel-binding type=['\"]tls-unique['\"]/>")
        finally:
            s.close()

    def test_scram_plus_with_tls_exporter_logs_in_on_tls13(self):
        for mech, hash_name in (('SCRAM-SHA-256-PLUS', 'sha256'), ('SCRAM-SHA-1-PLUS', 'sha1')):
            s, _ = self.secured()
            try:
                scram = Scram(hash_name, 'alice', 'secret', 'p=tls-exporter,,', tls_exporter(s.sock))
                text = login(s, mech, scram)
                self.assertIn('<success', text, mech)
                # The server proved it knows the keys (v=), over this very channel.
                m = re.search(r'<success[^>]*>([^<]*)</success>', text)
                self.assertEqual(base64.b64decode(m.group(1)).decode(), 'v=' + scram.server_signature)
            finally:
                s.close()

    def test_another_channels_binding_is_refused(self):
        # What a man in the middle with his own TLS session would have to send.
        s, _ = self.secured()
        try:
            scram = Scram('sha256', 'alice', 'secret', 'p=tls-exporter,,', os.urandom(32))
            text = login(s, 'SCRAM-SHA-256-PLUS', scram)
            self.assertNotIn('<success', text)
            self.assertIn('<failure', text)
        finally:
            s.close()

    def test_stripping_plus_is_detected_y_flag(self):
        # A client that can bind but was shown no -PLUS says so with "y";
        # the server, which offered -PLUS, must refuse even the right password.
        s, _ = self.secured()
        try:
            text = login(s, 'SCRAM-SHA-256', Scram('sha256', 'alice', 'secret', 'y,,'))
            self.assertNotIn('<success', text)
        finally:
            s.close()
        # A client without channel binding ("n") still logs in.
        s, _ = self.secured()
        try:
            self.assertIn('<success', login(s, 'SCRAM-SHA-256', Scram('sha256', 'alice', 'secret', 'n,,')))
        finally:
            s.close()

    def test_tls_unique_on_tls13_is_refused_at_once_and_not_counted(self):
        # COMPAT(slixmpp 1.8, CPython's ssl): such clients bind with
        # tls-unique on TLS 1.3. Refused before anything is evaluated, not
        # delayed, not counted against the account: the right password
        # with "n" logs in right after on the same stream.
        s, _ = self.secured()
        try:
            t0 = time.monotonic()
            text = login(s, 'SCRAM-SHA-256-PLUS', Scram('sha256', 'alice', 'secret', 'p=tls-unique,,',
                                                        s.sock.get_channel_binding('tls-unique') or b'x'))
            self.assertIn('<not-authorized', text)
            self.assertNotIn('<challenge', text)
            self.assertIn('<success', login(s, 'SCRAM-SHA-256', Scram('sha256', 'alice', 'secret', 'n,,')))
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            s.close()
        self.assertTrue(self.server.wait_log(r"with channel binding 'tls-unique', which this stream does not offer"),
                        self.server.log_text()[-2000:])

    def test_slixmpp_default_choice_still_logs_in_on_tls13(self):
        # COMPAT(slixmpp 1.8.3): it tries -PLUS with tls-unique, then "y",
        # both refused at once and not counted, and ends on PLAIN.
        async def conversation():
            alice = await online(self.server, 'alice')
            self.assertEqual(alice.mechanism(), 'PLAIN')
            await alice.bye()
        run(conversation())
        self.assertTrue(self.server.wait_log(r"gs2 flag 'y' on a stream offering channel binding: refused"),
                        self.server.log_text()[-2000:])


class NoPlusOnTls13(ServerTestCase):
    users = ('alice',)
    sasl = 'failure_delay_ms = 50\nfailure_delay_max_ms = 200\nplus_on_tls13 = false'

    def test_no_plus_and_no_announcement_on_tls13_and_slixmpp_uses_scram(self):
        s = RawStream(self.server.starttls_port)
        try:
            features = s.secure(self.server.ca)
            self.assertNotIn('-PLUS', features)
            self.assertNotIn('sasl-channel-binding', features)
        finally:
            s.close()

        async def conversation():
            alice = await online(self.server, 'alice', mech='SCRAM-SHA-256')
            self.assertEqual(alice.mechanism(), 'SCRAM-SHA-256')
            await alice.bye()
        run(conversation())


if __name__ == '__main__':
    unittest.main()
