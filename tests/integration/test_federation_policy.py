"""The federation policy (mod_federation_policy) between real parleyd servers.

parley.test runs the policy (and the archive, for its audit log); other.test
and third.test are plain federating servers. Tiers decide what crosses
each way, how a peer must prove its domain, and how fast it may send;
`parleyctl federation` changes and explains the policy at run time and
closes links a change blocks.
"""
import asyncio
import json
import unittest

from harness import ParleyServer, cert_dir, free_port, run
from test_content_policy import error_of as content_error_of
from test_mam import write_key
from test_s2s import login, s2s_table, stranger_ca

CONTENT = '''
[[modules.content_policy.rule]]
name = "no-cards-to-restricted"
detect = ["card"]
tiers = ["restricted"]
action = "block"

[[modules.content_policy.rule]]
name = "no-keys-coming-in"
detect = ["private_key"]
direction = ["incoming"]
action = "block"
'''
CARD = '4111 1111 1111 1111'
KEY = '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----'

POLICY = '''
[[modules.federation_policy.tier]]
name = "restricted"
rate_per_s = 2
burst = 3

[[modules.federation_policy.domain]]
name = "other.test"
tier = "restricted"
'''


def error_of(m):
    """(condition, text) of an error, read from the XML (slixmpp 1.8 does not
    know RFC 6120's policy-violation); None for anything else."""
    return content_error_of(m)[1:] if m['type'] == 'error' else None


async def drain(client, seconds):
    """Every message the client receives within `seconds`."""
    got = []
    loop = asyncio.get_event_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        try:
            got.append(await client.next_message(timeout=max(0.05, end - loop.time())))
        except asyncio.TimeoutError:
            break
    return got


class FederationPolicy(unittest.TestCase):
    def setUp(self):
        self.ports = {d: free_port() for d in ('parley.test', 'other.test', 'third.test')}
        routes = lambda me: {d: p for d, p in self.ports.items() if d != me}
        # parley.test trusts only a CA that signed nobody: every peer's
        # certificate is unproven there, so third.test can only use dialback.
        # other.test is let in anyway by its own test below (a tier that takes dialback).
        self.a = ParleyServer(domain='parley.test',
                              modules=('disco', 'ping', 'roster', 'archive', 'federation_policy', 'content_policy'),
                              module_options={'archive': 'key_file = "archive.key"', 'federation_policy': POLICY,
                                              'content_policy': CONTENT},
                              extra=s2s_table(self.ports['parley.test'], routes('parley.test')))
        write_key(self.a.dir)
        self.b = ParleyServer(domain='other.test', modules=('disco', 'ping', 'roster'),
                              extra=s2s_table(self.ports['other.test'], routes('other.test')))
        self.c = ParleyServer(domain='third.test', modules=('disco', 'ping', 'roster'),
                              extra=s2s_table(self.ports['third.test'], routes('third.test')))
        for s in (self.a, self.b, self.c):
            self.addCleanup(s.cleanup)
            s.add_user('user', 'secret')
            s.start()
            self.addCleanup(s.stop)

    def test_a_restricted_peer_chats_but_sends_no_links_and_is_rate_limited(self):
        async def scenario():
            alice = await login(self.a)
            bob = await login(self.b)
            alice.send_message(mto='user@other.test', mbody='plain words', mtype='chat')
            self.assertEqual((await bob.next_message(timeout=15))['body'], 'plain words')
            # A link out: refused at parley.test, naming the tier and the rule.
            alice.send_message(mto='user@other.test', mbody='see https://files.parley.test/q3.pdf', mtype='chat')
            condition, text = error_of(await alice.next_message(timeout=15))
            self.assertEqual(condition, 'policy-violation')
            self.assertIn('files to this domain is not allowed (tier restricted, rule domain other.test (config))', text)
            # A link in: refused, back to its remote sender.
            bob.send_message(mto='user@parley.test', mbody='https://other.test/x.zip', mtype='chat')
            condition, text = error_of(await bob.next_message(timeout=15))
            self.assertEqual(condition, 'policy-violation')
            self.assertIn('files from this domain', text)
            # A burst over the tier's rate: some pass, the rest come back.
            for i in range(12):
                bob.send_message(mto='user@parley.test', mbody='burst %d' % i, mtype='chat')
            got = await drain(alice, 3)
            back = await drain(bob, 1)
            passed = [m['body'] for m in got if m['type'] != 'error' and m['body'].startswith('burst')]
            limited = [error_of(m) for m in back if m['type'] == 'error']
            self.assertGreaterEqual(len(passed), 1)
            self.assertLess(len(passed), 12, 'a burst of 12 at 2/s (burst 3) must not all pass')
            self.assertEqual(len(passed) + len(limited), 12)
            self.assertTrue(all(c == 'resource-constraint' and 'tier restricted' in t for c, t in limited), limited)
            await alice.bye()
            await bob.bye()
        run(scenario(), timeout=90)
        shown = json.loads(self.a.ctl('federation', 'show', 'other.test', '--json').stdout)
        self.assertEqual(shown['tier'], 'restricted')
        self.assertEqual(shown['refused']['out'], 1)
        self.assertEqual(shown['refused']['in'], 1)
        self.assertGreaterEqual(shown['refused']['rate'], 1)
        explained = self.a.ctl('federation', 'explain', 'user@other.test', 'files').stdout
        self.assertIn('refused', explained)
        self.assertIn('tier restricted', explained)
        self.assertIn('passes', self.a.ctl('federation', 'explain', 'user@other.test', 'chat').stdout)
        # The audit log holds each refusal, with the rule.
        audit = json.loads(self.a.ctl('archive', 'audit', '--json').stdout)
        self.assertTrue(audit['ok'])
        actions = sorted(e['action'] for e in audit['last'] if e['action'].startswith('federation.'))
        self.assertIn('federation.refuse_out', actions)
        self.assertIn('federation.refuse_in', actions)
        self.assertIn('federation.rate_limit', actions)

    def test_content_rules_by_tier_and_on_what_comes_in(self):
        async def scenario():
            alice = await login(self.a)
            bob = await login(self.b)
            carol = await login(self.c)
            # other.test is restricted: no card number goes there. third.test
            # (restricted by default) is made trusted: there a card passes.
            self.a.ctl('federation', 'allow', 'third.test')
            alice.send_message(mto='user@other.test', mbody='card ' + CARD, mtype='chat')
            condition, text = error_of(await alice.next_message(timeout=15))
            self.assertEqual(condition, 'policy-violation')
            self.assertIn('no-cards-to-restricted', text)
            alice.send_message(mto='user@third.test', mbody='card ' + CARD, mtype='chat')
            self.assertEqual((await carol.next_message(timeout=20))['body'], 'card ' + CARD)
            # A private key sent to us from another server is refused, back to its sender.
            bob.send_message(mto='user@parley.test', mbody=KEY, mtype='chat')
            condition, text = error_of(await bob.next_message(timeout=15))
            self.assertEqual(condition, 'policy-violation')
            self.assertIn('no-keys-coming-in', text)
            bob.send_message(mto='user@parley.test', mbody='just words', mtype='chat')
            self.assertEqual([m['body'] for m in await drain(alice, 3)], ['just words'])
            for c in (alice, bob, carol):
                await c.bye()
        run(scenario(), timeout=120)

    def test_deny_closes_the_link_and_refuses_both_ways(self):
        async def scenario():
            alice = await login(self.a)
            bob = await login(self.b)
            alice.send_message(mto='user@other.test', mbody='before', mtype='chat')
            self.assertEqual((await bob.next_message(timeout=15))['body'], 'before')
            out = self.a.ctl('federation', 'deny', 'other.test').stdout
            self.assertIn('tier blocked', out)
            self.assertTrue(self.a.wait_log(r'link\(s\) closed: blocked'))
            alice.send_message(mto='user@other.test', mbody='after', mtype='chat')
            condition, text = error_of(await alice.next_message(timeout=15))
            self.assertEqual(condition, 'policy-violation')
            self.assertIn('blocked', text)
            bob.send_message(mto='user@parley.test', mbody='let me in', mtype='chat')
            m = await bob.next_message(timeout=30)
            self.assertEqual(m['type'], 'error')
            self.assertEqual(await drain(alice, 1), [])
            # Cleared: the config's rule (restricted) applies again.
            self.assertIn('restricted', self.a.ctl('federation', 'clear', 'other.test').stdout)
            alice.send_message(mto='user@other.test', mbody='again', mtype='chat')
            self.assertEqual((await bob.next_message(timeout=20))['body'], 'again')
            await alice.bye()
            await bob.bye()
        run(scenario(), timeout=120)
        self.assertTrue(self.a.wait_log(r"other\.test is blocked by federation policy"))

    def test_a_tier_that_requires_a_certificate_refuses_dialback_until_allowed(self):
        # third.test has no rule: the default tier (restricted) wants a
        # certificate, and parley.test cannot verify third.test's.
        out = self.a.reload(edit=lambda text: text.replace(
            'ca_file = "%s/ca.pem"' % cert_dir(), 'ca_file = "%s"' % stranger_ca()), **self.a.settings)
        self.assertIn('reloaded', out)
        self.assertNotIn('need a restart', out)

        async def scenario():
            alice = await login(self.a)
            carol = await login(self.c)
            carol.send_message(mto='user@parley.test', mbody='by dialback', mtype='chat')
            self.assertEqual(await drain(alice, 3), [])
            self.assertIn('must prove', self.a.ctl('federation', 'explain', 'user@third.test').stdout)
            self.a.ctl('federation', 'allow', 'third.test')  # trusted: dialback is enough
            carol.send_message(mto='user@parley.test', mbody='by dialback, allowed', mtype='chat')
            got = [m['body'] for m in await drain(alice, 10)]
            self.assertIn('by dialback, allowed', got)
            # Back to a tier that wants a certificate: the stream proven by
            # dialback alone ends at once, and dialback is refused again.
            self.a.ctl('federation', 'tier', 'third.test', 'restricted')
            self.assertTrue(self.a.wait_log(r'link\(s\) closed: blocked, or not proven as the tier requires now'))
            carol.send_message(mto='user@parley.test', mbody='by dialback, again', mtype='chat')
            self.assertEqual(await drain(alice, 3), [])
            await alice.bye()
            await carol.bye()
        run(scenario(), timeout=120)
        self.assertTrue(self.a.wait_log(r'third\.test must prove its domain with a valid certificate'))
        self.assertTrue(self.a.wait_log(r'third\.test authenticated by dialback'))


if __name__ == '__main__':
    unittest.main()
