"""Last Activity (XEP-0012) with real slixmpp clients on two workers
(mod_last, with mod_roster for subscriptions): the server's uptime; an
account's last activity for a subscribed contact — 0 while any resource is
available (also when the resources are on different workers), then the
seconds since the last one went away with its status text, after a logout
and after a dropped connection; the same after a restart; a stranger gets
exactly the error an account that does not exist gets."""
import asyncio
import os
import time

from slixmpp.exceptions import IqError

from clients import PresenceRecorder as Watcher, Client, online
from harness import DOMAIN, ServerTestCase, run, worker_of

NS = 'jabber:iq:last'


def restart(server):
    """SIGTERM (checked: exit 0, no sanitizer report), then a new parleyd on
    the same data directory; "ready" must come from the new process's log."""
    server.stop()
    os.rename(server.log_path, server.log_path + '.before-restart')
    server.start()


def jid(node, resource=None):
    return '%s@%s' % (node, DOMAIN) + ('/' + resource if resource else '')


async def last(client, to):
    """The reply to a last activity query: ('result', seconds, text) or
    ('error', type, condition, text, <the error's XML>)."""
    iq = client.make_iq_get(queryxmlns=NS, ito=to)
    try:
        reply = await iq.send(timeout=10)
    except IqError as e:
        err = e.iq['error']
        from slixmpp.xmlstream import ET
        return ('error', err['type'], err['condition'], err['text'],
                ET.tostring(e.iq.xml.find('{jabber:client}error')))
    q = reply.xml.find('{%s}query' % NS)
    return ('result', int(q.get('seconds')), q.text or '')


async def last_when(client, to, pred, what, timeout=10):
    """Asks until the answer satisfies `pred` (bounded): a record is written
    through the store's writer when the session ends, so a query racing the
    logout may still see the state before it."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = await last(client, to)
        if pred(got):
            return got
        await asyncio.sleep(0.05)
    raise AssertionError('%s: last answer %r' % (what, got))


async def watched(server, node, resource):
    c = Client(jid(node, resource), 'secret', server.ca)
    w = Watcher(c)
    outcome = await c.login(server.starttls_port)
    if outcome != 'session':
        raise AssertionError('%s could not log in: %s' % (node, outcome))
    await asyncio.wait_for(asyncio.shield(c.available), 15)
    return c, w


async def subscribe(contact, wc, user, wu):
    """`contact` gets a subscription to `user`'s presence."""
    contact.send_presence(pto=user.boundjid.bare, ptype='subscribe')
    await wu.wait(lambda p: p['type'] == 'subscribe', 'the request arrives')
    user.send_presence(pto=contact.boundjid.bare, ptype='subscribed')
    await wc.wait(lambda p: p['type'] == 'subscribed', 'the approval arrives')


class LastActivity(ServerTestCase):
    users = ('juliet', 'romeo', 'tybalt', 'nurse', 'friar')
    settings = dict(modules=('disco', 'ping', 'roster', 'last'))

    @classmethod
    def setUpClass(cls):
        cls.before = time.monotonic()
        super().setUpClass()
        cls.after = time.monotonic()

    def test_the_server_answers_with_its_uptime(self):
        async def go():
            t = await online(self.server, 'tybalt', resource='uptime')
            try:
                # Up for two seconds at least, so that a wrong origin shows.
                await asyncio.sleep(max(0.0, 2.1 - (time.monotonic() - self.after)))
                kind, seconds, text = await last(t, DOMAIN)
                now = time.monotonic()
                self.assertEqual(kind, 'result')
                self.assertEqual(text, '', 'no text for a server (XEP-0012 §5)')
                # parleyd started between `before` and `after`.
                self.assertGreaterEqual(seconds, int(now - self.after) - 1)
                self.assertLessEqual(seconds, int(now - self.before) + 1)
                iq = t.make_iq_get(queryxmlns='http://jabber.org/protocol/disco#info', ito=DOMAIN)
                reply = await iq.send(timeout=10)
                features = [f.get('var') for f in reply.xml.iter('{http://jabber.org/protocol/disco#info}feature')]
                self.assertIn(NS, features)
            finally:
                await t.bye()
        run(go())

    def test_a_contact_sees_zero_while_online_then_the_time_and_status_of_the_logout(self):
        async def go():
            r, wr = await watched(self.server, 'romeo', 'orchard')
            j1, wj1 = await watched(self.server, 'juliet', 'balcony')
            # juliet's second resource on the other worker than her first.
            w1 = worker_of(self.server, jid('juliet', 'balcony'))
            j2 = None
            for i in range(24):
                c = await online(self.server, 'juliet', resource='chamber%d' % i)
                if worker_of(self.server, c.boundjid.full) != w1:
                    j2 = c
                    break
                await c.bye()
            self.assertIsNotNone(j2, 'could not get a session on the other worker')
            try:
                await subscribe(r, wr, j1, wj1)
                self.assertEqual(await last(r, jid('juliet')), ('result', 0, ''), 'online: 0 seconds')
                # One resource leaves (with a status); the other is still there.
                j1.send_presence(ptype='unavailable', pstatus='one down')
                await wr.wait(lambda p: p['type'] == 'unavailable' and p['status'] == 'one down',
                              'romeo hears the first resource go')
                self.assertEqual(await last(r, jid('juliet')), ('result', 0, ''),
                                 'still online on the other worker: 0 seconds')
                # The last one leaves with a status.
                j2.send_presence(ptype='unavailable', pstatus='Heading Home')
                await wr.wait(lambda p: p['type'] == 'unavailable' and p['status'] == 'Heading Home',
                              'romeo hears juliet go')
                got = await last_when(r, jid('juliet'), lambda g: g[0] == 'result' and g[2] == 'Heading Home',
                                      'the logout is recorded')
                self.assertGreaterEqual(got[1], 0)
                self.assertLess(got[1], 30)
                await asyncio.sleep(2.1)
                later = await last(r, jid('juliet'))
                self.assertEqual(later[2], 'Heading Home')
                self.assertGreaterEqual(later[1], got[1] + 2, 'the seconds count up from the logout')
                # The account asks about itself from a session that is not available.
                await j1.bye()
                await j2.bye()
                quiet = await online(self.server, 'juliet', resource='quiet', presence=False)
                self.assertEqual((await last(quiet, jid('juliet')))[2], 'Heading Home',
                                 'a bound session that is not available does not count as online')
                await quiet.bye()
            finally:
                await j1.bye()
                await j2.bye()
                await r.bye()
        run(go())

    def test_a_dropped_connection_is_recorded_without_text(self):
        async def go():
            f, wf = await watched(self.server, 'friar', 'cell')
            n, wn = await watched(self.server, 'nurse', 'kitchen')
            try:
                await subscribe(f, wf, n, wn)
                n.transport.abort()
                await wf.wait(lambda p: p['type'] == 'unavailable' and str(p['from']).startswith(jid('nurse')),
                              'friar hears the nurse go')
                got = await last_when(f, jid('nurse'), lambda g: g[0] == 'result', 'the drop is recorded')
                self.assertEqual(got[2], '', 'no unavailable presence, no text')
                self.assertGreaterEqual(got[1], 0)
            finally:
                await n.bye()
                await f.bye()
        run(go())

    def test_a_stranger_gets_what_a_missing_account_gets(self):
        async def go():
            t = await online(self.server, 'tybalt')
            j = await online(self.server, 'juliet', resource='garden')
            try:
                online_one = await last(t, jid('juliet'))
                missing = await last(t, jid('nobody-here'))
                self.assertEqual(missing[:3], ('error', 'cancel', 'service-unavailable'))
                self.assertEqual(online_one, missing, 'tybalt learns nothing, not even that juliet exists')
                await j.bye()
                offline = await last(t, jid('juliet'))
                self.assertEqual(offline, missing)
            finally:
                await j.bye()
                await t.bye()
        run(go())


class LastActivityRestart(ServerTestCase):
    users = ('juliet', 'romeo')
    settings = dict(modules=('disco', 'roster', 'last'))

    def test_a_record_survives_a_restart(self):
        async def before():
            r, wr = await watched(self.server, 'romeo', 'orchard')
            j, wj = await watched(self.server, 'juliet', 'balcony')
            try:
                await subscribe(r, wr, j, wj)
                j.send_presence(ptype='unavailable', pstatus='Parting is such sweet sorrow')
                await last_when(r, jid('juliet'), lambda g: g[0] == 'result' and g[2].startswith('Parting'),
                                'the logout is recorded')
            finally:
                await j.bye()
                await r.bye()
        run(before())
        stopped = time.monotonic()
        restart(self.server)

        async def after():
            r = await online(self.server, 'romeo', resource='again')
            try:
                got = await last(r, jid('juliet'))
                self.assertEqual(got[0], 'result', got)
                self.assertEqual(got[2], 'Parting is such sweet sorrow')
                self.assertGreaterEqual(got[1], int(time.monotonic() - stopped) - 1,
                                        'counted from the logout, not from the restart')
            finally:
                await r.bye()
        run(after())
