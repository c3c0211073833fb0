"""Message Archive Management (XEP-0313) through real slixmpp clients on two
workers, over the compliance journal (modules/archive): history in order
with the stanza-ids recipients saw, paging both ways, the sender's view,
offline messages, preferences, carbons, metadata, refusal of another user's
archive, and history kept across a restart."""
import asyncio
import os
import secrets
import unittest

from slixmpp.exceptions import IqError

from clients import online, ping
from harness import ParleyServer, ServerTestCase, DOMAIN, run

MODULES = ('disco', 'ping', 'roster', 'offline', 'carbons', 'archive', 'mam')
PLUGINS = ('xep_0030', 'xep_0199', 'xep_0203', 'xep_0280', 'xep_0313', 'xep_0359')
NS_MAM = 'urn:xmpp:mam:2'
NS_SID = 'urn:xmpp:sid:0'


def write_key(directory):
    path = os.path.join(directory, 'archive.key')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(secrets.token_hex(32) + '\n')
    return path


def stanza_ids(message):
    """(by, id) of every XEP-0359 stanza-id at the top level of a message."""
    return [(e.get('by'), e.get('id')) for e in message.xml.findall('{%s}stanza-id' % NS_SID)]


async def next_chat(client, timeout=20):
    """The next message with a body (MAM result messages are skipped)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError('no chat message within %ss' % timeout)
        m = await asyncio.wait_for(client.messages.get(), left)
        if m.xml.find('{%s}result' % NS_MAM) is None and m['body']:
            return m


async def history(client, owner=None, with_jid=None, rsm=None, timeout=20):
    """One MAM query with slixmpp's xep_0313: (result iq, [(archive id, inner message)])."""
    owner = owner or client.boundjid.bare
    iq = await client.plugin['xep_0313'].retrieve(jid=owner, with_jid=with_jid, rsm=rsm, timeout=timeout)
    out = []
    for m in iq['mam']['results']:
        r = m['mam_result']
        out.append((r['id'], r['forwarded']['stanza']))
    return iq, out


class Mam(ServerTestCase):
    users = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina')

    @classmethod
    def setUpClass(cls):
        cls.server = ParleyServer(modules=MODULES, module_options={'archive': 'key_file = "archive.key"'})
        write_key(cls.server.dir)
        for node in cls.users:
            cls.server.add_user(node, 'secret')
        cls.server.start()

    def test_history_in_order_with_the_stanza_ids_recipients_saw_paged_both_ways(self):
        async def go():
            # Their own pair of accounts: no other test's messages in between.
            alice = await online(self.server, 'frank', resource='a', plugins=PLUGINS)
            bob = await online(self.server, 'gina', resource='b', plugins=PLUGINS)
            seen = []
            for i in range(25):
                alice.send_message(mto='gina@' + DOMAIN, mbody='m%02d' % i, mtype='chat')
                got = await next_chat(bob)
                self.assertEqual(got['body'], 'm%02d' % i)
                ids = stanza_ids(got)
                self.assertEqual(len(ids), 1, 'exactly one stanza-id, by the recipient: %s' % ids)
                self.assertEqual(ids[0][0], 'gina@' + DOMAIN)
                self.assertRegex(ids[0][1], '^[0-9a-f]{16}$')
                seen.append(ids[0][1])
            self.assertEqual(seen, sorted(seen), 'ids increase with the order of messages')

            iq, page = await history(bob, with_jid='frank@' + DOMAIN, rsm={'max': 10})
            self.assertEqual([i for i, _ in page], seen[:10])
            self.assertEqual([m['body'] for _, m in page], ['m%02d' % i for i in range(10)])
            self.assertNotEqual(iq['mam_fin']['complete'], True)
            self.assertEqual(page[0][1]['from'].bare, 'frank@' + DOMAIN)
            # Every page in turn, with slixmpp's RSM iteration (after = last id).
            got = []
            async for m in bob.plugin['xep_0313'].iterate(jid=bob.boundjid.bare, with_jid='frank@' + DOMAIN,
                                                            rsm={'max': 7}):
                got.append(m['mam_result']['id'])
                if len(got) > 100:
                    break
            self.assertEqual(got, seen)
            # The last page first (RSM <before/>), then the one before it.
            async for m in bob.plugin['xep_0313'].iterate(jid=bob.boundjid.bare, with_jid='frank@' + DOMAIN,
                                                            rsm={'max': 10}, reverse=True, total=10):
                got.append(m['mam_result']['id'])
            self.assertEqual(got[25:], list(reversed(seen[15:])))
            # The sender's archive has them too, under the same ids.
            _, sent = await history(alice, with_jid='gina@' + DOMAIN, rsm={'max': 50})
            self.assertEqual([i for i, _ in sent], seen)
            for c in (alice, bob):
                await c.bye()
        run(go(), timeout=120)

    def test_another_users_archive_is_forbidden(self):
        async def go():
            dave = await online(self.server, 'dave', resource='d', plugins=PLUGINS)
            with self.assertRaises(IqError) as e:
                await history(dave, owner='alice@' + DOMAIN)
            self.assertEqual(e.exception.iq['error']['condition'], 'forbidden')
            # An id that is not in her archive.
            iq = dave.make_iq_set(ito=dave.boundjid.bare)
            iq.append(__import__('xml.etree.ElementTree', fromlist=['x']).fromstring(
                "<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'>"
                "<after>00000000000000ff</after></set></query>"))
            with self.assertRaises(IqError) as e:
                await iq.send(timeout=10)
            self.assertEqual(e.exception.iq['error']['condition'], 'item-not-found')
            await dave.bye()
        run(go())

    def test_an_offline_message_is_archived_and_delivered_with_the_same_id(self):
        async def go():
            alice = await online(self.server, 'alice', resource='off', plugins=PLUGINS)
            alice.send_message(mto='carol@' + DOMAIN, mbody='while you were out', mtype='chat')
            await ping(alice, DOMAIN)  # stored by now: a sender's order is kept
            carol = await online(self.server, 'carol', resource='c', plugins=PLUGINS)
            got = await next_chat(carol)
            self.assertEqual(got['body'], 'while you were out')
            ids = [i for by, i in stanza_ids(got) if by == 'carol@' + DOMAIN]
            self.assertEqual(len(ids), 1, stanza_ids(got))
            _, page = await history(carol, with_jid='alice@' + DOMAIN)
            self.assertEqual([(i, m['body']) for i, m in page], [(ids[0], 'while you were out')])
            await alice.bye()
            await carol.bye()
        run(go())

    def test_preferences_decide_what_ones_own_archive_keeps(self):
        async def go():
            erin = await online(self.server, 'erin', resource='e', plugins=PLUGINS)
            alice = await online(self.server, 'alice', resource='p', plugins=PLUGINS)
            ET = __import__('xml.etree.ElementTree', fromlist=['x'])
            iq = erin.make_iq_set(ito=erin.boundjid.bare)
            iq.append(ET.fromstring("<prefs xmlns='urn:xmpp:mam:2' default='never'>"
                                    "<always><jid>dave@%s</jid></always><never/></prefs>" % DOMAIN))
            reply = await iq.send(timeout=10)
            self.assertEqual(reply.xml.find('{%s}prefs' % NS_MAM).get('default'), 'never')
            get = erin.make_iq_get(ito=erin.boundjid.bare)
            get.append(ET.fromstring("<prefs xmlns='urn:xmpp:mam:2'/>"))
            stored = (await get.send(timeout=10)).xml.find('{%s}prefs' % NS_MAM)
            self.assertEqual(stored.get('default'), 'never')
            self.assertEqual([j.text for j in stored.iter('{%s}jid' % NS_MAM)], ['dave@' + DOMAIN])

            alice.send_message(mto=erin.boundjid.bare, mbody='not for the archive', mtype='chat')
            got = await next_chat(erin)
            self.assertEqual(stanza_ids(got), [], 'not archived for erin: no stanza-id')
            _, hers = await history(erin)
            self.assertEqual(hers, [])
            _, his = await history(alice, with_jid=erin.boundjid.bare)
            self.assertEqual([m['body'] for _, m in his], ['not for the archive'], 'the sender keeps his')
            await erin.bye()
            await alice.bye()
        run(go())

    def test_carbons_and_mam_together(self):
        async def go():
            alice1 = await online(self.server, 'alice', resource='one', plugins=PLUGINS)
            alice2 = await online(self.server, 'alice', resource='two', plugins=PLUGINS)
            await alice2.plugin['xep_0280'].enable()
            bob1 = await online(self.server, 'bob', resource='one', plugins=PLUGINS)
            bob2 = await online(self.server, 'bob', resource='two', plugins=PLUGINS)
            await bob2.plugin['xep_0280'].enable()
            sent_carbon = asyncio.get_running_loop().create_future()
            alice2.add_event_handler('carbon_sent', lambda m: sent_carbon.done() or sent_carbon.set_result(m))
            received_carbon = asyncio.get_running_loop().create_future()
            bob2.add_event_handler('carbon_received',
                                   lambda m: received_carbon.done() or received_carbon.set_result(m))
            alice1.send_message(mto=bob1.boundjid.full, mbody='carbon copy', mtype='chat')
            got = await next_chat(bob1)
            ((by, sid),) = stanza_ids(got)
            self.assertEqual(by, 'bob@' + DOMAIN)
            inner = (await asyncio.wait_for(received_carbon, 15))['carbon_received']
            self.assertIn(('bob@' + DOMAIN, sid), stanza_ids(inner))
            inner = (await asyncio.wait_for(sent_carbon, 15))['carbon_sent']
            self.assertIn(('alice@' + DOMAIN, sid), stanza_ids(inner), 'the sender\'s id in the sent carbon')
            for c in (alice1, alice2, bob1, bob2):
                await c.bye()
        run(go())

    def test_metadata_and_features(self):
        async def go():
            alice = await online(self.server, 'alice', resource='meta', plugins=PLUGINS)
            info = await alice.plugin['xep_0030'].get_info(jid=alice.boundjid.bare, timeout=10)
            features = info['disco_info']['features']
            self.assertIn(NS_MAM, features)
            self.assertIn(NS_MAM + '#extended', features)
            ET = __import__('xml.etree.ElementTree', fromlist=['x'])
            iq = alice.make_iq_get(ito=alice.boundjid.bare)
            iq.append(ET.fromstring("<metadata xmlns='urn:xmpp:mam:2'/>"))
            meta = (await iq.send(timeout=10)).xml.find('{%s}metadata' % NS_MAM)
            _, page = await history(alice, rsm={'max': 250})
            if page:
                self.assertEqual(meta.find('{%s}start' % NS_MAM).get('id'), page[0][0])
            await alice.bye()
        run(go())


class MamRestart(unittest.TestCase):
    def test_history_survives_a_restart_and_a_kill(self):
        server = ParleyServer(modules=MODULES, module_options={'archive': 'key_file = "archive.key"'})
        try:
            write_key(server.dir)
            for node in ('alice', 'bob'):
                server.add_user(node, 'secret')
            server.start()

            async def send():
                alice = await online(server, 'alice', resource='a', plugins=PLUGINS)
                bob = await online(server, 'bob', resource='b', plugins=PLUGINS)
                ids = []
                for i in range(30):
                    alice.send_message(mto=bob.boundjid.bare, mbody='kept %d' % i, mtype='chat')
                for i in range(30):
                    ids.append(stanza_ids(await next_chat(bob))[0][1])
                return ids
            ids = run(send(), timeout=90)
            # Every message bob received was on disk before he got it.
            server.signal(9)
            server.proc.wait(timeout=20)
            server.log.close()
            os.rename(server.log_path, server.log_path + '.killed')  # "ready" must come from the new process
            server.start()

            async def read():
                bob = await online(server, 'bob', resource='b2', plugins=PLUGINS)
                _, page = await history(bob, rsm={'max': 100})
                await bob.bye()
                return page
            page = run(read(), timeout=60)
            self.assertEqual([i for i, _ in page], ids)
            self.assertEqual([m['body'] for _, m in page], ['kept %d' % i for i in range(30)])
        finally:
            try:
                server.stop()
            finally:
                server.cleanup()


if __name__ == '__main__':
    unittest.main()
