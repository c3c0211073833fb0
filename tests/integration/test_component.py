"""External components (XEP-0114) against the real parleyd (2 workers):
the handshake and its refusals, routing both ways across workers, the
'from' rule, bounces while the component is away, one connection per
domain, and the component in the host's disco#items. The component is
slixmpp's ComponentXMPP; raw sockets where the exact bytes matter."""
import asyncio
import hashlib
import os
import re
import time
import unittest
import xml.etree.ElementTree as ET

import slixmpp

from clients import online
from harness import DOMAIN, RawStream, ServerTestCase, free_port, run, worker_of

BOT = 'bot.' + DOMAIN
SECRET = 'component-secret-Zq8vX2'
PING = 'urn:xmpp:ping'


class Component(slixmpp.ComponentXMPP):
    """A component that records what it gets; answers pings (XEP-0199)."""

    def __init__(self, port, secret=SECRET, domain=BOT):
        super().__init__(domain, secret, '127.0.0.1', port)
        self.register_plugin('xep_0199')
        loop = asyncio.get_event_loop()
        self.outcome = loop.create_future()
        self.gone = loop.create_future()
        self.messages = asyncio.Queue()
        self.stream_errors = []
        self.add_event_handler('session_start', lambda _: self._settle('session'))
        self.add_event_handler('disconnected', self._on_disconnected)
        self.add_event_handler('connection_failed', lambda *_: self._settle('failed'))
        self.add_event_handler('stream_error', lambda e: self.stream_errors.append(e['condition']))
        self.add_event_handler('message', lambda m: self.messages.put_nowait(m))

    def _settle(self, what):
        if not self.outcome.done():
            self.outcome.set_result(what)

    def _on_disconnected(self, *_):
        self._settle('disconnected')
        if not self.gone.done():
            self.gone.set_result(True)

    async def start(self, timeout=15):
        self.connect()
        return await asyncio.wait_for(asyncio.shield(self.outcome), timeout)

    async def next_message(self, timeout=10):
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def wait_gone(self, timeout=15):
        await asyncio.wait_for(asyncio.shield(self.gone), timeout)

    async def bye(self):
        if not self.gone.done():
            self.disconnect()
            try:
                await self.wait_gone(10)
            except asyncio.TimeoutError:
                pass


def error_condition(stanza):
    """The stanza error condition of `stanza`, read from its XML.
    COMPAT(slixmpp 1.8): on a component stream slixmpp looks for <error/>
    in jabber:client only (and adds an empty one that says
    feature-not-implemented), while the server, like Prosody, sends it in
    the stream's content namespace, jabber:component:accept."""
    for child in stanza.xml:
        if child.tag.endswith('}error'):
            for c in child:
                if c.tag.startswith('{urn:ietf:params:xml:ns:xmpp-stanzas}') and not c.tag.endswith('}text'):
                    return c.tag.split('}')[1]
    return None


def raw_component_stream(port, to):
    s = RawStream(port)
    s.send("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
           "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>" % to)
    return s


class Components(ServerTestCase):
    users = ('alice', 'bob')
    component_port = free_port()

    @classmethod
    def setUpClass(cls):
        cls.secret_dir = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'parley-component-%d' % os.getpid())
        os.makedirs(cls.secret_dir, exist_ok=True)
        path = os.path.join(cls.secret_dir, 'bot.secret')
        with open(path, 'w') as f:
            f.write(SECRET + '\n')
        os.chmod(path, 0o600)
        cls.extra = ('\n[component_listener]\naddress = "127.0.0.1"\nport = %d\nhandshake_timeout_s = 5\n'
                     '\n[[component]]\ndomain = "%s"\nsecret_file = "%s"\n' % (cls.component_port, BOT, path))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for name in os.listdir(cls.secret_dir):
                os.unlink(os.path.join(cls.secret_dir, name))
            os.rmdir(cls.secret_dir)

    def setUp(self):
        self.opened = []  # components and clients a conversation leaves behind

    def tearDown(self):
        self.assertIsNone(self.server.proc.poll(), 'parleyd must still run')
        # Every test leaves the domain free for the next one, even a failed one.
        log = self.server.log_text
        deadline = time.monotonic() + 10
        while log().count(BOT + ' connected from') != log().count(BOT + ' disconnected') and time.monotonic() < deadline:
            time.sleep(0.05)

    def converse(self, body, timeout=120):
        """Runs the conversation `body`; then says goodbye to whatever it left open."""
        async def wrapped():
            try:
                await body()
            finally:
                for c in reversed(self.opened):
                    await c.bye()
        run(wrapped(), timeout=timeout)

    async def connected(self):
        """A component logged in as BOT; waits until the server registered it."""
        mark = self.server.log_text().count(BOT + ' connected from')
        c = Component(self.component_port)
        self.opened.append(c)
        outcome = await c.start()
        self.assertEqual(outcome, 'session', 'the component must be accepted: %s\n%s'
                         % (c.stream_errors, self.server.log_text()[-2000:]))
        self.assertTrue(self.wait_count(BOT + ' connected from', mark + 1))
        return c

    async def gone(self, c):
        mark = self.server.log_text().count(BOT + ' disconnected')
        await c.bye()
        self.assertTrue(self.wait_count(BOT + ' disconnected', mark + 1), 'the server must notice the component left')

    def wait_count(self, text, n, timeout=10):
        return self.server.wait_log(r'(?s)' + ('.*' + re.escape(text)) * n, timeout=timeout)

    async def users_on_two_workers(self):
        alice = await online(self.server, 'alice', resource='desk', plugins=('xep_0199',))
        self.opened.append(alice)
        wa = worker_of(self.server, 'alice@%s/desk' % DOMAIN)
        for i in range(24):
            c = await online(self.server, 'bob', resource='r%d' % i, plugins=('xep_0199',))
            if worker_of(self.server, 'bob@%s/r%d' % (DOMAIN, i)) != wa:
                self.opened.append(c)
                return alice, c
            await c.bye()
        raise AssertionError('could not get sessions on two workers')

    def test_handshake_with_the_right_secret_is_accepted(self):
        s = raw_component_stream(self.component_port, BOT)
        header = s.read_until(r'<stream:stream[^>]*>')
        self.assertIn("xmlns='jabber:component:accept'", header)
        self.assertRegex(header, r"from='%s'" % re.escape(BOT), 'the answer names the component domain')
        m = re.search(r"\bid='([^']+)'", header)
        self.assertIsNotNone(m, 'the answer carries a stream id: ' + header)
        self.assertGreaterEqual(len(m.group(1)), 16, 'the stream id must be unpredictable')
        s.buf = b''
        s.send('<handshake>%s</handshake>' % hashlib.sha1((m.group(1) + SECRET).encode()).hexdigest())
        reply = s.read_until(r'<handshake\s*/>|<handshake></handshake>|</stream:stream>')
        self.assertRegex(reply, r'<handshake\s*/>|<handshake></handshake>', 'success is an empty <handshake/>')
        self.assertNotIn('stream:error', reply)
        self.assertTrue(self.wait_count(BOT + ' connected from', 1))
        mark = self.server.log_text().count(BOT + ' disconnected')
        s.send('</stream:stream>')
        self.assertTrue(s.closed_by_peer())
        self.assertTrue(self.wait_count(BOT + ' disconnected', mark + 1))
        self.assertNotIn(SECRET, self.server.log_text(), 'the secret must never be logged')

    def test_wrong_secret_gets_not_authorized_and_is_closed(self):
        async def conversation():
            c = Component(self.component_port, secret='not-the-secret')
            outcome = await c.start()
            self.assertNotEqual(outcome, 'session', 'a wrong secret must not be accepted')
            await c.wait_gone()
            self.assertIn('not-authorized', c.stream_errors)
        self.converse(conversation, timeout=60)
        # The raw bytes: the stream error and the end of the stream.
        s = raw_component_stream(self.component_port, BOT)
        s.read_until(r"id='[^']+'")
        s.send('<handshake>%s</handshake>' % ('0' * 40))
        text = s.read_until(r'</stream:stream>')
        self.assertRegex(text, r'<stream:error><not-authorized xmlns=.urn:ietf:params:xml:ns:xmpp-streams.')
        self.assertTrue(s.closed_by_peer())
        self.assertTrue(self.server.wait_log('handshake for %s failed' % re.escape(BOT)))
        self.assertNotIn(SECRET, self.server.log_text())

    def test_unknown_domain_is_refused_with_host_unknown(self):
        for to in ('nobody.' + DOMAIN, DOMAIN):  # not a component; a virtual host is not one either
            s = raw_component_stream(self.component_port, to)
            text = s.read_until(r'</stream:stream>')
            self.assertIn('<host-unknown', text, to)
            self.assertTrue(s.closed_by_peer(), to)

        async def conversation():
            c = Component(self.component_port, domain='nobody.' + DOMAIN)
            self.assertNotEqual(await c.start(), 'session')
            await c.wait_gone()
            self.assertIn('host-unknown', c.stream_errors)
        self.converse(conversation, timeout=60)

    def test_a_handshake_not_sent_in_time_is_cut(self):
        s = raw_component_stream(self.component_port, BOT)
        text = s.read_until(r'</stream:stream>', timeout=15)
        self.assertIn('<connection-timeout', text)
        self.assertTrue(s.closed_by_peer())

    def test_users_on_each_worker_message_the_component_and_get_replies(self):
        async def conversation():
            bot = await self.connected()

            def echo(m):
                if m['type'] != 'error' and m['body']:
                    bot.send_message(mto=m['from'], mfrom=m['to'], mbody='echo: ' + m['body'], mtype='chat')
            bot.add_event_handler('message', echo)
            alice, bob = await self.users_on_two_workers()
            for user, to in ((alice, BOT), (bob, BOT), (alice, 'weather@' + BOT), (bob, 'weather@' + BOT + '/x')):
                body = 'hello from %s to %s' % (user.boundjid.full, to)
                user.send_message(mto=to, mbody=body, mtype='chat')
                got = await bot.next_message()
                self.assertEqual(got['body'], body)
                self.assertEqual(got['from'].full, user.boundjid.full, 'the server stamps the sender')
                self.assertEqual(got['to'].full, to)
                reply = await user.next_message()
                self.assertEqual(reply['body'], 'echo: ' + body)
                self.assertEqual(reply['from'].full, to)
            await alice.bye()
            await bob.bye()
            await self.gone(bot)
        self.converse(conversation, timeout=180)

    def test_iq_and_presence_both_ways(self):
        async def conversation():
            bot = await self.connected()
            alice, bob = await self.users_on_two_workers()
            presences = asyncio.Queue()
            alice.add_event_handler('presence', lambda p: presences.put_nowait(p)
                                    if p['from'].domain == BOT else None)
            for user in (alice, bob):
                # The component asks a user (slixmpp answers pings) ...
                iq = bot.make_iq_get(ito=user.boundjid.full, ifrom=BOT)
                iq.append(ET.Element('{%s}ping' % PING))
                reply = await iq.send(timeout=10)
                self.assertEqual(reply['type'], 'result')
                self.assertEqual(reply['from'].full, user.boundjid.full)
                # ... and a user asks the component.
                iq = user.make_iq_get(ito=BOT)
                iq.append(ET.Element('{%s}ping' % PING))
                reply = await iq.send(timeout=10)
                self.assertEqual(reply['type'], 'result', 'the component answers the user')
                self.assertEqual(reply['from'].full, BOT)
            # The server itself answers the component (mod_ping).
            iq = bot.make_iq_get(ito=DOMAIN, ifrom='admin@' + BOT)
            iq.append(ET.Element('{%s}ping' % PING))
            reply = await iq.send(timeout=10)
            self.assertEqual(reply['type'], 'result')
            # A request to an account that does not exist is refused as usual.
            iq = bot.make_iq_get(ito='nobody@' + DOMAIN, ifrom=BOT)
            iq.append(ET.Element('{%s}ping' % PING))
            with self.assertRaises(slixmpp.exceptions.IqError) as e:
                await iq.send(timeout=10)
            self.assertEqual(error_condition(e.exception.iq), 'service-unavailable')
            # Directed presence from the component.
            bot.send_presence(pto=alice.boundjid.full, pfrom='status@' + BOT, pstatus='running')
            p = await asyncio.wait_for(presences.get(), 10)
            self.assertEqual(p['from'].full, 'status@' + BOT)
            self.assertEqual(p['status'], 'running')
            await alice.bye()
            await bob.bye()
            await self.gone(bot)
        self.converse(conversation, timeout=180)

    def test_a_spoofed_from_closes_the_component_stream(self):
        async def conversation():
            bot = await self.connected()
            bob = await online(self.server, 'bob', resource='spoofed')
            mark = self.server.log_text().count(BOT + ' disconnected')
            bot.send_message(mto=bob.boundjid.full, mfrom='alice@' + DOMAIN, mbody='I am alice', mtype='chat')
            await bot.wait_gone()
            self.assertIn('invalid-from', bot.stream_errors)
            self.assertTrue(self.wait_count(BOT + ' disconnected', mark + 1))
            # The spoofed message never arrives: the next one bob gets is a
            # genuine one, sent after the spoof.
            bot2 = await self.connected()
            bot2.send_message(mto=bob.boundjid.full, mfrom=BOT, mbody='genuine', mtype='chat')
            got = await bob.next_message()
            self.assertEqual(got['body'], 'genuine', 'the spoofed message must not be delivered')
            self.assertEqual(got['from'].full, BOT)
            # A stanza without 'from' is refused too (improper-addressing).
            bot2.send_raw("<message to='%s'><body>no from</body></message>" % bob.boundjid.full)
            await bot2.wait_gone()
            self.assertIn('improper-addressing', bot2.stream_errors)
            self.assertTrue(self.server.wait_log(r'not at its domain'))
            await bob.bye()
        self.converse(conversation, timeout=120)

    def test_stanzas_bounce_while_the_component_is_away(self):
        async def conversation():
            bot = await self.connected()
            await self.gone(bot)
            alice = await online(self.server, 'alice', resource='bounce')
            alice.send_message(mto='weather@' + BOT, mbody='anyone?', mtype='chat')
            err = await alice.next_message()
            self.assertEqual(err['type'], 'error')
            self.assertEqual(err['error']['condition'], 'service-unavailable')
            self.assertEqual(err['from'].full, 'weather@' + BOT)
            iq = alice.make_iq_get(ito=BOT)
            iq.append(ET.Element('{%s}ping' % PING))
            with self.assertRaises(slixmpp.exceptions.IqError) as e:
                await iq.send(timeout=10)
            self.assertEqual(e.exception.iq['error']['condition'], 'service-unavailable')
            # Presence is dropped without an error: the next stanza alice
            # gets is the bounce of a message sent after it.
            alice.send_presence(pto=BOT)
            alice.send_message(mto=BOT, mbody='after presence', mtype='chat')
            err = await alice.next_message()
            self.assertEqual(err['type'], 'error')
            self.assertEqual(err['body'], 'after presence')
            await alice.bye()
        self.converse(conversation, timeout=120)

    def test_a_second_connection_for_the_domain_is_refused_and_the_first_stays(self):
        async def conversation():
            first = await self.connected()
            second = Component(self.component_port)
            self.assertNotEqual(await second.start(), 'session', 'a second connection must not be accepted')
            await second.wait_gone()
            self.assertIn('conflict', second.stream_errors)
            alice = await online(self.server, 'alice', resource='second')
            alice.send_message(mto=BOT, mbody='still there?', mtype='chat')
            got = await first.next_message()
            self.assertEqual(got['body'], 'still there?', 'the first connection keeps the domain')
            await alice.bye()
            await self.gone(first)
        self.converse(conversation, timeout=120)

    def test_the_component_is_listed_in_the_hosts_disco_items(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='disco', plugins=('xep_0030',))
            items = await alice['xep_0030'].get_items(jid=DOMAIN, timeout=10)
            jids = [i[0] for i in items['disco_items']['items']]
            self.assertIn(BOT, jids)
            await alice.bye()
        self.converse(conversation, timeout=60)


if __name__ == '__main__':
    unittest.main()
