"""A login as real clients do it (Gajim, Conversations, Dino, Profanity do
these steps in some order): roster get, initial presence with entity
capabilities and +notify features, disco of the server and of the account,
carbons enable, blocklist, own vCard, legacy bookmarks through private XML
storage, PEP publish, stream management and client state, then a message
both ways with a carbon copy. Not one error stanza may come back, and no
stream error. Runs with exactly the modules doc/parley.example.toml enables
(and tools/setup/dev-server runs: the test checks they agree).

And disco of the server and of an account lists exactly the features that
work: the lists are compared whole, so a feature that appears (or vanishes)
without its test fails here until it is added to EXPECTED_* below with a
test of its own elsewhere."""
import asyncio
import os
import re
import unittest

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath
from slixmpp.exceptions import IqError, IqTimeout

from clients import Client
from harness import DOMAIN, ServerTestCase, free_port, run, worker_of

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def example_modules():
    """The `enabled` list of doc/parley.example.toml's [modules] table."""
    with open(os.path.join(TOP, 'doc/parley.example.toml')) as f:
        m = re.search(r'^enabled = \[([^\]]*)\]', f.read(), re.M)
    return tuple(x.strip().strip('"') for x in m.group(1).split(','))


def dev_server_modules():
    with open(os.path.join(TOP, 'tools/setup/dev-server')) as f:
        m = re.search(r'^(?:modules|enabled) = \[([^\]]*)\]', f.read(), re.M)
    return tuple(x.strip().strip('"') for x in m.group(1).split(','))


# What disco#info of the server lists with the example's modules, each
# working end to end (the test named after it proves it).
EXPECTED_SERVER_FEATURES = {
    'http://jabber.org/protocol/disco#info',       # test_modules
    'http://jabber.org/protocol/disco#items',      # test_modules
    'urn:xmpp:ping',                               # test_modules
    'jabber:iq:version',                           # test_modules
    'urn:xmpp:time',                               # test_modules
    'msgoffline',                                  # test_offline
    'urn:xmpp:carbons:2',                          # test_carbons
    'urn:xmpp:blocking',                           # test_blocking
    'vcard-temp',                                  # test_vcard
    'jabber:iq:last',                              # test_last
    'jabber:iq:private',                           # test_pep (XEP-0049)
    'urn:xmpp:bookmarks:1#compat',                 # test_pep (XEP-0402 <-> XEP-0048)
    # The archive adds urn:xmpp:parley:compliance-archive:0 only with
    # compliance = true (test_archive); the example has it off.
}

# What disco#info of an account lists (asked by the account itself).
EXPECTED_ACCOUNT_FEATURES = {
    'http://jabber.org/protocol/disco#info',
    'http://jabber.org/protocol/disco#items',
    'http://jabber.org/protocol/pubsub',
    'http://jabber.org/protocol/pubsub#access-presence',
    'http://jabber.org/protocol/pubsub#access-open',
    'http://jabber.org/protocol/pubsub#access-whitelist',
    'http://jabber.org/protocol/pubsub#auto-create',
    'http://jabber.org/protocol/pubsub#auto-subscribe',
    'http://jabber.org/protocol/pubsub#config-node',
    'http://jabber.org/protocol/pubsub#config-node-max',
    'http://jabber.org/protocol/pubsub#member-affiliation',
    'http://jabber.org/protocol/pubsub#meta-data',
    'http://jabber.org/protocol/pubsub#modify-affiliations',
    'http://jabber.org/protocol/pubsub#presence-subscribe',
    'http://jabber.org/protocol/pubsub#purge-nodes',
    'http://jabber.org/protocol/pubsub#retrieve-affiliations',
    'http://jabber.org/protocol/pubsub#retrieve-default',
    'urn:ietf:params:xml:ns:vcard-4.0',
    'http://jabber.org/protocol/pubsub#create-and-configure',
    'http://jabber.org/protocol/pubsub#create-nodes',
    'http://jabber.org/protocol/pubsub#delete-items',
    'http://jabber.org/protocol/pubsub#delete-nodes',
    'http://jabber.org/protocol/pubsub#filtered-notifications',
    'http://jabber.org/protocol/pubsub#item-ids',
    'http://jabber.org/protocol/pubsub#last-published',
    'http://jabber.org/protocol/pubsub#multi-items',
    'http://jabber.org/protocol/pubsub#persistent-items',
    'http://jabber.org/protocol/pubsub#presence-notifications',
    'http://jabber.org/protocol/pubsub#publish',
    'http://jabber.org/protocol/pubsub#publish-options',
    'http://jabber.org/protocol/pubsub#retract-items',
    'http://jabber.org/protocol/pubsub#retrieve-items',
    'urn:xmpp:bookmarks:1#compat',
    'jabber:iq:last',
    'vcard-temp',
    'urn:xmpp:mam:2',
    'urn:xmpp:mam:2#extended',
}


UPLOAD_PORT = free_port()


class Errors:
    """Every error stanza a client receives (message, presence, iq)."""

    def __init__(self, client):
        self.seen = []
        for kind in ('message', 'presence', 'iq'):
            client.register_handler(Callback(
                'errors-' + kind, StanzaPath('%s@type=error' % kind),
                lambda s: self.seen.append(str(s))))


class ClientLogin(ServerTestCase):
    users = ('kate', 'luke', 'mia')
    settings = {'modules': example_modules(),
                # The modules whose tables the example fills in for its own
                # domain and files: upload's domain, the archive's key file
                # (made below; compliance off, as in the example).
                'module_options': {'upload': 'domain = "upload.%s"\nhttp_port = %d\nexternal_url = "https://%s:%d"'
                                             % (DOMAIN, UPLOAD_PORT, DOMAIN, UPLOAD_PORT),
                                   'archive': 'key_file = "archive.key"\ncompliance = false'}}

    @classmethod
    def prepare(cls, server):
        server.archive_key('archive.key')

    def test_the_example_and_the_dev_server_run_the_same_modules(self):
        self.assertEqual(set(example_modules()), set(dev_server_modules()))
        for m in ('roster', 'offline', 'carbons', 'blocking', 'pep', 'vcard', 'last', 'sm', 'csi', 'upload', 'archive', 'mam'):
            self.assertIn(m, example_modules())

    async def _login(self, node, resource):
        plugins = ('xep_0030', 'xep_0115', 'xep_0163', 'xep_0198', 'xep_0352')
        c = Client('%s@%s/%s' % (node, DOMAIN, resource), 'secret', self.server.ca, plugins=plugins)
        errors = Errors(c)
        for feature in ('http://jabber.org/protocol/nick+notify', 'urn:xmpp:avatar:metadata+notify',
                        'urn:xmpp:bookmarks:1+notify', 'urn:xmpp:carbons:2'):
            c['xep_0030'].add_feature(feature)
        outcome = await c.login(self.server.starttls_port)
        self.assertEqual(outcome, 'session', self.server.log_text()[-3000:])
        await asyncio.wait_for(asyncio.shield(c.available), 15)
        return c, errors

    async def _query(self, c, to, ns, type_='get', payload=None, name='query'):
        iq = c.make_iq(ito=to, itype=type_)
        from slixmpp.xmlstream import ET
        iq.append(payload if payload is not None else ET.Element('{%s}%s' % (ns, name)))
        try:
            return await iq.send(timeout=10)
        except (IqError, IqTimeout) as e:
            raise AssertionError('%s %s to %s: %s' % (type_, ns, to, e))

    def test_a_login_as_real_clients_do_it_gets_no_error(self):
        async def go():
            kate, kate_errors = await self._login('kate', 'phone')
            kate2, kate2_errors = await self._login('kate', 'laptop')
            luke, luke_errors = await self._login('luke', 'desk')
            kate2_all = []
            kate2.register_handler(Callback('all-messages', StanzaPath('message'), lambda m: kate2_all.append(str(m))))
            from slixmpp.xmlstream import ET
            try:
                for c in (kate, kate2, luke):
                    me = c.boundjid.bare
                    await self._query(c, None, 'jabber:iq:roster')
                    for ns in ('http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items'):
                        await self._query(c, DOMAIN, ns)
                        await self._query(c, me, ns)
                    await self._query(c, None, 'urn:xmpp:carbons:2', 'set', name='enable')
                    await self._query(c, None, 'urn:xmpp:blocking', name='blocklist')
                    await self._query(c, None, 'vcard-temp', name='vCard')
                    private = ET.Element('{jabber:iq:private}query')
                    private.append(ET.Element('{storage:bookmarks}storage'))
                    await self._query(c, None, 'jabber:iq:private', payload=private)
                    await self._query(c, DOMAIN, 'urn:xmpp:ping', name='ping')
                    await self._query(c, DOMAIN, 'jabber:iq:version')
                    await self._query(c, DOMAIN, 'urn:xmpp:time', name='time')
                    await self._query(c, DOMAIN, 'jabber:iq:last')
                    # A nickname published (XEP-0172 over PEP).
                    pubsub = ET.fromstring(
                        "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'>"
                        "<item id='current'><nick xmlns='http://jabber.org/protocol/nick'>%s</nick></item>"
                        "</publish></pubsub>" % c.boundjid.user)
                    await self._query(c, None, 'http://jabber.org/protocol/pubsub', 'set', payload=pubsub)
                    c['xep_0352'].send_inactive()
                    c['xep_0352'].send_active()
                # A subscription both ways, then a chat message each way.
                luke.send_presence(pto=kate.boundjid.bare, ptype='subscribe')
                await asyncio.sleep(0.3)
                kate.send_presence(pto=luke.boundjid.bare, ptype='subscribed')
                kate.send_presence(pto=luke.boundjid.bare, ptype='subscribe')
                await asyncio.sleep(0.3)
                luke.send_presence(pto=kate.boundjid.bare, ptype='subscribed')
                luke.send_message(mto=kate.boundjid.bare, mbody='hello kate', mtype='chat')
                got = await kate.next_message(10)
                self.assertEqual(got['body'], 'hello kate')
                kate.send_message(mto=luke.boundjid.bare, mbody='hello luke', mtype='chat')
                self.assertEqual((await luke.next_message(10))['body'], 'hello luke')
                # kate's other resource has both: the one to her bare JID, and
                # what kate/phone sent as a carbon.
                for _ in range(50):
                    if any('hello luke' in m and 'urn:xmpp:carbons:2' in m for m in kate2_all):
                        break
                    await asyncio.sleep(0.1)
                self.assertTrue(any('hello kate' in m for m in kate2_all), kate2_all)
                self.assertTrue(any('hello luke' in m and 'urn:xmpp:carbons:2' in m for m in kate2_all), kate2_all)
                # Give late answers (caps queries, PEP notifications) a moment.
                await asyncio.sleep(0.5)
                for who, errs in (('kate/phone', kate_errors), ('kate/laptop', kate2_errors), ('luke', luke_errors)):
                    self.assertEqual(errs.seen, [], '%s received error stanzas' % who)
                for c in (kate, kate2, luke):
                    self.assertEqual(c.stream_errors, [])
                # Both workers took part (SO_REUSEPORT spreads them; not guaranteed, so only logged).
                workers = {worker_of(self.server, str(c.boundjid)) for c in (kate, kate2, luke)}
                print('  workers used: %s' % sorted(w for w in workers if w is not None))
            finally:
                for c in (kate, kate2, luke):
                    await c.bye()
        run(go(), timeout=90)

    def test_disco_lists_exactly_the_features_that_work(self):
        async def go():
            c, errors = await self._login('mia', 'x')
            try:
                info = await self._query(c, DOMAIN, 'http://jabber.org/protocol/disco#info')
                features = {f for f in info['disco_info']['features']}
                self.assertEqual(features, EXPECTED_SERVER_FEATURES,
                                 'extra: %s, missing: %s' % (features - EXPECTED_SERVER_FEATURES,
                                                             EXPECTED_SERVER_FEATURES - features))
                ids = {(i[0], i[1]) for i in info['disco_info']['identities']}
                self.assertEqual(ids, {('server', 'im')})
                mine = await self._query(c, c.boundjid.bare, 'http://jabber.org/protocol/disco#info')
                account = {f for f in mine['disco_info']['features']}
                self.assertEqual(account, EXPECTED_ACCOUNT_FEATURES,
                                 'extra: %s, missing: %s' % (account - EXPECTED_ACCOUNT_FEATURES,
                                                             EXPECTED_ACCOUNT_FEATURES - account))
                ids = {(i[0], i[1]) for i in mine['disco_info']['identities']}
                self.assertEqual(ids, {('account', 'registered'), ('pubsub', 'pep')})
                self.assertEqual(errors.seen, [])
            finally:
                await c.bye()
        run(go())


if __name__ == '__main__':
    unittest.main()
