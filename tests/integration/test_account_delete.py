"""A deleted account's data goes with it (Host::on_account_deleted), on two
workers with every everyday-IM module that keeps data per account: after
`parleyctl user del`, parleyd's worker 0 has the roster, offline, PEP, vCard,
last activity and blocking modules remove what they keep about the account,
logs it, and only then lets the name be registered again. A new account of
the same name starts empty: no roster, no offline message, no vCard, no PEP
node, no last activity, no blocklist; and the old account's contacts keep an
item without a subscription. An account deleted while parleyd is down is
purged when it starts; until then `user add` of the name is refused."""
import asyncio
import os
import re
import socket
import time

from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

from clients import PresenceRecorder as Recorder, Client, online, ping
from harness import DOMAIN, ParleyServer, ServerTestCase, run

MODULES = ('disco', 'ping', 'roster', 'offline', 'pep', 'vcard', 'last', 'blocking')
ROSTER = 'jabber:iq:roster'
VCARD = 'vcard-temp'
PUBSUB = 'http://jabber.org/protocol/pubsub'
TUNE = 'http://jabber.org/protocol/tune'
BLOCKING = 'urn:xmpp:blocking'
LAST = 'jabber:iq:last'
PLUGINS = ('xep_0030', 'xep_0199')  # ping: a sender's earlier stanzas are settled once it is answered
PURGED = r'the data of deleted account %s@%s is removed'


def jid(node, resource=None):
    return '%s@%s' % (node, DOMAIN) + ('/' + resource if resource else '')


async def exchange(client, itype, payload, to=None):
    """Sends an iq of `itype` with `payload` (XML text); returns the reply,
    result or error."""
    iq = client.make_iq_set(ito=to) if itype == 'set' else client.make_iq_get(ito=to)
    iq.append(ET.fromstring(payload))
    try:
        return await iq.send(timeout=10)
    except IqError as e:
        return e.iq


def condition(reply):
    return reply['error']['condition'] if reply['type'] == 'error' else None


async def roster_of(client):
    """{jid: subscription} as the server returns it."""
    reply = await exchange(client, 'get', "<query xmlns='%s'/>" % ROSTER)
    assert reply['type'] == 'result', reply
    q = reply.xml.find('{%s}query' % ROSTER)
    return {i.get('jid'): i.get('subscription') for i in q.findall('{%s}item' % ROSTER)}


async def blocklist_of(client):
    reply = await exchange(client, 'get', "<blocklist xmlns='%s'/>" % BLOCKING)
    assert reply['type'] == 'result', reply
    return sorted(i.get('jid') for i in reply.xml.find('{%s}blocklist' % BLOCKING))


async def vcard_fn(client):
    """The FN of the account's own vCard; None for the empty one."""
    reply = await exchange(client, 'get', "<vCard xmlns='%s'/>" % VCARD)
    assert reply['type'] == 'result', reply
    f = reply.xml.find('{%s}vCard/{%s}FN' % (VCARD, VCARD))
    return f.text if f is not None else None


async def tune_items(client, owner):
    """The ids of the tune node of `owner` as `client` reads them, or the
    error condition."""
    reply = await exchange(client, 'get', "<pubsub xmlns='%s'><items node='%s'/></pubsub>" % (PUBSUB, TUNE),
                           to=owner)
    if reply['type'] == 'error':
        return condition(reply)
    return [i.get('id') for i in reply.xml.iter('{%s}item' % PUBSUB)]


async def last_of(client, account):
    """The seconds of the account's last activity, or the error condition."""
    reply = await exchange(client, 'get', "<query xmlns='%s'/>" % LAST, to=account)
    if reply['type'] == 'error':
        return condition(reply)
    return int(reply.xml.find('{%s}query' % LAST).get('seconds'))


async def give_data(client, name):
    """A vCard, a PEP item and a blocklist entry, each checked stored."""
    r = await exchange(client, 'set', "<vCard xmlns='%s'><FN>%s</FN></vCard>" % (VCARD, name))
    assert r['type'] == 'result', r
    r = await exchange(client, 'set', "<pubsub xmlns='%s'><publish node='%s'><item id='t1'>"
                                      "<tune xmlns='%s'><title>%s</title></tune></item></publish></pubsub>"
                       % (PUBSUB, TUNE, TUNE, name))
    assert r['type'] == 'result', r
    r = await exchange(client, 'set', "<block xmlns='%s'><item jid='%s'/></block>" % (BLOCKING, jid('mallory')))
    assert r['type'] == 'result', r
    assert await vcard_fn(client) == name
    assert await tune_items(client, client.boundjid.bare) == ['t1']
    assert await blocklist_of(client) == [jid('mallory')]


async def fresh_account_is_empty(test, server, node, sender):
    """Logs the re-created account in and checks that nothing of the old one
    is there; `sender` (online) had sent it a message while it was offline.
    The new account sends no presence until the end, so that last activity
    is what was stored, and offline delivery happens when asked."""
    c = await online(server, node, resource='new', presence=False, plugins=PLUGINS)
    try:
        test.assertEqual(await roster_of(c), {}, 'the new account has an empty roster')
        test.assertIsNone(await vcard_fn(c), 'no vCard')
        test.assertEqual(await tune_items(c, jid(node)), 'item-not-found', 'no PEP node')
        test.assertEqual(await blocklist_of(c), [], 'an empty blocklist')
        test.assertEqual(await last_of(c, jid(node)), 'item-not-found', 'no last activity record')
        # Available now: anything stored for the old account would be
        # delivered. A marker sent afterwards must be the first message.
        c.send_presence()
        await asyncio.wait_for(asyncio.shield(c.available), 15)
        await ping(c, DOMAIN)
        sender.send_message(mto=jid(node), mbody='marker', mtype='chat')
        first = await c.next_message(15)
        test.assertEqual(first['body'], 'marker', 'no offline message of the old account was delivered')
    finally:
        await c.bye()


async def subscribe_both_ways(a, a_node, b, b_node):
    """The RFC 6121 handshake between two online clients, with each step
    awaited."""
    ra, rb = Recorder(a), Recorder(b)
    a.send_presence(pto=jid(b_node), ptype='subscribe')
    await rb.wait(lambda p: p['type'] == 'subscribe', '%s gets the request' % b_node)
    b.send_presence(pto=jid(a_node), ptype='subscribed')
    await ra.wait(lambda p: p['type'] == 'subscribed', '%s hears the approval' % a_node)
    b.send_presence(pto=jid(a_node), ptype='subscribe')
    await ra.wait(lambda p: p['type'] == 'subscribe', '%s gets the request' % a_node)
    a.send_presence(pto=jid(b_node), ptype='subscribed')
    await rb.wait(lambda p: p['type'] == 'subscribed', '%s hears the approval' % b_node)


def control(server, line, timeout=10):
    """One request on parleyd's control socket; returns the answer line."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(os.path.join(server.data, 'parleyd.sock'))
        s.sendall(line.encode() + b'\n')
        got = b''
        while not got.endswith(b'\n'):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return got.decode().strip()
    finally:
        s.close()


def add_user(server, node, check=True):
    return server.ctl('user', 'add', jid(node), input='secret\n', check=check)


class AccountDelete(ServerTestCase):
    users = ('alice', 'bob')
    settings = dict(modules=MODULES)

    def test_a_deleted_accounts_data_goes_and_a_new_account_of_the_name_starts_empty(self):
        async def go():
            alice = await online(self.server, 'alice', resource='a', plugins=PLUGINS)
            bob = await online(self.server, 'bob', resource='b1', plugins=PLUGINS)
            try:
                await subscribe_both_ways(alice, 'alice', bob, 'bob')
                self.assertEqual((await roster_of(alice))[jid('bob')], 'both')
                self.assertEqual((await roster_of(bob))[jid('alice')], 'both')
                await give_data(bob, 'Bob')
                # bob goes: his last activity is recorded; alice, his
                # contact, sees it.
                await bob.bye()
                deadline = time.monotonic() + 10
                while not isinstance(await last_of(alice, jid('bob')), int) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                self.assertIsInstance(await last_of(alice, jid('bob')), int, "bob's last activity is recorded")
                alice.send_message(mto=jid('bob'), mbody='while you were out', mtype='chat')
                await ping(alice, DOMAIN)  # stored before the ping is answered
                # bob back with a negative priority: available (his session
                # ends with the deletion) but not taking the stored message.
                bob = await online(self.server, 'bob', resource='b2', presence=False, plugins=PLUGINS)
                bob.send_presence(ppriority=-1)
                await asyncio.wait_for(asyncio.shield(bob.available), 15)
                await ping(bob, DOMAIN)
                self.assertTrue(bob.messages.empty(), 'the stored message waits for a non-negative priority')

                # parleyctl asks a running parleyd to purge at once: the core
                # answers that request (no module has to).
                self.assertEqual(control(self.server, 'purge'), '{"ok":true}')
                mark = len(self.server.log_text())
                r = self.server.ctl('user', 'del', jid('bob'))
                self.assertIn('deleted %s' % jid('bob'), r.stdout)
                await bob.wait_gone()
                # At once, not at the next round (every minute).
                self.assertTrue(self.server.wait_log(PURGED % ('bob', re.escape(DOMAIN)), timeout=30),
                                'the purge was logged:\n' + self.server.log_text()[mark:][-3000:])
                self.assertNotIn('could not remove the data', self.server.log_text()[mark:])
                # alice keeps bob in her roster, without a subscription.
                deadline = time.monotonic() + 10
                while (await roster_of(alice)).get(jid('bob')) != 'none' and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                self.assertEqual((await roster_of(alice)).get(jid('bob')), 'none',
                                 "alice's item for the deleted bob has no subscription")
                # The name is free again; the new bob starts empty.
                add_user(self.server, 'bob')
                await fresh_account_is_empty(self, self.server, 'bob', alice)
            finally:
                await alice.bye()
                await bob.bye()
        run(go(), timeout=120)


class AccountDeleteWhileDown(ServerTestCase):
    users = ('alice', 'carol')
    settings = dict(modules=MODULES)

    def test_an_account_deleted_while_parleyd_is_down_is_purged_when_it_starts(self):
        async def before():
            alice = await online(self.server, 'alice', resource='a', plugins=PLUGINS)
            carol = await online(self.server, 'carol', resource='c', plugins=PLUGINS)
            try:
                await give_data(carol, 'Carol')
                await carol.bye()
                alice.send_message(mto=jid('carol'), mbody='while you were out', mtype='chat')
                await ping(alice, DOMAIN)
            finally:
                await alice.bye()
                await carol.bye()
        run(before())
        self.server.stop()
        r = self.server.ctl('user', 'del', jid('carol'))
        self.assertIn('deleted %s' % jid('carol'), r.stdout)
        self.assertIn('parleyd is not running', r.stdout)
        self.assertIn('when it starts', r.stdout)
        # The name stays taken until parleyd has removed the old data.
        again = add_user(self.server, 'carol', check=False)
        self.assertNotEqual(again.returncode, 0, 'the name of an account not yet purged is refused')
        self.assertIn('was deleted', again.stderr)
        self.assertNotIn('carol', self.server.ctl('user', 'list', DOMAIN).stdout.split())
        # A new log, so that "ready" and the purge come from the new process.
        os.rename(self.server.log_path, self.server.log_path + '.before-restart')
        self.server.start()
        self.assertTrue(self.server.wait_log(PURGED % ('carol', re.escape(DOMAIN)), timeout=30),
                        'the purge at start was logged:\n' + self.server.log_text()[-3000:])
        self.assertNotIn('could not remove the data', self.server.log_text())
        add_user(self.server, 'carol')

        async def after():
            alice = await online(self.server, 'alice', resource='a2', plugins=PLUGINS)
            try:
                await fresh_account_is_empty(self, self.server, 'carol', alice)
            finally:
                await alice.bye()
        run(after())
