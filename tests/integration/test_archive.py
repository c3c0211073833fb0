"""The compliance archive (modules/archive, parleyctl archive) with real
slixmpp clients on two workers: a delivered message carries exactly one
stanza-id from the server, for its recipient, and `parleyctl archive search`
finds it under that id in both parties' archives; a forged stanza-id does
not reach the recipient; an offline message keeps its id; what XEP-0313
does not archive stays out of the users' views (and, in compliance mode,
still in the journal); after kill -9 in the middle of a stream every
message bob received is in the archive and the chain verifies; each kind of
tampering with data.mdb is named by `parleyctl archive verify`; a key file
that is readable by others, or not the archive's, stops parleyd at start;
data.mdb holds nothing readable of a message."""
import asyncio
import json
import os
import re
import shutil
import signal
import time
import unittest

from slixmpp.xmlstream import ET

from clients import online, ping
from harness import DOMAIN, ParleyServer, ServerTestCase, run, worker_of

MODULES = ('disco', 'ping', 'offline', 'archive')
PLUGINS = ('xep_0030', 'xep_0199', 'xep_0203')
NS_SID = 'urn:xmpp:sid:0'
COMPLIANCE_FEATURE = 'urn:xmpp:parley:compliance-archive:0'
HEX16 = re.compile(r'^[0-9a-f]{16}$')


def archive_options(compliance=False, key='archive.key'):
    return {'archive': 'key_file = "%s"\ncompliance = %s' % (key, 'true' if compliance else 'false')}


def jid(node):
    return '%s@%s' % (node, DOMAIN)


def stanza_ids(message):
    """(id, by) of every XEP-0359 <stanza-id/> a received message carries."""
    return [(e.get('id'), e.get('by')) for e in message.xml.findall('{%s}stanza-id' % NS_SID)]


def server_id(message, owner):
    """The one stanza-id by `owner`; fails unless there is exactly one."""
    mine = [i for i, by in stanza_ids(message) if by == owner]
    assert len(mine) == 1, 'exactly one stanza-id by %s: %r' % (owner, stanza_ids(message))
    assert HEX16.match(mine[0]), 'a stanza-id is 16 hex digits: %r' % mine[0]
    return mine[0]


def search(server, user, *extra):
    r = server.ctl('archive', 'search', '--user', user, '--json', '--limit', '100000', *extra)
    return json.loads(r.stdout)['results']


def verify(server, *extra):
    """(exit code, the JSON report or None, stderr)."""
    r = server.ctl('archive', 'verify', '--json', *extra, check=False)
    try:
        report = json.loads(r.stdout)
    except ValueError:
        report = None
    return r.returncode, report, r.stderr


async def settled(client):
    """Every message `client` sent before is journaled and delivered or
    stored: the server keeps a sender's order, and a ping waits behind them."""
    await ping(client, DOMAIN, timeout=20)


def drain(client):
    out = []
    while not client.messages.empty():
        out.append(client.messages.get_nowait())
    return out


async def on_two_workers(server, a, b, plugins=PLUGINS):
    """Sessions of accounts a and b on different workers (bounded tries)."""
    first = await online(server, a, resource='w', plugins=plugins)
    wa = worker_of(server, jid(a) + '/w')
    for i in range(24):
        c = await online(server, b, resource='w%d' % i, plugins=plugins)
        if worker_of(server, '%s/w%d' % (jid(b), i)) != wa:
            return first, c
        await c.bye()
    raise AssertionError('could not get sessions on both workers')


async def next_body(client, body, timeout=15):
    """The next message `client` receives whose body is `body`; what came
    before it is returned too."""
    before = []
    deadline = time.monotonic() + timeout
    while True:
        m = await client.next_message(max(0.1, deadline - time.monotonic()))
        if m['body'] == body:
            return m, before
        before.append(m)


class ArchiveTestCase(ServerTestCase):
    users = ('alice', 'bob', 'carol', 'dave', 'erin')
    compliance = False

    @classmethod
    def prepare(cls, server):
        server.archive_key()

    def records(self):
        code, report, err = verify(self.server)
        self.assertEqual(code, 0, err or report)
        return report['records']


class Archive(ArchiveTestCase):
    settings = dict(modules=MODULES, module_options=archive_options())

    def test_a_delivered_chat_has_one_stanza_id_for_its_recipient_and_search_finds_it_in_both_archives(self):
        async def go():
            alice, bob = await on_two_workers(self.server, 'alice', 'bob')
            alice.send_message(mto=jid('bob'), mbody='hello bob <&> \u00e9', mtype='chat')
            m, _ = await next_body(bob, 'hello bob <&> \u00e9')
            sid = server_id(m, jid('bob'))
            self.assertEqual(len(stanza_ids(m)), 1, 'nothing else claims to have archived it')

            rows = {r['id']: r for r in search(self.server, jid('bob'))}
            self.assertIn(sid, rows, 'bob\'s archive lists the id he was given')
            self.assertEqual(rows[sid]['body'], 'hello bob <&> \u00e9')
            self.assertEqual(rows[sid]['from'], str(alice.boundjid))
            self.assertEqual(rows[sid]['to'], jid('bob'))
            self.assertEqual(rows[sid]['type'], 'chat')
            self.assertRegex(rows[sid]['time'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
            # One record, in the sender's archive too, and under the peer.
            self.assertIn(sid, [r['id'] for r in search(self.server, jid('alice'))])
            self.assertIn(sid, [r['id'] for r in search(self.server, jid('bob'), '--with', jid('alice'))])
            self.assertIn(sid, [r['id'] for r in search(self.server, jid('alice'), '--with', jid('bob'))])
            self.assertNotIn(sid, [r['id'] for r in search(self.server, jid('bob'), '--with', jid('carol'))])
            self.assertNotIn(sid, [r['id'] for r in search(self.server, jid('carol'))])
            # The text table has the same row.
            text = self.server.ctl('archive', 'search', '--user', jid('bob'), '--with', jid('alice')).stdout
            self.assertIn('%s\t' % sid, text)
            self.assertIn('\thello bob <&> \u00e9\n', text)
            info = await alice['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            self.assertNotIn(COMPLIANCE_FEATURE, info['disco_info']['features'],
                             'without compliance mode nothing is disclosed')
            for c in (alice, bob):
                await c.bye()
        run(go(), timeout=120)

    def test_a_deleted_account_takes_its_archive_and_its_peers_keep_their_copies(self):
        async def go():
            erin, bob = await on_two_workers(self.server, 'erin', 'bob')
            erin.send_message(mto=jid('bob'), mbody='from erin, before she left', mtype='chat')
            await next_body(bob, 'from erin, before she left')
            for c in (erin, bob):
                await c.bye()
        run(go(), timeout=60)
        self.assertEqual([r['body'] for r in search(self.server, jid('erin'))], ['from erin, before she left'])
        self.server.ctl('user', 'del', jid('erin'))
        # The archive module answers worker 0's removal through the writer: bounded wait.
        deadline = time.monotonic() + 20
        forgot = []
        while time.monotonic() < deadline and not forgot:
            audit = json.loads(self.server.ctl('archive', 'audit', '--json').stdout)
            forgot = [e for e in audit['last'] if e['action'] == 'account.forget' and jid('erin') in e['scope']]
            if not forgot:
                time.sleep(0.2)
        self.assertTrue(forgot, 'the audit log records the deleted account\'s archive going')
        self.assertIn('1 view(s) of records that stay', forgot[0]['result'])
        self.assertEqual(search(self.server, jid('erin')), [], 'nothing is left in erin\'s archive')
        self.assertIn('from erin, before she left', [r['body'] for r in search(self.server, jid('bob'))],
                      'bob keeps his copy')
        self.records()  # and the archive still verifies

    def test_a_forged_stanza_id_for_the_recipient_is_replaced_by_the_servers(self):
        async def go():
            alice, bob = await on_two_workers(self.server, 'alice', 'bob')
            m = alice.make_message(mto=jid('bob'), mbody='forged', mtype='chat')
            m.xml.append(ET.fromstring("<stanza-id xmlns='%s' id='0000000000000001' by='%s'/>" % (NS_SID, jid('bob'))))
            m.xml.append(ET.fromstring("<stanza-id xmlns='%s' id='f1' by='%s'/>" % (NS_SID, DOMAIN)))
            m.xml.append(ET.fromstring("<stanza-id xmlns='%s' id='elsewhere-1' by='room@elsewhere.example'/>"
                                       % NS_SID))
            m.send()
            got, _ = await next_body(bob, 'forged')
            sid = server_id(got, jid('bob'))
            self.assertNotEqual(sid, '0000000000000001')
            self.assertEqual(sorted(stanza_ids(got)), sorted([(sid, jid('bob')), ('elsewhere-1', 'room@elsewhere.example')]),
                             'ours are the server\'s alone; another service\'s is not ours to judge')
            rows = {r['id']: r['body'] for r in search(self.server, jid('bob'))}
            self.assertEqual(rows.get(sid), 'forged')
            self.assertNotIn('0000000000000001', rows)
            for c in (alice, bob):
                await c.bye()
        run(go(), timeout=120)

    def test_a_message_stored_offline_arrives_with_the_id_search_shows(self):
        async def go():
            alice = await online(self.server, 'alice', resource='o', plugins=PLUGINS)
            alice.send_message(mto=jid('carol'), mbody='while you were out', mtype='chat')
            await settled(alice)
            self.assertEqual(drain(alice), [], 'stored, not bounced')
            rows = [r for r in search(self.server, jid('carol')) if r['body'] == 'while you were out']
            self.assertEqual(len(rows), 1, 'archived before carol logs in')
            self.assertEqual(rows[0]['outcome'], 'taken_over', 'the router handed it to offline storage')
            carol = await online(self.server, 'carol', resource='back', plugins=PLUGINS)
            m, _ = await next_body(carol, 'while you were out')
            self.assertEqual(m['delay']['from'].full, DOMAIN, 'it came from offline storage')
            self.assertEqual(server_id(m, jid('carol')), rows[0]['id'])
            self.assertIn(rows[0]['id'], [r['id'] for r in search(self.server, jid('alice'), '--with', jid('carol'))])
            for c in (alice, carol):
                await c.bye()
        run(go(), timeout=120)

    def test_headlines_and_no_store_messages_are_neither_in_the_views_nor_in_the_journal(self):
        async def go():
            alice, dave = await on_two_workers(self.server, 'alice', 'dave')
            before = self.records()
            alice.send_message(mto=jid('dave'), mbody='headline news', mtype='headline')
            m = alice.make_message(mto=jid('dave'), mbody='do not keep this', mtype='chat')
            m.xml.append(ET.Element('{urn:xmpp:hints}no-store'))
            m.send()
            alice.send_message(mto=jid('dave'), mbody='keep this', mtype='chat')
            kept, before_it = await next_body(dave, 'keep this')
            self.assertEqual(sorted(x['body'] for x in before_it), ['do not keep this', 'headline news'],
                             'both were delivered')
            for x in before_it:
                self.assertEqual(stanza_ids(x), [], 'not archived: no stanza-id')
            server_id(kept, jid('dave'))
            bodies = [r['body'] for r in search(self.server, jid('dave'))]
            self.assertEqual(bodies, ['keep this'])
            self.assertEqual([r['body'] for r in search(self.server, jid('alice'), '--with', jid('dave'))],
                             ['keep this'])
            self.assertEqual(self.records(), before + 1, 'without compliance mode the journal keeps only that one')
            for c in (alice, dave):
                await c.bye()
        run(go(), timeout=120)


class ComplianceArchive(ArchiveTestCase):
    users = ('alice', 'dave')
    settings = dict(modules=MODULES, module_options=archive_options(compliance=True))

    def test_compliance_mode_journals_what_the_views_leave_out_and_says_so_in_disco(self):
        async def go():
            alice, dave = await on_two_workers(self.server, 'alice', 'dave')
            info = await alice['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            self.assertIn(COMPLIANCE_FEATURE, info['disco_info']['features'])
            before = self.records()
            alice.send_message(mto=jid('dave'), mbody='headline news', mtype='headline')
            m = alice.make_message(mto=jid('dave'), mbody='do not keep this', mtype='chat')
            m.xml.append(ET.Element('{urn:xmpp:hints}no-store'))
            m.send()
            alice.send_message(mto=jid('dave'), mbody='keep this', mtype='chat')
            kept, before_it = await next_body(dave, 'keep this')
            self.assertEqual(len(before_it), 2)
            for x in before_it:
                self.assertEqual(stanza_ids(x), [], 'in no user\'s archive: no stanza-id')
            self.assertEqual(self.records(), before + 3, 'the journal keeps all three')
            self.assertEqual([r['body'] for r in search(self.server, jid('dave'))], ['keep this'],
                             'what dave sees of his archive is unchanged')
            self.assertEqual([r['body'] for r in search(self.server, jid('alice'))], ['keep this'])
            for c in (alice, dave):
                await c.bye()
        run(go(), timeout=120)


class ArchiveCrash(unittest.TestCase):
    def test_after_kill_9_every_message_bob_received_is_archived_and_the_chain_verifies(self):
        server = ParleyServer(modules=MODULES, module_options=archive_options(), log='level = "info"')
        try:
            server.archive_key()
            for node in ('alice', 'bob'):
                server.add_user(node, 'secret')
            server.start()
            received = []
            stats = []

            async def stream_and_kill():
                alice, bob = await on_two_workers(server, 'alice', 'bob')
                sent = 0

                async def keep_sending():
                    # Sustained traffic: bursts of 25 back-to-back, a
                    # breath between them so that bob's side of this loop
                    # reads too; far more than get through before the kill.
                    nonlocal sent
                    for i in range(20000):
                        alice.send_message(mto=jid('bob'), mbody='n%d' % i, mtype='chat')
                        sent += 1
                        if i % 25 == 24:
                            await asyncio.sleep(0.002)
                sender = asyncio.ensure_future(keep_sending())
                # Kill parleyd once bob has part of the stream (bounded wait).
                deadline = time.monotonic() + 30
                while len(received) < 300 and time.monotonic() < deadline:
                    try:
                        m = await bob.next_message(max(0.1, deadline - time.monotonic()))
                    except asyncio.TimeoutError:
                        break
                    received.append((m['body'], server_id(m, jid('bob'))))
                self.assertGreaterEqual(len(received), 300, 'bob received part of the stream before the kill')
                self.assertFalse(sender.done(), 'alice is still sending: the kill comes mid-stream')
                server.signal(signal.SIGKILL)
                server.proc.wait(timeout=10)
                sender.cancel()
                # What was on its way to bob before the kill.
                await asyncio.wait_for(asyncio.shield(bob.gone), 15)
                await asyncio.wait_for(asyncio.shield(alice.gone), 15)
                for m in drain(bob):
                    if m['body'] and m['body'].startswith('n'):
                        received.append((m['body'], server_id(m, jid('bob'))))
                stats.append(sent)
            run(stream_and_kill(), timeout=120)
            # alice was still sending when parleyd was killed (asserted
            # above); on a loaded machine her client may not have queued
            # more than bob got, so received <= sent, not <.
            print('  alice sent %d, bob received %d before the kill' % (stats[0], len(received)))
            self.assertLessEqual(len(received), stats[0])

            server.log.close()
            os.rename(server.log_path, server.log_path + '.killed')  # "ready" must come from the new process
            server.start()
            rows = {r['id']: r['body'] for r in search(server, jid('bob'))}
            missing = [(b, i) for b, i in received if rows.get(i) != b]
            self.assertEqual(missing, [], 'every message bob received is in his archive under its id')
            self.assertEqual([b for b, _ in received], ['n%d' % i for i in range(len(received))],
                             'bob received a prefix of the stream, in order')
            sender = {r['id'] for r in search(server, jid('alice'))}
            self.assertTrue(all(i in sender for _, i in received), 'and in alice\'s')
            code, report, err = verify(server)
            self.assertEqual(code, 0, err or report)
            self.assertTrue(report['ok'])
            self.assertGreaterEqual(report['records'], len(received))
            server.stop()
        finally:
            server.cleanup()


class ArchiveStorage(unittest.TestCase):
    """One archive written by parleyd, then examined and altered with
    parleyd stopped."""

    @classmethod
    def setUpClass(cls):
        cls.server = ParleyServer(modules=MODULES, module_options=archive_options(), log='level = "info"')
        try:
            cls.write_archive()
        except BaseException:
            cls.server.cleanup()
            raise

    @classmethod
    def write_archive(cls):
        cls.key_id = cls.server.archive_key()
        for node in ('alice', 'bob'):
            cls.server.add_user(node, 'secret')
        cls.server.start()
        cls.bodies = ['confidential merger plan %d' % i for i in range(10)]

        async def conversation():
            alice, bob = await on_two_workers(cls.server, 'alice', 'bob')
            for b in cls.bodies:
                alice.send_message(mto=jid('bob'), mbody=b, mtype='chat')
                await settled(alice)  # one record per few milliseconds: ids with room between them
                await asyncio.sleep(0.005)
            await next_body(bob, cls.bodies[-1])
            for c in (alice, bob):
                await c.bye()
        run(conversation(), timeout=120)
        cls.server.stop()
        cls.archive = os.path.join(cls.server.data, 'archive')
        cls.pristine = os.path.join(cls.server.dir, 'archive.pristine')
        shutil.copytree(cls.archive, cls.pristine)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        shutil.rmtree(self.archive)
        shutil.copytree(self.pristine, self.archive)

    def journal(self):
        import lmdb
        env = lmdb.open(self.archive, max_dbs=16, map_size=1 << 30)
        return env, env.open_db(b'archive.journal', create=False)

    def record_ids(self):
        env, db = self.journal()
        with env.begin(db=db) as txn:
            ids = [int.from_bytes(k[1:], 'big') for k, _ in txn.cursor() if k[:1] == b'J' and len(k) == 9]
        env.close()
        return ids

    def finding(self, kind):
        code, report, err = verify(self.server)
        self.assertEqual(code, 1, 'verify exits 1 on findings: %s %s' % (report, err))
        self.assertFalse(report['ok'])
        found = [f for f in report['findings'] if f['kind'] == kind]
        self.assertTrue(found, 'a finding of kind %s in %s' % (kind, report['findings']))
        text = self.server.ctl('archive', 'verify', check=False).stdout
        return found, text

    def test_the_pristine_archive_verifies_and_holds_nothing_readable(self):
        code, report, err = verify(self.server)
        self.assertEqual(code, 0, err or report)
        self.assertEqual(report['records'], 10)
        code, report, err = verify(self.server, '--user', jid('bob'))
        self.assertEqual(code, 0, err or report)
        with open(os.path.join(self.archive, 'data.mdb'), 'rb') as f:
            data = f.read()
        for secret in ['confidential', 'merger', 'alice', 'bob@', DOMAIN, 'jabber:client'] + self.bodies:
            self.assertNotIn(secret.encode(), data, '%r is readable in data.mdb' % secret)

    def test_a_flipped_byte_is_named_as_an_altered_record(self):
        ids = self.record_ids()
        self.assertEqual(len(ids), 10)
        victim = ids[4]
        env, db = self.journal()
        with env.begin(db=db, write=True) as txn:
            key = b'J' + victim.to_bytes(8, 'big')
            value = bytearray(txn.get(key))
            value[-5] ^= 0x20
            txn.put(key, bytes(value))
        env.close()
        found, text = self.finding('altered')
        self.assertEqual([f['first'] for f in found], ['%016x' % victim])
        self.assertIn('%016x' % victim, text)

    def test_a_deleted_record_is_named_as_removed(self):
        ids = self.record_ids()
        victim = ids[5]
        env, db = self.journal()
        with env.begin(db=db, write=True) as txn:
            self.assertTrue(txn.delete(b'J' + victim.to_bytes(8, 'big')))
        env.close()
        found, _ = self.finding('removed')
        self.assertEqual([(f['first'], f['last']) for f in found], [('%016x' % ids[4], '%016x' % victim)],
                         'the gap: after the record before it, up to it')

    def test_a_copied_record_under_a_new_id_is_named_as_inserted(self):
        ids = self.record_ids()
        forged = ids[6] + 1
        self.assertLess(forged, ids[7], 'room for an id between two records')
        env, db = self.journal()
        with env.begin(db=db, write=True) as txn:
            txn.put(b'J' + forged.to_bytes(8, 'big'), txn.get(b'J' + ids[3].to_bytes(8, 'big')))
        env.close()
        found, _ = self.finding('inserted')
        self.assertEqual([f['first'] for f in found], ['%016x' % forged])
        code, report, _ = verify(self.server)
        self.assertEqual({f['kind'] for f in report['findings']}, {'inserted'}, 'nothing else is blamed')

    def test_a_key_file_others_may_read_stops_parleyd_naming_the_file(self):
        self.server.archive_key('loose.key', mode=0o644)
        self.restart_fails_with(archive_options(key='loose.key'), [os.path.join(self.server.dir, 'loose.key')])

    def test_another_key_file_stops_parleyd_naming_both_key_ids(self):
        other = self.server.archive_key('other.key')
        self.assertNotEqual(other, self.key_id)
        self.restart_fails_with(archive_options(key='other.key'), [self.key_id, other])
        try:
            self.server.write_config(modules=MODULES, module_options=archive_options(key='other.key'))
            code, _, err = verify(self.server)
            self.assertEqual(code, 2, 'parleyctl refuses the wrong key too')
            self.assertIn(self.key_id, err)
            self.assertIn(other, err)
        finally:
            self.server.write_config(modules=MODULES, module_options=archive_options(), log='level = "info"')

    def restart_fails_with(self, options, words):
        s = self.server
        try:
            s.write_config(modules=MODULES, module_options=options, log='level = "info"')
            if os.path.exists(s.log_path):  # "ready" of an earlier run must not count
                os.rename(s.log_path, s.log_path + '.%d' % time.monotonic_ns())
            with self.assertRaises(AssertionError):
                s._start_once()
            self.assertIsNotNone(s.proc.poll())
            self.assertNotEqual(s.proc.returncode, 0)
            tail = s.log_text()
            for w in words:
                self.assertIn(w, tail)
        finally:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait(timeout=10)
            if not s.log.closed:
                s.log.close()
            s.write_config(modules=MODULES, module_options=archive_options(), log='level = "info"')


if __name__ == '__main__':
    unittest.main()
