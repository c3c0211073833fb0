"""Data-loss prevention (mod_content_policy) with real slixmpp clients on a
real parleyd: a card number refused to another domain and into a room but
only flagged to a colleague, a social security number redacted for the
recipient (the sender told, the archive holding only the redacted text), a
link to a refused domain blocked, XHTML-IM markup removed, a word refused in
one room only, and every decision in the archive's audit log without what
was matched."""
import asyncio
import json
import time
import unittest
import xml.etree.ElementTree as ET

from clients import online
from harness import DOMAIN, ParleyServer, ServerTestCase, run
from muc_helpers import SERVICE, create
from test_mam import write_key

NS_XHTML_IM = 'http://jabber.org/protocol/xhtml-im'
CARD = '4111 1111 1111 1111'
SSN = '123-45-6789'
MODULES = ('disco', 'ping', 'roster', 'archive', 'muc', 'content_policy')
PLUGINS = ('xep_0030', 'xep_0045', 'xep_0199')
RULES = '''strip_xhtml = true
[[modules.content_policy.rule]]
name = "cards-out"
detect = ["card"]
direction = ["external", "room"]
action = "block"
[[modules.content_policy.rule]]
name = "cards-in"
detect = ["card"]
direction = ["internal"]
action = "flag"
[[modules.content_policy.rule]]
name = "ssn"
detect = ["us_ssn"]
action = "redact"
[[modules.content_policy.rule]]
name = "bluebird"
words = ["bluebird"]
rooms = ["lobby@%s"]
action = "block"
[modules.content_policy.links]
block = ["paste.example"]
''' % SERVICE


async def next_message(client, want, timeout=15):
    """The next message `want` accepts (others are skipped), bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError('no such message within %s s' % timeout)
        m = await asyncio.wait_for(client.messages.get(), left)
        if want(m):
            return m


NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'


def error_of(m):
    """(type, condition, text) read from the XML (slixmpp 1.8 does not know
    RFC 6120's policy-violation)."""
    e = m.xml.find('{jabber:client}error')
    if e is None:
        return (None, None, None)
    cond = [c.tag.split('}')[1] for c in e if c.tag.startswith('{%s}' % NS_STANZAS) and not c.tag.endswith('}text')]
    text = e.find('{%s}text' % NS_STANZAS)
    return (e.get('type'), cond[0] if cond else None, text.text if text is not None else '')


class ContentPolicy(ServerTestCase):
    users = ('alice', 'bob')

    @classmethod
    def setUpClass(cls):
        cls.server = ParleyServer(modules=MODULES, module_options={
            'archive': 'key_file = "archive.key"', 'muc': 'domain = "%s"' % SERVICE, 'content_policy': RULES})
        write_key(cls.server.dir)
        for node in cls.users:
            cls.server.add_user(node, 'secret')
        cls.server.start()

    def test_rules_block_redact_and_flag_and_the_audit_log_holds_each_decision(self):
        bob_jid = 'bob@' + DOMAIN

        async def go():
            alice = await online(self.server, 'alice', resource='a', plugins=PLUGINS)
            bob = await online(self.server, 'bob', resource='b', plugins=PLUGINS)
            try:
                # A card number to another domain: refused, naming the rule
                # (without the policy it would be remote-server-not-found).
                alice.send_message(mto='carol@partner.example', mbody='card ' + CARD, mtype='chat')
                err = await next_message(alice, lambda m: m['type'] == 'error')
                self.assertEqual(error_of(err)[:2], ('modify', 'policy-violation'))
                self.assertIn("'cards-out'", error_of(err)[2])
                # To a colleague: flagged only, delivered as written.
                alice.send_message(mto=bob_jid, mbody='card ' + CARD, mtype='chat')
                got = await next_message(bob, lambda m: m['type'] == 'chat')
                self.assertEqual(got['body'], 'card ' + CARD)
                # A social security number: redacted for bob, alice told.
                alice.send_message(mto=bob_jid, mbody='my ssn is %s, ok?' % SSN, mtype='chat')
                got = await next_message(bob, lambda m: m['type'] == 'chat')
                self.assertEqual(got['body'], 'my ssn is [redacted: ssn], ok?')
                notice = await next_message(alice, lambda m: m['type'] == 'headline')
                self.assertIn("'ssn'", notice['body'])
                self.assertNotIn(SSN, notice['body'])
                # A link to a refused domain.
                alice.send_message(mto=bob_jid, mbody='see https://paste.example/abc', mtype='chat')
                err = await next_message(alice, lambda m: m['type'] == 'error')
                self.assertEqual(error_of(err)[1], 'policy-violation')
                self.assertIn("'links'", error_of(err)[2])
                # XHTML-IM markup never reaches the recipient.
                m = alice.make_message(mto=bob_jid, mbody='plain', mtype='chat')
                m.append(ET.fromstring("<html xmlns='%s'><body xmlns='http://www.w3.org/1999/xhtml'>"
                                       "<a href='https://evil.example/'>plain</a></body></html>" % NS_XHTML_IM))
                m.send()
                got = await next_message(bob, lambda m: m['type'] == 'chat')
                self.assertEqual(got['body'], 'plain')
                self.assertIsNone(got.xml.find('{%s}html' % NS_XHTML_IM))
                # Nothing blocked reached bob.
                await asyncio.sleep(0.3)
                while not bob.messages.empty():
                    left = bob.messages.get_nowait()
                    self.assertNotIn('paste.example', left['body'] or '')
                    self.assertNotIn('partner', str(left['to']))
            finally:
                for c in (alice, bob):
                    await c.bye()
        run(go(), timeout=90)

        # The audit log: each decision, with the rule, never the secret.
        audit = json.loads(self.server.ctl('archive', 'audit', '--json').stdout)
        self.assertTrue(audit['ok'], 'the audit chain verifies')
        # (The room test's decisions, if it ran first, are about the rooms.)
        mine = [e for e in audit['last'] if e['action'].startswith('content.') and SERVICE not in e['scope']]
        actions = sorted(e['action'] for e in mine)
        self.assertEqual(actions, ['content.block', 'content.block', 'content.flag', 'content.redact'])
        for e in mine:
            self.assertEqual(e['who'], 'parleyd content_policy')
            self.assertIn('alice@' + DOMAIN, e['scope'])
            for secret in (CARD, CARD.replace(' ', ''), SSN):
                self.assertNotIn(secret, json.dumps(e))
        self.assertTrue(any('cards-out' in e['result'] and 'partner.example' in e['scope'] for e in mine))
        # The archive holds what bob saw, never the redacted number.
        found = json.loads(self.server.ctl('archive', 'search', '--user', bob_jid, '--json').stdout)['results']
        bodies = [r['body'] for r in found]
        self.assertIn('my ssn is [redacted: ssn], ok?', bodies)
        self.assertFalse(any(SSN in (b or '') for b in bodies))

    def test_rooms_refuse_cards_and_a_word_in_one_room_only(self):
        async def go():
            alice = await online(self.server, 'alice', resource='r', plugins=PLUGINS)
            try:
                lobby, other = 'lobby@' + SERVICE, 'other@' + SERVICE
                await create(alice, lobby, 'Alice')
                await create(alice, other, 'Alice')
                for room, body, rule in ((lobby, 'card ' + CARD, 'cards-out'), (lobby, 'Bluebird ships', 'bluebird')):
                    alice.send_message(mto=room, mbody=body, mtype='groupchat')
                    err = await next_message(alice, lambda m: m['type'] == 'error')
                    self.assertEqual(error_of(err)[1], 'policy-violation')
                    self.assertIn("'%s'" % rule, error_of(err)[2])
                # The word is fine in another room: the room echoes it back.
                alice.send_message(mto=other, mbody='Bluebird ships', mtype='groupchat')
                echo = await next_message(alice, lambda m: m['type'] in ('groupchat', 'error'))
                self.assertEqual((echo['type'], echo['body']), ('groupchat', 'Bluebird ships'))
            finally:
                await alice.bye()
        run(go(), timeout=60)


if __name__ == '__main__':
    unittest.main()
