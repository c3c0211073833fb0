"""The feature modules, through a real client: ping, disco, version, time."""
import datetime
import unittest

from clients import online, ping
from harness import ServerTestCase, DOMAIN, run


class Modules(ServerTestCase):
    users = ('alice',)

    def conversation(self, body):
        async def go():
            alice = await online(self.server, 'alice',
                                 plugins=('xep_0030', 'xep_0092', 'xep_0199', 'xep_0202'))
            try:
                await body(alice)
            finally:
                await alice.bye()
        run(go())

    def test_ping(self):
        async def body(alice):
            sent_id, reply = await ping(alice, DOMAIN)
            # XEP-0199 §4.2: an empty iq result with the ping's id, from the server.
            self.assertEqual(reply['type'], 'result')
            self.assertEqual(reply['id'], sent_id)
            self.assertEqual(reply['from'].full, DOMAIN)
            self.assertEqual(reply['to'].full, alice.boundjid.full)
            self.assertEqual(len(reply.xml), 0, 'the ping result has no payload')
        self.conversation(body)

    def test_disco_info_lists_identity_and_loaded_features(self):
        async def body(alice):
            info = await alice['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            q = info['disco_info']
            self.assertIn(('server', 'im', None, 'Parley'), q['identities'])
            for f in ('http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items',
                      'urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time'):
                self.assertIn(f, q['features'])
            items = await alice['xep_0030'].get_items(jid=DOMAIN, timeout=10)
            self.assertEqual(list(items['disco_items']['items']), [])
        self.conversation(body)

    def test_disco_unknown_node_is_item_not_found(self):
        async def body(alice):
            try:
                await alice['xep_0030'].get_info(jid=DOMAIN, node='urn:example:none', timeout=10)
                self.fail('an unknown node must be an error')
            except Exception as e:
                self.assertEqual(getattr(e, 'condition', None), 'item-not-found', repr(e))
        self.conversation(body)

    def test_version(self):
        async def body(alice):
            v = await alice['xep_0092'].get_version(DOMAIN, timeout=10)
            self.assertEqual(v['software_version']['name'], 'Parley')
            self.assertRegex(v['software_version']['version'], r'^\d+\.\d+')
            self.assertIsNone(v['software_version']['os'] or None, 'the OS is not disclosed by default')
        self.conversation(body)

    def test_time(self):
        async def body(alice):
            t = await alice['xep_0202'].get_entity_time(DOMAIN, timeout=10)
            # slixmpp 1.8's own accessor appends a second 'Z' to a correct
            # XEP-0202 <utc/>, so read the element as sent.
            raw = t['entity_time'].xml.find('{urn:xmpp:time}utc').text
            self.assertRegex(raw, r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
            utc = datetime.datetime.strptime(raw[:19], '%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc)
            tzo = t['entity_time'].xml.find('{urn:xmpp:time}tzo').text
            self.assertRegex(tzo, r'^[+-]\d\d:\d\d$')
            now = datetime.datetime.now(datetime.timezone.utc)
            self.assertLess(abs((now - utc).total_seconds()), 60, 'server time %s vs %s' % (utc, now))
        self.conversation(body)


if __name__ == '__main__':
    unittest.main()
