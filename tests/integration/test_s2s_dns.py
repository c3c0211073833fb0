"""Finding a federated server in DNS (RFC 6120 §3.2, XEP-0368).

parley.test has no route to the domains it writes to: it asks a test DNS
server (tests/integration/dns_server.py, on a loopback port, named in
[s2s] dns_servers) for their SRV records, then their targets' addresses,
and must reach the real parleyd serving them. The way back uses static
routes. Each test asserts what only a working lookup gives: the message
arrives, the dead target was tried and skipped, or the right bounce.
"""
import re
import unittest

from dns_server import DnsServer
from harness import ParleyServer, free_port, run
from test_s2s import error_condition, login, next_chat, s2s_table, stop_servers


def start(domain, port, routes, extra='', address='127.0.0.1', dns=None):
    kw = {'dns': dns} if dns else {}
    s = ParleyServer(domain=domain, modules=('disco', 'ping', 'roster'),
                     extra=s2s_table(port, routes, extra=extra, address=address, **kw))
    s.add_user('user', 'secret')
    s.start()
    return s


def stop_all(servers, dns):
    try:
        stop_servers(servers)
    finally:
        dns.stop()


class SrvLookups(unittest.TestCase):
    def test_srv_targets_are_tried_in_order_over_both_services(self):
        dns = DnsServer().start()
        ports = {d: free_port() for d in ('parley.test', 'other.test', 'third.test')}
        other_direct, dead = free_port(), free_port()  # nothing listens on `dead`
        # other.test: a dead direct-TLS target first, then a live one; its
        # STARTTLS record comes last. third.test: STARTTLS only.
        dns.srv['_xmpps-server._tcp.other.test'] = [(0, 0, dead, 'dead.other.test'),
                                                     (5, 0, other_direct, 'xmpps.other.test')]
        dns.srv['_xmpp-server._tcp.other.test'] = [(10, 0, ports['other.test'], 'xmpp.other.test')]
        dns.srv['_xmpp-server._tcp.third.test'] = [(0, 0, ports['third.test'], 'xmpp.third.test')]
        for host in ('dead.other.test', 'xmpps.other.test', 'xmpp.other.test', 'xmpp.third.test'):
            dns.a[host] = ['127.0.0.1']
        servers = []
        try:
            parley = start('parley.test', ports['parley.test'], {}, dns=dns.address)
            servers.append(parley)
            back = {'parley.test': ports['parley.test']}
            other = start('other.test', ports['other.test'], back, extra='direct_tls_port = %d' % other_direct)
            servers.append(other)
            third = start('third.test', ports['third.test'], back)
            servers.append(third)

            async def conversation():
                alice = await login(parley)
                bob = await login(other)
                carol = await login(third)
                alice.send_message(mto='user@other.test', mbody='found you by SRV', mtype='chat')
                alice.send_message(mto='user@third.test', mbody='and you by STARTTLS SRV', mtype='chat')
                self.assertEqual((await next_chat(bob))['body'], 'found you by SRV')
                self.assertEqual((await next_chat(carol))['body'], 'and you by STARTTLS SRV')
                bob.send_message(mto='user@parley.test', mbody='back by route', mtype='chat')
                self.assertEqual((await next_chat(alice))['body'], 'back by route')
                for c in (alice, bob, carol):
                    await c.bye()
            run(conversation(), timeout=90)
            asked = dns.questions(DnsServer.SRV)
            for name in ('_xmpps-server._tcp.other.test', '_xmpp-server._tcp.other.test',
                         '_xmpps-server._tcp.third.test', '_xmpp-server._tcp.third.test'):
                self.assertIn(name, asked)
            # The dead target was tried first and skipped; the live direct
            # TLS one carried the link (other.test saw a direct TLS stream).
            self.assertTrue(parley.wait_log(r'parley\.test -> other\.test: dead\.other\.test:%d \(SRV, direct TLS\)' % dead))
            self.assertTrue(parley.wait_log(r'parley\.test -> other\.test: link up'))
            self.assertTrue(other.wait_log(r'\(s2s direct TLS\)'))
            self.assertTrue(parley.wait_log(r'parley\.test -> third\.test: link up'))
            self.assertNotIn('xmpp.other.test', dns.questions(DnsServer.A),
                             'the STARTTLS target of lower preference was not needed')
        finally:
            stop_all(servers, dns)

    def test_without_srv_the_domain_itself_is_reached_on_5269(self):
        dns = DnsServer().start()
        # other.test listens for s2s on its own address, port 5269.
        dns.a['other.test'] = ['127.0.1.7']
        ports = {'parley.test': free_port()}
        servers = []
        try:
            parley = start('parley.test', ports['parley.test'], {}, dns=dns.address)
            servers.append(parley)
            other = start('other.test', 5269, {'parley.test': ports['parley.test']}, address='127.0.1.7')
            servers.append(other)

            async def conversation():
                alice = await login(parley)
                bob = await login(other)
                alice.send_message(mto='user@other.test', mbody='plain A record', mtype='chat')
                self.assertEqual((await next_chat(bob))['body'], 'plain A record')
                await alice.bye()
                await bob.bye()
            run(conversation(), timeout=90)
            self.assertIn('_xmpp-server._tcp.other.test', dns.questions(DnsServer.SRV))
            self.assertIn('other.test', dns.questions(DnsServer.A))
        finally:
            stop_all(servers, dns)

    def test_no_service_no_domain_and_no_answer_bounce(self):
        dns = DnsServer().start()
        # "." says: no XMPP here (RFC 2782). nowhere.test does not exist.
        # slow.test's questions are never answered.
        dns.srv['_xmpp-server._tcp.nofed.test'] = [(0, 0, 0, '.')]
        dns.a['nofed.test'] = ['127.0.0.1']
        dns.silent |= {'_xmpps-server._tcp.slow.test', '_xmpp-server._tcp.slow.test', 'slow.test'}
        servers = []
        try:
            parley = start('parley.test', free_port(), {}, dns=dns.address,
                           extra='dns_timeout_ms = 300\ndns_tries = 1')
            servers.append(parley)

            async def conversation():
                alice = await login(parley)
                got = {}
                for domain in ('nofed.test', 'nowhere.test', 'slow.test'):
                    alice.send_message(mto='someone@%s' % domain, mbody='anyone?', mtype='chat')
                for _ in range(3):
                    m = await next_chat(alice, timeout=20)
                    got[m['from'].domain] = (error_condition(m), m['error']['text'])
                self.assertEqual(got['nofed.test'][0], 'remote-server-not-found')
                self.assertIn('not available', got['nofed.test'][1])
                self.assertEqual(got['nowhere.test'][0], 'remote-server-not-found')
                self.assertIn('no address was found for nowhere.test', got['nowhere.test'][1])
                self.assertEqual(got['slow.test'][0], 'remote-server-not-found')
                self.assertIn('slow.test', got['slow.test'][1])
                # The server is still fine.
                pong = await alice['xep_0199'].ping('parley.test', timeout=10)
                self.assertIsNotNone(pong)
                await alice.bye()
            run(conversation(), timeout=60)
            # "." ends the search: no fallback to nofed.test's address.
            self.assertNotIn('nofed.test', dns.questions(DnsServer.A))
            self.assertIn('nowhere.test', dns.questions(DnsServer.A))
            self.assertTrue(parley.wait_log(re.escape('parley.test -> slow.test: SRV lookup failed')))
        finally:
            stop_all(servers, dns)


if __name__ == '__main__':
    unittest.main()
