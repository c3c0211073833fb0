#!/usr/bin/python3
"""The XMPP client of tools/bench/roster-bench (which starts parleyd and
runs one phase of this per parleyd): Python 3's standard library only.

Every session logs in the simplest way a client can: STARTTLS (TLS 1.3 with
the test CA), SASL PLAIN, bind. Logins are one after the other on blocking
sockets; once bound, a session's socket is non-blocking and one selector
loop reads every session (pump), so nothing the server sends is left unread.
Every wait is bounded in time and every loop in count; only 127.0.0.1.

Phases (each prints one line of key=value figures on stdout):
  setup-ring    N accounts PREFIX0.., each subscribed both ways to its
                ITEMS ring neighbours (i+-1 .. i+-ITEMS/2 mod N); verified by
                a roster get of every account
  setup-hub     HUB pre-approves (RFC 6121 3.4) COUNT contacts PREFIX0..,
                each then asks to subscribe and is approved at once; verified
                by HUB's roster (all 'from') and each contact's ('to')
  setup-big     USER's roster gets ITEMS roster sets (JIDs of accounts that
                do not exist); verified by a roster get
  memory        N sessions log in (with --roster: fetch the roster, send
                initial presence, wait until each heard every contact);
                parleyd's VmRSS before and after
  login         REPS times: connect, log in, roster get; wall times
  presence      COUNT contacts online, HUB online; UPDATES presence updates
                from HUB, each waited for at every contact; wall time and
                parleyd's CPU

A benchmark, not a test: it checks the state it sets up (and fails loudly
when it is wrong), but asserts nothing about speed.
"""
import argparse
import base64
import os
import selectors
import socket
import ssl
import statistics
import sys
import time
import xml.etree.ElementTree as ET

NS_CLIENT = 'jabber:client'
NS_STREAM = 'http://etherx.jabber.org/streams'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
NS_ROSTER = 'jabber:iq:roster'
IQ = '{%s}iq' % NS_CLIENT
PRESENCE = '{%s}presence' % NS_CLIENT
QUERY = '{%s}query' % NS_ROSTER
ITEM = '{%s}item' % NS_ROSTER
STATUS = '{%s}status' % NS_CLIENT

LOGIN_TIMEOUT = 30     # seconds for one login step
MAX_READS = 100000     # reads while waiting for one stanza during a login


class BenchError(Exception):
    pass


def log(msg):
    print('roster-bench: ' + msg, file=sys.stderr, flush=True)


def xml_escape(s):
    return s.replace('&', '&amp;').replace('<', '&lt;').replace("'", '&apos;')


class Stream:
    """One XML stream's incremental parser: yields the stream's children."""

    def __init__(self):
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.root = None

    def feed(self, data):
        self.parser.feed(data)
        out = []
        for event, elem in self.parser.read_events():
            if event == 'start':
                if self.depth == 0:
                    self.root = elem
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:
                    out.append(elem)
                    self.root.remove(elem)  # the stream keeps nothing it delivered
                elif self.depth == 0:
                    raise BenchError('the server closed the stream')
        return out


class Session:
    """One client connection. on_stanza(session, elem) sees every stanza
    read by pump(); stanzas read during the login come first."""

    def __init__(self, node, resource):
        self.node = node
        self.resource = resource
        self.sock = None
        self.stream = None
        self.queue = []
        self.on_stanza = None
        self.next_id = 0
        self.data = {}  # what a phase keeps per session

    # --- blocking, during the login ---

    def _send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _open(self, domain):
        self.stream = Stream()
        self._send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>" % domain)

    def _wait(self, match, what):
        for _ in range(MAX_READS):
            for i, e in enumerate(self.queue):
                if match(e):
                    del self.queue[i]
                    return e
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError('%s: connection closed waiting for %s' % (self.node, what))
            self.queue.extend(self.stream.feed(chunk))
        raise BenchError('%s: too many reads waiting for %s' % (self.node, what))

    def login(self, port, ctx, domain, password):
        """Connect, STARTTLS, PLAIN, bind; returns the monotonic time of the connect."""
        t0 = time.monotonic()
        s = socket.create_connection(('127.0.0.1', port), timeout=LOGIN_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self._open(domain)
        self._wait(lambda e: e.tag == '{%s}features' % NS_STREAM, 'features')
        self._send("<starttls xmlns='%s'/>" % NS_TLS)
        self._wait(lambda e: e.tag == '{%s}proceed' % NS_TLS, 'proceed')
        self.sock = ctx.wrap_socket(s, server_hostname=domain)
        self._open(domain)
        f = self._wait(lambda e: e.tag == '{%s}features' % NS_STREAM, 'features after TLS')
        mechs = [m.text for m in f.iter('{%s}mechanism' % NS_SASL)]
        if 'PLAIN' not in mechs:
            raise BenchError('PLAIN not offered: %s' % mechs)
        token = base64.b64encode(b'\0' + self.node.encode() + b'\0' + password.encode()).decode()
        self._send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (NS_SASL, token))
        r = self._wait(lambda e: e.tag in ('{%s}success' % NS_SASL, '{%s}failure' % NS_SASL), 'SASL outcome')
        if r.tag != '{%s}success' % NS_SASL:
            raise BenchError('%s: login refused: %s' % (self.node, ET.tostring(r)))
        self._open(domain)
        self._wait(lambda e: e.tag == '{%s}features' % NS_STREAM, 'features after SASL')
        self._send("<iq type='set' id='bind'><bind xmlns='%s'><resource>%s</resource></bind></iq>"
                   % (NS_BIND, self.resource))
        r = self._wait(lambda e: e.tag == IQ and e.get('id') == 'bind', 'bind result')
        if r.get('type') != 'result':
            raise BenchError('%s: bind failed: %s' % (self.node, ET.tostring(r)))
        return t0

    def iq_wait(self, payload, what, typ='get'):
        """A blocking iq round trip (only before the session is pumped)."""
        iq_id = self.new_id()
        self._send("<iq type='%s' id='%s'>%s</iq>" % (typ, iq_id, payload))
        return self._wait(lambda e: e.tag == IQ and e.get('id') == iq_id, what)

    # --- non-blocking, once bound ---

    def new_id(self):
        self.next_id += 1
        return 'q%d' % self.next_id

    def send(self, data):
        """A whole write: blocks (bounded) if the socket's buffer is full."""
        self.sock.settimeout(LOGIN_TIMEOUT)
        try:
            self._send(data)
        finally:
            self.sock.settimeout(0)

    def read_available(self):
        for _ in range(MAX_READS):
            try:
                chunk = self.sock.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                return
            if not chunk:
                raise BenchError('%s: the server closed the connection' % self.node)
            for e in self.stream.feed(chunk):
                self.on_stanza(self, e)

    def close(self):
        try:
            self.sock.settimeout(1)
            self.sock.sendall(b'</stream:stream>')
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class Client:
    """The sessions of one phase and the selector that reads them."""

    def __init__(self, args):
        self.args = args
        self.ctx = ssl.create_default_context(cafile=args.ca)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.sel = selectors.DefaultSelector()
        self.sessions = []

    def connect(self, node, resource, on_stanza):
        s = Session(node, resource)
        s.login(self.args.port, self.ctx, self.args.domain, self.args.password)
        self.adopt(s, on_stanza)
        return s

    def adopt(self, s, on_stanza):
        s.on_stanza = on_stanza
        s.sock.settimeout(0)
        self.sel.register(s.sock, selectors.EVENT_READ, s)
        self.sessions.append(s)
        early, s.queue = s.queue, []
        for e in early:
            on_stanza(s, e)

    def connect_all(self, nodes, resource, on_stanza, after_login=None):
        """Logs in one session per node, one after the other; what the
        already bound ones receive meanwhile is read every 20 logins."""
        out = []
        t0 = time.monotonic()
        for i, node in enumerate(nodes):
            s = self.connect(node, resource, on_stanza)
            if after_login:
                after_login(s)
            out.append(s)
            if i % 20 == 19:
                self.drain()
            if i % 500 == 499:
                log('  %d sessions logged in' % (i + 1))
        dt = time.monotonic() - t0
        log('  %d sessions logged in in %.1f s' % (len(nodes), dt))
        return out

    def pump(self, done, timeout, what=''):
        """Reads every session until done() or timeout seconds have passed
        (a BenchError naming `what` then, unless what is empty; else
        False)."""
        deadline = time.monotonic() + timeout
        for _ in range(10 ** 8):
            if done():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                if what:
                    raise BenchError('timed out (%d s) waiting for %s' % (timeout, what))
                return False
            for key, _ in self.sel.select(left):
                key.data.read_available()
        raise BenchError('pump: too many rounds')

    def drain(self):
        """Reads what has come, without waiting."""
        for key, _ in self.sel.select(0):
            key.data.read_available()

    def close_all(self):
        for s in self.sessions:
            self.sel.unregister(s.sock)
            s.close()
        self.sessions = []


def bare(jid):
    return jid.split('/', 1)[0] if jid else ''


def jid(args, node):
    return '%s@%s' % (node, args.domain)


def roster_items(elem):
    """{jid: (subscription, ask, approved)} of a roster result or push."""
    q = elem.find(QUERY)
    if q is None:
        return {}
    return {i.get('jid'): (i.get('subscription'), i.get('ask'), i.get('approved')) for i in q.findall(ITEM)}


def ignore(session, elem):
    pass


def roster_gets(client, sessions, what, timeout):
    """A roster get from each session at once; returns {session: items}."""
    waiting = {}
    got = {}

    def on(s, e):
        if e.tag == IQ and waiting.get(s) == e.get('id'):
            if e.get('type') != 'result':
                raise BenchError('%s: roster get failed: %s' % (s.node, ET.tostring(e)))
            got[s] = roster_items(e)
            del waiting[s]

    for s in sessions:
        s.on_stanza = on
        iq_id = s.new_id()
        waiting[s] = iq_id
        s.send("<iq type='get' id='%s'><query xmlns='%s'/></iq>" % (iq_id, NS_ROSTER))
    client.pump(lambda: not waiting, timeout, what)
    for s in sessions:
        s.on_stanza = ignore
    return got


def settle_rosters(client, sessions, complete, what, timeout):
    """Roster gets, about once a second, from the sessions whose roster is
    not complete(session, items) yet, until none is left or timeout."""
    pending = list(sessions)
    deadline = time.monotonic() + timeout
    for rounds in range(1, 100000):
        got = roster_gets(client, pending, what + ' roster gets', max(1, deadline - time.monotonic()))
        pending = [s for s in pending if not complete(s, got[s])]
        log('%s: round %d, %d of %d rosters not complete yet' % (what, rounds, len(pending), len(sessions)))
        if not pending:
            return
        if time.monotonic() > deadline:
            s = pending[0]
            raise BenchError('%s: %d rosters incomplete after %d s, e.g. %s: %s'
                             % (what, len(pending), timeout, s.node, sorted(got[s].items())[:5]))
        client.pump(lambda: False, 1.0)  # let the handshakes go on
    raise BenchError('%s: too many rounds' % what)


def ring_contacts(i, n, items):
    half = items // 2
    return [(i + d) % n for d in range(-half, half + 1) if d != 0]


# --- setup phases ---

RING_WINDOW = 50  # sessions whose subscription stanzas may wait in the store's writer at once


def setup_ring(client, a):
    n, items = a.count, a.items
    if items % 2 or items >= n:
        raise BenchError('ring: ITEMS must be even and smaller than N (%d, %d)' % (items, n))
    log('ring: %d accounts, %d contacts each, subscriptions both ways' % (n, items))

    complete = set()  # sessions whose every contact is 'both' by the pushes

    def on(s, e):
        # Roster pushes (the sessions asked for their roster first): the
        # latest state of each contact. Pushes made on different workers can
        # come out of order, so the one with the highest version counts.
        if e.tag == IQ and e.get('type') == 'set':
            q = e.find(QUERY)
            ver = int(q.get('ver', '0')) if q is not None else 0
            for j, (sub, ask, _) in roster_items(e).items():
                if ver < s.data['ver'].get(j, -1):
                    continue
                s.data['ver'][j] = ver
                if ask == 'subscribe' or sub in ('to', 'both'):
                    s.data['asked'].add(j)
                if sub == 'both' and not ask:
                    s.data['both'].add(j)
                else:
                    s.data['both'].discard(j)
            if len(s.data['both']) == items:
                complete.add(s)
            else:
                complete.discard(s)

    def first_get(s):
        s.data['both'], s.data['asked'], s.data['ver'] = set(), set(), {}
        s.send("<iq type='get' id='first'><query xmlns='%s'/></iq>" % NS_ROSTER)

    sessions = client.connect_all(['%s%d' % (a.prefix, i) for i in range(n)], 'setup', on, after_login=first_get)
    t0 = time.monotonic()
    in_flight = []
    for i, s in enumerate(sessions):
        # Paced: the store's writer refuses writes once 100,000 wait, and
        # each session's stanzas here make about 400 writes. A session is
        # through once a push showed each of its requests stored.
        def room():
            in_flight[:] = [x for x in in_flight if len(x.data['asked']) < items]
            return len(in_flight) < RING_WINDOW
        client.pump(room, a.timeout, 'the requests of %d sessions to be stored' % RING_WINDOW)
        out = []
        for c in ring_contacts(i, n, items):
            to = jid(a, '%s%d' % (a.prefix, c))
            # Pre-approve, then ask: whichever of the two sides comes first,
            # both end with subscription 'both' (RFC 6121 3.1, 3.4).
            out.append("<presence to='%s' type='subscribed'/><presence to='%s' type='subscribe'/>" % (to, to))
        s.send(''.join(out))
        in_flight.append(s)
        if i % 20 == 19:
            client.drain()
        if i % 200 == 199:
            log('ring: %d of %d sessions sent their requests' % (i + 1, n))
    log('ring: %d subscription stanzas sent in %.1f s' % (2 * n * items, time.monotonic() - t0))
    if not client.pump(lambda: len(complete) == n, a.timeout):
        s = next(x for x in sessions if x not in complete)
        raise BenchError('ring: %d of %d sessions not subscribed both ways to every contact after %d s, e.g. %s '
                         'with %d: %s' % (n - len(complete), n, a.timeout, s.node, len(s.data['both']),
                                          sorted(s.data['both'])))
    log('ring: the pushes say every subscription is both ways, after %.1f s' % (time.monotonic() - t0))
    want = {s: {jid(a, '%s%d' % (a.prefix, c)) for c in ring_contacts(i, n, items)} for i, s in enumerate(sessions)}
    settle_rosters(client, sessions,
                   lambda s, got: set(got) == want[s] and all(v[0] == 'both' and not v[1] for v in got.values()),
                   'ring', a.timeout)
    dt = time.monotonic() - t0
    client.close_all()
    print('ring_accounts=%d ring_items=%d ring_setup_s=%.1f' % (n, items, dt))


def setup_hub(client, a):
    n = a.count
    hub_jid = jid(a, a.hub)
    log('hub: %s pre-approves %d contacts, each subscribes' % (a.hub, n))
    t0 = time.monotonic()
    hub = client.connect(a.hub, 'setup', ignore)
    roster_gets(client, [hub], 'the hub\'s first roster get', a.timeout)  # it hears the pushes from now on
    approved = set()
    subscribed = set()

    def on_hub(s, e):
        if e.tag == IQ and e.get('type') == 'set':
            for j, (sub, ask, appr) in roster_items(e).items():
                if appr == 'true':
                    approved.add(j)
                if sub in ('from', 'both'):
                    subscribed.add(j)

    hub.on_stanza = on_hub
    contacts = ['%s%d' % (a.prefix, i) for i in range(n)]
    hub.send(''.join("<presence to='%s' type='subscribed'/>" % jid(a, c) for c in contacts))
    client.pump(lambda: len(approved) >= n, a.timeout, 'the pre-approvals of %d contacts' % n)
    log('hub: %d pre-approvals stored in %.1f s' % (n, time.monotonic() - t0))
    sessions = client.connect_all(contacts, 'setup', ignore,
                                  after_login=lambda s: s.send("<presence to='%s' type='subscribe'/>" % hub_jid))
    client.pump(lambda: len(subscribed) >= n, a.timeout, 'the subscriptions of %d contacts' % n)
    items = roster_gets(client, [hub], 'the hub\'s roster', a.timeout)[hub]
    bad = [j for j in (jid(a, c) for c in contacts) if items.get(j, ('',))[0] != 'from']
    if bad or len(items) != n:
        raise BenchError('hub: roster has %d items, %d not subscription=from (e.g. %s)' % (len(items), len(bad), bad[:3]))
    # The hub's side is stored before its approval reaches the contact's.
    settle_rosters(client, sessions, lambda s, got: got == {hub_jid: ('to', None, None)}, 'contacts', a.timeout)
    dt = time.monotonic() - t0
    client.close_all()
    print('hub_contacts=%d hub_setup_s=%.1f' % (n, dt))


def setup_big(client, a):
    n = a.items
    log('big: %d roster items for %s' % (n, a.user))
    t0 = time.monotonic()
    s = client.connect(a.user, 'setup', ignore)
    results = {'ok': 0}

    def on(sess, e):
        if e.tag == IQ and e.get('id', '').startswith('set'):
            if e.get('type') != 'result':
                raise BenchError('roster set failed: %s' % ET.tostring(e))
            results['ok'] += 1

    s.on_stanza = on
    batch = []
    for i in range(n):
        # Accounts that do not exist: a roster set accepts any bare JID.
        batch.append("<iq type='set' id='set%d'><query xmlns='%s'><item jid='%s' name='Contact %d'>"
                     "<group>Bench</group></item></query></iq>" % (i, NS_ROSTER, jid(a, 'nobody%d' % i), i))
        if len(batch) == 100:
            s.send(''.join(batch))
            batch = []
            client.drain()
    if batch:
        s.send(''.join(batch))
    client.pump(lambda: results['ok'] >= n, a.timeout, '%d roster sets' % n)
    items = roster_gets(client, [s], 'the big roster', a.timeout)[s]
    if len(items) != n:
        raise BenchError('big: the roster has %d items, not %d' % (len(items), n))
    dt = time.monotonic() - t0
    client.close_all()
    print('big_items=%d big_setup_s=%.1f' % (n, dt))


# --- measurements ---

def proc_status(pid):
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'RssAnon', 'RssFile', 'RssShmem'):
                out[k] = int(v.split()[0])
    return out


def cpu_ticks(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def cpu_ns(pid):
    """parleyd's time on a CPU in ns (schedstat, summed over its threads):
    finer than the 10 ms ticks of /proc/PID/stat; None where not offered."""
    total = 0
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def memory(client, a):
    n, items = a.count, a.items
    before = proc_status(a.pid)
    heard = {}

    def on(s, e):
        # An available presence from a contact (another account).
        if e.tag == PRESENCE and e.get('type') is None:
            f = bare(e.get('from'))
            if f != jid(a, s.node):
                heard.setdefault(s, set()).add(f)

    def after_login(s):
        if not a.roster:
            return
        r = s.iq_wait("<query xmlns='%s'/>" % NS_ROSTER, 'roster')
        got = roster_items(r)
        if len(got) != items or any(v[0] != 'both' for v in got.values()):
            raise BenchError('%s: the roster is not %d contacts with subscription both' % (s.node, items))
        s.send('<presence/>')

    log('memory: %d sessions%s' % (n, ', each fetching its roster of %d and sending presence' % items
                                   if a.roster else ''))
    t0 = time.monotonic()
    # after_login runs on the blocking socket, before the session is pumped.
    sessions = []
    for i in range(n):
        s = Session('%s%d' % (a.prefix, i), 'idle')
        s.login(a.port, client.ctx, a.domain, a.password)
        after_login(s)
        client.adopt(s, on)
        sessions.append(s)
        if i % 20 == 19:
            client.drain()
    log('memory: %d sessions ready in %.1f s' % (n, time.monotonic() - t0))
    if a.roster:
        client.pump(lambda: len(heard) == n and all(len(h) >= items for h in heard.values()), a.timeout,
                    'every session to hear its %d contacts' % items)
        log('memory: every session heard the presence of its %d contacts' % items)
    client.pump(lambda: False, a.settle)  # idle, still reading
    after = proc_status(a.pid)
    per = (after['VmRSS'] - before['VmRSS']) * 1024.0 / n
    print('sessions=%d roster=%s rss_before_kib=%d rss_after_kib=%d per_session_bytes=%.0f '
          'anon_before_kib=%d anon_after_kib=%d anon_per_session_bytes=%.0f file_before_kib=%d file_after_kib=%d'
          % (n, items if a.roster else 0, before['VmRSS'], after['VmRSS'], per,
             before['RssAnon'], after['RssAnon'], (after['RssAnon'] - before['RssAnon']) * 1024.0 / n,
             before['RssFile'], after['RssFile']))
    client.close_all()


def login(client, a):
    total, bound, fetch = [], [], []
    for r in range(a.reps):
        s = Session(a.user, 'r%d' % r)
        t0 = s.login(a.port, client.ctx, a.domain, a.password)
        t1 = time.monotonic()
        res = s.iq_wait("<query xmlns='%s'/>" % NS_ROSTER, 'roster')
        t2 = time.monotonic()
        n = len(roster_items(res))
        if n != a.items:
            raise BenchError('login: the roster has %d items, not %d' % (n, a.items))
        total.append((t2 - t0) * 1000)
        bound.append((t1 - t0) * 1000)
        fetch.append((t2 - t1) * 1000)
        s.close()
        time.sleep(0.1)  # the closed session is gone before the next login
    print('reps=%d items=%d total_ms_min=%.2f total_ms_median=%.2f total_ms_max=%.2f '
          'login_ms_min=%.2f login_ms_median=%.2f roster_ms_min=%.2f roster_ms_median=%.2f'
          % (a.reps, a.items, min(total), statistics.median(total), max(total),
             min(bound), statistics.median(bound), min(fetch), statistics.median(fetch)))


def presence(client, a):
    n = a.count
    hub_jid = jid(a, a.hub)
    state = {'want': None, 'got': 0}

    def on_contact(s, e):
        if e.tag == PRESENCE and e.get('type') is None and bare(e.get('from')) == hub_jid:
            st = e.find(STATUS)
            text = st.text if st is not None else None
            if text == state['want'] and s.data.get('seen') != text:
                s.data['seen'] = text
                state['got'] += 1

    log('presence: %d contacts log in and send presence' % n)
    client.connect_all(['%s%d' % (a.prefix, i) for i in range(n)], 'bench', on_contact,
                       after_login=lambda s: s.send('<presence/>'))
    hub = client.connect(a.hub, 'bench', ignore)
    state['want'] = 'online'
    hub.send('<presence><status>online</status></presence>')
    client.pump(lambda: state['got'] >= n, a.timeout, 'the hub\'s initial presence at %d contacts' % n)
    client.pump(lambda: False, 1.0)  # quiet before measuring
    walls = []
    hz = os.sysconf('SC_CLK_TCK')
    c0, n0, p0 = cpu_ticks(a.pid), cpu_ns(a.pid), time.process_time()
    for k in range(a.updates):
        state['want'], state['got'] = 'update %d' % k, 0
        t0 = time.monotonic()
        hub.send("<presence><show>away</show><status>%s</status></presence>" % xml_escape(state['want']))
        client.pump(lambda: state['got'] >= n, a.timeout, 'update %d at %d contacts' % (k, n))
        walls.append((time.monotonic() - t0) * 1000)
    c1, n1, p1 = cpu_ticks(a.pid), cpu_ns(a.pid), time.process_time()
    cpu_ms = (c1 - c0) * 1000.0 / hz / a.updates
    ns_ms = (n1 - n0) / 1e6 / a.updates if n0 is not None and n1 is not None else float('nan')
    print('recipients=%d updates=%d wall_ms_min=%.2f wall_ms_median=%.2f wall_ms_max=%.2f '
          'server_cpu_ms_per_update=%.2f server_cpu_us_per_recipient=%.1f wall_us_per_recipient=%.1f '
          'server_schedstat_ms_per_update=%.3f server_schedstat_us_per_recipient=%.2f client_cpu_ms_per_update=%.2f'
          % (n, a.updates, min(walls), statistics.median(walls), max(walls), cpu_ms, cpu_ms * 1000 / n,
             statistics.median(walls) * 1000 / n, ns_ms, ns_ms * 1000 / n, (p1 - p0) * 1000 / a.updates))
    client.close_all()


PHASES = {'setup-ring': setup_ring, 'setup-hub': setup_hub, 'setup-big': setup_big,
          'memory': memory, 'login': login, 'presence': presence}


def main():
    ap = argparse.ArgumentParser(description='the client of tools/bench/roster-bench')
    ap.add_argument('phase', choices=sorted(PHASES))
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--domain', required=True)
    ap.add_argument('--ca', required=True)
    ap.add_argument('--password', required=True)
    ap.add_argument('--pid', type=int, help='parleyd, for its memory and CPU')
    ap.add_argument('--prefix', default='')
    ap.add_argument('--count', type=int, default=0)
    ap.add_argument('--items', type=int, default=0)
    ap.add_argument('--hub', default='hub')
    ap.add_argument('--user', default='big')
    ap.add_argument('--reps', type=int, default=10)
    ap.add_argument('--updates', type=int, default=20)
    ap.add_argument('--roster', action='store_true')
    ap.add_argument('--settle', type=float, default=3.0)
    ap.add_argument('--timeout', type=float, default=600.0, help='bound of each wait, in seconds')
    a = ap.parse_args()
    client = Client(a)
    try:
        PHASES[a.phase](client, a)
    except (BenchError, OSError, ssl.SSLError) as e:
        log('%s failed: %s' % (a.phase, e))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
