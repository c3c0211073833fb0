"""Federation between real parleyd servers (RFC 6120 server-to-server).

Each test starts two or three parleyd, each serving its own domain
(parley.test, other.test, third.test) on 127.0.0.1, with static routes to
one another's s2s ports, and drives them with real slixmpp clients; raw TLS
connections play a misbehaving peer. Certificates come from the test CA
(tests/support/certs.sh); a second CA made here ("stranger") lets a server
distrust the others' certificates, which must then fall back to dialback,
or be refused when dialback is off.
"""
import asyncio
import os
import random
import re
import socket
import ssl
import subprocess
import tempfile
import unittest

from clients import Client
from harness import TOP, ParleyServer, RawStream, cert_dir, free_port, run

_STRANGER = None


def stranger_ca():
    """A CA that signed none of the test servers' certificates."""
    global _STRANGER
    if _STRANGER is None:
        d = os.path.join(tempfile.gettempdir(), 'parley-test-stranger-%d' % os.getpid())
        subprocess.run(['bash', os.path.join(TOP, 'tests/support/certs.sh'), d, 'stranger.test'],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        _STRANGER = os.path.join(d, 'ca.pem')
    return _STRANGER


# A name server address where none listens: lookups of domains without a
# route fail at once, and no test asks the machine's DNS (only loopback
# traffic).
NO_DNS = '127.0.0.1:9'


def s2s_table(port, routes, dialback=True, ca=None, extra='', address='127.0.0.1', dns=NO_DNS):
    """The [s2s] table and [[s2s.route]] entries of one server; `routes`:
    {domain: port on 127.0.0.1, or (address, port, direct TLS?)}; `dns`:
    the name server (address:port) for domains without a route."""
    lines = ['', '[s2s]', 'enabled = true', 'address = "%s"' % address, 'port = %d' % port,
             'ca_file = "%s"' % (ca or os.path.join(cert_dir(), 'ca.pem')),
             'dialback = %s' % ('true' if dialback else 'false'),
             'handshake_timeout_s = 10', 'queue_timeout_s = 20', 'dns_servers = ["%s"]' % dns]
    if extra:
        lines.append(extra)
    for domain, where in routes.items():
        host, port_of, direct = (tuple(where) + (False,))[:3] if isinstance(where, tuple) else ('127.0.0.1', where, False)
        lines += ['', '[[s2s.route]]', 'domain = "%s"' % domain, 'host = "%s"' % host, 'port = %d' % port_of]
        if direct:
            lines.append('direct_tls = true')
    return '\n'.join(lines) + '\n'


class Federation:
    """Servers for `domains`, each routed to every other; `options[domain]`:
    s2s_table keyword arguments for that server."""

    def __init__(self, domains, options=None, modules=('disco', 'ping', 'roster')):
        options = options or {}
        self.ports = {d: free_port() for d in domains}
        self.servers = {}
        for d in domains:
            routes = {o: self.ports[o] for o in domains if o != d}
            routes.update(options.get(d, {}).pop('routes', {}))
            self.servers[d] = ParleyServer(domain=d, modules=modules,
                                           extra=s2s_table(self.ports[d], routes, **options.get(d, {})))

    def start(self):
        for s in self.servers.values():
            s.add_user('user', 'secret')
            s.start()
        return self

    def __getitem__(self, domain):
        return self.servers[domain]

    def stop(self):
        stop_servers(self.servers.values())


async def login(server, node='user'):
    c = Client('%s@%s/t' % (node, server.domain), 'secret', server.ca, plugins=('xep_0199',))
    assert await c.login(server.starttls_port) == 'session', server.log_text()[-3000:]
    await c.available
    return c


async def next_chat(client, timeout=15):
    """The next message the client receives (chat or error), bounded in time."""
    return await client.next_message(timeout=timeout)


async def ping_and_subscribe(test, client, domain):
    """Pings the server of `domain` and subscribes to user@domain (slixmpp
    there authorises it on its own): both answered across the link."""
    pong = await client['xep_0199'].ping(domain, timeout=10)
    test.assertIsNotNone(pong)
    subscribed = client.loop.create_future()
    client.add_event_handler('presence_subscribed',
                             lambda p: subscribed.done() or subscribed.set_result(p['from'].bare))
    client.send_presence(pto='user@' + domain, ptype='subscribe')
    test.assertEqual(await _wait(subscribed, 15), 'user@' + domain)


def stop_servers(servers):
    """Stops and cleans up every server; raises once with every complaint."""
    errors = []
    for s in servers:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            s.cleanup()
    if errors:
        raise AssertionError('\n'.join(errors))


def error_condition(message):
    return message['error']['condition'] if message['type'] == 'error' else None


class PeerStream:
    """A raw s2s connection to a parleyd, as a misbehaving peer would open it:
    jabber:server, STARTTLS with a client certificate of our choosing."""

    def __init__(self, server, port, from_domain, cert_domain=None):
        self.raw = RawStream(port)
        self.server = server
        self.from_domain = from_domain
        self.cert_domain = cert_domain

    def open(self):
        self.raw.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                      "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
                      "from='%s' to='%s' version='1.0'>" % (self.from_domain, self.server.domain))
        return self.raw.read_until('</stream:features>|<stream:features/>')

    def secure(self):
        """Header, STARTTLS (showing the certificate of cert_domain, if any),
        header again: returns the features offered over TLS."""
        first = self.open()
        assert 'xmpp-tls' in first and '<required' in first, first
        self.raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.raw.read_until('<proceed')
        self.raw.buf = b''
        ctx = ssl.create_default_context(cafile=os.path.join(cert_dir(), 'ca.pem'))
        if self.cert_domain:
            ctx.load_cert_chain(os.path.join(cert_dir(), self.cert_domain + '.pem'),
                                os.path.join(cert_dir(), self.cert_domain + '.key'))
        self.raw.sock = ctx.wrap_socket(self.raw.sock, server_hostname=self.server.domain)
        features = self.open()
        self.raw.buf = b''
        return features

    def external(self):
        self.raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
        return self.raw.read_until('<success|<failure')

    def close(self):
        self.raw.close()


class Federating(unittest.TestCase):
    def test_messages_and_subscriptions_cross_both_ways_on_certificates_alone(self):
        # Dialback off on both: only SASL EXTERNAL on the test CA's
        # certificates can work. Bidi off: each opens its own stream.
        fed = Federation(['parley.test', 'other.test'],
                         {'parley.test': {'dialback': False, 'extra': 'bidi = false'},
                          'other.test': {'dialback': False, 'extra': 'bidi = false'}}).start()
        try:
            async def conversation():
                alice = await login(fed['parley.test'])
                bob = await login(fed['other.test'])
                alice.send_message(mto='user@other.test', mbody='hello from parley.test', mtype='chat')
                m = await next_chat(bob)
                self.assertEqual(m['body'], 'hello from parley.test')
                self.assertEqual(m['from'].bare, 'user@parley.test')
                bob.send_message(mto='user@parley.test/t', mbody='hello back', mtype='chat')
                m = await next_chat(alice)
                self.assertEqual(m['body'], 'hello back')
                self.assertEqual(m['from'].bare, 'user@other.test')
                # An iq to the remote server itself, answered over the
                # links, and a presence subscription.
                await ping_and_subscribe(self, alice, 'other.test')
                await alice.bye()
                await bob.bye()
            run(conversation(), timeout=90)
            for d, other in (('parley.test', 'other.test'), ('other.test', 'parley.test')):
                self.assertTrue(fed[d].wait_log(r'%s authenticated by SASL EXTERNAL' % re.escape(other)))
                self.assertNotIn('authenticated by dialback', fed[d].log_text())
        finally:
            fed.stop()

    def test_one_stream_carries_both_directions_with_bidi(self):
        # XEP-0288: parley.test connects first and asks for bidi; other.test
        # answers, pings and subscribes over that stream and never opens
        # one of its own.
        fed = Federation(['parley.test', 'other.test'],
                         {'parley.test': {'dialback': False}, 'other.test': {'dialback': False}}).start()
        try:
            async def conversation():
                alice = await login(fed['parley.test'])
                bob = await login(fed['other.test'])
                alice.send_message(mto='user@other.test', mbody='one stream?', mtype='chat')
                self.assertEqual((await next_chat(bob))['body'], 'one stream?')
                self.assertTrue(fed['other.test'].wait_log(
                    r'other\.test -> parley\.test: the peer.s stream carries this server.s stanzas too'))
                for i in range(3):
                    bob.send_message(mto='user@parley.test/t', mbody='back %d' % i, mtype='chat')
                for i in range(3):
                    m = await next_chat(alice)
                    self.assertEqual((m['body'], m['from'].bare), ('back %d' % i, 'user@other.test'))
                await ping_and_subscribe(self, bob, 'parley.test')
                await alice.bye()
                await bob.bye()
            run(conversation(), timeout=90)
            self.assertTrue(fed['parley.test'].wait_log(r'parley\.test -> other\.test: link up \(bidirectional\)'))
            self.assertTrue(fed['other.test'].wait_log(
                r'parley\.test authenticated by SASL EXTERNAL \(to other\.test, bidirectional\)'))
            self.assertNotIn('other.test -> parley.test: link up', fed['other.test'].log_text())
            self.assertNotIn('other.test authenticated by', fed['parley.test'].log_text())
        finally:
            fed.stop()

    def test_an_untrusted_certificate_falls_back_to_dialback_or_is_refused(self):
        # third.test trusts another CA: parley.test's certificate proves
        # nothing to it. With dialback it checks parley.test's key with
        # parley.test itself; without, the message bounces.
        for dialback in (True, False):
            with self.subTest(dialback=dialback):
                fed = Federation(['parley.test', 'third.test'],
                                 {'third.test': {'dialback': dialback, 'ca': stranger_ca()}}).start()
                try:
                    async def conversation():
                        alice = await login(fed['parley.test'])
                        carol = await login(fed['third.test'])
                        alice.send_message(mto='user@third.test', mbody='via dialback?', mtype='chat')
                        if dialback:
                            m = await next_chat(carol)
                            self.assertEqual(m['body'], 'via dialback?')
                            self.assertEqual(m['from'].bare, 'user@parley.test')
                        else:
                            m = await next_chat(alice, timeout=25)
                            self.assertEqual(error_condition(m), 'remote-server-not-found')
                            self.assertIn('third.test', m['error']['text'])
                            with self.assertRaises(Exception):
                                await carol.next_message(timeout=1)
                        await alice.bye()
                        await carol.bye()
                    run(conversation(), timeout=90)
                    third = fed['third.test']
                    if dialback:
                        self.assertTrue(third.wait_log('parley.test authenticated by dialback'))
                        self.assertNotIn('parley.test authenticated by SASL EXTERNAL', third.log_text())
                    else:
                        self.assertTrue(third.wait_log("dialback for 'parley.test' refused"))
                finally:
                    fed.stop()

    def test_direct_tls_both_ways_and_idle_links_close_and_come_back(self):
        # XEP-0368: each server reaches the other's direct TLS port; links
        # idle for 2 s close, and the next stanza opens a new one.
        direct = {'parley.test': free_port(), 'other.test': free_port()}
        fed = Federation(['parley.test', 'other.test'], {
            d: {'extra': 'direct_tls_port = %d\nidle_timeout_s = 2' % direct[d],
                'routes': {o: ('127.0.0.1', direct[o], True) for o in direct if o != d}}
            for d in direct}).start()
        try:
            async def conversation():
                alice = await login(fed['parley.test'])
                bob = await login(fed['other.test'])
                for round in range(2):
                    alice.send_message(mto='user@other.test', mbody='direct %d' % round, mtype='chat')
                    self.assertEqual((await next_chat(bob))['body'], 'direct %d' % round)
                    bob.send_message(mto='user@parley.test', mbody='back %d' % round, mtype='chat')
                    self.assertEqual((await next_chat(alice))['body'], 'back %d' % round)
                    if round == 0:
                        # Either end may notice first that the link is idle.
                        self.assertTrue(fed['parley.test'].wait_log(
                            'parley.test -> other.test: (idle, closing|the peer closed the stream)', 10))
                await alice.bye()
                await bob.bye()
            run(conversation(), timeout=90)
            self.assertTrue(fed['parley.test'].wait_log(
                r'(?s)parley\.test -> other\.test: link up.*parley\.test -> other\.test: link up'),
                'a new link after the idle one')
            self.assertIn('(s2s direct TLS)', fed['parley.test'].log_text())
        finally:
            fed.stop()

    def test_an_unreachable_domain_bounces_its_stanzas(self):
        closed = free_port()  # nothing listens there
        fed = Federation(['parley.test'], {'parley.test': {'routes': {'gone.test': closed}}}).start()
        try:
            async def conversation():
                alice = await login(fed['parley.test'])
                for i in range(3):
                    alice.send_message(mto='someone@gone.test', mbody='lost %d' % i, mtype='chat')
                conditions = []
                for _ in range(3):
                    m = await next_chat(alice, timeout=15)
                    conditions.append(error_condition(m))
                    self.assertIn('gone.test', m['error']['text'])
                self.assertEqual(conditions, ['remote-server-not-found'] * 3)
                await alice.bye()
            run(conversation(), timeout=60)
        finally:
            fed.stop()


class RemoteSendersAndTheArchive(unittest.TestCase):
    def test_offline_storage_and_the_archive_hold_federated_messages(self):
        from test_mam import PLUGINS, history, write_key
        ports = {'parley.test': free_port(), 'other.test': free_port()}
        a = ParleyServer(domain='parley.test', modules=('disco', 'ping', 'roster', 'offline', 'archive', 'mam'),
                         module_options={'archive': 'key_file = "archive.key"'},
                         extra=s2s_table(ports['parley.test'], {'other.test': ports['other.test']}))
        write_key(a.dir)
        b = ParleyServer(domain='other.test', modules=('disco', 'ping', 'roster'),
                         extra=s2s_table(ports['other.test'], {'parley.test': ports['parley.test']}))
        for s in (a, b):
            self.addCleanup(s.cleanup)
            s.add_user('user', 'secret')
            s.start()
            self.addCleanup(s.stop)

        async def scenario():
            bob = await login(b)
            # Alice is offline: parley.test keeps what bob sends for her.
            bob.send_message(mto='user@parley.test', mbody='while you were away', mtype='chat')
            await asyncio.sleep(1)
            with self.assertRaises(asyncio.TimeoutError):
                await bob.next_message(timeout=1)  # no bounce
            alice = Client('user@parley.test/t', 'secret', a.ca, plugins=PLUGINS)
            self.assertEqual(await alice.login(a.starttls_port), 'session')
            m = await alice.next_message(timeout=15)
            self.assertEqual((m['body'], m['from'].bare), ('while you were away', 'user@other.test'))
            self.assertTrue(m['delay']['stamp'], 'offline delivery carries its delay')
            alice.send_message(mto='user@other.test', mbody='back now', mtype='chat')
            self.assertEqual((await bob.next_message(timeout=15))['body'], 'back now')
            # Both directions are in alice's archive, as any conversation.
            iq, results = await history(alice, with_jid='user@other.test')
            bodies = [msg['body'] for _, msg in results]
            self.assertEqual(bodies, ['while you were away', 'back now'])
            await alice.bye()
            await bob.bye()
        run(scenario(), timeout=90)


class MisbehavingPeers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # parley.test alone; dialback off, so only certificates count.
        cls.fed = Federation(['parley.test'], {'parley.test': {'dialback': False}}).start()
        cls.server = cls.fed['parley.test']
        cls.port = cls.fed.ports['parley.test']

    @classmethod
    def tearDownClass(cls):
        cls.fed.stop()

    def authenticated_peer(self):
        peer = PeerStream(self.server, self.port, 'other.test', cert_domain='other.test')
        features = peer.secure()
        self.assertIn('EXTERNAL', features)
        self.assertIn('<success', peer.external())
        peer.raw.buf = b''
        peer.open()
        peer.raw.buf = b''
        return peer

    def test_a_peer_with_a_valid_certificate_delivers_and_a_spoofed_from_ends_its_stream(self):
        async def scenario():
            alice = await login(self.server)
            peer = self.authenticated_peer()
            try:
                peer.raw.send("<message from='bob@other.test/x' to='user@parley.test' type='chat'>"
                              "<body>straight from a peer</body></message>")
                m = await next_chat(alice)
                self.assertEqual(m['body'], 'straight from a peer')
                self.assertEqual(str(m['from']), 'bob@other.test/x')
                # A domain this stream never proved.
                peer.raw.send("<message from='mallory@third.test' to='user@parley.test' type='chat'>"
                              "<body>spoofed</body></message>")
                text = peer.raw.read_until('</stream:stream>')
                self.assertIn('<invalid-from', text)
                self.assertTrue(peer.raw.closed_by_peer())
                with self.assertRaises(Exception):
                    await alice.next_message(timeout=1)
            finally:
                peer.close()
            await alice.bye()
        run(scenario(), timeout=60)

    def test_a_bidi_peer_gets_our_stanzas_on_its_stream_once_authenticated(self):
        # XEP-0288 as the receiving server: other.test asks for bidi; once
        # authenticated, parley.test sends its stanzas for other.test on
        # this stream (it has no route to other.test to connect by).
        async def scenario():
            alice = await login(self.server)
            peer = PeerStream(self.server, self.port, 'other.test', cert_domain='other.test')
            try:
                features = peer.secure()
                self.assertIn("<bidi xmlns='urn:xmpp:features:bidi'", features.replace('"', "'"))
                peer.raw.send("<bidi xmlns='urn:xmpp:bidi'/>")
                self.assertIn('<success', peer.external())
                peer.raw.buf = b''
                peer.open()
                alice.send_message(mto='bob@other.test', mbody='over your stream', mtype='chat')
                loop = asyncio.get_event_loop()
                text = await loop.run_in_executor(None, peer.raw.read_until, 'over your stream', 15)
                self.assertRegex(text, r"<message[^>]*from=.user@parley\.test/t.")
                self.assertRegex(text, r"<message[^>]*to=.bob@other\.test.")
                peer.raw.send("<message from='bob@other.test/x' to='user@parley.test' type='chat'>"
                              "<body>and back</body></message>")
                self.assertEqual((await next_chat(alice))['body'], 'and back')
            finally:
                peer.close()
            # Its stream is gone: the next message has no way and bounces.
            alice.send_message(mto='bob@other.test', mbody='anyone?', mtype='chat')
            m = await next_chat(alice, timeout=25)
            self.assertEqual(error_condition(m), 'remote-server-not-found')
            await alice.bye()
        run(scenario(), timeout=90)

    def test_an_incoming_stream_counts_what_it_received_once_enabled(self):
        # XEP-0198 as the receiving server: offered after TLS, refused
        # before authentication, then <r/> answered with the count.
        peer = PeerStream(self.server, self.port, 'other.test', cert_domain='other.test')
        try:
            features = peer.secure()
            self.assertIn("<sm xmlns='urn:xmpp:sm:3'", features.replace('"', "'"))
            peer.raw.send("<enable xmlns='urn:xmpp:sm:3'/>")
            self.assertIn('<unexpected-request', peer.raw.read_until('</failed>'))
            self.assertIn('<success', peer.external())
            peer.raw.buf = b''
            peer.open()
            peer.raw.send("<enable xmlns='urn:xmpp:sm:3'/>")
            self.assertIn('<enabled', peer.raw.read_until('<enabled[^>]*>'))
            for i in range(3):
                peer.raw.send("<message from='bob@other.test' to='user@parley.test' type='chat'>"
                              "<body>counted %d</body></message>" % i)
            peer.raw.send("<r xmlns='urn:xmpp:sm:3'/>")
            text = peer.raw.read_until("<a [^>]*h=.3.")
            self.assertRegex(text, "<a xmlns=.urn:xmpp:sm:3. h=.3./>")
        finally:
            peer.close()

    def test_stanzas_for_other_servers_are_not_relayed(self):
        peer = self.authenticated_peer()
        try:
            peer.raw.send("<message from='bob@other.test' to='victim@elsewhere.test' type='chat'>"
                          "<body>relay me</body></message>")
            text = peer.raw.read_until('</stream:stream>')
            self.assertIn('<host-unknown', text)
        finally:
            peer.close()

    def test_a_certificate_for_another_domain_proves_nothing(self):
        # The certificate names other.test; the stream claims third.test.
        peer = PeerStream(self.server, self.port, 'third.test', cert_domain='other.test')
        try:
            features = peer.secure()
            self.assertNotIn('EXTERNAL', features)
            self.assertIn('<failure', peer.external())
            # Dialback is off here: a key for third.test is refused outright.
            peer.raw.buf = b''
            peer.raw.send("<db:result from='third.test' to='parley.test'>0123abcd</db:result>")
            text = peer.raw.read_until("type='error'|type=\"error\"")
            self.assertIn('policy-violation', text)
            self.assertTrue(peer.raw.closed_by_peer())
        finally:
            peer.close()
        self.assertTrue(self.server.wait_log(r"dialback for 'third.test' refused"))

    def test_nothing_before_tls_and_no_stanza_before_authentication(self):
        peer = PeerStream(self.server, self.port, 'other.test')
        try:
            peer.open()
            peer.raw.send("<db:result from='other.test' to='parley.test'>00</db:result>")
            self.assertIn('<policy-violation', peer.raw.read_until('</stream:stream>'))
        finally:
            peer.close()
        peer = PeerStream(self.server, self.port, 'other.test', cert_domain='other.test')
        try:
            peer.secure()
            peer.raw.send("<message from='bob@other.test' to='user@parley.test'><body>early</body></message>")
            self.assertIn('<not-authorized', peer.raw.read_until('</stream:stream>'))
        finally:
            peer.close()

    def test_a_stream_to_a_domain_not_served_here_is_refused(self):
        raw = RawStream(self.port)
        try:
            raw.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                     "xmlns:stream='http://etherx.jabber.org/streams' from='other.test' to='nowhere.test' "
                     "version='1.0'>")
            self.assertIn('<host-unknown', raw.read_until('</stream:stream>'))
        finally:
            raw.close()


class FakeReceiver:
    """other.test's server played by the test, for parley.test to connect
    to: STARTTLS with other.test's certificate, SASL EXTERNAL and the bidi
    feature offered. Blocking; bounded by socket timeouts."""

    def __init__(self, sm=False):
        self.sm = sm  # offer XEP-0198 too
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]

    def header(self):
        return ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                "xmlns:stream='http://etherx.jabber.org/streams' from='other.test' to='parley.test' "
                "id='fake%d' version='1.0'>" % random.randint(1, 10 ** 9))

    def accept(self, timeout=15):
        self.listener.settimeout(timeout)
        sock, _ = self.listener.accept()
        sock.settimeout(10)
        raw = RawStream.__new__(RawStream)
        raw.sock, raw.buf = sock, b''
        raw.read_until('<stream:stream[^>]*>')
        raw.buf = b''
        raw.send(self.header() + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                 "<required/></starttls></stream:features>")
        raw.read_until('<starttls')
        raw.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(cert_dir(), 'other.test.pem'), os.path.join(cert_dir(), 'other.test.key'))
        raw.sock = ctx.wrap_socket(sock, server_side=True)
        raw.buf = b''
        raw.read_until('<stream:stream[^>]*>')
        raw.buf = b''
        raw.send(self.header() + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                 "<mechanism>EXTERNAL</mechanism></mechanisms><bidi xmlns='urn:xmpp:features:bidi'/>" +
                 ("<sm xmlns='urn:xmpp:sm:3'/>" if self.sm else '') + "</stream:features>")
        self.asked = raw.read_until('</auth>|<auth[^>]*/>')
        raw.buf = b''
        raw.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        raw.read_until('<stream:stream[^>]*>')
        raw.buf = b''
        raw.send(self.header() + "<stream:features/>")
        return raw

    def close(self):
        self.listener.close()


class BidiOnOurStream(unittest.TestCase):
    def test_a_peer_answering_on_our_stream_may_send_only_as_its_own_domain(self):
        # XEP-0288 as the initiating server: the peer's stanzas come back on
        # parley.test's stream, only from other.test and only to parley.test.
        fake = FakeReceiver()
        fed = Federation(['parley.test'], {'parley.test': {'dialback': False,
                                                           'routes': {'other.test': fake.port}}}).start()
        try:
            async def scenario():
                alice = await login(fed['parley.test'])
                loop = asyncio.get_event_loop()
                alice.send_message(mto='bob@other.test', mbody='hello, fake', mtype='chat')
                raw = await loop.run_in_executor(None, fake.accept)
                try:
                    self.assertIn('urn:xmpp:bidi', fake.asked, 'bidi is asked for before authenticating')
                    text = await loop.run_in_executor(None, raw.read_until, 'hello, fake', 15)
                    self.assertRegex(text, r"<message[^>]*to=.bob@other\.test.")
                    raw.send("<message from='bob@other.test/x' to='user@parley.test' type='chat'>"
                             "<body>answer on your stream</body></message>")
                    m = await next_chat(alice)
                    self.assertEqual((m['body'], str(m['from'])), ('answer on your stream', 'bob@other.test/x'))
                    raw.send("<message from='mallory@third.test' to='user@parley.test' type='chat'>"
                             "<body>spoofed</body></message>")
                    text = await loop.run_in_executor(None, raw.read_until, '</stream:stream>', 15)
                    self.assertIn('<invalid-from', text)
                    with self.assertRaises(Exception):
                        await alice.next_message(timeout=1)
                finally:
                    raw.sock.close()
                await alice.bye()
            run(scenario(), timeout=90)
            self.assertTrue(fed['parley.test'].wait_log(r'parley\.test -> other\.test: link up \(bidirectional\)'))
        finally:
            fake.close()
            fed.stop()


class StreamManagement(unittest.TestCase):
    def test_what_a_broken_link_did_not_confirm_goes_again_once_then_bounces(self):
        # XEP-0198 on parley.test's link to other.test (played by the test):
        # a message the peer never acknowledged is sent again on the next
        # connection; once acknowledged it is not; sent twice on links that
        # both broke, it bounces.
        fake = FakeReceiver(sm=True)
        fed = Federation(['parley.test'], {'parley.test': {'dialback': False,
                                                           'routes': {'other.test': fake.port}}}).start()
        loop_of = asyncio.get_event_loop

        def ack_everything(raw, upto):
            """Answers <enabled/> and acks up to `upto` stanzas when asked."""
            raw.read_until("<enable[^>]*xmlns=.urn:xmpp:sm:3", 10)
            raw.send("<enabled xmlns='urn:xmpp:sm:3'/>")
            raw.read_until("<r xmlns=.urn:xmpp:sm:3.", 10)
            raw.send("<a xmlns='urn:xmpp:sm:3' h='%d'/>" % upto)

        try:
            async def scenario():
                alice = await login(fed['parley.test'])
                loop = loop_of()
                alice.send_message(mto='bob@other.test', mbody='first', mtype='chat')
                raw = await loop.run_in_executor(None, fake.accept)
                await loop.run_in_executor(None, raw.read_until, "<enable[^>]*xmlns=.urn:xmpp:sm:3", 10)
                await loop.run_in_executor(None, raw.read_until, 'first', 10)
                raw.sock.close()  # broken, nothing acknowledged
                raw = await loop.run_in_executor(None, fake.accept)
                text = await loop.run_in_executor(None, raw.read_until, 'first', 10)
                self.assertEqual(text.count('first'), 1)
                await loop.run_in_executor(None, ack_everything, raw, 1)
                alice.send_message(mto='bob@other.test', mbody='second', mtype='chat')
                await loop.run_in_executor(None, raw.read_until, 'second', 10)
                await loop.run_in_executor(None, raw.read_until, "<r xmlns=.urn:xmpp:sm:3.", 10)
                raw.send("<a xmlns='urn:xmpp:sm:3' h='2'/>")
                await asyncio.sleep(0.5)
                raw.sock.close()  # broken, everything acknowledged: nothing goes again
                fake.listener.settimeout(2)
                with self.assertRaises(socket.timeout):
                    await loop.run_in_executor(None, fake.listener.accept)
                # Two broken links, no ack: the sender hears of it.
                alice.send_message(mto='bob@other.test', mbody='third', mtype='chat')
                for _ in range(2):
                    raw = await loop.run_in_executor(None, fake.accept)
                    await loop.run_in_executor(None, raw.read_until, 'third', 10)
                    raw.sock.close()
                m = await next_chat(alice, timeout=20)
                self.assertEqual(error_condition(m), 'remote-server-not-found')
                self.assertIn('broke twice', m['error']['text'])
                with self.assertRaises(Exception):
                    await alice.next_message(timeout=1)  # no bounce for first or second
                await alice.bye()
            run(scenario(), timeout=120)
            self.assertTrue(fed['parley.test'].wait_log(r'1 stanza\(s\) the peer did not acknowledge go again, 0 bounce'))
        finally:
            fake.close()
            fed.stop()

    def test_a_peer_that_acknowledges_nothing_loses_its_link_not_our_memory(self):
        # At most queue_max_stanzas wait for acks; then the link ends with
        # resource-constraint and what waited goes on the next connection.
        fake = FakeReceiver(sm=True)
        fed = Federation(['parley.test'], {'parley.test': {'dialback': False, 'extra': 'queue_max_stanzas = 3',
                                                           'routes': {'other.test': fake.port}}}).start()
        try:
            async def scenario():
                alice = await login(fed['parley.test'])
                loop = asyncio.get_event_loop()
                alice.send_message(mto='bob@other.test', mbody='m0', mtype='chat')
                raw = await loop.run_in_executor(None, fake.accept)
                await loop.run_in_executor(None, raw.read_until, 'm0', 10)
                for i in (1, 2, 3):
                    alice.send_message(mto='bob@other.test', mbody='m%d' % i, mtype='chat')
                text = await loop.run_in_executor(None, raw.read_until, '</stream:stream>', 15)
                self.assertIn('<resource-constraint', text)
                self.assertNotIn('m3', text, 'the fourth waits for the next connection')
                raw.sock.close()
                raw = await loop.run_in_executor(None, fake.accept)
                text = await loop.run_in_executor(None, raw.read_until, 'm3', 10)
                self.assertRegex(text, '(?s)m0.*m1.*m2.*m3')
                raw.read_until("<enable[^>]*xmlns=.urn:xmpp:sm:3", 1)
                raw.send("<enabled xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='4'/>")
                with self.assertRaises(Exception):
                    await alice.next_message(timeout=1)
                raw.sock.close()
                await alice.bye()
            run(scenario(), timeout=90)
        finally:
            fake.close()
            fed.stop()


async def _wait(future, timeout):
    import asyncio
    return await asyncio.wait_for(future, timeout)


if __name__ == '__main__':
    unittest.main()
