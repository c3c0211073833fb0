"""Parley federating with real Prosody 0.12 and ejabberd 23.01 (Debian's).

Parley serves parley.test with its s2s listener on 127.0.1.1:5269; Prosody
serves prosody.test on 127.0.1.2, ejabberd ejabberd.test on 127.0.1.3
(tests/interop/peers.py starts them with private configs). All three trust
the test CA, so the links authenticate with SASL EXTERNAL unless a test
changes that. Each test drives real slixmpp clients on both sides.
"""
import asyncio
import os
import unittest

from clients import Client
from harness import ParleyServer, cert_dir, run
from muc_helpers import create, instant, join_refused
from peers import EjabberdPeer, ProsodyPeer, cert_files, make_certs
from test_s2s import s2s_table

PARLEY_S2S = ('127.0.1.1', 5269)
PROSODY = ('prosody.test', '127.0.1.2')
EJABBERD = ('ejabberd.test', '127.0.1.3')


def peer_certs():
    make_certs(cert_dir(), [PROSODY[0], EJABBERD[0], 'self-signed:' + PROSODY[0]])
    return os.path.join(cert_dir(), 'ca.pem')


def parley(routes, **s2s):
    server = ParleyServer(domain='parley.test', modules=('disco', 'ping', 'roster'),
                          extra=s2s_table(PARLEY_S2S[1], routes, address=PARLEY_S2S[0], **s2s))
    server.add_user('alice', 'secret')
    return server


async def connect(jid, address, port, ca):
    c = Client(jid + '/t', 'secret', ca)
    c.connect((address, port), force_starttls=True)
    outcome = await asyncio.wait_for(asyncio.shield(c.outcome), 20)
    assert outcome == 'session', '%s: login %s' % (jid, outcome)
    return c


async def exchange(test, alice, remote, remote_jid):
    """A chat message each way and a subscription from alice, answered."""
    alice.send_message(mto=remote_jid, mbody='hi from parley', mtype='chat')
    m = await remote.next_message(timeout=20)
    test.assertEqual(m['body'], 'hi from parley')
    test.assertEqual(m['from'].bare, 'alice@parley.test')
    remote.send_message(mto='alice@parley.test', mbody='hi back', mtype='chat')
    m = await alice.next_message(timeout=20)
    test.assertEqual((m['type'], m['body'], m['from'].bare), ('chat', 'hi back', remote_jid))
    subscribed = asyncio.get_event_loop().create_future()
    alice.add_event_handler('presence_subscribed',
                            lambda p: subscribed.done() or subscribed.set_result(p['from'].bare))
    alice.send_presence(pto=remote_jid, ptype='subscribe')
    test.assertEqual(await asyncio.wait_for(subscribed, 20), remote_jid)


class WithProsody(unittest.TestCase):
    def start(self, dialback=True, parley_dialback=True, cert=PROSODY[0], require_certs=False, bidi=False):
        ca = peer_certs()
        self.parley = parley({PROSODY[0]: (PROSODY[1], 5269)}, dialback=parley_dialback)
        self.addCleanup(self.parley.cleanup)
        self.parley.start()
        self.addCleanup(self.parley.stop)
        self.peer = ProsodyPeer(PROSODY[0], PROSODY[1], ca, *cert_files(cert_dir(), cert),
                                routes={'parley.test': PARLEY_S2S}, dialback=dialback, require_certs=require_certs,
                                bidi=bidi)
        self.addCleanup(self.peer.cleanup)
        self.peer.start()
        self.peer.register('bob', 'secret')
        return ca

    def test_messages_and_subscriptions_both_ways_with_certificates(self):
        ca = self.start(dialback=False, parley_dialback=False, require_certs=True)

        async def conversation():
            alice = await connect('alice@parley.test', '127.0.0.1', self.parley.starttls_port, ca)
            bob = await connect('bob@prosody.test', PROSODY[1], 5222, ca)
            await exchange(self, alice, bob, 'bob@prosody.test')
            await alice.bye()
            await bob.bye()
        run(conversation(), timeout=120)
        self.assertTrue(self.parley.wait_log(r'prosody\.test authenticated by SASL EXTERNAL'))

    def test_one_stream_serves_both_directions_with_bidi(self):
        # XEP-0288 with Prosody's mod_s2s_bidi, each side opening first:
        # the answer travels on the stream the first message opened.
        for parley_first in (True, False):
            with self.subTest(parley_first=parley_first):
                ca = self.start(dialback=False, parley_dialback=False, require_certs=True, bidi=True)

                async def conversation():
                    alice = await connect('alice@parley.test', '127.0.0.1', self.parley.starttls_port, ca)
                    bob = await connect('bob@prosody.test', PROSODY[1], 5222, ca)
                    first, second = (alice, bob) if parley_first else (bob, alice)
                    to_second = 'bob@prosody.test' if parley_first else 'alice@parley.test'
                    to_first = 'alice@parley.test' if parley_first else 'bob@prosody.test'
                    first.send_message(mto=to_second, mbody='opening', mtype='chat')
                    self.assertEqual((await second.next_message(timeout=20))['body'], 'opening')
                    second.send_message(mto=to_first, mbody='on your stream', mtype='chat')
                    self.assertEqual((await first.next_message(timeout=20))['body'], 'on your stream')
                    await alice.bye()
                    await bob.bye()
                run(conversation(), timeout=120)
                if parley_first:
                    self.assertTrue(self.parley.wait_log(r'parley\.test -> prosody\.test: link up \(bidirectional\)'))
                    self.assertNotIn('prosody.test authenticated by', self.parley.log_text())
                else:
                    self.assertTrue(self.parley.wait_log(
                        r'prosody\.test authenticated by SASL EXTERNAL \(to parley\.test, bidirectional\)'))
                    self.assertTrue(self.parley.wait_log(
                        r'parley\.test -> prosody\.test: the peer.s stream carries this server.s stanzas too'))
                    self.assertNotIn('parley.test -> prosody.test: link up', self.parley.log_text())
                self.doCleanups()

    def test_a_peer_with_an_untrusted_certificate_is_taken_by_dialback_only_if_allowed(self):
        for allowed in (True, False):
            with self.subTest(dialback_allowed=allowed):
                try:
                    self.untrusted(allowed)
                finally:
                    self.doCleanups()

    def untrusted(self, allowed):
        ca = self.start(parley_dialback=allowed, cert='self-signed-' + PROSODY[0])
        # Bob's client trusts Prosody's self-signed certificate itself.
        own = cert_files(cert_dir(), 'self-signed:' + PROSODY[0])[0]

        async def conversation():
            alice = await connect('alice@parley.test', '127.0.0.1', self.parley.starttls_port, ca)
            bob = await connect('bob@prosody.test', PROSODY[1], 5222, own)
            bob.send_message(mto='alice@parley.test', mbody='over dialback', mtype='chat')
            if allowed:
                m = await alice.next_message(timeout=20)
                self.assertEqual(m['body'], 'over dialback')
            else:
                with self.assertRaises(asyncio.TimeoutError):
                    await alice.next_message(timeout=5)
            await alice.bye()
            await bob.bye()
        run(conversation(), timeout=120)
        if allowed:
            self.assertTrue(self.parley.wait_log(r'prosody\.test authenticated by dialback'))
        else:
            self.assertTrue(self.parley.wait_log(r"dialback for 'prosody\.test' refused"))

    def test_a_certificate_for_another_domain_is_refused(self):
        # Prosody shows ejabberd.test's certificate; dialback is off at Parley.
        ca = self.start(parley_dialback=False, cert=EJABBERD[0])

        async def conversation():
            alice = await connect('alice@parley.test', '127.0.0.1', self.parley.starttls_port, ca)
            alice.send_message(mto='bob@prosody.test', mbody='must not go', mtype='chat')
            m = await alice.next_message(timeout=30)
            self.assertEqual(m['type'], 'error')
            self.assertEqual(m['error']['condition'], 'remote-server-not-found')
            await alice.bye()
        run(conversation(), timeout=120)
        self.assertTrue(self.parley.wait_log(r'prosody\.test did not prove its identity|certificate refused'))


class WithEjabberd(unittest.TestCase):
    def test_messages_and_subscriptions_both_ways_with_certificates(self):
        ca = peer_certs()
        server = parley({EJABBERD[0]: (EJABBERD[1], 5269)}, dialback=False)
        self.addCleanup(server.cleanup)
        server.start()
        self.addCleanup(server.stop)
        peer = EjabberdPeer(EJABBERD[0], EJABBERD[1], ca, *cert_files(cert_dir(), EJABBERD[0]),
                            routes={'parley.test': PARLEY_S2S}, dialback=False)
        self.addCleanup(peer.cleanup)
        peer.start()
        peer.register('carol', 'secret')

        async def conversation():
            alice = await connect('alice@parley.test', '127.0.0.1', server.starttls_port, ca)
            carol = await connect('carol@ejabberd.test', EJABBERD[1], 5222, ca)
            await exchange(self, alice, carol, 'carol@ejabberd.test')
            await alice.bye()
            await carol.bye()
        run(conversation(), timeout=120)
        self.assertTrue(server.wait_log(r'ejabberd\.test authenticated by SASL EXTERNAL'))


if __name__ == '__main__':
    unittest.main()


class GroupChatAcrossServers(unittest.TestCase):
    """A Prosody user in a Parley room, a Parley user in a Prosody room."""

    def test_remote_occupants_both_ways_and_internal_only_rooms(self):
        ca = peer_certs()
        room_service = 'conference.parley.test'
        server = ParleyServer(domain='parley.test', modules=('disco', 'ping', 'roster', 'muc'),
                              module_options={'muc': 'domain = "%s"' % room_service},
                              extra=s2s_table(PARLEY_S2S[1], {PROSODY[0]: (PROSODY[1], 5269),
                                                              'conference.prosody.test': (PROSODY[1], 5269)},
                                              address=PARLEY_S2S[0]))
        server.add_user('alice', 'secret')
        self.addCleanup(server.cleanup)
        server.start()
        self.addCleanup(server.stop)
        peer = ProsodyPeer(PROSODY[0], PROSODY[1], ca, *cert_files(cert_dir(), PROSODY[0]),
                           routes={'parley.test': PARLEY_S2S, room_service: PARLEY_S2S},
                           extra_config='Component "conference.prosody.test" "muc"')
        self.addCleanup(peer.cleanup)
        peer.start()
        peer.register('bob', 'secret')

        async def scenario():
            alice = await connect('alice@parley.test', '127.0.0.1', server.starttls_port, ca)
            bob = await connect('bob@prosody.test', PROSODY[1], 5222, ca)
            for c in (alice, bob):
                c.register_plugin('xep_0045')
            # Bob (Prosody) in a Parley room: he sees the room, alice is told
            # someone from outside is there, and they talk.
            lobby = 'lobby@' + room_service
            await create(alice, lobby, 'alice')
            await bob['xep_0045'].join_muc_wait(lobby, 'bob', maxstanzas=0, timeout=20)
            notice = await alice.next_message(timeout=20)
            self.assertIn('prosody.test', notice['body'])
            self.assertIn('outside the organisation', notice['body'])
            bob.send_message(mto=lobby, mbody='hello from prosody', mtype='groupchat')
            got = [m['body'] for m in await _collect(alice, 3)]
            self.assertIn('hello from prosody', got)
            # An internal-only room refuses him.
            staff = 'staff@' + room_service
            await create(alice, staff, 'alice', **{'parley#roomconfig_internal': '1'})
            self.assertEqual(await join_refused(bob, staff, 'bob'), 'not-allowed')
            # Alice (Parley) in a Prosody room.
            there = 'team@conference.prosody.test'
            await bob['xep_0045'].join_muc_wait(there, 'bob', maxstanzas=0, timeout=20)
            await instant(bob, there)  # Prosody keeps a new room locked until its owner says so
            await alice['xep_0045'].join_muc_wait(there, 'alice', maxstanzas=0, timeout=20)
            alice.send_message(mto=there, mbody='hello from parley', mtype='groupchat')
            got = [m['body'] for m in await _collect(bob, 3)]
            self.assertIn('hello from parley', got)
            await alice.bye()
            await bob.bye()
        try:
            run(scenario(), timeout=150)
        except BaseException:
            print(server.log_text()[-6000:])
            print(peer.log_text()[-4000:])
            raise


async def _collect(client, seconds):
    got = []
    end = asyncio.get_event_loop().time() + seconds
    while True:
        left = end - asyncio.get_event_loop().time()
        if left <= 0:
            return got
        try:
            got.append(await client.next_message(timeout=left))
        except asyncio.TimeoutError:
            return got
