"""XEP-0474 SASL SCRAM Downgrade Protection (version 0.5.0): the server's
SCRAM server-first message carries "h", the hash of the SASL mechanisms and
XEP-0440 channel-binding types it advertised, and the client's proof signs
it.

The client here is written from the XEP and RFC 5802 with the standard
library only (ssl, hashlib, hmac): it reads what the stream features
advertised, computes the hash itself, and refuses to go on when the
server's "h" is missing or different. Its proof covers the server-first
message as received, "h" included."""
import base64
import hashlib
import re
import ssl
import unittest

from harness import ServerTestCase, RawStream
from scram_client import Scram, b64


def advertised(features):
    """The SASL mechanisms and the XEP-0440 channel-binding types (None when not announced)."""
    mechs = re.findall(r'<mechanism>([^<]+)</mechanism>', features)
    cb = re.search(r"<sasl-channel-binding xmlns=['\"]urn:xmpp:sasl-cb:0['\"]>(.*?)</sasl-channel-binding>", features)
    types = re.findall(r"<channel-binding type=['\"]([^'\"]+)['\"]/>", cb.group(1)) if cb else None
    return mechs, types


def ssdp_hash(hash_name, mechs, cb_types):
    """XEP-0474 §4.1: sort (i;octet), join with 0x1E; if XEP-0440 was used,
    0x1F and the sorted types joined with 0x1E; hash; base64."""
    s = b'\x1e'.join(sorted(m.encode() for m in mechs))
    if cb_types is not None:
        s += b'\x1f' + b'\x1e'.join(sorted(t.encode() for t in cb_types))
    return b64(hashlib.new(hash_name, s).digest())


def attributes(message):
    out = {}
    for kv in message.split(','):
        k, _, v = kv.partition('=')
        out[k] = v
    return out


def scram_login(stream, mech, hash_name, node, password, mechs, cb_types):
    """One SCRAM exchange without channel binding ("n"); returns (server
    attributes of server-first, the server's last element)."""
    scram = Scram(hash_name, node, password, 'n,,')
    stream.buf = b''
    stream.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>" % (mech, b64(scram.first())))
    text = stream.read_until('</challenge>|</failure>|<failure[^>]*/>')
    m = re.search(r'<challenge[^>]*>([^<]*)</challenge>', text)
    if not m:
        raise AssertionError('no challenge: ' + text)
    server_first = base64.b64decode(m.group(1)).decode()
    attrs = attributes(server_first)
    # The client's side of XEP-0474 §4.2: no "h", or another one, and it
    # stops here, before it proves anything.
    if attrs.get('h') != ssdp_hash(hash_name, mechs, cb_types):
        raise AssertionError('XEP-0474 h missing or wrong in %r (expected %s for %r, %r)'
                             % (server_first, ssdp_hash(hash_name, mechs, cb_types), mechs, cb_types))
    stream.buf = b''
    stream.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>" % b64(scram.final(server_first)))
    last = stream.read_until('</success>|<success[^>]*/>|</failure>')
    s = re.search(r'<success[^>]*>([^<]*)</success>', last)
    if s:
        # The server's signature covers "h" too.
        assert base64.b64decode(s.group(1)).decode() == 'v=' + scram.server_signature, last
    return attrs, last


class DowngradeProtection(ServerTestCase):
    users = ('alice',)

    def secured(self, tls_max=None):
        s = RawStream(self.server.starttls_port)
        return s, s.secure(self.server.ca, tls_max)

    def test_scram_sha256_on_tls13_carries_the_hash_of_what_was_advertised(self):
        s, features = self.secured()
        try:
            self.assertEqual(s.sock.version(), 'TLSv1.3')
            mechs, types = advertised(features)
            self.assertIn('SCRAM-SHA-256-PLUS', mechs)
            self.assertEqual(types, ['tls-exporter'], 'XEP-0440 announcement missing: ' + features)
            attrs, last = scram_login(s, 'SCRAM-SHA-256', 'sha256', 'alice', 'secret', mechs, types)
            self.assertIn('<success', last)
            # What a client shown a list without -PLUS (stripped on the way) computes differently.
            stripped = [m for m in mechs if not m.endswith('-PLUS')]
            self.assertNotEqual(attrs['h'], ssdp_hash('sha256', stripped, types))
            self.assertNotEqual(attrs['h'], ssdp_hash('sha256', mechs, None))
        finally:
            s.close()

    def test_scram_sha1_on_tls12_hashes_tls_unique_with_sha1(self):
        s, features = self.secured(ssl.TLSVersion.TLSv1_2)
        try:
            self.assertEqual(s.sock.version(), 'TLSv1.2')
            mechs, types = advertised(features)
            self.assertEqual(types, ['tls-unique'])
            _, last = scram_login(s, 'SCRAM-SHA-1', 'sha1', 'alice', 'secret', mechs, types)
            self.assertIn('<success', last)
        finally:
            s.close()

    def test_an_unknown_name_gets_the_hash_too(self):
        s, features = self.secured()
        try:
            mechs, types = advertised(features)
            attrs, last = scram_login(s, 'SCRAM-SHA-256', 'sha256', 'nobody', 'secret', mechs, types)
            self.assertIn('<not-authorized', last)
        finally:
            s.close()


class DowngradeProtectionWithoutChannelBinding(ServerTestCase):
    users = ('alice',)
    sasl = 'failure_delay_ms = 50\nfailure_delay_max_ms = 200\nplus_on_tls13 = false'

    def test_no_xep0440_announcement_means_no_separator(self):
        s = RawStream(self.server.starttls_port)
        try:
            features = s.secure(self.server.ca)
            mechs, types = advertised(features)
            self.assertIsNone(types, features)
            self.assertNotIn('SCRAM-SHA-256-PLUS', mechs)
            _, last = scram_login(s, 'SCRAM-SHA-256', 'sha256', 'alice', 'secret', mechs, types)
            self.assertIn('<success', last)
        finally:
            s.close()


if __name__ == '__main__':
    unittest.main()
