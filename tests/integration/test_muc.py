"""mod_muc (XEP-0045, first part) with real slixmpp clients on two workers:
the service in disco, a room created locked and opened by an instant
configuration, joining with history and subject, groupchat to every
occupant exactly once wherever they are, nickname conflicts, private
messages, a non-occupant refused, and an occupant whose connection drops
leaving the room for the others."""
import asyncio
import time
import unittest
from xml.etree import ElementTree as ET

from slixmpp.exceptions import PresenceError

from clients import online, query
from harness import DOMAIN, ServerTestCase, run, worker_of
from muc_helpers import SERVICE, codes, groupchat_bodies, instant

MODULES = ('disco', 'ping', 'roster', 'muc')
PLUGINS = ('xep_0030', 'xep_0045', 'xep_0199', 'xep_0203')


class Muc(ServerTestCase):
    users = ('alice', 'bob', 'carol', 'dave', 'erin')
    settings = dict(modules=MODULES, module_options={'muc': 'domain = "%s"\nhistory_length = 5' % SERVICE})

    def test_the_service_is_in_disco(self):
        async def go():
            a = await online(self.server, 'alice', plugins=PLUGINS)
            try:
                items = await a['xep_0030'].get_items(jid=DOMAIN, timeout=10)
                self.assertIn(SERVICE, [i[0] for i in items['disco_items']['items']])
                info = await a['xep_0030'].get_info(jid=SERVICE, timeout=10)
                self.assertIn(('conference', 'text'), [(i[0], i[1]) for i in info['disco_info']['identities']])
                self.assertIn('http://jabber.org/protocol/muc', info['disco_info']['features'])
            finally:
                await a.bye()
        run(go())

    def test_a_room_from_creation_to_conversation(self):
        room = 'plans@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='desk', plugins=PLUGINS)
            bob = await online(self.server, 'bob', resource='phone', plugins=PLUGINS)
            carol = await online(self.server, 'carol', resource='pc', plugins=PLUGINS)
            try:
                made = await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
                self.assertEqual(codes(made[0]), ['110', '201'], 'the creator is told the room is new')
                with self.assertRaises(PresenceError) as refused:
                    await bob['xep_0045'].join_muc_wait(room, 'Bob', timeout=10)
                self.assertEqual(refused.exception.condition, 'item-not-found', 'locked until configured')
                await instant(alice, room)
                joined = await bob['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=0, timeout=10)
                self.assertEqual(codes(joined[0]), ['110'])
                self.assertEqual(sorted(p['from'].resource for p in joined[2]), ['Alice', 'Bob'], 'the occupants')
                alice.send_message(mto=room, mbody='hello', mtype='groupchat')
                self.assertEqual(await groupchat_bodies(bob, room, 1), [('Alice', 'hello')])
                bob.send_message(mto=room, mbody='hi', mtype='groupchat')
                self.assertEqual(await groupchat_bodies(alice, room, 2), [('Alice', 'hello'), ('Bob', 'hi')],
                                 'every occupant, the sender too, in order')
                # History on join: what was asked for, delayed.
                later = await carol['xep_0045'].join_muc_wait(room, 'Carol', maxstanzas=1, timeout=10)
                self.assertEqual([(m['from'].resource, m['body']) for m in later[3]], [('Bob', 'hi')])
                self.assertTrue(later[3][0]['delay']['stamp'])
                # A nickname in use.
                dave = await online(self.server, 'dave', plugins=PLUGINS)
                with self.assertRaises(PresenceError) as taken:
                    await dave['xep_0045'].join_muc_wait(room, 'Bob', timeout=10)
                self.assertEqual(taken.exception.condition, 'conflict')
                # A non-occupant may not speak.
                dave.send_message(mto=room, mbody='spam', mtype='groupchat')
                err = await dave.next_message(timeout=10)
                self.assertEqual((err['type'], err['error']['condition']), ('error', 'not-acceptable'))
                await dave.bye()
                # A private message through the room.
                alice.send_message(mto=room + '/Bob', mbody='psst', mtype='chat')
                deadline = time.monotonic() + 10
                while True:
                    m = await bob.next_message(timeout=max(0.1, deadline - time.monotonic()))
                    if m['type'] == 'chat':
                        break
                self.assertEqual((str(m['from']), m['body']), (room + '/Alice', 'psst'))
                # Self-ping (XEP-0410).
                r = await query(bob, room + '/Bob', "<ping xmlns='urn:xmpp:ping'/>")
                self.assertEqual(r[0], 'result')
            finally:
                for c in (alice, bob, carol):
                    await c.bye()
        run(go(), timeout=90)

    def test_occupants_on_both_workers_each_get_a_message_once(self):
        room = 'everyone@' + SERVICE

        async def go():
            clients, workers = [], set()
            for node in ('alice', 'bob', 'carol', 'dave'):
                c = await online(self.server, node, resource='w', plugins=PLUGINS)
                clients.append(c)
                workers.add(worker_of(self.server, '%s@%s/w' % (node, DOMAIN)))
            # The fifth where it makes both workers used (bounded tries).
            for i in range(24):
                c = await online(self.server, 'erin', resource='w%d' % i, plugins=PLUGINS)
                w = worker_of(self.server, 'erin@%s/w%d' % (DOMAIN, i))
                if len(workers | {w}) == 2:
                    clients.append(c)
                    break
                await c.bye()
            try:
                self.assertEqual(len(clients), 5, 'could not get occupants on both workers')
                await clients[0]['xep_0045'].join_muc_wait(room, 'c0', maxstanzas=0, timeout=10)
                await instant(clients[0], room)
                for i, c in enumerate(clients[1:], 1):
                    await c['xep_0045'].join_muc_wait(room, 'c%d' % i, maxstanzas=0, timeout=10)
                for i in range(3):
                    clients[i].send_message(mto=room, mbody='m%d' % i, mtype='groupchat')
                    await asyncio.sleep(0.05)  # one sender after another: one order for all
                for c in clients:
                    got = await groupchat_bodies(c, room, 3)
                    self.assertEqual(got, [('c0', 'm0'), ('c1', 'm1'), ('c2', 'm2')], c.boundjid)
                    more = await groupchat_bodies(c, room, 1, timeout=0.5)
                    self.assertEqual(more, [], 'nothing twice')
            finally:
                for c in clients:
                    await c.bye()
        run(go(), timeout=90)

    def test_an_occupant_whose_connection_drops_leaves_the_room(self):
        room = 'drops@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='stay', plugins=PLUGINS)
            erin = await online(self.server, 'erin', resource='drop', plugins=PLUGINS)
            try:
                await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
                await instant(alice, room)
                await erin['xep_0045'].join_muc_wait(room, 'Erin', maxstanzas=0, timeout=10)
                gone = asyncio.get_event_loop().create_future()

                def on_offline(p):
                    # slixmpp's MUC plugin takes occupants' presence away from
                    # the plain 'presence' event.
                    if p['from'] == room + '/Erin' and not gone.done():
                        gone.set_result(p)
                alice.add_event_handler('muc::%s::got_offline' % room, on_offline)
                erin.abort()  # the TCP connection closes: no unavailable presence from the client
                try:
                    await asyncio.wait_for(gone, 15)
                except asyncio.TimeoutError:
                    raise AssertionError('alice never saw Erin leave; log:\n' + self.server.log_text()[-3000:])
                self.assertEqual(alice['xep_0045'].get_roster(room), ['Alice'])
            finally:
                await alice.bye()
                await erin.bye()
        run(go(), timeout=60)

    def test_a_direct_invitation_reaches_the_invitee_as_sent(self):
        # XEP-0249: the invitation goes from person to person; the room has
        # no part in it, and the server passes it on untouched.
        room = 'direct@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='inv', plugins=PLUGINS)
            bob = await online(self.server, 'bob', resource='inv', plugins=PLUGINS)
            try:
                await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
                await instant(alice, room)
                m = alice.make_message(mto='bob@%s/inv' % DOMAIN, mbody='join us')
                m.append(ET.fromstring("<x xmlns='jabber:x:conference' jid='%s' reason='planning'/>" % room))
                m.send()
                deadline = time.monotonic() + 10
                got = None
                while got is None and time.monotonic() < deadline:
                    r = await bob.next_message(timeout=max(0.05, deadline - time.monotonic()))
                    got = r.xml.find('{jabber:x:conference}x')
                self.assertIsNotNone(got)
                self.assertEqual((got.get('jid'), got.get('reason')), (room, 'planning'))
                joined = await bob['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=0, timeout=10)
                self.assertEqual(codes(joined[0]), ['110'])
            finally:
                await alice.bye()
                await bob.bye()
        run(go(), timeout=60)

    def test_a_registered_nickname_is_kept_for_its_owner(self):
        room = 'names@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='reg', plugins=PLUGINS)
            bob = await online(self.server, 'bob', resource='reg', plugins=PLUGINS)
            carol = await online(self.server, 'carol', resource='reg', plugins=PLUGINS)
            try:
                await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
                await instant(alice, room)
                r = await query(bob, room, "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>"
                                           "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value>"
                                           "</field><field var='muc#register_roomnick'><value>Robert</value></field>"
                                           "</x></query>", 'set')
                self.assertEqual(r[0], 'result', r)
                with self.assertRaises(PresenceError) as taken:
                    await carol['xep_0045'].join_muc_wait(room, 'Robert', maxstanzas=0, timeout=10)
                self.assertEqual(taken.exception.condition, 'conflict')
                r = await query(bob, room, "<query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/>")
                self.assertEqual(r[0], 'result', r)
                names = [i.get('name') for i in r[1].iter('{http://jabber.org/protocol/disco#info}identity')]
                self.assertEqual(names, ['Robert'])
                joined = await bob['xep_0045'].join_muc_wait(room, 'Robert', maxstanzas=0, timeout=10)
                self.assertEqual(codes(joined[0]), ['110'])
            finally:
                for c in (alice, bob, carol):
                    await c.bye()
        run(go(), timeout=60)

    def test_rooms_of_strangers_and_rooms_that_do_not_exist(self):
        async def go():
            a = await online(self.server, 'alice', plugins=PLUGINS)
            try:
                r = await query(a, 'nowhere@' + SERVICE, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
                self.assertEqual(r[:3], ('error', 'cancel', 'item-not-found'))
                a.send_message(mto='nowhere@' + SERVICE, mbody='x', mtype='groupchat')
                err = await a.next_message(timeout=10)
                self.assertEqual(err['error']['condition'], 'item-not-found')
            finally:
                await a.bye()
        run(go())


class MucRemoved(ServerTestCase):
    users = ('alice',)
    settings = dict(modules=MODULES, module_options={'muc': 'domain = "%s"' % SERVICE})

    def test_occupants_are_told_when_the_service_goes_away(self):
        room = 'going@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='x', plugins=PLUGINS)
            try:
                await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
                await instant(alice, room)
                gone = asyncio.get_event_loop().create_future()
                alice.add_event_handler('muc::%s::got_offline' % room,
                                        lambda p: gone.done() or gone.set_result(p))
                tail = await asyncio.to_thread(self.server.reload, modules=('disco', 'ping', 'roster'))
                self.assertIn('reloaded', tail)
                p = await asyncio.wait_for(gone, 10)
                self.assertEqual(codes(p), ['110', '332'], 'the service went away (332)')
            finally:
                await alice.bye()
        run(go(), timeout=60)


if __name__ == '__main__':
    unittest.main()
