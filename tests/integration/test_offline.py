"""Offline messages (XEP-0160) through real slixmpp clients on two workers:
a message to an offline user is kept and delivered at login, in order, with
the server's delay stamp; what is never stored; the quota; two resources
coming online at once; kill -9 with messages stored; and no account
enumeration. A sender knows its earlier messages are settled (stored or
bounced) once the server answers a ping sent after them: the server keeps a
sender's order, and a ping waits behind a message being stored."""
import asyncio
import datetime
import os
import signal
import unittest

from clients import online, ping
from harness import ParleyServer, ServerTestCase, DOMAIN, run, worker_of

MODULES = ('disco', 'ping', 'version', 'time', 'offline')
PLUGINS = ('xep_0030', 'xep_0199', 'xep_0203')


async def settled(client):
    """Returns once every message `client` sent before is stored or bounced."""
    await ping(client, DOMAIN, timeout=20)


def drain(client):
    """What `client` has received and not read yet."""
    out = []
    while not client.messages.empty():
        out.append(client.messages.get_nowait())
    return out


async def collect(client, n, timeout=20):
    return [await client.next_message(timeout) for _ in range(n)]


async def online_on_both_workers(server, a, b):
    """Sessions of accounts a and b on different workers (bounded tries)."""
    first = await online(server, a, resource='w', plugins=PLUGINS)
    wa = worker_of(server, '%s@%s/w' % (a, DOMAIN))
    for i in range(24):
        c = await online(server, b, resource='w%d' % i, plugins=PLUGINS)
        if worker_of(server, '%s@%s/w%d' % (b, DOMAIN, i)) != wa:
            return first, c
        await c.bye()
    raise AssertionError('could not get sessions on both workers')


class Offline(ServerTestCase):
    users = ('alice', 'bob', 'carol', 'dave', 'erin', 'gina')
    settings = dict(modules=MODULES)

    def test_messages_to_an_offline_user_arrive_at_login_in_order_with_the_servers_delay(self):
        async def conversation():
            alice, carol = await online_on_both_workers(self.server, 'alice', 'carol')
            before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
            for i in range(20):
                alice.send_message(mto='bob@' + DOMAIN, mbody='from alice %d' % i, mtype='chat')
                carol.send_message(mto='bob@' + DOMAIN, mbody='from carol %d' % i)  # no type: normal
            await settled(alice)
            await settled(carol)
            self.assertEqual(drain(alice) + drain(carol), [], 'a message kept for an offline user is not bounced')

            bob = await online(self.server, 'bob', resource='phone', plugins=PLUGINS)
            got = await collect(bob, 40)
            after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
            bodies = [m['body'] for m in got]
            self.assertEqual([b for b in bodies if 'alice' in b], ['from alice %d' % i for i in range(20)])
            self.assertEqual([b for b in bodies if 'carol' in b], ['from carol %d' % i for i in range(20)])
            for m in got:
                self.assertEqual(m['delay']['from'].full, DOMAIN, 'XEP-0203: the server says it kept it')
                stamp = m['delay']['stamp']
                self.assertTrue(before <= stamp <= after, 'delay stamp %s' % stamp)
                self.assertEqual(m['from'].bare, 'alice@' + DOMAIN if 'alice' in m['body'] else 'carol@' + DOMAIN)
            # Delivered once: the next login gets only what is new.
            await bob.bye()
            bob = await online(self.server, 'bob', resource='phone', plugins=PLUGINS)
            alice.send_message(mto=bob.boundjid.full, mbody='live', mtype='chat')
            m = await bob.next_message()
            self.assertEqual(m['body'], 'live', 'stored messages are deleted once delivered')
            info = await alice['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            self.assertIn('msgoffline', info['disco_info']['features'])
            for c in (bob, alice, carol):
                await c.bye()
        run(conversation(), timeout=180)

    def test_headlines_are_not_stored_and_an_offline_full_jid_falls_back_to_the_account(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='h', plugins=PLUGINS)
            alice.send_message(mto='dave@' + DOMAIN, mbody='news', mtype='headline')
            alice.send_message(mto='dave@%s/phone' % DOMAIN, mbody='to a resource that is not online', mtype='chat')
            await settled(alice)
            self.assertEqual(drain(alice), [])
            dave = await online(self.server, 'dave', resource='laptop', plugins=PLUGINS)
            m = await dave.next_message()
            self.assertEqual(m['body'], 'to a resource that is not online', 'the headline was not kept')
            self.assertEqual(m['delay']['from'].full, DOMAIN)
            await dave.bye()
            await alice.bye()
        run(conversation())

    def test_an_unknown_account_is_bounced_as_before_and_an_existing_offline_one_is_not(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='e', plugins=PLUGINS)
            alice.send_message(mto='nobody@' + DOMAIN, mbody='hello?', mtype='chat')
            alice.send_message(mto='erin@' + DOMAIN, mbody='hello!', mtype='chat')
            await settled(alice)
            got = drain(alice)
            self.assertEqual(len(got), 1, [str(m) for m in got])
            err = got[0]
            self.assertEqual(err['type'], 'error')
            self.assertEqual(err['from'].bare, 'nobody@' + DOMAIN)
            # The router's one answer for unknown and unavailable accounts
            # (recipient_unavailable, server/errors/stanza_error.hpp), unchanged.
            self.assertEqual(err['error']['type'], 'cancel')
            self.assertEqual(err['error']['condition'], 'service-unavailable')
            self.assertEqual(err['error']['text'], 'the recipient is not available')
            await alice.bye()
        run(conversation())

    def test_two_resources_coming_online_at_once_receive_each_message_once_in_total(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='t', plugins=PLUGINS)
            for i in range(30):
                alice.send_message(mto='gina@' + DOMAIN, mbody='m%d' % i, mtype='chat')
            await settled(alice)
            self.assertEqual(drain(alice), [])
            one, two = await asyncio.gather(online(self.server, 'gina', resource='one', plugins=PLUGINS),
                                            online(self.server, 'gina', resource='two', plugins=PLUGINS))
            received = []
            # Whichever resource gets them: wait on both queues at once.
            waits = {asyncio.ensure_future(c.messages.get()): c for c in (one, two)}
            try:
                while len(received) < 30:
                    done, _ = await asyncio.wait(waits, timeout=20, return_when=asyncio.FIRST_COMPLETED)
                    self.assertTrue(done, 'only %d of 30 stored messages arrived' % len(received))
                    for t in done:
                        c = waits.pop(t)
                        received.append(t.result()['body'])
                        waits[asyncio.ensure_future(c.messages.get())] = c
            finally:
                for t in waits:
                    t.cancel()  # a cancelled get takes nothing from its queue
            # Anything delivered twice would come before these.
            for c in (one, two):
                alice.send_message(mto=c.boundjid.full, mbody='marker', mtype='chat')
            for c in (one, two):
                while True:
                    m = await c.next_message()
                    if m['body'] == 'marker':
                        break
                    received.append(m['body'])
            self.assertEqual(sorted(received), sorted('m%d' % i for i in range(30)),
                             'each stored message exactly once over both resources')
            for c in (one, two, alice):
                await c.bye()
        run(conversation(), timeout=120)


class OfflineLimits(ServerTestCase):
    users = ('alice', 'bob')
    settings = dict(modules=MODULES,
                    module_options={'offline': 'max_messages_per_user = 5\nmax_message_bytes = 2048'})

    def test_a_full_queue_bounces_with_resource_constraint_and_a_large_message_with_policy_violation(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='q', plugins=PLUGINS)
            for i in range(6):
                alice.send_message(mto='bob@' + DOMAIN, mbody='m%d' % i, mtype='chat')
            await settled(alice)
            got = drain(alice)
            self.assertEqual(len(got), 1, [str(m) for m in got])
            self.assertEqual(got[0]['type'], 'error')
            self.assertEqual(got[0]['error']['condition'], 'resource-constraint')
            self.assertEqual(got[0]['error']['type'], 'wait')
            self.assertIn('full', got[0]['error']['text'])
            self.assertEqual(got[0]['body'], 'm5', 'the sixth message is the one refused')

            alice.send_message(mto='bob@' + DOMAIN, mbody='x' * 3000, mtype='chat')
            await settled(alice)
            got = drain(alice)
            self.assertEqual(len(got), 1)
            # slixmpp 1.8 knows only RFC 3920's conditions: read the element.
            cond = got[0].xml.find('{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}policy-violation')
            self.assertIsNotNone(cond, str(got[0]))
            self.assertEqual(got[0]['error']['type'], 'modify')
            self.assertIn('2048', got[0]['error']['text'])

            bob = await online(self.server, 'bob', plugins=PLUGINS)
            got = await collect(bob, 5)
            self.assertEqual([m['body'] for m in got], ['m%d' % i for i in range(5)])
            # The queue is empty again: room for new messages.
            await bob.bye()
            alice.send_message(mto='bob@' + DOMAIN, mbody='again', mtype='chat')
            await settled(alice)
            self.assertEqual(drain(alice), [])
            await alice.bye()
        run(conversation(), timeout=120)


class OfflineCrash(unittest.TestCase):
    def test_stored_messages_survive_kill_9(self):
        server = ParleyServer(modules=MODULES, log='level = "info"')
        try:
            for node in ('alice', 'bob'):
                server.add_user(node, 'secret')
            server.start()

            async def before_the_crash():
                alice = await online(server, 'alice', resource='k', plugins=PLUGINS)
                for i in range(200):
                    alice.send_message(mto='bob@' + DOMAIN, mbody='%d' % i, mtype='chat')
                    if i % 50 == 49:
                        await settled(alice)
                self.assertEqual(drain(alice), [], 'all 200 stored')
                # 100 more in flight when parleyd is killed.
                for i in range(200, 300):
                    alice.send_message(mto='bob@' + DOMAIN, mbody='%d' % i, mtype='chat')
                server.signal(signal.SIGKILL)
                server.proc.wait(timeout=10)
            run(before_the_crash())

            server.log.close()
            os.rename(server.log_path, server.log_path + '.killed')  # "ready" must come from the new process
            server.start()

            async def after_the_restart():
                alice = await online(server, 'alice', resource='k2', plugins=PLUGINS)
                # Stored after whatever survived: the end of the queue.
                alice.send_message(mto='bob@' + DOMAIN, mbody='end', mtype='chat')
                await settled(alice)
                self.assertEqual(drain(alice), [])
                bob = await online(server, 'bob', plugins=PLUGINS)
                bodies = []
                while True:
                    m = await bob.next_message(timeout=20)
                    if m['body'] == 'end':
                        break
                    bodies.append(m['body'])
                numbers = [int(b) for b in bodies]
                self.assertEqual(numbers[:200], list(range(200)), 'no stored message lost, in order')
                # Of those in flight, a prefix was committed: in order, no duplicate.
                self.assertEqual(numbers[200:], list(range(200, len(numbers))))
                await bob.bye()
                await alice.bye()
            run(after_the_restart(), timeout=120)
            server.stop()
        finally:
            server.cleanup()


if __name__ == '__main__':
    unittest.main()
