"""PEP (XEP-0163) with slixmpp clients on two workers: notifications filtered
by +notify caps, access models, the last item on presence, publish-options
preconditions, persistence across a restart, and bookmarks seen through
XEP-0402 and XEP-0048 (private storage) alike.

The tests of class Contacts need presence subscriptions (ROSTER): with the
roster module built (mod_roster.so) they make them with a real subscription
handshake; without it they run against the test module mod_testroster, a
fixed roster service in which alice and bob are subscribed both ways."""
import asyncio
import os
import tempfile
import unittest
import xml.etree.ElementTree as ET

from slixmpp.exceptions import IqError

from clients import online
from harness import BUILD, DOMAIN, ParleyServer, module_dir_with_test_modules, run

PLUGINS = ('xep_0030', 'xep_0004', 'xep_0060', 'xep_0115', 'xep_0163', 'xep_0049', 'xep_0048')
PUBSUB = 'http://jabber.org/protocol/pubsub'
OWNER = 'http://jabber.org/protocol/pubsub#owner'
EVENT = 'http://jabber.org/protocol/pubsub#event'
ERRORS = 'http://jabber.org/protocol/pubsub#errors'
TUNE = 'http://jabber.org/protocol/tune'
MOOD = 'http://jabber.org/protocol/mood'
BOOKMARKS = 'urn:xmpp:bookmarks:1'
HAVE_ROSTER = os.path.exists(os.path.join(BUILD, 'modules/.libs/mod_roster.so'))
MODULES = ('disco', 'ping', 'pep') + (('roster',) if HAVE_ROSTER else ())


def tune(title):
    return "<tune xmlns='%s'><title>%s</title></tune>" % (TUNE, title)


def mood(what):
    return "<mood xmlns='%s'><%s/></mood>" % (MOOD, what)


def options_form(**fields):
    f = ''.join("<field var='pubsub#%s'><value>%s</value></field>" % kv for kv in fields.items())
    return ("<publish-options><x xmlns='jabber:x:data' type='submit'>"
            "<field var='FORM_TYPE' type='hidden'><value>%s#publish-options</value></field>%s</x>"
            "</publish-options>" % (PUBSUB, f))


async def pep_client(server, node, resource, notify=()):
    """A client whose caps ask for each node in `notify`, available once the
    server has reflected its presence (slixmpp answers the server's caps
    disco#info from its own disco data)."""
    c = await online(server, node, resource=resource, plugins=PLUGINS, presence=False)
    # slixmpp's pubsub plugin takes event messages for itself: queue them too.
    for event in ('pubsub_publish', 'pubsub_retract', 'pubsub_purge', 'pubsub_delete'):
        c.add_event_handler(event, lambda m: c.messages.put_nowait(m))
    for ns in notify:
        c['xep_0030'].add_feature('%s+notify' % ns)
    await c['xep_0115'].update_caps(broadcast=False)
    c.send_presence()
    await asyncio.wait_for(asyncio.shield(c.available), 15)
    return c


async def iq(client, type_, payload, to=None):
    """Sends an iq with a raw XML payload; returns the reply's XML (raises IqError)."""
    stanza = client.Iq()
    stanza['type'] = type_
    if to:
        stanza['to'] = to
    stanza.append(ET.fromstring(payload))
    reply = await stanza.send(timeout=10)
    return reply.xml


async def publish(client, node, item, id=None, options=''):
    ident = " id='%s'" % id if id else ''
    return await iq(client, 'set', "<pubsub xmlns='%s'><publish node='%s'><item%s>%s</item></publish>%s</pubsub>"
                    % (PUBSUB, node, ident, item, options))


async def items_of(client, owner, node, extra=''):
    x = await iq(client, 'get', "<pubsub xmlns='%s'><items node='%s'%s/></pubsub>" % (PUBSUB, node, extra), to=owner)
    return x.findall('{%s}pubsub/{%s}items/{%s}item' % (PUBSUB, PUBSUB, PUBSUB))


async def next_event(client, node, timeout=10):
    """The next pubsub event message for `node` (bounded); the events for
    other nodes received meanwhile are kept in client.skipped."""
    if not hasattr(client, 'skipped'):
        client.skipped = []
    deadline = asyncio.get_event_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_event_loop().time()
        if left <= 0:
            raise AssertionError('%s: no event for %s' % (client.boundjid, node))
        m = await client.next_message(left)
        items = m.xml.find('{%s}event/{%s}items' % (EVENT, EVENT))
        if items is not None and items.get('node') == node:
            return m
        if items is not None:
            client.skipped.append(items.get('node'))


async def event_for_item(client, node, item_id, timeout=10):
    """The event publishing `item_id` at `node`; earlier events for the node
    (e.g. the last item sent at login) are passed over, bounded."""
    deadline = asyncio.get_event_loop().time() + timeout
    while True:
        m = await next_event(client, node, max(0.1, deadline - asyncio.get_event_loop().time()))
        item = m.xml.find('{%s}event/{%s}items/{%s}item' % (EVENT, EVENT, EVENT))
        if item is not None and item.get('id') == item_id:
            return m


def error_of(exc):
    """(condition, application condition) of an IqError."""
    err = exc.iq.xml.find('{jabber:client}error')
    app = [c.tag.split('}')[1] for c in err if c.tag.startswith('{%s}' % ERRORS)]
    return exc.iq['error']['condition'], (app[0] if app else None)


class PepTest(unittest.TestCase):
    users = ('alice', 'bob', 'carol')

    @classmethod
    def setUpClass(cls):
        cls.server = ParleyServer(modules=MODULES)
        for u in cls.users:
            cls.server.add_user(u, 'secret')
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()

    async def bye(self, *clients):
        for c in clients:
            await c.bye()


class OwnNodes(PepTest):
    def test_notifications_reach_only_resources_that_asked(self):
        async def go():
            # alice's phone wants tune and mood, her laptop only mood.
            phone = await pep_client(self.server, 'alice', 'phone', notify=(TUNE, MOOD))
            laptop = await pep_client(self.server, 'alice', 'laptop', notify=(MOOD,))
            try:
                await publish(phone, TUNE, tune('Finzi'), id='t1')
                m = await event_for_item(phone, TUNE, 't1')
                item = m.xml.find('{%s}event/{%s}items/{%s}item' % (EVENT, EVENT, EVENT))
                self.assertEqual(item.get('id'), 't1')
                self.assertEqual(m['from'].bare, 'alice@' + DOMAIN, 'notifications come from the bare JID')
                self.assertEqual(m['type'], 'headline')
                self.assertIsNotNone(item.find('{%s}tune' % TUNE), 'the payload is delivered')
                # The mood event is sent after the tune one, on the same path:
                # once the laptop has it, a tune event for it would have come first.
                await publish(phone, MOOD, mood('happy'))
                m = await next_event(laptop, MOOD)
                self.assertNotIn(TUNE, laptop.skipped, 'no tune event for the laptop, which did not ask')
                self.assertIsNotNone(m.xml.find('{%s}event/{%s}items/{%s}item/{%s}mood' % (EVENT, EVENT, EVENT, MOOD)))
            finally:
                await self.bye(phone, laptop)
        run(go())

    def test_last_item_on_initial_presence(self):
        async def go():
            a = await pep_client(self.server, 'alice', 'desk')
            try:
                await publish(a, TUNE, tune('Purcell'), id='last')
                # A resource that comes online asking for tune gets the last item.
                b = await pep_client(self.server, 'alice', 'tablet', notify=(TUNE,))
                try:
                    m = await next_event(b, TUNE)
                    item = m.xml.find('{%s}event/{%s}items/{%s}item' % (EVENT, EVENT, EVENT))
                    self.assertEqual(item.get('id'), 'last')
                finally:
                    await b.bye()
            finally:
                await a.bye()
        run(go())

    def test_items_by_id_and_max_items_and_retract(self):
        async def go():
            a = await pep_client(self.server, 'alice', 'items', notify=('urn:example:list',))
            try:
                form = options_form(max_items='10')
                for i in range(3):
                    await publish(a, 'urn:example:list', "<n xmlns='urn:example:list'>%d</n>" % i, id='i%d' % i,
                                  options=form)
                got = await items_of(a, 'alice@' + DOMAIN, 'urn:example:list')
                self.assertEqual([i.get('id') for i in got], ['i0', 'i1', 'i2'], 'all items, oldest first')
                got = await items_of(a, 'alice@' + DOMAIN, 'urn:example:list', " max_items='2'")
                self.assertEqual([i.get('id') for i in got], ['i1', 'i2'], 'the two newest')
                x = await iq(a, 'get', "<pubsub xmlns='%s'><items node='urn:example:list'><item id='i1'/></items>"
                                       "</pubsub>" % PUBSUB)
                self.assertEqual([i.get('id') for i in x.iter('{%s}item' % PUBSUB)], ['i1'])
                # An item without id gets one, returned in the result.
                x = await publish(a, 'urn:example:list', "<n xmlns='urn:example:list'>x</n>")
                gen = x.find('{%s}pubsub/{%s}publish/{%s}item' % (PUBSUB, PUBSUB, PUBSUB)).get('id')
                self.assertTrue(gen)
                await iq(a, 'set', "<pubsub xmlns='%s'><retract node='urn:example:list' notify='true'>"
                                   "<item id='i0'/></retract></pubsub>" % PUBSUB)
                got = await items_of(a, 'alice@' + DOMAIN, 'urn:example:list')
                self.assertEqual([i.get('id') for i in got], ['i1', 'i2', gen])
                with self.assertRaises(IqError) as e:
                    await iq(a, 'set', "<pubsub xmlns='%s'><retract node='urn:example:list'><item id='nope'/>"
                                       "</retract></pubsub>" % PUBSUB)
                self.assertEqual(error_of(e.exception)[0], 'item-not-found')
            finally:
                await a.bye()
        run(go())

    def test_publish_options_precondition_not_met(self):
        async def go():
            a = await pep_client(self.server, 'alice', 'prec')
            try:
                node = 'urn:example:private'
                # Auto-create applies the options as the node's configuration.
                await publish(a, node, "<p xmlns='urn:example:private'/>", id='1',
                              options=options_form(access_model='whitelist', persist_items='true'))
                x = await iq(a, 'get', "<pubsub xmlns='%s'><configure node='%s'/></pubsub>" % (OWNER, node))
                values = {f.get('var'): f.findtext('{jabber:x:data}value')
                          for f in x.iter('{jabber:x:data}field')}
                self.assertEqual(values['pubsub#access_model'], 'whitelist')
                # The node exists now: a different precondition refuses the publish.
                with self.assertRaises(IqError) as e:
                    await publish(a, node, "<p xmlns='urn:example:private'/>", id='2',
                                  options=options_form(access_model='presence'))
                self.assertEqual(error_of(e.exception), ('conflict', 'precondition-not-met'))
                got = await items_of(a, 'alice@' + DOMAIN, node)
                self.assertEqual([i.get('id') for i in got], ['1'], 'the refused item was not stored')
                # An unknown option is refused too.
                with self.assertRaises(IqError) as e:
                    await publish(a, node, "<p xmlns='urn:example:private'/>", id='3',
                                  options=options_form(frobnicate='1'))
                self.assertEqual(error_of(e.exception), ('conflict', 'precondition-not-met'))
            finally:
                await a.bye()
        run(go())

    def test_access_models_for_a_stranger(self):
        async def go():
            a = await pep_client(self.server, 'alice', 'am')
            carol = await pep_client(self.server, 'carol', 'c')
            try:
                alice = 'alice@' + DOMAIN
                await publish(a, TUNE, tune('Dowland'), id='secret')  # presence model (the default)
                await publish(a, 'urn:example:open', "<o xmlns='urn:example:open'/>", id='pub',
                              options=options_form(access_model='open'))
                with self.assertRaises(IqError) as e:
                    await items_of(carol, alice, TUNE)
                self.assertEqual(error_of(e.exception), ('not-authorized', 'presence-subscription-required'))
                got = await items_of(carol, alice, 'urn:example:open')
                self.assertEqual([i.get('id') for i in got], ['pub'], 'an open node is readable by anyone')
                # The account's disco is not a stranger's to see (the disco
                # module answers as for an account that does not exist);
                # an open node is still readable by its name, as above.
                with self.assertRaises(IqError) as e:
                    await iq(carol, 'get', "<query xmlns='http://jabber.org/protocol/disco#items'/>", to=alice)
                self.assertEqual(error_of(e.exception)[0], 'service-unavailable')
                # Only the owner publishes.
                with self.assertRaises(IqError) as e:
                    await iq(carol, 'set', "<pubsub xmlns='%s'><publish node='x'><item><x xmlns='x'/></item>"
                                           "</publish></pubsub>" % PUBSUB, to=alice)
                self.assertEqual(error_of(e.exception)[0], 'forbidden')
            finally:
                await self.bye(a, carol)
        run(go())

    def test_disco_of_the_account(self):
        async def go():
            a = await pep_client(self.server, 'alice', 'disco')
            try:
                x = await iq(a, 'get', "<query xmlns='http://jabber.org/protocol/disco#info'/>", to='alice@' + DOMAIN)
                ids = {(i.get('category'), i.get('type')) for i in x.iter('{http://jabber.org/protocol/disco#info}identity')}
                self.assertIn(('pubsub', 'pep'), ids)
                feats = {f.get('var') for f in x.iter('{http://jabber.org/protocol/disco#info}feature')}
                for f in ('publish', 'auto-create', 'publish-options', 'access-presence', 'filtered-notifications'):
                    self.assertIn('%s#%s' % (PUBSUB, f), feats)
                self.assertIn(BOOKMARKS + '#compat', feats)
                self.assertNotIn('%s#subscribe' % PUBSUB, feats, 'explicit subscriptions are not offered')
                x = await iq(a, 'get', "<query xmlns='http://jabber.org/protocol/disco#info'/>", to=DOMAIN)
                feats = {f.get('var') for f in x.iter('{http://jabber.org/protocol/disco#info}feature')}
                self.assertIn('jabber:iq:private', feats)
            finally:
                await a.bye()
        run(go())

    def test_bookmarks_views_agree(self):
        async def go():
            a = await pep_client(self.server, 'bob', 'modern', notify=(BOOKMARKS,))
            try:
                bob = 'bob@' + DOMAIN
                # XEP-0402 publish with the options the XEP asks for.
                await publish(a, BOOKMARKS, "<conference xmlns='%s' name='Play' autojoin='true'><nick>JC</nick>"
                                            "</conference>" % BOOKMARKS, id='play@conference.' + DOMAIN,
                              options=options_form(persist_items='true', max_items='max',
                                                   send_last_published_item='never', access_model='whitelist'))
                await next_event(a, BOOKMARKS)
                # The XEP-0048 view in private storage shows it.
                x = await iq(a, 'get', "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>")
                confs = x.findall('.//{storage:bookmarks}conference')
                self.assertEqual([(c.get('jid'), c.get('name'), c.get('autojoin'), c.findtext('{storage:bookmarks}nick'))
                                  for c in confs], [('play@conference.' + DOMAIN, 'Play', 'true', 'JC')])
                # A legacy client replaces the list: one room kept, one added, with a URL bookmark.
                await iq(a, 'set', "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>"
                                   "<conference jid='play@conference.%s' name='Play' autojoin='true'><nick>JC</nick>"
                                   "</conference><conference jid='orchard@conference.%s' name='Orchard'/>"
                                   "<url name='Site' url='https://example.org/'/></storage></query>" % (DOMAIN, DOMAIN))
                m = await next_event(a, BOOKMARKS)
                item = m.xml.find('{%s}event/{%s}items/{%s}item' % (EVENT, EVENT, EVENT))
                self.assertEqual(item.get('id'), 'orchard@conference.' + DOMAIN,
                                 'only the new room is notified, not the unchanged one')
                got = await items_of(a, bob, BOOKMARKS)
                self.assertEqual(sorted(i.get('id') for i in got),
                                 ['orchard@conference.' + DOMAIN, 'play@conference.' + DOMAIN])
                # Removing a room in the legacy view retracts it from the node.
                await iq(a, 'set', "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>"
                                   "<conference jid='orchard@conference.%s' name='Orchard'/></storage></query>" % DOMAIN)
                m = await next_event(a, BOOKMARKS)
                self.assertIsNotNone(m.xml.find('{%s}event/{%s}items/{%s}retract' % (EVENT, EVENT, EVENT)))
                got = await items_of(a, bob, BOOKMARKS)
                self.assertEqual([i.get('id') for i in got], ['orchard@conference.' + DOMAIN])
                x = await iq(a, 'get', "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>")
                self.assertEqual([c.get('jid') for c in x.findall('.//{storage:bookmarks}conference')],
                                 ['orchard@conference.' + DOMAIN])
                self.assertEqual(len(x.findall('.//{storage:bookmarks}url')), 0, 'the last set had no URL')
                # The node keeps bookmarks private: carol cannot read them.
                carol = await pep_client(self.server, 'carol', 'peek')
                try:
                    with self.assertRaises(IqError) as e:
                        await items_of(carol, bob, BOOKMARKS)
                    self.assertEqual(error_of(e.exception), ('not-allowed', 'closed-node'))
                finally:
                    await carol.bye()
            finally:
                await a.bye()
        run(go())

    def test_private_storage_of_any_namespace(self):
        async def go():
            a = await pep_client(self.server, 'carol', 'priv')
            try:
                await iq(a, 'set', "<query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'>"
                                   "<color>green</color></prefs></query>")
                x = await iq(a, 'get', "<query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query>")
                self.assertEqual(x.findtext('.//{urn:example:prefs}color'), 'green')
                x = await iq(a, 'get', "<query xmlns='jabber:iq:private'><other xmlns='urn:example:none'/></query>")
                self.assertIsNotNone(x.find('.//{urn:example:none}other'), 'nothing stored: the empty element')
                with self.assertRaises(IqError) as e:
                    await iq(a, 'get', "<query xmlns='jabber:iq:private'/>")
                self.assertEqual(error_of(e.exception)[0], 'bad-request')
                with self.assertRaises(IqError) as e:
                    await iq(a, 'get', "<query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query>",
                             to='alice@' + DOMAIN)
                self.assertEqual(error_of(e.exception)[0], 'forbidden')
            finally:
                await a.bye()
        run(go())


class Contacts(PepTest):
    """Contacts (ROSTER): alice and bob see each other's presence, carol does not."""

    @classmethod
    def setUpClass(cls):
        if HAVE_ROSTER:
            return super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix='parley-pep-')
        cls.server = ParleyServer(modules=MODULES + ('testroster',),
                                  module_options={'testroster': 'both = ["alice@%s bob@%s"]' % (DOMAIN, DOMAIN)},
                                  module_dir=module_dir_with_test_modules(os.path.join(cls.tmp, 'modules')))
        for u in cls.users:
            cls.server.add_user(u, 'secret')
        cls.server.start()

    async def subscribe_both(self, a, b):
        if not HAVE_ROSTER:
            return  # mod_testroster has them subscribed already
        b.auto_authorize = True
        a.auto_authorize = True
        b.auto_subscribe = True
        # Roster pushes go to the resources that asked for the roster.
        await a.get_roster()
        await b.get_roster()
        a.send_presence(pto=b.boundjid.bare, ptype='subscribe')
        # Bounded: wait until both rosters say both.
        for _ in range(100):
            if (a.client_roster[b.boundjid.bare]['subscription'] == 'both' and
                    b.client_roster[a.boundjid.bare]['subscription'] == 'both'):
                return
            await asyncio.sleep(0.1)
        raise AssertionError('no mutual subscription')

    def test_contact_with_notify_gets_it_and_one_without_does_not(self):
        async def go():
            a = await pep_client(self.server, 'alice', 'pub')
            b1 = await pep_client(self.server, 'bob', 'wants', notify=(TUNE, MOOD))
            b2 = await pep_client(self.server, 'bob', 'nowant', notify=(MOOD,))
            try:
                await self.subscribe_both(a, b1)
                await publish(a, TUNE, tune('Tallis'), id='c1')
                m = await event_for_item(b1, TUNE, 'c1')
                self.assertEqual(m['from'].bare, 'alice@' + DOMAIN)
                await publish(a, MOOD, mood('calm'))
                await next_event(b2, MOOD)
                self.assertNotIn(TUNE, b2.skipped, 'no tune event for the resource without tune+notify')
                # A contact may read the presence-model node; carol may not.
                got = await items_of(b1, 'alice@' + DOMAIN, TUNE)
                self.assertEqual([i.get('id') for i in got], ['c1'])
                carol = await pep_client(self.server, 'carol', 'c', notify=(TUNE,))
                try:
                    with self.assertRaises(IqError) as e:
                        await items_of(carol, 'alice@' + DOMAIN, TUNE)
                    self.assertEqual(error_of(e.exception), ('not-authorized', 'presence-subscription-required'))
                    await publish(a, TUNE, tune('Byrd'), id='c2')
                    await event_for_item(b1, TUNE, 'c2')
                    await publish(a, MOOD, mood('bored'), id='sync')
                    await event_for_item(b1, MOOD, 'sync')
                    # The fan-out to every worker was queued with bob's: a
                    # bounded pause lets another worker's inbox drain too.
                    await asyncio.sleep(0.5)
                    self.assertTrue(carol.messages.empty(), 'carol, no contact, gets no event although she asks')
                finally:
                    await carol.bye()
            finally:
                await self.bye(a, b1, b2)
        run(go())

    def test_contact_gets_last_item_when_coming_online(self):
        async def go():
            a = await pep_client(self.server, 'alice', 'pub2')
            b = await pep_client(self.server, 'bob', 'first')
            try:
                await self.subscribe_both(a, b)
                await publish(a, MOOD, mood('sleepy'), id='m-last')
                late = await pep_client(self.server, 'bob', 'late', notify=(MOOD,))
                try:
                    m = await event_for_item(late, MOOD, 'm-last')
                    self.assertEqual(m['from'].bare, 'alice@' + DOMAIN)
                finally:
                    await late.bye()
            finally:
                await self.bye(a, b)
        run(go())


class Persistence(unittest.TestCase):
    def test_items_survive_a_restart(self):
        server = ParleyServer(modules=MODULES)
        try:
            server.add_user('dora', 'secret')
            server.start()

            async def before():
                a = await pep_client(server, 'dora', 'one')
                try:
                    await publish(a, 'urn:xmpp:vcard4', "<vcard xmlns='urn:ietf:params:xml:ns:vcard-4.0'>"
                                                        "<fn><text>Dora</text></fn></vcard>", id='v1')
                    await iq(a, 'set', "<query xmlns='jabber:iq:private'><p xmlns='urn:example:p'>kept</p></query>")
                finally:
                    await a.bye()
            run(before())
            self.assertEqual(server.stop(), 0)
            os.rename(server.log_path, server.log_path + '.first')  # "ready" must come from the new process
            server.start()

            async def after():
                a = await pep_client(server, 'dora', 'two')
                try:
                    got = await items_of(a, 'dora@' + DOMAIN, 'urn:xmpp:vcard4')
                    self.assertEqual([i.get('id') for i in got], ['v1'])
                    self.assertEqual(got[0].findtext('.//{urn:ietf:params:xml:ns:vcard-4.0}text'), 'Dora')
                    x = await iq(a, 'get', "<query xmlns='jabber:iq:private'><p xmlns='urn:example:p'/></query>")
                    self.assertEqual(x.findtext('.//{urn:example:p}p'), 'kept')
                finally:
                    await a.bye()
            run(after())
        finally:
            server.stop()
            server.cleanup()


if __name__ == '__main__':
    unittest.main()
