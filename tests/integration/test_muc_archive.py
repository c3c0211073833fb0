"""Room archives (mod_muc over the compliance journal) with real slixmpp
clients on two workers: each room message journaled once with the stanza-id
every occupant saw, MAM queries to the room's address (xep_0313) answered to
those who may see its history now and refused to the others (a non-member,
a removed member, a banned user), nothing of the room in the users' own
archives, and in compliance mode a room that cannot stop archiving."""
import asyncio
import json
import os
import time
import unittest

from slixmpp.exceptions import IqError, PresenceError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from clients import online, query
from harness import DOMAIN, ParleyServer, ServerTestCase, run, worker_of
from muc_helpers import NS_ADMIN, SERVICE, create, form, groupchat
from test_mam import write_key

NS_SID = 'urn:xmpp:sid:0'
NS_MUC_USER = 'http://jabber.org/protocol/muc#user'
MODULES = ('disco', 'ping', 'roster', 'archive', 'mam', 'muc')
PLUGINS = ('xep_0030', 'xep_0045', 'xep_0199', 'xep_0203', 'xep_0313', 'xep_0359')


def room_ids(message, room):
    return [e.get('id') for e in message.xml.findall('{%s}stanza-id' % NS_SID) if e.get('by') == room]


async def room_history(client, room):
    """A MAM query to the room: [(archive id, sender nick, body, real jid or None)], complete."""
    iq = await client.plugin['xep_0313'].retrieve(jid=room, timeout=20)
    out = []
    for m in iq['mam']['results']:
        r = m['mam_result']
        inner = r['forwarded']['stanza']
        item = inner.xml.find('{%s}x/{%s}item' % (NS_MUC_USER, NS_MUC_USER))
        out.append((r['id'], inner['from'].resource, inner['body'], item.get('jid') if item is not None else None))
    return out, iq['mam']['complete'] if 'complete' in iq['mam'].interfaces else None


async def owner_and_guest(server, room, alice_resource, bob_resource):
    """alice creates `room`, bob joins it; (alice, bob, the queue of the
    retractions bob receives: slixmpp's 'message' event is for messages
    with a body, and a retraction has none)."""
    alice = await online(server, 'alice', resource=alice_resource, plugins=PLUGINS)
    bob = await online(server, 'bob', resource=bob_resource, plugins=PLUGINS)
    await create(alice, room, 'Alice')
    await bob['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=0, timeout=10)
    retractions = asyncio.Queue()
    bob.register_handler(Callback('retractions', MatchXPath(
        '{jabber:client}message/{urn:xmpp:message-retract:1}retract'), retractions.put_nowait))
    return alice, bob, retractions


async def refused(client, room):
    try:
        await client.plugin['xep_0313'].retrieve(jid=room, timeout=20)
    except IqError as e:
        return e.iq['error']['condition']
    return None


class ArchivedRooms(ServerTestCase):
    """A server with the archive (its key written first) and rooms."""
    archive_options = 'key_file = "archive.key"'
    muc_options = ''

    @classmethod
    def setUpClass(cls):
        cls.server = ParleyServer(modules=MODULES, module_options={
            'archive': cls.archive_options, 'muc': 'domain = "%s"\n%s' % (SERVICE, cls.muc_options)})
        write_key(cls.server.dir)
        for node in cls.users:
            cls.server.add_user(node, 'secret')
        cls.server.start()


class MucArchive(ArchivedRooms):
    users = ('alice', 'bob', 'carol', 'mallory')

    def test_room_messages_are_archived_once_with_the_ids_occupants_saw(self):
        room = 'log@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='a', plugins=PLUGINS)
            bobs = []
            for i in range(24):  # bob on the other worker than alice (bounded tries)
                b = await online(self.server, 'bob', resource='b%d' % i, plugins=PLUGINS)
                if worker_of(self.server, 'bob@%s/b%d' % (DOMAIN, i)) != worker_of(self.server, 'alice@%s/a' % DOMAIN):
                    bobs.append(b)
                    break
                await b.bye()
            self.assertEqual(len(bobs), 1, 'bob on the other worker')
            bob = bobs[0]
            carol = await online(self.server, 'carol', resource='c', plugins=PLUGINS)
            try:
                await create(alice, room, 'Alice', persistentroom=1)
                joined = await bob['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=0, timeout=10)
                self.assertIn('170', [s.get('code') for s in joined[0].xml.iter('{%s}status' % NS_MUC_USER)],
                              'those who join are told the room is archived')
                info = await carol['xep_0030'].get_info(jid=room, timeout=10)
                self.assertIn('urn:xmpp:mam:2', info['disco_info']['features'])
                for i in range(3):
                    alice.send_message(mto=room, mbody='point %d' % i, mtype='groupchat')
                seen = await groupchat(bob, room, 3)
                self.assertEqual([m['body'] for m in seen], ['point 0', 'point 1', 'point 2'])
                ids = [room_ids(m, room) for m in seen]
                self.assertTrue(all(len(i) == 1 for i in ids), 'one stanza-id by the room on each: %s' % ids)
                own = await groupchat(alice, room, 3)
                self.assertEqual([room_ids(m, room) for m in own], ids, 'the sender sees the same ids')
                # Anyone may read an open room's archive; real JIDs only for moderators.
                rows, _ = await room_history(carol, room)
                self.assertEqual([(r[0], r[1], r[2]) for r in rows],
                                 [(i[0], 'Alice', 'point %d' % n) for n, i in enumerate(ids)])
                self.assertEqual({r[3] for r in rows}, {None}, 'no real JIDs in a semi-anonymous room')
                rows, _ = await room_history(alice, room)
                self.assertEqual({r[3] for r in rows}, {'alice@' + DOMAIN}, 'the owner sees who said it')
                # The compliance officer finds them under the room.
                found = await asyncio.to_thread(self.server.ctl, 'archive', 'search', '--room', room, '--json')
                rows = json.loads(found.stdout)['results']
                self.assertEqual([(r['id'], r['body']) for r in rows],
                                 [(i[0], 'point %d' % n) for n, i in enumerate(ids)])
                self.assertTrue(all(r['from'].startswith('alice@' + DOMAIN) for r in rows), 'with the real sender')
                # Nothing of the room in a user's own archive.
                mine = await bob.plugin['xep_0313'].retrieve(jid='bob@' + DOMAIN, timeout=20)
                self.assertEqual([m['mam_result']['forwarded']['stanza']['body'] for m in mine['mam']['results']
                                  if 'point' in m['mam_result']['forwarded']['stanza']['body']], [])
            finally:
                for c in (alice, bob, carol):
                    await c.bye()
        run(go(), timeout=120)
        # Kept across a restart.
        self.server.stop()
        os.rename(self.server.log_path, self.server.log_path + '.1')
        self.server.start()

        async def after():
            carol = await online(self.server, 'carol', resource='c2', plugins=PLUGINS)
            try:
                rows, _ = await room_history(carol, room)
                self.assertEqual([r[2] for r in rows], ['point 0', 'point 1', 'point 2'])
            finally:
                await carol.bye()
        run(after())

    def test_only_those_who_may_see_the_history_now_read_it(self):
        room = 'council@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='a2', plugins=PLUGINS)
            bob = await online(self.server, 'bob', resource='b', plugins=PLUGINS)
            carol = await online(self.server, 'carol', resource='c', plugins=PLUGINS)
            mallory = await online(self.server, 'mallory', resource='m', plugins=PLUGINS)
            try:
                await create(alice, room, 'Alice', membersonly=1)
                for who in ('bob', 'mallory'):
                    r = await query(alice, room, "<query xmlns='%s'><item affiliation='member' jid='%s@%s'/></query>"
                                    % (NS_ADMIN, who, DOMAIN), 'set')
                    self.assertEqual(r[0], 'result', r)
                alice.send_message(mto=room, mbody='confidential', mtype='groupchat')
                self.assertEqual(len(await groupchat(alice, room, 1)), 1)
                rows, _ = await room_history(bob, room)
                self.assertEqual([r[2] for r in rows], ['confidential'], 'a member reads it without joining')
                self.assertEqual(await refused(carol, room), 'forbidden', 'a non-member does not')
                r = await query(alice, room, "<query xmlns='%s'><item affiliation='none' jid='bob@%s'/>"
                                "<item affiliation='outcast' jid='mallory@%s'/></query>" % (NS_ADMIN, DOMAIN, DOMAIN),
                                'set')
                self.assertEqual(r[0], 'result', r)
                self.assertEqual(await refused(bob, room), 'forbidden', 'a removed member no longer does')
                self.assertEqual(await refused(mallory, room), 'forbidden', 'nor a banned one')
            finally:
                for c in (alice, bob, carol, mallory):
                    await c.bye()
        run(go(), timeout=90)

    def test_a_moderated_message_is_retracted_for_everyone_and_a_tombstone_in_the_archive(self):
        room = 'floor@' + SERVICE

        async def go():
            alice, bob, retractions = await owner_and_guest(self.server, room, 'a3', 'b3')
            try:
                bob.send_message(mto=room, mbody='the password is hunter2', mtype='groupchat')
                said = await groupchat(alice, room, 1)
                self.assertEqual(len(said), 1)
                sid = room_ids(said[0], room)[0]
                oid = said[0].xml.find('{urn:xmpp:occupant-id:0}occupant-id')
                self.assertIsNotNone(oid, 'an occupant id on the message')
                moderate = ("<moderate xmlns='urn:xmpp:message-moderate:1' id='%s'>"
                            "<retract xmlns='urn:xmpp:message-retract:1'/><reason>a secret</reason></moderate>" % sid)
                r = await query(bob, room, moderate, 'set')
                self.assertEqual(r[:3], ('error', 'auth', 'forbidden'), 'a participant moderates nothing')
                r = await query(alice, room, moderate, 'set')
                self.assertEqual(r[0], 'result', r)
                m = await asyncio.wait_for(retractions.get(), 10)
                self.assertEqual(m['from'], room, 'from the room itself')
                retraction = m.xml.find('{urn:xmpp:message-retract:1}retract')
                self.assertEqual(retraction.get('id'), sid)
                self.assertEqual(retraction.find('{urn:xmpp:message-moderate:1}moderated').get('by'), room + '/Alice')
                iq = await bob.plugin['xep_0313'].retrieve(jid=room, timeout=20)
                stones = [m['mam_result']['forwarded']['stanza'] for m in iq['mam']['results']
                          if m['mam_result']['id'] == sid]
                self.assertEqual(len(stones), 1)
                self.assertEqual(stones[0]['body'], '', 'the archive answers a tombstone, not the text')
                tomb = stones[0].xml.find('{urn:xmpp:message-retract:1}retracted')
                self.assertIsNotNone(tomb)
                self.assertEqual(tomb.find('{urn:xmpp:message-retract:1}reason').text, 'a secret')
                self.assertNotIn('hunter2', str(iq))
            finally:
                await alice.bye()
                await bob.bye()
        run(go(), timeout=90)

    def test_a_room_made_again_under_an_old_name_does_not_inherit_its_history(self):
        room = 'recycled@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='a4', plugins=PLUGINS)
            mallory = await online(self.server, 'mallory', resource='m4', plugins=PLUGINS)
            try:
                await create(alice, room, 'Alice', membersonly=1)
                alice.send_message(mto=room, mbody='board minutes', mtype='groupchat')
                self.assertEqual(len(await groupchat(alice, room, 1)), 1)
                alice['xep_0045'].leave_muc(room, 'Alice')
                # The temporary room closes with its last occupant; Mallory makes one of that name.
                deadline = time.monotonic() + 10
                while True:
                    try:
                        await create(mallory, room, 'Mal')
                        break
                    except (PresenceError, AssertionError):
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.1)
                rows, _ = await room_history(mallory, room)
                self.assertEqual(rows, [], "the old room's history is not the new room's")
            finally:
                await alice.bye()
                await mallory.bye()
        run(go(), timeout=60)


async def moderate_secret(test, server, room):
    """bob says a secret in `room`, alice (its owner) moderates it away;
    returns its stanza-id once every occupant has the retraction."""
    alice, bob, retractions = await owner_and_guest(server, room, 'mod', 'mod')
    try:
        bob.send_message(mto=room, mbody='the vault code is 4711', mtype='groupchat')
        said = await groupchat(alice, room, 1)
        sid = room_ids(said[0], room)[0]
        r = await query(alice, room, "<moderate xmlns='urn:xmpp:message-moderate:1' id='%s'>"
                        "<retract xmlns='urn:xmpp:message-retract:1'/><reason>leaked</reason></moderate>" % sid, 'set')
        test.assertEqual(r[0], 'result', r)
        await asyncio.wait_for(retractions.get(), 10)
        return sid
    finally:
        await alice.bye()
        await bob.bye()


def room_bodies(server, room):
    found = json.loads(server.ctl('archive', 'search', '--room', room, '--json', '--limit', '1000').stdout)
    return [r.get('body') for r in found['results']]


class ModeratedOriginalsRemoved(ArchivedRooms):
    users = ('alice', 'bob')
    muc_options = 'moderation_keeps_original = false'

    def test_a_moderated_message_leaves_the_journal_and_the_journal_still_verifies(self):
        room = 'redacted@' + SERVICE
        sid = run(moderate_secret(self, self.server, room), timeout=90)
        self.assertNotIn('the vault code is 4711', room_bodies(self.server, room))
        audit = json.loads(self.server.ctl('archive', 'audit', '--json').stdout)
        forgot = [e for e in audit['last'] if e['action'] == 'journal.forget']
        self.assertEqual(len(forgot), 1, audit['last'])
        self.assertIn(sid, forgot[0]['scope'])
        self.assertIn('removed', forgot[0]['result'])
        self.assertIn('leaked', forgot[0]['result'])
        self.assertIn(room + '/Alice', forgot[0]['who'])
        r = self.server.ctl('archive', 'verify', '--json', check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class ModeratedOriginalsKept(ArchivedRooms):
    users = ('alice', 'bob')

    def test_by_default_the_journal_keeps_the_moderated_original(self):
        room = 'kept-original@' + SERVICE
        run(moderate_secret(self, self.server, room), timeout=90)
        self.assertIn('the vault code is 4711', room_bodies(self.server, room))
        audit = json.loads(self.server.ctl('archive', 'audit', '--json').stdout)
        self.assertEqual([e for e in audit['last'] if e['action'] == 'journal.forget'], [])


class MucArchiveCompliance(ArchivedRooms):
    users = ('alice', 'bob')
    archive_options = 'key_file = "archive.key"\ncompliance = true'
    muc_options = 'moderation_keeps_original = false'

    def test_compliance_mode_keeps_a_moderated_original_whatever_the_room_service_says(self):
        room = 'compliant@' + SERVICE
        run(moderate_secret(self, self.server, room), timeout=90)
        self.assertIn('the vault code is 4711', room_bodies(self.server, room))

    def test_a_room_cannot_stop_archiving(self):
        room = 'kept@' + SERVICE

        async def go():
            alice = await online(self.server, 'alice', resource='a', plugins=PLUGINS)
            try:
                await create(alice, room, 'Alice')
                r = await query(alice, room, form(enablearchiving=0), 'set')
                self.assertEqual(r[:3], ('error', 'modify', 'not-acceptable'))
                alice.send_message(mto=room, mbody='on the record', mtype='groupchat')
                self.assertEqual(len(await groupchat(alice, room, 1)), 1)
                rows, _ = await room_history(alice, room)
                self.assertEqual([r[2] for r in rows], ['on the record'])
            finally:
                await alice.bye()
        run(go(), timeout=60)


if __name__ == '__main__':
    unittest.main()
