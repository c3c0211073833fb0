"""The blocking command (XEP-0191) through real slixmpp clients on two
workers, with the roster module: blocking stops messages, iqs and presence
both ways (the blocked contact sees the user go offline; the user gets
not-acceptable with <blocked/> for what they send it); pushes reach the
resources that fetched the list; unblocking brings presence back; the list
survives a restart; bad requests get the right errors."""
import asyncio
import os
import time
import unittest
import xml.etree.ElementTree as ET

from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from clients import online, ping
from harness import DOMAIN, ParleyServer, ServerTestCase, run, worker_of

NS = 'urn:xmpp:blocking'
ERRORS = 'urn:xmpp:blocking:errors'
PLUGINS = ('xep_0030', 'xep_0191', 'xep_0199')
MODULES = ('disco', 'ping', 'roster', 'blocking')


def jid(node, resource=None):
    return '%s@%s' % (node, DOMAIN) + ('/' + resource if resource else '')


def record(client):
    """Every message and presence the client receives, in order, as text:
    'message BODY' / 'message error CONDITION[+blocked]' / 'presence FROM
    TYPE STATUS'; and the blocklist pushes."""
    client.log = asyncio.Queue()
    client.pushes = []

    def on_message(m):
        if m['type'] == 'error':
            blocked = m.xml.find('{jabber:client}error/{%s}blocked' % ERRORS) is not None
            client.log.put_nowait('message error %s%s' % (m['error']['condition'], '+blocked' if blocked else ''))
        else:
            client.log.put_nowait('message %s' % m['body'])

    def on_presence(p):
        if p['from'].bare == client.boundjid.bare:
            return  # the account's own resources
        if p['type'] == 'error':
            blocked = p.xml.find('{jabber:client}error/{%s}blocked' % ERRORS) is not None
            client.log.put_nowait('presence %s error %s%s' % (p['from'], p['error']['condition'],
                                                              '+blocked' if blocked else ''))
        else:
            client.log.put_nowait('presence %s %s %s' % (p['from'], p['type'], p['status']))

    client.register_handler(Callback('all messages', MatchXPath('{jabber:client}message'), on_message))
    client.register_handler(Callback('all presence', MatchXPath('{jabber:client}presence'), on_presence))
    client.add_event_handler('blocked', lambda iq: client.pushes.append(
        'block ' + ' '.join(sorted(str(j) for j in iq['block']['items']))))
    client.add_event_handler('unblocked', lambda iq: client.pushes.append(
        ('unblock ' + ' '.join(sorted(str(j) for j in iq['unblock']['items']))).strip()))
    return client


async def next_of(client, timeout=10):
    return await asyncio.wait_for(client.log.get(), timeout)


async def until(client, marker, timeout=10):
    """What the client received before `marker` (bounded)."""
    before = []
    for _ in range(30):
        d = await next_of(client, timeout)
        if d == marker:
            return before
        before.append(d)
    raise AssertionError('%s never came; got %r' % (marker, before))


async def wait_pushes(client, n, timeout=10):
    deadline = time.monotonic() + timeout
    while len(client.pushes) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return client.pushes


async def user(server, node, resource, presence=True):
    c = await online(server, node, resource=resource, plugins=PLUGINS, presence=False)
    record(c)
    c.roster.auto_authorize = None
    c.roster.auto_subscribe = False
    if presence:
        c.send_presence()
        await asyncio.wait_for(asyncio.shield(c.available), 15)
    return c


async def on_two_workers(server, node):
    """Three sessions of `node`, not all on one worker (bounded tries)."""
    first = await user(server, node, 'r0')
    second = await user(server, node, 'r1')
    workers = {worker_of(server, c.boundjid.full) for c in (first, second)}
    for i in range(2, 18):
        c = await user(server, node, 'r%d' % i)
        if len(workers | {worker_of(server, c.boundjid.full)}) > 1:
            return first, second, c
        await c.bye()
    raise AssertionError('could not get sessions of %s on two workers' % node)


async def expect_iq_error(coro, condition):
    try:
        await coro
    except IqError as e:
        assert e.condition == condition, 'expected %s, got %s' % (condition, e.condition)
        return e.iq
    raise AssertionError('expected an iq error %s' % condition)


async def subscribe_both_ways(a, a_log, b, b_log):
    """The RFC 6121 handshake between two online clients; each then has the
    other's presence (read from the logs)."""
    a.send_presence(pto=a_log, ptype='subscribe')
    b.send_presence(pto=b_log, ptype='subscribed')
    b.send_presence(pto=b_log, ptype='subscribe')
    a.send_presence(pto=a_log, ptype='subscribed')


class Blocking(ServerTestCase):
    users = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank')
    settings = dict(modules=MODULES)

    def test_disco_advertises_blocking(self):
        async def go():
            a = await user(self.server, 'frank', 'disco')
            info = await a['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            self.assertIn(NS, info['disco_info']['features'])
            await a.bye()
        run(go())

    def test_nothing_passes_either_way_message_iq_or_presence(self):
        async def go():
            alice = await user(self.server, 'alice', 'a')
            bob = await user(self.server, 'bob', 'b')
            carol = await user(self.server, 'carol', 'c')
            # Before: bob reaches alice.
            await ping(bob, alice.boundjid.full)
            bob.send_message(mto=jid('alice'), mbody='hello before', mtype='chat')
            self.assertEqual(await next_of(alice), 'message hello before')
            await alice['xep_0191'].block(jid('bob'), timeout=10)

            # bob to alice: as if she were offline.
            bob.send_message(mto=jid('alice'), mbody='are you there', mtype='chat')
            self.assertEqual(await next_of(bob), 'message error service-unavailable')
            await expect_iq_error(ping(bob, alice.boundjid.full), 'service-unavailable')
            bob.send_presence(pto=alice.boundjid.full, pstatus='see me')
            bob.send_presence(pto=jid('alice'), ptype='subscribe')
            carol.send_message(mto=jid('alice'), mbody='marker from carol', mtype='chat')
            self.assertEqual(await until(alice, 'message marker from carol'), [],
                             'nothing of bob reaches alice')

            # alice to bob: refused, with the reason.
            alice.send_message(mto=jid('bob'), mbody='go away', mtype='chat')
            self.assertEqual(await next_of(alice), 'message error not-acceptable+blocked')
            err = await expect_iq_error(ping(alice, bob.boundjid.full), 'not-acceptable')
            self.assertIsNotNone(err.xml.find('{jabber:client}error/{%s}blocked' % ERRORS))
            alice.send_presence(pto=bob.boundjid.full, pstatus='hidden')
            self.assertEqual(await next_of(alice), 'presence %s error not-acceptable+blocked' % bob.boundjid.full)
            carol.send_message(mto=jid('bob'), mbody='marker for bob', mtype='chat')
            self.assertEqual(await until(bob, 'message marker for bob'), [], 'nothing of alice reaches bob')

            # Both block each other: each is told of their own block first.
            await bob['xep_0191'].block(jid('alice'), timeout=10)
            alice.send_message(mto=jid('bob'), mbody='still no', mtype='chat')
            self.assertEqual(await next_of(alice), 'message error not-acceptable+blocked')
            bob.send_message(mto=jid('alice'), mbody='nor me', mtype='chat')
            self.assertEqual(await next_of(bob), 'message error not-acceptable+blocked')
            await bob['xep_0191'].unblock(jid('alice'), timeout=10)

            # Unblocked: bob reaches alice again.
            await alice['xep_0191'].unblock(jid('bob'), timeout=10)
            bob.send_message(mto=jid('alice'), mbody='hello again', mtype='chat')
            self.assertEqual(await until(alice, 'message hello again'), [])
            await ping(bob, alice.boundjid.full)
            for c in (alice, bob, carol):
                await c.bye()
        run(go(), timeout=120)

    def test_pushes_go_to_the_resources_that_fetched_the_list(self):
        async def go():
            d1, d2, d3 = await on_two_workers(self.server, 'dave')
            for c in (d1, d2):
                got = await c['xep_0191'].get_blocked(timeout=10)
                self.assertEqual(got['blocklist']['items'], set())
            await d1['xep_0191'].block([jid('frank'), 'spam.example'], timeout=10)
            for c in (d1, d2):
                self.assertEqual(await wait_pushes(c, 1), ['block frank@%s spam.example' % DOMAIN])
            got = await d3['xep_0191'].get_blocked(timeout=10)
            self.assertEqual({str(j) for j in got['blocklist']['items']}, {jid('frank'), 'spam.example'})
            # d3 asked only now: it gets the next push, not the first.
            await d2['xep_0191'].unblock('spam.example', timeout=10)
            self.assertEqual(await wait_pushes(d3, 1), ['unblock spam.example'])
            # Unblocking everything: an empty <unblock/> to all three.
            iq = d1.make_iq_set()
            iq.append(ET.Element('{%s}unblock' % NS))
            await iq.send(timeout=10)
            for c, n in ((d1, 3), (d2, 3), (d3, 2)):
                self.assertEqual((await wait_pushes(c, n))[-1], 'unblock')
            got = await d1['xep_0191'].get_blocked(timeout=10)
            self.assertEqual(got['blocklist']['items'], set())
            for c in (d1, d2, d3):
                await c.bye()
        run(go(), timeout=120)

    def test_bad_requests_get_the_right_errors(self):
        async def go():
            f = await user(self.server, 'frank', 'bad')
            iq = f.make_iq_set()
            iq.append(ET.Element('{%s}block' % NS))
            await expect_iq_error(iq.send(timeout=10), 'bad-request')
            iq = f.make_iq_set()
            b = ET.SubElement(iq.xml, '{%s}block' % NS)
            ET.SubElement(b, '{%s}item' % NS, jid='not@a@jid')
            await expect_iq_error(iq.send(timeout=10), 'jid-malformed')
            # Someone else's list: what an account with nothing to answer gives.
            iq = f.make_iq_get(ito=jid('alice'))
            iq.append(ET.Element('{%s}blocklist' % NS))
            await expect_iq_error(iq.send(timeout=10), 'service-unavailable')
            await f.bye()
        run(go())

    def test_presence_with_a_subscribed_contact(self):
        async def go():
            erin = await user(self.server, 'erin', 'e')
            carol = await user(self.server, 'carol', 'pres')
            e, c = erin.boundjid.full, carol.boundjid.full
            # A subscription both ways, then each has the other's presence.
            erin.send_presence(pto=jid('carol'), ptype='subscribe')
            await until(carol, 'presence %s subscribe ' % jid('erin'))
            carol.send_presence(pto=jid('erin'), ptype='subscribed')
            carol.send_presence(pto=jid('erin'), ptype='subscribe')
            await until(erin, 'presence %s subscribe ' % jid('carol'))
            erin.send_presence(pto=jid('carol'), ptype='subscribed')
            carol.send_presence(pstatus='carol here')
            erin.send_presence(pstatus='erin here')
            await until(erin, 'presence %s available carol here' % c)
            await until(carol, 'presence %s available erin here' % e)
            # What each may still receive from before (approvals, and the
            # presence they send along) is skipped below, never what follows.
            stale = {'presence %s available %s' % (who, status) for who in (e, c)
                     for status in ('', 'carol here', 'erin here')}

            async def next_presence(client, of):
                for _ in range(20):
                    d = await next_of(client)
                    if d.startswith('presence %s ' % of) and d not in stale:
                        return d
                raise AssertionError('no presence from %s' % of)

            # erin blocks carol: carol sees erin go; updates stop both ways.
            await erin['xep_0191'].block(jid('carol'), timeout=10)
            self.assertEqual(await next_presence(carol, e), 'presence %s unavailable ' % e)
            erin.send_presence(pstatus='erin while blocking')
            carol.send_presence(pstatus='carol while blocked')
            carol.send_message(mto=jid('erin'), mbody='psst', mtype='chat')
            before = await until(carol, 'message error service-unavailable')
            self.assertEqual([d for d in before if d not in stale], [], "erin's update does not reach carol")
            # Unblocking: each gets the other's current presence, once, and
            # nothing of what was sent meanwhile.
            await erin['xep_0191'].unblock(jid('carol'), timeout=10)
            self.assertEqual(await next_presence(carol, e), 'presence %s available erin while blocking' % e)
            self.assertEqual(await next_presence(erin, c), 'presence %s available carol while blocked' % c)
            erin.send_presence(pstatus='erin after')
            carol.send_presence(pstatus='carol after')
            self.assertEqual(await next_presence(carol, e), 'presence %s available erin after' % e)
            self.assertEqual(await next_presence(erin, c), 'presence %s available carol after' % c)
            await erin.bye()
            await carol.bye()
        run(go(), timeout=120)


class BlockingAcrossRestart(unittest.TestCase):
    def test_the_list_survives_a_restart(self):
        server = ParleyServer(modules=MODULES)
        try:
            for n in ('alice', 'bob'):
                server.add_user(n, 'secret')
            server.start()

            async def before():
                a = await user(server, 'alice', 'a')
                await a['xep_0191'].block(jid('bob'), timeout=10)
                await a.bye()
            run(before())
            server.stop()
            # A fresh log: start() waits for the ready line of this run.
            os.rename(server.log_path, server.log_path + '.before')
            server.start()

            async def after():
                a = await user(server, 'alice', 'a2')
                b = await user(server, 'bob', 'b')
                got = await a['xep_0191'].get_blocked(timeout=10)
                self.assertEqual({str(j) for j in got['blocklist']['items']}, {jid('bob')})
                b.send_message(mto=jid('alice'), mbody='remember me?', mtype='chat')
                self.assertEqual(await next_of(b), 'message error service-unavailable')
                a.send_message(mto=jid('bob'), mbody='no', mtype='chat')
                self.assertEqual(await next_of(a), 'message error not-acceptable+blocked')
                await a.bye()
                await b.bye()
            run(after())
            server.stop()
        finally:
            server.cleanup()


if __name__ == '__main__':
    unittest.main()
