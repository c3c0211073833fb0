"""RFC 6121 with real slixmpp clients on two workers (mod_roster): roster
get/set/push/remove with versioning, the subscription handshake with presence
flowing both ways afterwards and after a re-login, requests to an offline
account delivered at its next login, pre-approval, probes answered only to
subscribers, unavailable presence when a connection drops, directed presence
and its cleanup, and bad roster requests refused with the right error."""
import asyncio
import time
import unittest

from clients import PresenceRecorder as Recorder, Client, online
from harness import DOMAIN, ServerTestCase, run, worker_of

NS = 'jabber:iq:roster'


async def recorded(server, node, resource=None):
    """A logged-in, available client whose Recorder was attached before it
    logged in (what the server sends right after initial presence is kept)."""
    c = Client(jid(node, resource), 'secret', server.ca)
    r = Recorder(c)
    outcome = await c.login(server.starttls_port)
    if outcome != 'session':
        raise AssertionError('%s could not log in: %s' % (node, outcome))
    await asyncio.wait_for(asyncio.shield(c.available), 15)
    return c, r


def jid(node, resource=None):
    return '%s@%s' % (node, DOMAIN) + ('/' + resource if resource else '')


async def roster_of(client):
    """The roster as the server returns it: {jid: (subscription, ask, name, groups)}."""
    iq = client.make_iq_get(queryxmlns=NS)
    reply = await iq.send(timeout=10)
    q = reply.xml.find('{%s}query' % NS)
    out = {}
    for item in q.findall('{%s}item' % NS):
        groups = sorted(g.text for g in item.findall('{%s}group' % NS))
        out[item.get('jid')] = (item.get('subscription'), item.get('ask'), item.get('name'), groups)
    return out, q.get('ver')


class Roster(ServerTestCase):
    users = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivan', 'judy', 'kim', 'lee', 'max', 'nina')
    settings = dict(modules=('disco', 'ping', 'roster'))

    def test_roster_get_set_push_remove_with_versions(self):
        async def go():
            a1 = await online(self.server, 'alice', resource='one')
            a2 = await online(self.server, 'alice', resource='two')
            try:
                roster, ver = await roster_of(a1)
                self.assertEqual(roster, {})
                self.assertIsNotNone(ver, 'the result carries a version')
                await roster_of(a2)  # both resources are interested in pushes
                pushes = []
                a2.add_event_handler('roster_update', pushes.append)
                # A set from one resource reaches the other as a push.
                a1.update_roster(jid('bob'), name='Bob', groups=['Friends', 'Work'])
                deadline = time.monotonic() + 10
                while not pushes and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                self.assertTrue(pushes, 'the other resource got the push')
                push_q = pushes[0].xml.find('{%s}query' % NS)
                self.assertEqual(push_q.find('{%s}item' % NS).get('jid'), jid('bob'))
                roster, ver2 = await roster_of(a2)
                self.assertEqual(roster, {jid('bob'): ('none', None, 'Bob', ['Friends', 'Work'])})
                self.assertNotEqual(ver, ver2, 'the version changed')
                self.assertEqual(push_q.get('ver'), ver2, 'the push carries the new version')
                # Versioning: asking with the current version gives an empty result.
                iq = a1.make_iq_get(queryxmlns=NS)
                iq.xml.find('{%s}query' % NS).set('ver', ver2)
                reply = await iq.send(timeout=10)
                self.assertEqual(reply['type'], 'result')
                self.assertIsNone(reply.xml.find('{%s}query' % NS), 'unchanged roster: empty result')
                # ...and with an older one, the whole roster.
                iq = a1.make_iq_get(queryxmlns=NS)
                iq.xml.find('{%s}query' % NS).set('ver', ver)
                reply = await iq.send(timeout=10)
                self.assertEqual(len(reply.xml.find('{%s}query' % NS).findall('{%s}item' % NS)), 1)
                # Remove.
                a1.del_roster_item(jid('bob'))
                deadline = time.monotonic() + 10
                while len(pushes) < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                self.assertEqual(pushes[1].xml.find('{%s}query/{%s}item' % (NS, NS)).get('subscription'), 'remove')
                roster, _ = await roster_of(a1)
                self.assertEqual(roster, {})
            finally:
                await a1.bye()
                await a2.bye()
        run(go())

    def test_bad_roster_requests_get_the_right_errors(self):
        async def go():
            c = await online(self.server, 'judy')
            try:
                cases = [
                    ("<query xmlns='%s'><item jid='x@%s'/><item jid='y@%s'/></query>" % (NS, DOMAIN, DOMAIN),
                     'bad-request'),
                    ("<query xmlns='%s'><item jid='x@%s/res'/></query>" % (NS, DOMAIN), 'bad-request'),
                    ("<query xmlns='%s'><item jid='x@%s'><group>A</group><group>A</group></item></query>"
                     % (NS, DOMAIN), 'bad-request'),
                    ("<query xmlns='%s'><item jid='x@%s'><group/></item></query>" % (NS, DOMAIN), 'not-acceptable'),
                    ("<query xmlns='%s'><item jid='x@%s' ask='subscribe'/></query>" % (NS, DOMAIN), 'bad-request'),
                    ("<query xmlns='%s'><item jid='%s'/></query>" % (NS, jid('judy')), 'not-allowed'),
                    ("<query xmlns='%s'><item jid='nobody@%s' subscription='remove'/></query>" % (NS, DOMAIN),
                     'item-not-found'),
                ]
                from slixmpp.xmlstream import ET
                for payload, condition in cases:
                    iq = c.make_iq_set()
                    iq.append(ET.fromstring(payload))
                    try:
                        reply = await iq.send(timeout=10)
                        self.fail('%s: accepted (%s)' % (payload, reply))
                    except Exception as e:  # IqError
                        self.assertEqual(e.iq['error']['condition'], condition, payload)
                        self.assertTrue(e.iq['error']['text'], 'the error says why: ' + payload)
                # Another account's roster is not ours to read.
                iq = c.make_iq_get(queryxmlns=NS, ito=jid('alice'))
                try:
                    await iq.send(timeout=10)
                    self.fail("read alice's roster")
                except Exception as e:
                    self.assertEqual(e.iq['error']['condition'], 'forbidden')
            finally:
                await c.bye()
        run(go())

    def test_subscription_handshake_then_presence_both_ways_and_after_relogin(self):
        async def go():
            b = await online(self.server, 'bob', resource='desk')
            a = await online(self.server, 'alice', resource='laptop')
            rb, ra = Recorder(b), Recorder(a)
            try:
                await roster_of(a)
                await roster_of(b)
                # alice asks, bob approves and asks back, alice approves.
                a.send_presence(pto=jid('bob'), ptype='subscribe')
                req = await rb.wait(lambda p: p['type'] == 'subscribe', 'bob gets the request')
                self.assertEqual(str(req['from']), jid('alice'), 'stamped with the bare JID')
                roster, _ = await roster_of(a)
                self.assertEqual(roster[jid('bob')][:2], ('none', 'subscribe'), 'pending out')
                b.send_presence(pto=jid('alice'), ptype='subscribed')
                await ra.wait(lambda p: p['type'] == 'subscribed', 'alice hears the approval')
                # Approving sends bob's presence to his new subscriber.
                await ra.wait(lambda p: p['type'] == 'available' and str(p['from']) == jid('bob', 'desk'),
                              "alice gets bob's presence")
                b.send_presence(pto=jid('alice'), ptype='subscribe')
                await ra.wait(lambda p: p['type'] == 'subscribe', 'alice gets the request back')
                a.send_presence(pto=jid('bob'), ptype='subscribed')
                await rb.wait(lambda p: p['type'] == 'subscribed', 'bob hears the approval')
                await rb.wait(lambda p: p['type'] == 'available' and str(p['from']) == jid('alice', 'laptop'),
                              "bob gets alice's presence")
                ra_roster, _ = await roster_of(a)
                rb_roster, _ = await roster_of(b)
                self.assertEqual(ra_roster[jid('bob')][:2], ('both', None))
                self.assertEqual(rb_roster[jid('alice')][:2], ('both', None))
                # Presence updates flow both ways.
                b.send_presence(pstatus='in a meeting', pshow='dnd')
                p = await ra.wait(lambda p: p['status'] == 'in a meeting', "alice sees bob's update")
                self.assertEqual(p['show'], 'dnd')
                a.send_presence(pstatus='coding')
                await rb.wait(lambda p: p['status'] == 'coding', "bob sees alice's update")
                # alice leaves: bob hears it; she comes back: each hears the other.
                await a.bye()
                await rb.wait(lambda p: p['type'] == 'unavailable' and str(p['from']) == jid('alice', 'laptop'),
                              'bob hears alice go')
                a, ra = await recorded(self.server, 'alice', resource='laptop2')
                await rb.wait(lambda p: p['type'] == 'available' and str(p['from']) == jid('alice', 'laptop2'),
                              'bob hears alice come back')
                p = await ra.wait(lambda p: str(p['from']) == jid('bob', 'desk') and p['type'] != 'unavailable',
                                  "the probe brings bob's current presence to alice")
                self.assertEqual(p['status'], 'in a meeting')
            finally:
                await a.bye()
                await b.bye()
        run(go())

    def test_request_to_an_offline_account_is_delivered_at_its_login(self):
        async def go():
            c = await online(self.server, 'carol')
            rc = Recorder(c)
            try:
                await roster_of(c)
                c.send_presence(pto=jid('dave'), ptype='subscribe', pstatus='it is carol')
                # Stored, not bounced.
                await asyncio.sleep(0.5)
                self.assertEqual(rc.count(lambda p: p['type'] == 'error'), 0)
                d, rd = await recorded(self.server, 'dave')
                req = await rd.wait(lambda p: p['type'] == 'subscribe', 'dave gets the request at his login')
                self.assertEqual(str(req['from']), jid('carol'))
                self.assertEqual(req['status'], 'it is carol', 'with its note')
                await roster_of(d)
                d.send_presence(pto=jid('carol'), ptype='subscribed')
                await rc.wait(lambda p: p['type'] == 'subscribed', 'carol hears the approval')
                roster, _ = await roster_of(c)
                self.assertEqual(roster[jid('dave')][:2], ('to', None))
                droster, _ = await roster_of(d)
                self.assertEqual(droster[jid('carol')][:2], ('from', None))
                # Once answered, the request is not delivered again.
                await d.bye()
                d, rd = await recorded(self.server, 'dave', resource='third')
                await asyncio.sleep(1)
                self.assertEqual(rd.count(lambda p: p['type'] == 'subscribe'), 0)
                await d.bye()
            finally:
                await c.bye()
        run(go())

    def test_pre_approval_and_probes_only_for_subscribers(self):
        async def go():
            e = await online(self.server, 'erin')
            f = await online(self.server, 'frank')
            re_, rf = Recorder(e), Recorder(f)
            try:
                await roster_of(e)
                # erin approves frank before he asks (RFC 6121 §3.4).
                e.send_presence(pto=jid('frank'), ptype='subscribed')
                await asyncio.sleep(0.5)
                self.assertEqual(rf.count(lambda p: p['type'] == 'subscribed'), 0, 'a pre-approval is not routed')
                roster, _ = await roster_of(e)
                self.assertEqual(roster[jid('frank')][0], 'none')
                f.send_presence(pto=jid('erin'), ptype='subscribe')
                await rf.wait(lambda p: p['type'] == 'subscribed', 'frank is approved at once')
                self.assertEqual(re_.count(lambda p: p['type'] == 'subscribe'), 0, 'erin is not asked')
                froster, _ = await roster_of(f)
                self.assertEqual(froster[jid('erin')][:2], ('to', None))
                # A probe from a non-subscriber gets nothing; from a subscriber, presence.
                e.send_presence(pto=jid('frank'), ptype='probe')
                f.send_presence(pto=jid('erin'), ptype='probe')
                await rf.wait(lambda p: str(p['from']).startswith(jid('erin') + '/') and p['type'] == 'available',
                              'the subscriber frank gets an answer')
                await asyncio.sleep(0.5)
                self.assertEqual(re_.count(lambda p: str(p['from']).startswith(jid('frank') + '/')), 0,
                                 'erin, not subscribed to frank, learns nothing')
            finally:
                await e.bye()
                await f.bye()
        run(go())

    def test_dropped_connection_and_directed_presence_send_unavailable(self):
        async def go():
            g = await online(self.server, 'gina')
            h = await online(self.server, 'hank')
            i = await online(self.server, 'ivan')
            rg, rh, ri = Recorder(g), Recorder(h), Recorder(i)
            try:
                await roster_of(g)
                await roster_of(h)
                h.send_presence(pto=jid('gina'), ptype='subscribe')
                await rg.wait(lambda p: p['type'] == 'subscribe', 'gina is asked')
                g.send_presence(pto=jid('hank'), ptype='subscribed')
                await rh.wait(lambda p: p['type'] == 'subscribed', 'hank is approved')
                # gina also sends directed presence to ivan, who is not a contact.
                g.send_presence(pto=jid('ivan'), pstatus='hello ivan')
                await ri.wait(lambda p: p['status'] == 'hello ivan', 'ivan gets the directed presence')
                # gina's connection drops without a goodbye.
                g.transport.abort()
                await rh.wait(lambda p: p['type'] == 'unavailable' and str(p['from']).startswith(jid('gina')),
                              'the subscriber hears gina go')
                await ri.wait(lambda p: p['type'] == 'unavailable' and str(p['from']).startswith(jid('gina')),
                              'the directed presence is cleaned up')
            finally:
                await g.bye()
                await h.bye()
                await i.bye()
        run(go())


    def test_account_disco_for_itself_and_subscribers_only(self):
        async def go():
            k = await online(self.server, 'kim')
            l_ = await online(self.server, 'lee')
            m = await online(self.server, 'max')
            rk, rl = Recorder(k), Recorder(l_)
            try:
                await roster_of(k)
                await roster_of(l_)
                l_.send_presence(pto=jid('kim'), ptype='subscribe')
                await rk.wait(lambda p: p['type'] == 'subscribe', 'kim is asked')
                k.send_presence(pto=jid('lee'), ptype='subscribed')
                await rl.wait(lambda p: p['type'] == 'subscribed', 'lee is approved')

                async def info(client, to):
                    iq = client.make_iq_get(queryxmlns='http://jabber.org/protocol/disco#info', ito=to)
                    try:
                        reply = await iq.send(timeout=10)
                    except Exception as e:
                        return 'error:' + e.iq['error']['condition'] + ':' + e.iq['error']['text']
                    q = reply.xml.find('{http://jabber.org/protocol/disco#info}query')
                    ids = [(i.get('category'), i.get('type')) for i in q.findall('{http://jabber.org/protocol/disco#info}identity')]
                    return ids
                self.assertIn(('account', 'registered'), await info(k, jid('kim')), 'an account about itself')
                self.assertIn(('account', 'registered'), await info(l_, jid('kim')), 'a subscriber')
                stranger = await info(m, jid('kim'))
                nobody = await info(m, jid('nobody-here'))
                self.assertTrue(str(stranger).startswith('error:service-unavailable'), stranger)
                self.assertEqual(stranger, nobody, 'a stranger learns nothing, not even that kim exists')
            finally:
                await k.bye()
                await l_.bye()
                await m.bye()
        run(go())

    def test_parleyctl_roster_show_add_del_with_pushes(self):
        import json
        async def go():
            n = await online(self.server, 'nina')
            try:
                await roster_of(n)
                pushes = []
                n.add_event_handler('roster_update', pushes.append)
                r = self.server.ctl('roster', 'add', jid('nina'), 'otto@example.net', '--name', 'Otto O',
                                    '--group', 'Work Team', '--group', 'Friends')
                self.assertIn('added', r.stdout)
                deadline = time.monotonic() + 10
                while not pushes and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                self.assertTrue(pushes, 'the online client got the push')
                roster, _ = await roster_of(n)
                self.assertEqual(roster, {'otto@example.net': ('none', None, 'Otto O', ['Friends', 'Work Team'])})
                shown = json.loads(self.server.ctl('roster', 'show', jid('nina'), '--json').stdout)
                self.assertTrue(shown['ok'])
                self.assertEqual([(i['jid'], i['name'], i['groups'], i['subscription']) for i in shown['items']],
                                 [('otto@example.net', 'Otto O', ['Work Team', 'Friends'], 'none')])
                text = self.server.ctl('roster', 'show', jid('nina')).stdout
                self.assertIn('otto@example.net none', text)
                self.assertIn('group="Work Team"', text)
                self.server.ctl('roster', 'del', jid('nina'), 'otto@example.net')
                roster, _ = await roster_of(n)
                self.assertEqual(roster, {})
                # Errors: a missing contact, an unknown account, bad usage.
                r = self.server.ctl('roster', 'del', jid('nina'), 'otto@example.net', check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn('no such contact', r.stderr)
                r = self.server.ctl('roster', 'show', jid('nobody-at-all'), check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn('does not exist', r.stderr)
                r = self.server.ctl('roster', 'add', jid('nina'), check=False)
                self.assertEqual(r.returncode, 2)
            finally:
                await n.bye()
        run(go())

class StopWithSubscriptions(unittest.TestCase):
    """SIGTERM while subscribed contacts are online on both workers: every
    session's unavailable presence goes out as it ends, and parleyd still
    exits cleanly (no use of a stopped worker, no sanitizer report)."""

    def test_sigterm_with_subscribed_sessions_online(self):
        from harness import ParleyServer
        server = ParleyServer(modules=('disco', 'roster'))
        try:
            for n in ('ann', 'ben', 'cy'):
                server.add_user(n, 'secret')
            server.start()

            async def go():
                clients = {}
                recs = {}
                for n in ('ann', 'ben', 'cy'):
                    clients[n], recs[n] = await recorded(server, n)
                    await roster_of(clients[n])
                # Everyone subscribed to everyone.
                for a in clients:
                    for b in clients:
                        if a < b:
                            clients[a].send_presence(pto=jid(b), ptype='subscribe')
                            await recs[b].wait(lambda p, a=a: p['type'] == 'subscribe' and str(p['from']) == jid(a),
                                               '%s asked by %s' % (b, a))
                            clients[b].send_presence(pto=jid(a), ptype='subscribed')
                            clients[b].send_presence(pto=jid(a), ptype='subscribe')
                            await recs[a].wait(lambda p, b=b: p['type'] == 'subscribe' and str(p['from']) == jid(b),
                                               '%s asked by %s' % (a, b))
                            clients[a].send_presence(pto=jid(b), ptype='subscribed')
                            await recs[b].wait(lambda p, a=a: p['type'] == 'subscribed' and str(p['from']) == jid(a),
                                               '%s approved by %s' % (b, a))
                # More sessions of ann until both workers hold one (the kernel
                # spreads connections; bounded).
                workers = {worker_of(server, str(c.boundjid)) for c in clients.values()}
                for i in range(24):
                    if workers == {0, 1}:
                        break
                    extra, _ = await recorded(server, 'ann', resource='extra%d' % i)
                    w = worker_of(server, str(extra.boundjid))
                    if w in workers:
                        await extra.bye()
                    else:
                        workers.add(w)
                        clients['ann-extra'] = extra
                self.assertEqual(workers, {0, 1}, 'sessions on both workers')
                return clients
            run(go())
            server.stop()  # asserts exit status 0 and no sanitizer report
        finally:
            server.cleanup()

if __name__ == '__main__':
    unittest.main()
