"""XEP-0198 stream management with a real parleyd on two workers: slixmpp's
xep_0198 plugin losing its TCP connection in the middle of a burst of 100
messages and resuming, on whichever worker and then on the other one, with
every message delivered exactly once; and raw streams where the counts
matter: <enable/> out of order, <r/>/<a/>, counters across a resumption on
the other worker, <failed/> answers, a resumption timeout and a client that
never acknowledges, whose messages go to the account's other resource."""
import asyncio
import collections
import re
import socket
import struct
import time
import unittest

from clients import Client, online
from harness import DOMAIN, ParleyServer, RawStream, ServerTestCase, run, worker_of

NS = 'urn:xmpp:sm:3'
ALICE_PHONE = 'alice@%s/phone' % DOMAIN


def cut(sock):
    """The connection dies under the client: RST, no </stream:stream>, no
    TLS close_notify (what a phone losing its network looks like)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))


class SmClient(Client):
    """A slixmpp client with the xep_0198 plugin that can lose its connection
    and resume; `got` counts the messages received by id."""

    def __init__(self, server, node, resource):
        super().__init__('%s@%s/%s' % (node, DOMAIN, resource), 'secret', server.ca, plugins=('xep_0198',))
        self.parley = server  # not `server`: slixmpp has one
        self.got = collections.Counter()
        self.order = []
        self.resumed = None
        self.add_event_handler('message', self._count)
        self.add_event_handler('session_resumed', self._on_resumed)

    def _count(self, m):
        if m['body']:
            self.got[m['id']] += 1
            self.order.append(m['id'])

    def _on_resumed(self, _):
        if self.resumed and not self.resumed.done():
            self.resumed.set_result(True)

    async def lose_connection(self, stall=0.3):
        """Stops reading for `stall` seconds (what the server writes meanwhile
        sits unread in the kernel), then the connection dies: those stanzas
        are lost with it, written but never handled."""
        gone = asyncio.get_event_loop().create_future()
        self.add_event_handler('disconnected', lambda _: gone.done() or gone.set_result(True), disposable=True)
        self.transport.pause_reading()
        await asyncio.sleep(stall)
        cut(self.transport.get_extra_info('socket'))
        self.transport.abort()
        await asyncio.wait_for(gone, 10)

    async def resume(self):
        """Reconnects; returns once the server said <resumed/>."""
        self.resumed = asyncio.get_event_loop().create_future()
        self.connect(('127.0.0.1', self.parley.starttls_port), force_starttls=True)
        await asyncio.wait_for(self.resumed, 20)

    async def wait_all(self, ids, timeout=30):
        deadline = time.monotonic() + timeout
        while not all(self.got[i] for i in ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def send_message(client, to, mid, body=None):
    """A chat message with id `mid` (and that as its body unless told)."""
    m = client.make_message(mto=to, mbody=body or mid, mtype='chat')
    m['id'] = mid
    m.send()


def resumed_workers(server, full=ALICE_PHONE):
    """The workers `full` was resumed on so far, from parleyd's log."""
    return [int(w) for w in re.findall(re.escape(full) + r' resumed on worker (\d+)', server.log_text())]


async def wait_resumed(server, count, full=ALICE_PHONE, timeout=10):
    """Waits (bounded) until the log shows `count` resumptions of `full`; the
    worker of the last one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = resumed_workers(server, full)
        if len(workers) >= count:
            return workers[-1]
        await asyncio.sleep(0.05)
    raise AssertionError('%s was not resumed %d times' % (full, count))


class Burst(ServerTestCase):
    users = ('alice', 'bob')
    settings = {'modules': ('disco', 'ping', 'sm', 'csi')}

    def burst(self, bob, ids, pause=0.01):
        async def send():
            for i in ids:
                send_message(bob, ALICE_PHONE, i, 'burst ' + i)
                await asyncio.sleep(pause)
        return asyncio.ensure_future(send())

    def check_once(self, alice, ids):
        missing = [i for i in ids if alice.got[i] == 0]
        twice = {i: n for i, n in alice.got.items() if n > 1}
        self.assertEqual(missing, [], 'messages never delivered')
        self.assertEqual(twice, {}, 'messages delivered more than once')
        self.assertEqual(alice.order, ids, 'in order')

    def test_a_cut_in_the_middle_of_a_burst_loses_and_repeats_nothing(self):
        async def conversation():
            alice = SmClient(self.server, 'alice', 'phone')
            self.assertEqual(await alice.login(self.server.starttls_port), 'session')
            await asyncio.wait_for(asyncio.shield(alice.available), 15)
            bob = await online(self.server, 'bob', resource='b1')
            ids = ['a%03d' % i for i in range(100)]
            sending = self.burst(bob, ids)
            while sum(alice.got.values()) < 30:
                await asyncio.sleep(0.01)
            await alice.lose_connection()
            self.assertTrue(self.server.wait_log(re.escape(ALICE_PHONE) + ': connection lost; the session is kept'))
            await alice.resume()
            await sending
            await alice.wait_all(ids)
            self.check_once(alice, ids)
            await bob.bye()
            await alice.bye()
        run(conversation(), timeout=120)

    def test_resuming_on_the_other_worker_loses_and_repeats_nothing(self):
        async def conversation():
            alice = SmClient(self.server, 'alice', 'phone')
            self.assertEqual(await alice.login(self.server.starttls_port), 'session')
            await asyncio.wait_for(asyncio.shield(alice.available), 15)
            first = worker_of(self.server, ALICE_PHONE)
            bob = await online(self.server, 'bob', resource='b2')
            ids = ['b%03d' % i for i in range(100)]
            sending = self.burst(bob, ids, pause=0.02)
            before = len(resumed_workers(self.server))
            landed = None
            # Where a new connection lands is the kernel's choice: cut and
            # resume (each a resumption of its own, counted exactly) until one
            # lands on the other worker, a bounded number of times.
            for attempt in range(16):
                target = sum(alice.got.values()) + 5
                while sum(alice.got.values()) < min(target, 95) and not sending.done():
                    await asyncio.sleep(0.01)
                await alice.lose_connection()
                await alice.resume()
                landed = await wait_resumed(self.server, before + attempt + 1)
                if landed != first:
                    break
            self.assertNotEqual(landed, first, 'no resumption landed on the other worker in 16 tries')
            await sending
            await alice.wait_all(ids)
            self.check_once(alice, ids)
            await bob.bye()
            await alice.bye()
        run(conversation(), timeout=240)


class RawSm:
    """A raw stream speaking stream management by hand: it counts the stanzas
    it receives (what its 'h' is) and acknowledges only when told."""

    STANZA = re.compile(r'<(message|presence|iq)[\s>/]')

    def __init__(self, server, node='alice'):
        self.server = server
        self.node = node
        self.s = RawStream(server.starttls_port)
        self.seen = ''  # everything received since <enabled/> or <resumed/>

    def login(self):
        """STARTTLS and PLAIN; stops where bind or resume comes."""
        self.s.secure(self.server.ca)
        self.s.auth_plain(self.node, 'secret')
        self.s.read_until('<success')
        self.s.buf = b''
        self.s.open()
        features = self.s.read_until('</stream:features>')
        self.s.buf = b''
        return features

    def bind(self, resource):
        self.s.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                    "<resource>%s</resource></bind></iq>" % resource)
        self.s.read_until("id='bind1'.*?</iq>")
        self.s.buf = b''

    def enable(self, resume=True):
        self.s.send("<enable xmlns='%s'%s/>" % (NS, " resume='true'" if resume else ''))
        text = self.s.read_until('<enabled[^>]*/>')
        m = re.search(r"<enabled[^>]*/>", text)
        self.s.buf = text[m.end():].encode()  # counting starts here
        id_ = re.search(r"id='([^']+)'", m.group(0))
        return id_.group(1) if id_ else None, m.group(0)

    def read_until(self, pattern, timeout=10):
        return self.s.read_until(pattern, timeout)

    async def aread(self, pattern, timeout=10):
        """read_until off the event loop, so that slixmpp clients keep running."""
        return await asyncio.get_event_loop().run_in_executor(None, self.s.read_until, pattern, timeout)

    def h(self):
        """Stanzas received so far (what the client has handled)."""
        return len(self.STANZA.findall(self.s.buf.decode('utf-8', 'replace')))

    def message_ids(self):
        return re.findall(r"<message[^>]* id='([^']+)'", self.s.buf.decode('utf-8', 'replace'))

    def send(self, data):
        self.s.send(data)

    def cut(self):
        cut(self.s.sock)
        self.s.close()

    def close(self):
        self.s.close()


class RawSmTests(ServerTestCase):
    users = ('alice', 'bob', 'mallory')
    settings = {'modules': ('disco', 'ping', 'sm')}

    def test_enable_is_refused_before_bind_and_twice(self):
        c = RawSm(self.server)
        features = c.login()
        self.assertIn("<sm xmlns='%s'/>" % NS, features, 'offered with bind')
        c.send("<enable xmlns='%s'/>" % NS)
        text = c.read_until('</failed>')
        self.assertRegex(text, r"<failed xmlns='%s'><unexpected-request" % NS)
        c.s.buf = b''
        c.bind('twice')
        sm_id, enabled = c.enable()
        self.assertRegex(enabled, r"resume='true'")
        self.assertRegex(enabled, r"max='300'")
        self.assertRegex(sm_id, r'^[0-9a-f]{32}$')
        c.send("<enable xmlns='%s'/>" % NS)
        self.assertRegex(c.read_until('</failed>'), r'<unexpected-request')
        c.close()

    def test_acks_count_what_was_handled_and_too_high_ends_the_stream(self):
        c = RawSm(self.server)
        c.login()
        c.bind('acks')
        c.enable(resume=False)
        for i in range(3):
            c.send("<iq type='get' id='p%d' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % (i, DOMAIN))
        c.read_until("id='p2'")
        c.send("<r xmlns='%s'/>" % NS)
        self.assertRegex(c.read_until(r"<a xmlns='%s' h='\d+'/>" % NS), r"<a xmlns='%s' h='3'/>" % NS)
        # The server asked for an acknowledgement of its three answers.
        c.read_until(r"<r xmlns='%s'/>" % NS)
        c.send("<a xmlns='%s' h='3'/>" % NS)
        c.send("<a xmlns='%s' h='9'/>" % NS)
        text = c.read_until('</stream:stream>')
        self.assertIn('<undefined-condition', text)
        self.assertRegex(text, r"<handled-count-too-high xmlns='%s' h='9' send-count='3'/>" % NS)
        c.close()

    def test_resume_failures_leave_the_stream_free_to_bind(self):
        c = RawSm(self.server)
        c.login()
        c.send("<resume xmlns='%s' previd='0123456789abcdef0123456789abcdef' h='0'/>" % NS)
        self.assertRegex(c.read_until('</failed>'), r"<failed xmlns='%s'><item-not-found" % NS)
        c.s.buf = b''
        c.send("<resume xmlns='%s' h='0'/>" % NS)
        self.assertRegex(c.read_until('</failed>'), r'<bad-request')
        c.s.buf = b''
        c.bind('after-failed')
        self.assertTrue(self.server.wait_log('after-failed bound on worker'), 'bound after the failures')
        c.close()

    def test_another_account_cannot_resume_a_session(self):
        alice = RawSm(self.server)
        alice.login()
        alice.bind('victim')
        sm_id, _ = alice.enable()
        mallory = RawSm(self.server, 'mallory')
        mallory.login()
        mallory.send("<resume xmlns='%s' previd='%s' h='0'/>" % (NS, sm_id))
        self.assertRegex(mallory.read_until('</failed>'), r'<item-not-found')
        # Alice's stream is untouched.
        alice.send("<r xmlns='%s'/>" % NS)
        alice.read_until(r"<a xmlns='%s' h='0'/>" % NS)
        mallory.close()
        alice.close()

    def test_counters_carry_over_to_a_resumption_on_the_other_worker(self):
        async def conversation():
            bob = await online(self.server, 'bob', resource='raw-sender')
            c = RawSm(self.server)
            c.login()
            c.bind('counted')
            full = 'alice@%s/counted' % DOMAIN
            first = worker_of(self.server, full)
            sm_id, _ = c.enable()
            for i in range(2):
                c.send("<iq type='get' id='q%d' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % (i, DOMAIN))
            await c.aread("id='q1'")
            sent = 0

            def send(n):
                nonlocal sent
                for _ in range(n):
                    sent += 1
                    send_message(bob, full, 'n%d' % sent)

            send(4)
            await c.aread("id='n4'")
            handled = c.h()  # two pongs and four messages
            self.assertEqual(handled, 6)
            delivered = c.message_ids()
            # Each time, the last message read is taken as lost with the
            # connection: not acknowledged, so it must come again.
            lost = delivered.pop()
            handled -= 1
            # Lost, and resumed until a resumption lands on the other worker.
            previous = c
            landed = first
            for attempt in range(16):
                previous.cut()
                self.assertTrue(self.server.wait_log(re.escape(full) + ': connection lost; the session is kept'))
                send(2)  # queued while it is away
                await asyncio.sleep(0.2)
                c = RawSm(self.server)
                c.login()
                resumes = len(resumed_workers(self.server, full))
                c.send("<resume xmlns='%s' previd='%s' h='%d'/>" % (NS, sm_id, handled))
                text = await c.aread(r"<resumed[^>]*/>")
                self.assertRegex(text, r"<resumed xmlns='%s' h='2' previd='%s'/>" % (NS, sm_id),
                                 'the two pings handled before, whatever the worker')
                await c.aread("id='n%d'" % sent)
                landed = await wait_resumed(self.server, resumes + 1, full)
                ids = c.message_ids()
                # Exactly what it had not acknowledged, in order: the one lost,
                # then the two sent while it was away.
                self.assertEqual(ids, [lost, 'n%d' % (sent - 1), 'n%d' % sent])
                delivered += ids
                lost = delivered.pop()
                handled += len(ids) - 1
                previous = c
                if landed != first:
                    break
            self.assertNotEqual(landed, first, 'no resumption landed on the other worker in 16 tries')
            self.assertEqual(delivered + [lost], ['n%d' % i for i in range(1, sent + 1)])
            # The count goes on on the new worker: another ping is the third.
            c.send("<iq type='get' id='q9' to='%s'><ping xmlns='urn:xmpp:ping'/></iq><r xmlns='%s'/>" % (DOMAIN, NS))
            self.assertRegex(await c.aread(r"<a xmlns='%s' h='\d+'/>" % NS), r"<a xmlns='%s' h='3'/>" % NS)
            c.close()
            await bob.bye()
        run(conversation(), timeout=240)


class Timeouts(ServerTestCase):
    users = ('alice', 'bob')
    settings = {'modules': ('disco', 'ping', 'sm'),
                'module_options': {'sm': 'resume_timeout = 1\nmax_unacked = 10'}}

    def test_a_session_not_resumed_in_time_hands_its_messages_to_another_resource(self):
        async def conversation():
            desk = await online(self.server, 'alice', resource='desk', plugins=('xep_0203',))
            bob = await online(self.server, 'bob', resource='b')
            phone = RawSm(self.server)
            phone.login()
            phone.bind('phone')
            sm_id, enabled = phone.enable()
            self.assertRegex(enabled, r"max='1'")
            for i in range(3):
                send_message(bob, ALICE_PHONE, 't%d' % i)
            await phone.aread("id='t2'")
            phone.cut()  # never acknowledged
            got = []
            while len(got) < 3:
                m = await desk.next_message(timeout=15)
                if m['id'].startswith('t'):  # not another test's leftovers
                    got.append(m)
            self.assertEqual([m['id'] for m in got], ['t0', 't1', 't2'], 'to the other resource, in order')
            for m in got:
                self.assertTrue(m['delay']['stamp'], 'with a XEP-0203 delay')
            # The id is spent; the server still says how much it had handled.
            again = RawSm(self.server)
            again.login()
            again.send("<resume xmlns='%s' previd='%s' h='3'/>" % (NS, sm_id))
            self.assertRegex(again.read_until('</failed>'), r"<failed xmlns='%s' h='0'><item-not-found" % NS)
            again.close()
            await bob.bye()
            await desk.bye()
        run(conversation(), timeout=60)

    # The ended session's backlog is re-routed while it is still bound, so
    # a message routed to its full JID afterwards cannot overtake it (u23
    # used to arrive before u10..u22 on a fast machine).
    def test_a_client_that_never_acknowledges_loses_its_session_not_its_messages(self):
        async def conversation():
            desk = await online(self.server, 'alice', resource='desk2')
            bob = await online(self.server, 'bob', resource='b2')
            phone = RawSm(self.server)
            phone.login()
            phone.bind('silent')
            phone.enable()
            ids = ['u%02d' % i for i in range(25)]  # past twice max_unacked
            for i in ids:
                send_message(bob, 'alice@%s/silent' % DOMAIN, i)
            text = await phone.aread('</stream:stream>', timeout=15)
            self.assertIn('<resource-constraint', text)
            got = []
            while len(got) < len(ids):
                m = await desk.next_message(timeout=15)
                if m['id'].startswith('u'):
                    got.append(m['id'])
            self.assertEqual(got, ids, 'every unacknowledged message went on, once, in order')
            phone.close()
            await bob.bye()
            await desk.bye()
        run(conversation(), timeout=60)


class TimeoutsToOffline(ServerTestCase):
    users = ('alice', 'bob')
    settings = {'modules': ('disco', 'ping', 'roster', 'offline', 'sm'),
                'module_options': {'sm': 'resume_timeout = 1'}}

    def test_a_session_not_resumed_in_time_with_no_other_resource_hands_its_messages_to_offline_storage(self):
        async def conversation():
            bob = await online(self.server, 'bob', resource='b')
            phone = RawSm(self.server)
            phone.login()
            phone.bind('phone')
            phone.enable()
            for i in range(3):
                send_message(bob, ALICE_PHONE, 'o%d' % i)
            await phone.aread("id='o2'")
            phone.cut()  # never acknowledged, and alice has no other resource
            # Bounded: the session ends a second after the cut.
            deadline = time.monotonic() + 15
            while 'alice@%s/phone disconnected' % DOMAIN not in self.server.log_text():
                self.assertLess(time.monotonic(), deadline, 'the kept session never ended')
                await asyncio.sleep(0.1)
            alice = await online(self.server, 'alice', resource='desk', plugins=('xep_0203',))
            got = []
            while len(got) < 3:
                try:
                    m = await alice.next_message(timeout=15)
                except asyncio.TimeoutError:
                    raise AssertionError('got %s; log: %s' % ([m['id'] for m in got], self.server.log_text()[-4000:]))
                if m['id'].startswith('o'):
                    got.append(m)
            self.assertEqual([m['id'] for m in got], ['o0', 'o1', 'o2'], 'from offline storage, in order')
            for m in got:
                self.assertTrue(m['delay']['stamp'], 'with a XEP-0203 delay')
            await bob.bye()
            await alice.bye()
        run(conversation(), timeout=60)


if __name__ == '__main__':
    unittest.main()
