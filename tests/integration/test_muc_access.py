"""mod_muc's access control with real slixmpp clients on two workers:
members-only rooms (a non-member refused; a member removed leaves with
every client at once, on both workers, and cannot come back), passwords,
bans, visitors silent in a moderated room until given voice, the
configuration form, and persistent rooms that survive a restart and a
kill -9 right after the owner was told the change was made."""
import asyncio
import json
import os
import time
import unittest

from xml.etree import ElementTree as ET

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from clients import online, query
from harness import DOMAIN, ServerTestCase, run, worker_of
from muc_helpers import NS_ADMIN, NS_MUC_USER, SERVICE, admin, codes, create, form, item_of, join_refused

MODULES = ('disco', 'ping', 'roster', 'muc')
PLUGINS = ('xep_0030', 'xep_0045', 'xep_0199', 'xep_0203')


class Departures:
    """Unavailable presence from `room` that `client` receives (slixmpp's MUC
    plugin gives occupants' presence to muc::ROOM::got_offline)."""

    def __init__(self, client, room):
        self.got = asyncio.Queue()
        client.add_event_handler('muc::%s::got_offline' % room, self.got.put_nowait)

    async def next(self, timeout=10):
        return await asyncio.wait_for(self.got.get(), timeout)


async def on_both_workers(server, node, resources):
    """Clients of `node`, the first two on different workers (bounded tries)."""
    first = await online(server, node, resource=resources[0], plugins=PLUGINS)
    w0 = worker_of(server, '%s@%s/%s' % (node, DOMAIN, resources[0]))
    for i in range(24):
        res = '%s%d' % (resources[1], i)
        c = await online(server, node, resource=res, plugins=PLUGINS)
        if worker_of(server, '%s@%s/%s' % (node, DOMAIN, res)) != w0:
            return first, c
        await c.bye()
    await first.bye()
    raise AssertionError('could not get two clients of %s on different workers' % node)


class MucAccess(ServerTestCase):
    users = ('alice', 'bob', 'carol', 'dave', 'mallory')
    settings = dict(modules=MODULES, module_options={'muc': 'domain = "%s"' % SERVICE})

    def test_a_removed_member_leaves_with_every_client_and_cannot_come_back(self):
        room = 'board@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='desk', plugins=PLUGINS)
            bob1, bob2 = await on_both_workers(self.server, 'bob', ('one', 'two'))
            try:
                await create(alice, room, 'Alice', membersonly=1)
                self.assertEqual(await join_refused(bob1, room, 'Bob'), 'registration-required')
                r = await admin(alice, room, "<item affiliation='member' jid='bob@%s'/>" % DOMAIN)
                self.assertEqual(r[0], 'result', r)
                await bob1['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=0, timeout=10)
                await bob2['xep_0045'].join_muc_wait(room, 'Bobby', maxstanzas=0, timeout=10)
                left1, left2, seen = Departures(bob1, room), Departures(bob2, room), Departures(alice, room)
                r = await admin(alice, room, "<item affiliation='none' jid='bob@%s'><reason>moved on</reason>"
                                             "</item>" % DOMAIN)
                self.assertEqual(r[0], 'result', r)
                for client, nick, q in ((bob1, 'Bob', left1), (bob2, 'Bobby', left2)):
                    while True:  # each client also hears the other nickname go; bounded by next()'s timeout
                        p = await q.next()
                        if p['from'].resource == nick:
                            break
                    self.assertEqual(codes(p), ['110', '321'], 'removed because no longer a member')
                    self.assertEqual(item_of(p).get('affiliation'), 'none')
                    self.assertEqual(item_of(p).find(NS_MUC_USER + 'reason').text, 'moved on')
                gone = sorted([(await seen.next())['from'].resource for _ in range(2)])
                self.assertEqual(gone, ['Bob', 'Bobby'], 'the others see both of his nicknames leave')
                self.assertEqual(await join_refused(bob1, room, 'Bob'), 'registration-required')
                self.assertEqual(await join_refused(bob2, room, 'Again'), 'registration-required')
                # Nothing of the room reaches him any more.
                alice.send_message(mto=room, mbody='after bob', mtype='groupchat')
                deadline = time.monotonic() + 1
                while time.monotonic() < deadline:
                    try:
                        m = await bob1.next_message(timeout=max(0.05, deadline - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                    self.assertNotEqual(m['body'], 'after bob')
            finally:
                for c in (alice, bob1, bob2):
                    await c.bye()
        run(go(), timeout=120)

    def test_passwords_bans_and_the_ban_list(self):
        room = 'vault@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='desk', plugins=PLUGINS)
            carol = await online(self.server, 'carol', resource='pc', plugins=PLUGINS)
            try:
                await create(alice, room, 'Alice', passwordprotectedroom=1, roomsecret='open sesame')
                info = await alice['xep_0030'].get_info(jid=room, timeout=10)
                self.assertIn('muc_passwordprotected', info['disco_info']['features'])
                self.assertEqual(await join_refused(carol, room, 'Carol'), 'not-authorized')
                self.assertEqual(await join_refused(carol, room, 'Carol', password='guess'), 'not-authorized')
                await carol['xep_0045'].join_muc_wait(room, 'Carol', password='open sesame', maxstanzas=0, timeout=10)
                # The form shows that there is a password, never the password.
                r = await query(alice, room, "<query xmlns='http://jabber.org/protocol/muc#owner'/>")
                self.assertEqual(r[0], 'result')
                from xml.etree import ElementTree as ET
                self.assertNotIn('open sesame', ET.tostring(r[1], encoding='unicode'))
                left = Departures(carol, room)
                r = await admin(alice, room, "<item affiliation='outcast' jid='carol@%s'><reason>leaked it</reason>"
                                             "</item>" % DOMAIN)
                self.assertEqual(r[0], 'result', r)
                p = await left.next()
                self.assertEqual(codes(p), ['110', '301'], 'banned')
                self.assertEqual(item_of(p).get('affiliation'), 'outcast')
                self.assertEqual(await join_refused(carol, room, 'Carol2', password='open sesame'), 'forbidden')
                r = await query(alice, room, "<query xmlns='%s'><item affiliation='outcast'/></query>" % NS_ADMIN)
                items = r[1].findall('{%s}query/{%s}item' % (NS_ADMIN, NS_ADMIN))
                self.assertEqual([(i.get('jid'), i.find('{%s}reason' % NS_ADMIN).text) for i in items],
                                 [('carol@' + DOMAIN, 'leaked it')])
                r = await query(carol, room, "<query xmlns='%s'><item affiliation='outcast'/></query>" % NS_ADMIN)
                self.assertEqual(r[:3], ('error', 'auth', 'forbidden'), 'the ban list is for admins')
            finally:
                await alice.bye()
                await carol.bye()
        run(go(), timeout=90)

    def test_a_visitor_in_a_moderated_room_speaks_once_given_voice(self):
        room = 'stage@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='desk', plugins=PLUGINS)
            dave = await online(self.server, 'dave', resource='pc', plugins=PLUGINS + ('xep_0092',))
            try:
                await create(alice, room, 'Alice', moderatedroom=1)
                joined = await dave['xep_0045'].join_muc_wait(room, 'Dave', maxstanzas=0, timeout=10)
                self.assertEqual(item_of(joined[0]).get('role'), 'visitor')
                dave.send_message(mto=room, mbody='may I?', mtype='groupchat')
                err = await dave.next_message(timeout=10)
                self.assertEqual((err['type'], err['error']['condition']), ('error', 'forbidden'))
                r = await admin(dave, room, "<item nick='Alice' role='none'/>")
                self.assertEqual(r[:3], ('error', 'auth', 'forbidden'), 'a visitor kicks nobody')
                # A voice request (§7.13) reaches the moderator as a form; she grants it.
                forms = asyncio.Queue()
                alice.register_handler(Callback('voice', MatchXPath(
                    '{jabber:client}message/{jabber:x:data}x'), forms.put_nowait))
                request = dave.make_message(mto=room)
                request.append(ET.fromstring(
                    "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
                    "<value>http://jabber.org/protocol/muc#request</value></field>"
                    "<field var='muc#role'><value>participant</value></field></x>"))
                request.send()
                form = await asyncio.wait_for(forms.get(), 10)
                fields = {f.get('var'): f.findtext('{jabber:x:data}value')
                          for f in form.xml.iter('{jabber:x:data}field')}
                self.assertEqual(fields['muc#roomnick'], 'Dave')
                answer = alice.make_message(mto=room)
                answer.append(ET.fromstring(
                    "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
                    "<value>http://jabber.org/protocol/muc#request</value></field>"
                    "<field var='muc#roomnick'><value>Dave</value></field>"
                    "<field var='muc#request_allow'><value>true</value></field></x>"))
                answer.send()
                # An iq to an occupant goes through the room and back.
                r = await query(alice, room + '/Dave', "<query xmlns='jabber:iq:version'/>")
                self.assertEqual(r[0], 'result', r)
                self.assertEqual(r[1].get('from'), room + '/Dave')
                dave.send_message(mto=room, mbody='thank you', mtype='groupchat')
                deadline = time.monotonic() + 10
                while True:
                    m = await alice.next_message(timeout=max(0.1, deadline - time.monotonic()))
                    if m['type'] == 'groupchat' and m['body']:
                        break
                self.assertEqual((m['from'].resource, m['body']), ('Dave', 'thank you'))
            finally:
                await alice.bye()
                await dave.bye()
        run(go(), timeout=90)

    def test_a_persistent_room_survives_a_restart_and_a_kill(self):
        room = 'archive-team@' + SERVICE

        async def before():
            alice = await online(self.server, 'alice', resource='desk', plugins=PLUGINS)
            try:
                await create(alice, room, 'Alice', persistentroom=1, membersonly=1, roomname='Archive team')
                r = await admin(alice, room, "<item affiliation='member' jid='bob@%s'/>" % DOMAIN)
                self.assertEqual(r[0], 'result', r)
                alice.send_message(mto=room, msubject='Retention review', mtype='groupchat')
                alice['xep_0045'].leave_muc(room, 'Alice')
                await asyncio.sleep(0.2)
                # Empty, and still there.
                info = await alice['xep_0030'].get_info(jid=room, timeout=10)
                self.assertIn('muc_persistent', info['disco_info']['features'])
            finally:
                await alice.bye()
        run(before())
        self.server.stop()
        os.rename(self.server.log_path, self.server.log_path + '.1')
        self.server.start()

        async def after_restart():
            alice = await online(self.server, 'alice', resource='desk', plugins=PLUGINS)
            bob = await online(self.server, 'bob', resource='pc', plugins=PLUGINS)
            mallory = await online(self.server, 'mallory', resource='x', plugins=PLUGINS)
            try:
                items = await alice['xep_0030'].get_items(jid=SERVICE, timeout=10)
                self.assertIn((room, 'Archive team'), [(i[0], i[2]) for i in items['disco_items']['items']])
                info = await alice['xep_0030'].get_info(jid=room, timeout=10)
                self.assertIn('muc_membersonly', info['disco_info']['features'])
                joined = await bob['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=0, timeout=10)
                self.assertEqual(joined[1]['subject'], 'Retention review', 'the subject is kept')
                self.assertEqual(await join_refused(mallory, room, 'Mal'), 'registration-required')
                # The owner opens the room; once told so, it is on disk: a kill -9 now loses nothing.
                await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
                r = await query(alice, room, form(membersonly=0, roomname='Open archive team'), 'set')
                self.assertEqual(r[0], 'result', r)
            finally:
                for c in (alice, bob, mallory):
                    c.abort()
        run(after_restart(), timeout=90)
        self.server.proc.kill()
        self.server.proc.wait(10)
        self.server.log.close()
        os.rename(self.server.log_path, self.server.log_path + '.2')
        self.server.start()

        async def after_kill():
            mallory = await online(self.server, 'mallory', resource='y', plugins=PLUGINS)
            try:
                joined = await mallory['xep_0045'].join_muc_wait(room, 'Mal', maxstanzas=0, timeout=10)
                self.assertEqual(codes(joined[0]), ['110'])
                info = await mallory['xep_0030'].get_info(jid=room, timeout=10)
                self.assertEqual([i[3] for i in info['disco_info']['identities']], ['Open archive team'])
            finally:
                await mallory.bye()
        run(after_kill())

    def test_an_administrator_manages_rooms_with_parleyctl(self):
        room = 'ops@' + SERVICE

        async def ctl(*args, check=True):
            return await asyncio.to_thread(self.server.ctl, 'room', *args, check=check)

        async def go():
            alice = await online(self.server, 'alice', resource='desk', plugins=PLUGINS)
            dave = await online(self.server, 'dave', resource='pc', plugins=PLUGINS)
            try:
                r = await ctl('create', room, 'alice@' + DOMAIN)
                self.assertIn('created', r.stdout)
                again = await ctl('create', room, 'alice@' + DOMAIN, check=False)
                self.assertNotEqual(again.returncode, 0, 'a room that exists is not made again')
                joined = await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=0, timeout=10)
                self.assertEqual(item_of(joined[0]).get('affiliation'), 'owner')
                await dave['xep_0045'].join_muc_wait(room, 'Dave', maxstanzas=0, timeout=10)
                left = Departures(dave, room)
                await ctl('affiliation', 'set', room, 'dave@' + DOMAIN, 'outcast', 'policy', 'breach')
                p = await left.next()
                self.assertEqual(codes(p), ['110', '301'])
                self.assertEqual(item_of(p).find(NS_MUC_USER + 'reason').text, 'policy breach')
                await ctl('config', 'set', room, 'members-only', '1')
                await ctl('config', 'set', room, 'name', 'Operations')
                bad = await ctl('config', 'set', room, 'max-users', 'lots', check=False)
                self.assertNotEqual(bad.returncode, 0)
                self.assertIn('max', bad.stderr)
                shown = json.loads((await ctl('show', room, '--json')).stdout)
                self.assertEqual(shown['name'], 'Operations')
                self.assertTrue(shown['members_only'] and shown['persistent'])
                self.assertIn({'jid': 'dave@' + DOMAIN, 'affiliation': 'outcast'}, shown['affiliations'])
                self.assertEqual([o['nick'] for o in shown['occupants']], ['Alice'])
                listed = json.loads((await ctl('list', '--json')).stdout)
                self.assertIn(room, [x['room'] for x in listed['rooms']])
                self.assertIn(room, (await ctl('list')).stdout)
                gone = Departures(alice, room)
                await ctl('destroy', room, 'no', 'longer', 'needed')
                p = await gone.next()
                destroy = p.xml.find('%sx/%sdestroy' % (NS_MUC_USER, NS_MUC_USER))
                self.assertEqual(destroy.find(NS_MUC_USER + 'reason').text, 'no longer needed')
                listed = json.loads((await ctl('list', '--json')).stdout)
                self.assertNotIn(room, [x['room'] for x in listed['rooms']])
                missing = await ctl('show', room, check=False)
                self.assertNotEqual(missing.returncode, 0)
            finally:
                await alice.bye()
                await dave.bye()
        run(go(), timeout=90)


class MucPolicy(ServerTestCase):
    users = ('alice', 'bob')
    settings = dict(modules=MODULES, module_options={'muc': 'domain = "%s"\ncreate = "listed"\ncreators = ["alice@%s"]\n'
                                                            'occupant_rate = 1\noccupant_burst = 2' % (SERVICE, DOMAIN)})

    def test_only_listed_accounts_create_rooms_and_fast_senders_are_refused(self):
        async def go():
            alice = await online(self.server, 'alice', resource='a', plugins=PLUGINS)
            bob = await online(self.server, 'bob', resource='b', plugins=PLUGINS)
            try:
                self.assertEqual(await join_refused(bob, 'bobs@' + SERVICE, 'Bob'), 'not-allowed')
                room = 'alices@' + SERVICE
                await create(alice, room, 'Alice')
                await bob['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=0, timeout=10)
                # Six at once: the burst of two goes through; the rest come
                # faster than one a second (a loaded machine could refill at
                # most a few), so at least one is refused.
                for i in range(6):
                    bob.send_message(mto=room, mbody='quick %d' % i, mtype='groupchat')
                got, errors = [], []
                deadline = time.monotonic() + 10
                while len(got) + len(errors) < 6 and time.monotonic() < deadline:
                    try:
                        m = await bob.next_message(timeout=max(0.05, deadline - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                    if m['type'] == 'error':
                        errors.append(m['error']['condition'])
                    elif m['type'] == 'groupchat' and m['body']:
                        got.append(m['body'])
                self.assertEqual(got[:2], ['quick 0', 'quick 1'], 'the burst goes through')
                self.assertEqual(len(got) + len(errors), 6, 'each message is delivered or refused')
                self.assertGreaterEqual(len(errors), 1, 'the rest at once do not all go through')
                self.assertEqual(set(errors), {'resource-constraint'})
            finally:
                await alice.bye()
                await bob.bye()
        run(go(), timeout=60)


if __name__ == '__main__':
    unittest.main()
