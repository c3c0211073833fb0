"""slixmpp clients for the integration tests: log in, wait for things, bounded."""
import asyncio
import time
import logging

import slixmpp
from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

logging.getLogger('slixmpp').setLevel(logging.CRITICAL)


class Client(slixmpp.ClientXMPP):
    """A real slixmpp client that records what it receives."""

    def __init__(self, jid, password, ca, mech=None, plugins=(), tls_max=None, presence=True):
        super().__init__(jid, password, sasl_mech=mech)
        self.ca_certs = ca
        if tls_max is not None:
            self.ssl_context.maximum_version = tls_max
        for p in plugins:
            self.register_plugin(p)
        loop = asyncio.get_event_loop()
        self.outcome = loop.create_future()
        self.gone = loop.create_future()
        self.messages = asyncio.Queue()
        self.stream_errors = []
        self.send_initial_presence = presence
        self.add_event_handler('session_start', self._on_start)
        # slixmpp moves on to its next mechanism after a failure; only when
        # none is left has the login failed.
        self.add_event_handler('failed_all_auth', self._on_failed)
        self.add_event_handler('disconnected', self._on_disconnected)
        self.add_event_handler('connection_failed', self._on_failed)
        self.add_event_handler('stream_error', lambda e: self.stream_errors.append(e['condition']))
        self.add_event_handler('message', lambda m: self.messages.put_nowait(m))
        # The server reflects our own available presence back to us once it
        # has recorded it: from then on we receive messages to our bare JID.
        self.available = loop.create_future()
        self.add_event_handler('presence_available', self._on_presence)

    async def _on_start(self, _):
        if self.send_initial_presence:
            self.send_presence()
        if not self.outcome.done():
            self.outcome.set_result('session')

    def _on_presence(self, p):
        if p['from'] == self.boundjid and not self.available.done():
            self.available.set_result(True)

    def _on_failed(self, *_):
        if not self.outcome.done():
            self.outcome.set_result('failed')

    def _on_disconnected(self, *_):
        if not self.outcome.done():
            self.outcome.set_result('disconnected')
        if not self.gone.done():
            self.gone.set_result(True)

    def mechanism(self):
        m = self['feature_mechanisms'].mech
        return m.name if m else None

    async def login(self, port, use_ssl=False, timeout=20):
        """Connects and waits for the session or the failure; returns 'session', 'failed' or 'disconnected'."""
        self.connect(('127.0.0.1', port), use_ssl=use_ssl, force_starttls=not use_ssl)
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


async def online(server, node, password='secret', mech=None, resource=None, plugins=(), port=None,
                 use_ssl=False, tls_max=None, presence=True):
    """A logged-in client of `server`, or an AssertionError saying why not."""
    jid = '%s@parley.test' % node + ('/' + resource if resource else '')
    c = Client(jid, password, server.ca, mech=mech, plugins=plugins, tls_max=tls_max, presence=presence)
    if port is None:
        port = server.direct_port if use_ssl else server.starttls_port
    outcome = await c.login(port, use_ssl=use_ssl)
    if outcome != 'session':
        raise AssertionError('%s could not log in: %s\n%s' % (jid, outcome, server.log_text()[-3000:]))
    if presence:
        try:
            await asyncio.wait_for(asyncio.shield(c.available), 15)
        except asyncio.TimeoutError:
            raise AssertionError('%s: the server did not reflect our available presence' % jid)
    return c


async def query(client, to, payload_xml, itype='get'):
    """Sends an iq with one payload (XML text); ('result', reply element) or
    ('error', type, condition, text, <error> element)."""
    iq = client.make_iq_get(ito=to) if itype == 'get' else client.make_iq_set(ito=to)
    iq.append(ET.fromstring(payload_xml))
    try:
        reply = await iq.send(timeout=10)
    except IqError as e:
        err = e.iq['error']
        return ('error', err['type'], err['condition'], err['text'], e.iq.xml.find('{jabber:client}error'))
    return ('result', reply.xml)


async def ping(client, to, timeout=10):
    """Sends an XEP-0199 ping from `client` to `to`; returns (the id sent, the
    reply stanza). slixmpp's own ping() gives only a round-trip time."""
    iq = client.make_iq_get(ito=to)
    iq.enable('ping')
    sent_id = iq['id']
    reply = await iq.send(timeout=timeout)
    return sent_id, reply


class PresenceRecorder:
    """Every presence stanza a client receives, with a bounded wait. The
    client answers nothing by itself (auto_authorize/auto_subscribe off):
    the tests send subscription answers themselves."""

    def __init__(self, client):
        self.client = client
        self.seen = []
        client.add_event_handler('presence', self.seen.append)
        client.roster.auto_authorize = None
        client.roster.auto_subscribe = False

    async def wait(self, pred, what, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.seen:
                if pred(p):
                    return p
            await asyncio.sleep(0.05)
        raise AssertionError('%s: never came; got %s' % (what, [str(p) for p in self.seen]))

    def count(self, pred):
        return sum(1 for p in self.seen if pred(p))
