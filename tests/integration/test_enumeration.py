"""No account enumeration (RFC 6121 §8.5.1, §8.5.2.2): a message, presence
or iq to an account that does not exist gets exactly the reply (or the
silence) that one to an existing account with no available resource gets:
an account with no session at all, and one whose only session never sent
available presence."""
import re
import unittest

from harness import ServerTestCase, DOMAIN, RawStream

STANZA = re.compile(r"<(message|presence|iq)\b[^>]*?(?:/>|>.*?</\1>)", re.S)

# Each kind: what the sender tries, with T standing for the addressee's node.
PROBES = {
    'message': [
        "<message type='chat' id='m1' to='T@{d}'><body>hi</body></message>",
        "<message id='m2' to='T@{d}'><body>hi</body></message>",
        "<message type='normal' id='m3' to='T@{d}/phone'><body>hi</body></message>",
        "<message type='groupchat' id='m4' to='T@{d}'><body>hi</body></message>",
        "<message type='headline' id='m5' to='T@{d}'><body>hi</body></message>",
    ],
    'presence': [
        "<presence id='p1' to='T@{d}'/>",
        "<presence id='p2' type='subscribe' to='T@{d}'/>",
        "<presence id='p3' type='probe' to='T@{d}'/>",
        "<presence id='p4' to='T@{d}/phone'/>",
    ],
    'iq': [
        "<iq type='get' id='i1' to='T@{d}'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<iq type='get' id='i2' to='T@{d}'><query xmlns='jabber:iq:version'/></iq>",
        "<iq type='set' id='i3' to='T@{d}'><query xmlns='urn:example:nothing'/></iq>",
        "<iq type='get' id='i4' to='T@{d}'/>",
        "<iq type='get' id='i5' to='T@{d}/phone'><ping xmlns='urn:xmpp:ping'/></iq>",
    ],
}


class NoEnumeration(ServerTestCase):
    users = ('sender', 'quiet', 'idle')

    def setUp(self):
        self.sender = RawStream(self.server.starttls_port)
        self.sender.login_plain(self.server.ca, 'sender', 'secret', resource='s')
        # idle: bound, never available.
        self.idle = RawStream(self.server.starttls_port)
        self.idle.login_plain(self.server.ca, 'idle', 'secret', resource='desk')

    def tearDown(self):
        self.sender.close()
        self.idle.close()

    def replies(self, kind, node):
        """What the sender gets back for every probe of `kind` to `node`,
        with the node replaced by T so that replies can be compared."""
        for i, probe in enumerate(PROBES[kind]):
            self.sender.send(probe.replace('T@', node + '@').format(d=DOMAIN))
        # The server answers in order: once its answer to this ping is in,
        # every reply to the probes above has come.
        marker = 'end-%s-%s' % (kind, node)
        self.sender.send("<iq type='get' id='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % (marker, DOMAIN))
        text = self.sender.read_until("id=['\"]%s['\"]" % marker, timeout=15)
        self.sender.buf = b''
        got = [m.group(0) for m in STANZA.finditer(text)]
        got = [g for g in got if marker not in g]
        return [g.replace(node + '@', 'T@').replace('"', "'") for g in got]

    def compare(self, kind):
        ghost = self.replies(kind, 'ghost')
        for existing in ('quiet', 'idle'):
            self.assertEqual(self.replies(kind, existing), ghost,
                             '%s to an existing account (%s) and to none must look the same' % (kind, existing))
        return ghost

    def test_message(self):
        ghost = self.compare('message')
        # chat, normal and normal-to-a-full-JID and groupchat bounce; headline does not.
        self.assertEqual(len(ghost), 4, ghost)
        for r in ghost:
            self.assertIn("type='error'", r)
            self.assertIn('<service-unavailable', r)

    def test_presence(self):
        self.assertEqual(self.compare('presence'), [], 'presence to an unavailable account is dropped silently')

    def test_iq(self):
        ghost = self.compare('iq')
        self.assertEqual(len(ghost), 5, ghost)
        for r in ghost:
            self.assertIn("type='error'", r)
            # An iq without a child is refused before routing (bad-request),
            # the same for every addressee; the others find no one.
            if "id='i4'" not in r:
                self.assertIn('<service-unavailable', r)


class NoEnumerationWithRosters(NoEnumeration):
    """The same with the roster module, which takes subscription requests
    and probes at the decision point: still nothing tells who exists."""
    settings = dict(modules=('disco', 'ping', 'version', 'time', 'roster'))


if __name__ == '__main__':
    unittest.main()
