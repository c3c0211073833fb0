"""Bad input: restricted XML, malformed XML, oversize stanzas, wrong stream
headers. Each gets the right stream error, the connection is closed, and a
logged-in user elsewhere is not affected."""
import asyncio
import unittest

from clients import online, ping
from harness import ServerTestCase, DOMAIN, RawStream, run

HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>" % DOMAIN)


class BadInput(ServerTestCase):
    users = ('alice', 'mallory')
    extra = '\n[limits]\nmax_stanza_bytes = 65536\n'

    def expect_stream_error(self, payload, condition, header=HEADER):
        s = RawStream(self.server.starttls_port)
        s.send(header)
        if payload:
            s.read_until('</stream:features>|</stream:stream>')
            s.send(payload)
        text = s.read_until('</stream:stream>')
        self.assertIn('<stream:error><%s xmlns' % condition, text, 'expected <%s/>' % condition)
        self.assertIn('<text', text, 'a stream error carries a text')
        self.assertTrue(s.closed_by_peer(), 'the server must close the connection after <%s/>' % condition)
        s.close()

    def test_comment_is_restricted_xml(self):
        self.expect_stream_error('<!-- hello -->', 'restricted-xml')

    def test_processing_instruction_is_restricted_xml(self):
        self.expect_stream_error("<?evil data?>", 'restricted-xml')

    def test_doctype_is_restricted_xml(self):
        self.expect_stream_error(None, 'restricted-xml',
                                 header="<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>" + HEADER[21:])

    def test_undefined_entity_reference_is_restricted_xml(self):
        self.expect_stream_error("<message to='alice@parley.test'><body>&lol;</body></message>", 'restricted-xml')

    def test_malformed_xml_is_not_well_formed(self):
        self.expect_stream_error("<message><body></message>", 'not-well-formed')

    def test_invalid_utf8_is_not_well_formed(self):
        s = RawStream(self.server.starttls_port)
        s.send(HEADER)
        s.read_until('</stream:features>')
        s.send(b"<message><body>\xff\xfe</body></message>")
        text = s.read_until('</stream:stream>')
        self.assertIn('<not-well-formed', text)
        self.assertTrue(s.closed_by_peer())
        s.close()

    def test_wrong_stream_namespace(self):
        self.expect_stream_error(None, 'invalid-namespace',
                                 header="<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                                        "xmlns:stream='urn:wrong' to='%s' version='1.0'>" % DOMAIN)

    def test_wrong_content_namespace(self):
        self.expect_stream_error(None, 'invalid-namespace',
                                 header="<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                                        "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>"
                                        % DOMAIN)

    def test_unsupported_version(self):
        header = HEADER.replace("to='%s' version='1.0'" % DOMAIN, "to='%s' version='0.9'" % DOMAIN)
        self.assertIn("version='0.9'", header)
        # RFC 6120 §4.7.5: a pre-1.0 stream (no XMPP 1.0 features) is not supported.
        self.expect_stream_error(None, 'unsupported-version', header=header)

    def test_unknown_host(self):
        self.expect_stream_error(None, 'host-unknown', header=HEADER.replace(DOMAIN, 'not-served.example'))

    def test_stanza_before_authentication(self):
        self.expect_stream_error("<message to='alice@parley.test'><body>hi</body></message>", 'not-authorized')

    def test_bad_input_from_one_user_does_not_disturb_another(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='calm', plugins=('xep_0199',))
            # Mallory logs in and sends an oversize stanza, then a second raw
            # connection sends restricted XML.
            m = RawStream(self.server.starttls_port)
            m.login_plain(self.server.ca, 'mallory', 'secret', resource='bad')
            m.send("<message to='alice@parley.test/calm' type='chat'><body>" + 'A' * 70000 + "</body></message>")
            text = await asyncio.get_event_loop().run_in_executor(None, m.read_until, '</stream:stream>')
            self.assertIn('<policy-violation', text)
            self.assertTrue(m.closed_by_peer())
            m.close()
            r = RawStream(self.server.starttls_port)
            r.send(HEADER)
            r.read_until('</stream:features>')
            r.send('<!-- nope -->')
            text = await asyncio.get_event_loop().run_in_executor(None, r.read_until, '</stream:stream>')
            self.assertIn('<restricted-xml', text)
            r.close()
            # Alice received nothing of the oversize message and still works.
            self.assertTrue(alice.messages.empty(), 'the oversize stanza must not be delivered')
            sent_id, pong = await ping(alice, DOMAIN)
            self.assertEqual((pong['type'], pong['id']), ('result', sent_id))
            alice.send_message(mto=alice.boundjid.full, mbody='still here', mtype='chat')
            got = await alice.next_message()
            self.assertEqual(got['body'], 'still here')
            await alice.bye()
        run(conversation())

    def test_oversize_start_tag_without_end(self):
        s = RawStream(self.server.starttls_port)
        s.send(HEADER)
        s.read_until('</stream:features>')
        try:
            s.send("<message a='" + 'x' * 100000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        text = s.read_until('</stream:stream>')
        self.assertIn('<policy-violation', text)
        s.close()


if __name__ == '__main__':
    unittest.main()
