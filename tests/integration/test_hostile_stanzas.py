"""Hostile stanzas from a logged-in user: what one user sends must never
forge a stanza in another user's stream or break it (issue 13, critical)."""
import re
import unittest

from harness import ServerTestCase, DOMAIN, RawStream

# A namespace URI that, written back as part of an attribute name, would close
# the message and open a forged one from the administrator.
FORGED_FROM = 'admin@%s' % DOMAIN
ATTACK = ("<message to='bob@%(d)s/raw' type='chat' id='m1' "
          "xmlns:a='urn:x}q=&apos;1&apos;/&gt;&lt;/message&gt;&lt;message from=&apos;%(admin)s&apos; "
          "to=&apos;bob@%(d)s/raw&apos; type=&apos;chat&apos;&gt;&lt;body&gt;forged&lt;/body&gt;"
          "&lt;/message&gt;&lt;message x=&apos;'><body a:z='v'>hi</body></message>"
          % {'d': DOMAIN, 'admin': FORGED_FROM})


class HostileStanzas(ServerTestCase):
    users = ('alice', 'bob', 'admin')

    def test_a_namespace_uri_cannot_forge_a_stanza_in_another_stream(self):
        bob = RawStream(self.server.starttls_port)
        bob.login_plain(self.server.ca, 'bob', 'secret')
        alice = RawStream(self.server.starttls_port)
        alice.login_plain(self.server.ca, 'alice', 'secret')
        try:
            alice.send(ATTACK)
            text = bob.read_until(r"<body[^>]*>hi</body></message>")
            # Bob's stream is still usable: a ping to the server is answered.
            bob.send("<iq type='get' id='p1' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % DOMAIN)
            text = bob.read_until(r"<iq[^>]*id='p1'")
            # (The URI itself, escaped, holds those words: look for markup.)
            self.assertNotIn('<body>forged</body>', text, 'no forged stanza reaches bob')
            self.assertNotRegex(text, r"from='%s" % re.escape(FORGED_FROM), 'nothing claims to be from admin')
            self.assertEqual(len(re.findall(r'<message[\s>]', text)), 1, 'bob gets exactly one message: %r' % text)
            self.assertIn("from='alice@%s/raw'" % DOMAIN, text)
            # The namespaced attribute arrived in its own namespace, under a
            # prefix the server declared.
            m = re.search(r"xmlns:(ns\d+)='urn:x}q=&apos;1&apos;/&gt;&lt;/message&gt;", text)
            self.assertIsNotNone(m, 'the namespace URI is written as an escaped value: %r' % text)
            self.assertIn("%s:z='v'" % m.group(1), text)
            self.assertNotIn('<stream:error', text)
        finally:
            alice.close()
            bob.close()


if __name__ == '__main__':
    unittest.main()
