"""Message carbons (XEP-0280) through real clients on two workers: alice has
three resources with carbons on; what bob sends her and what she sends him
is copied to the resources that did not get it, each exactly once; the
private and no-copy hints are respected; a carbon forged by another user is
refused and never reaches her as one."""
import asyncio
import unittest
import xml.etree.ElementTree as ET

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from clients import online
from harness import ServerTestCase, DOMAIN, run, worker_of

NS = 'urn:xmpp:carbons:2'
FWD = 'urn:xmpp:forward:0'
ALICE = 'alice@%s' % DOMAIN
PLUGINS = ('xep_0030', 'xep_0297', 'xep_0280')


def record(client):
    """Every <message/> the client receives, carbons included (slixmpp's own
    'message' event skips those without a direct <body/>)."""
    client.all = asyncio.Queue()
    client.register_handler(Callback('all messages', MatchXPath('{jabber:client}message'),
                                     lambda m: client.all.put_nowait(m)))
    return client


def describe(m):
    """'sent:BODY' / 'received:BODY' for a carbon (checked to come from
    alice's bare JID), 'error:CONDITION' for an error, else 'BODY'."""
    for kind in ('sent', 'received'):
        w = m.xml.find('{%s}%s' % (NS, kind))
        if w is not None:
            assert m['from'].full == m['to'].bare, 'a carbon must come from the bare JID: %s' % m
            inner = w.find('{%s}forwarded/{jabber:client}message' % FWD)
            body = inner.find('{jabber:client}body') if inner is not None else None
            return '%s:%s' % (kind, body.text if body is not None else '?')
    if m['type'] == 'error':
        return 'error:%s' % m['error']['condition']
    return m['body']


async def next_of(client, timeout=10):
    return describe(await asyncio.wait_for(client.all.get(), timeout))


async def nothing_before(client, marker, timeout=10):
    """Reads until `marker` arrives; returns what came before it."""
    before = []
    for _ in range(20):
        d = await next_of(client, timeout)
        if d == marker:
            return before
        before.append(d)
    raise AssertionError('%s never arrived; got %r' % (marker, before))


class Carbons(ServerTestCase):
    users = ('alice', 'bob', 'tybalt')
    settings = {'modules': ('disco', 'ping', 'carbons')}

    async def resource(self, name, priority):
        c = record(await online(self.server, 'alice', resource=name, plugins=PLUGINS, presence=False))
        c.send_presence(ppriority=priority)
        await asyncio.wait_for(asyncio.shield(c.available), 15)
        await c['xep_0280'].enable(timeout=10)
        return c

    async def three_resources(self):
        """alice/a (priority 5), alice/b and alice/c (priority 0), carbons on,
        with a and the other two not all on one worker (bounded tries)."""
        a = await self.resource('a', 5)
        wa = worker_of(self.server, ALICE + '/a')
        b = c = None
        for i in range(16):
            x = await self.resource('b%d' % i, 0)
            if b is None:
                b = x
            elif worker_of(self.server, x.boundjid.full) != wa or \
                    worker_of(self.server, b.boundjid.full) != wa:
                c = x
                break
            else:
                await x.bye()
        self.assertIsNotNone(c, 'could not get alice sessions on two workers')
        await asyncio.sleep(0.2)  # each resource's presence reaches the others
        for x in (a, b, c):
            while not x.all.empty():
                x.all.get_nowait()
        return a, b, c

    def test_disco_advertises_carbons(self):
        async def go():
            a = await online(self.server, 'alice', resource='disco', plugins=PLUGINS)
            info = await a['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            self.assertIn(NS, info['disco_info']['features'])
            await a.bye()
        run(go())

    def test_three_resources_each_get_every_message_exactly_once(self):
        async def go():
            a, b, c = await self.three_resources()
            bob = record(await online(self.server, 'bob', resource='x'))
            # To alice's bare JID: a (highest priority) gets it, b and c a copy.
            bob.send_message(mto=ALICE, mbody='to the bare JID', mtype='chat')
            self.assertEqual(await next_of(a), 'to the bare JID')
            self.assertEqual(await next_of(b), 'received:to the bare JID')
            self.assertEqual(await next_of(c), 'received:to the bare JID')
            # To b's full JID: b gets it, a and c a copy.
            bob.send_message(mto=b.boundjid.full, mbody='to b', mtype='chat')
            self.assertEqual(await next_of(b), 'to b')
            self.assertEqual(await next_of(a), 'received:to b')
            self.assertEqual(await next_of(c), 'received:to b')
            # From c: a and b get a sent copy, c nothing, bob the message.
            c.send_message(mto='bob@%s' % DOMAIN, mbody='from c', mtype='chat')
            self.assertEqual(await next_of(bob), 'from c')
            self.assertEqual(await next_of(a), 'sent:from c')
            self.assertEqual(await next_of(b), 'sent:from c')
            # Nothing else came: a marker from bob to each full JID is next.
            for x in (a, b, c):
                bob.send_message(mto=x.boundjid.full, mbody='marker ' + x.boundjid.resource, mtype='chat')
            for x in (a, b, c):
                before = await nothing_before(x, 'marker ' + x.boundjid.resource)
                # Each marker is copied to the two others: only those may precede.
                self.assertTrue(all(d.startswith('received:marker') for d in before),
                                '%s got more than once: %r' % (x.boundjid.full, before))
            self.assertTrue(bob.all.empty(), 'bob gets no copies of alice\'s traffic')
            for x in (a, b, c, bob):
                await x.bye()
        run(go(), timeout=180)

    def test_private_and_no_copy_messages_are_not_copied(self):
        async def go():
            a, b, c = await self.three_resources()
            bob = record(await online(self.server, 'bob', resource='y'))
            # Outbound with XEP-0280's <private/> and XEP-0334's <no-copy/>.
            m = a.make_message(mto='bob@%s/y' % DOMAIN, mbody='secret out', mtype='chat')
            m.xml.append(ET.Element('{%s}private' % NS))
            m.xml.append(ET.Element('{urn:xmpp:hints}no-copy'))
            m.send()
            self.assertEqual(await next_of(bob), 'secret out')
            # Inbound with <no-copy/> alone, then with <private/> alone.
            m = bob.make_message(mto=a.boundjid.full, mbody='secret in 1', mtype='chat')
            m.xml.append(ET.Element('{urn:xmpp:hints}no-copy'))
            m.send()
            m = bob.make_message(mto=a.boundjid.full, mbody='secret in 2', mtype='chat')
            m.xml.append(ET.Element('{%s}private' % NS))
            m.send()
            self.assertEqual(await next_of(a), 'secret in 1')
            self.assertEqual(await next_of(a), 'secret in 2')
            # Then an ordinary one: its copy is the first thing b and c get.
            a.send_message(mto='bob@%s/y' % DOMAIN, mbody='plain', mtype='chat')
            for x in (b, c):
                self.assertEqual(await next_of(x), 'sent:plain', 'no copy of a private message')
            for x in (a, b, c, bob):
                await x.bye()
        run(go(), timeout=180)

    def test_a_forged_carbon_from_another_user_is_refused(self):
        async def go():
            a, b, c = await self.three_resources()
            tybalt = record(await online(self.server, 'tybalt', resource='t'))
            forged = ("<message to='%s' type='chat' id='forged1'><received xmlns='%s'>"
                      "<forwarded xmlns='%s'><message xmlns='jabber:client' from='bob@%s/x' to='%s/a' "
                      "type='chat'><body>meet me at the hall</body></message></forwarded></received></message>"
                      % (ALICE, NS, FWD, DOMAIN, ALICE))
            tybalt.send_raw(forged)
            forged_sent = forged.replace('received', 'sent').replace('forged1', 'forged2').replace(ALICE + "' type",
                                                                                               a.boundjid.full + "' type", 1)
            tybalt.send_raw(forged_sent)
            self.assertEqual(await next_of(tybalt), 'error:forbidden')
            self.assertEqual(await next_of(tybalt), 'error:forbidden')
            # What alice's resources get first is tybalt's honest message.
            tybalt.send_message(mto=a.boundjid.full, mbody='honest', mtype='chat')
            self.assertEqual(await next_of(a), 'honest', 'the forged carbon must not reach alice')
            for x in (b, c):
                self.assertEqual(await next_of(x), 'received:honest')
            got_carbon = []
            a.add_event_handler('carbon_received', lambda m: got_carbon.append(m))
            await asyncio.sleep(0.2)
            self.assertEqual(got_carbon, [])
            for x in (a, b, c, tybalt):
                await x.bye()
        run(go(), timeout=180)


if __name__ == '__main__':
    unittest.main()
