"""Reload (SIGHUP) does what parley.toml(5) says: every key it calls
reloadable is changed by a reload and the new behaviour is observed; keys
that need a restart are named in the reload's log line."""
import base64
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import DOMAIN, ParleyServer, RawStream, TOP, cert_dir, module_dir_with_test_modules, run
from clients import online

SASL = 'failure_delay_ms = 50\nfailure_delay_max_ms = 200'


def offered(features):
    return re.findall(r'<mechanism>([^<]+)</mechanism>', features)


def bind(stream, resource, iq_id):
    stream.buf = b''
    stream.send("<iq type='set' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>%s</resource>"
                "</bind></iq>" % (iq_id, resource))
    return stream.read_until("id='%s'.*?</iq>" % iq_id)


def authenticated(server, node):
    """A stream logged in as `node` that has not bound a resource yet."""
    s = RawStream(server.starttls_port)
    s.secure(server.ca)
    s.auth_plain(node, 'secret')
    s.read_until('<success')
    s.buf = b''
    s.open()
    s.read_until('</stream:features>')
    return s


def login(server, node, resource):
    s = RawStream(server.starttls_port)
    s.login_plain(server.ca, node, 'secret', resource=resource)
    return s


def scram_iterations(server, node):
    """The iteration count of the server-first-message of SCRAM-SHA-1 for `node`."""
    s = RawStream(server.starttls_port)
    s.secure(server.ca)
    first = base64.b64encode(b'n,,n=' + node.encode() + b',r=fyko+d2lbbFgONRv9qkxdawL').decode()
    s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>%s</auth>" % first)
    text = s.read_until('</challenge>')
    s.close()
    challenge = base64.b64decode(re.search(r'<challenge[^>]*>([^<]+)</challenge>', text).group(1)).decode()
    return int(re.search(r'(?:^|,)i=(\d+)', challenge).group(1))


def peer_certificate(port, server_name):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)


def pem_certificate(path):
    with open(path) as f:
        text = f.read()
    first = text[:text.index('-----END CERTIFICATE-----') + len('-----END CERTIFICATE-----')]
    return ssl.PEM_cert_to_DER_cert(first)


class Reload(unittest.TestCase):
    def setUp(self):
        self.server = None

    def tearDown(self):
        if self.server:
            try:
                self.server.stop()
            finally:
                self.server.cleanup()

    def start(self, users=('alice',), **settings):
        self.settings = dict(settings)
        self.server = ParleyServer(**settings)
        for u in users:
            self.server.add_user(u, 'secret')
        self.server.start()

    def reload(self, expect='reloaded', **changes):
        """Reloads with the start settings updated by `changes`."""
        self.settings.update(changes)
        tail = self.server.reload(**self.settings)
        self.assertIn(expect, tail, tail)
        return tail

    def test_sasl_mechanisms(self):
        self.start(sasl=SASL + '\nmechanisms = ["SCRAM-SHA-256"]')
        s = RawStream(self.server.starttls_port)
        self.assertEqual(offered(s.secure(self.server.ca)), ['SCRAM-SHA-256'])
        s.close()
        self.reload(sasl=SASL + '\nmechanisms = ["SCRAM-SHA-1", "PLAIN"]')
        s = RawStream(self.server.starttls_port)
        self.assertEqual(offered(s.secure(self.server.ca)), ['SCRAM-SHA-1', 'PLAIN'],
                         'new streams must be offered the reloaded mechanisms')
        s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>"
               "biwsbj1hbGljZSxyPWFiY2RlZg==</auth>")
        self.assertIn('<invalid-mechanism', s.read_until('</failure>'))
        s.close()
        # A mechanism added by the reload works.
        login(self.server, 'alice', 'plain').close()

    def test_sasl_failure_delays(self):
        self.start()
        self.reload(sasl='failure_delay_ms = 700\nfailure_delay_max_ms = 700')
        s = RawStream(self.server.starttls_port)
        s.secure(self.server.ca)
        t0 = time.monotonic()
        s.auth_plain('nobody', 'wrong')
        s.read_until('</failure>')
        waited = time.monotonic() - t0
        s.close()
        self.assertGreaterEqual(waited, 0.65, 'the reloaded failure delay (700 ms) must apply: %.3fs' % waited)

    def test_sasl_scram_iterations(self):
        # A domain's real accounts set the count a name without an account
        # shows (no enumeration); with no account yet, scram_iterations does.
        self.start(users=())
        self.assertEqual(scram_iterations(self.server, 'nobody'), 4096)
        self.reload(sasl=SASL + '\nscram_iterations = 5000')
        self.assertEqual(scram_iterations(self.server, 'nobody'), 5000)

    def test_log_level_and_file(self):
        self.start()
        new_log = os.path.join(self.server.dir, 'after-reload.log')
        # The outcome of this reload is logged to the new file already.
        self.settings['log'] = 'level = "info"\nfile = "%s"' % new_log
        self.server.write_config(**self.settings)
        mark = len(self.server.log_text())
        self.server.signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (os.path.exists(new_log) and 'reloaded' in open(new_log).read()):
            time.sleep(0.05)
        self.assertIn('reloaded', open(new_log).read() if os.path.exists(new_log) else '',
                      self.server.log_text()[-2000:])
        login(self.server, 'alice', 'r').close()
        deadline = time.monotonic() + 10
        text = ''
        while time.monotonic() < deadline and 'alice@parley.test/r bound' not in text:
            time.sleep(0.05)
            text = open(new_log).read() if os.path.exists(new_log) else ''
        self.assertIn('alice@parley.test authenticated', text, 'log.file: lines go to the new file')
        self.assertNotIn('TLS established', text, 'log.level: debug lines are no longer written')
        self.assertNotIn('alice@parley.test authenticated', self.server.log_text()[mark:],
                         'log.file: nothing more goes to the old destination')

    def test_virtual_hosts_and_certificates(self):
        self.start()
        s = RawStream(self.server.starttls_port)
        s.open(to='other.test')
        self.assertIn('host-unknown', s.read_until('host-unknown'))
        s.close()
        self.assertEqual(peer_certificate(self.server.direct_port, DOMAIN),
                         pem_certificate(os.path.join(cert_dir(), DOMAIN + '.pem')))
        # A new certificate for parley.test (from another CA), and a second host.
        fresh = tempfile.mkdtemp(prefix='parley-certs-', dir=self.server.dir)
        subprocess.run(['sh', os.path.join(TOP, 'tests/support/certs.sh'), fresh, DOMAIN], check=True, timeout=60)
        other = ('\n[[virtual_host]]\ndomain = "other.test"\ncertificate = "%s/other.test.pem"\n'
                 'key = "%s/other.test.key"\n' % (cert_dir(), cert_dir()))

        def new_files(text):
            return text.replace('%s/%s.' % (cert_dir(), DOMAIN), '%s/%s.' % (fresh, DOMAIN))
        self.reload(extra=other, edit=new_files)
        self.assertEqual(peer_certificate(self.server.direct_port, DOMAIN),
                         pem_certificate(os.path.join(fresh, DOMAIN + '.pem')),
                         'virtual_host.certificate: new connections get the reloaded certificate')
        self.assertEqual(peer_certificate(self.server.direct_port, 'other.test'),
                         pem_certificate(os.path.join(cert_dir(), 'other.test.pem')),
                         'virtual_host: the added host has its certificate')
        s = RawStream(self.server.starttls_port)
        s.open(to='other.test')
        features = s.read_until('</stream:features>')
        self.assertIn('<starttls', features, 'virtual_host: the added host is served')
        self.assertIn("from='other.test'", features.replace('"', "'"))
        s.close()

    def test_module_options(self):
        self.start(modules=('disco', 'version'), module_options={'version': 'show_os = false'})

        async def os_shown():
            alice = await online(self.server, 'alice', plugins=('xep_0092',))
            v = await alice['xep_0092'].get_version(DOMAIN, timeout=10)
            await alice.bye()
            return bool(v['software_version']['os'])
        self.assertFalse(run(os_shown()))
        self.reload(module_options={'version': 'show_os = true'})
        self.assertTrue(run(os_shown()), '[modules.version] show_os: the reloaded option must apply')

    def test_module_dir(self):
        self.start(modules=('disco',))
        r = self.server.reload(modules=('disco', 'testlife'))
        self.assertIn('reload failed', r, 'mod_testlife is not in the default module directory')
        self.server.module_dir = module_dir_with_test_modules(os.path.join(self.server.dir, 'more-modules'))
        self.reload(modules=('disco', 'testlife'))

        async def features():
            alice = await online(self.server, 'alice', plugins=('xep_0030',))
            info = await alice['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            await alice.bye()
            return info['disco_info']['features']
        self.assertIn('urn:parley:test:life', run(features()), 'module_dir: modules load from the new directory')

    def test_c2s_require_encryption_and_handshake_timeout(self):
        self.start()
        s = RawStream(self.server.starttls_port)
        s.open()
        self.assertRegex(s.read_until('</stream:features>'), r'<required/>')
        s.close()
        self.reload(edit=lambda text: text.replace('[c2s]\n', '[c2s]\nrequire_encryption = false\n'
                                                               'handshake_timeout_s = 1\n'))
        s = RawStream(self.server.starttls_port)
        t0 = time.monotonic()
        s.open()
        features = s.read_until('</stream:features>')
        self.assertNotIn('<required/>', features, 'c2s.require_encryption: TLS is optional after the reload')
        self.assertIn('SCRAM-SHA-256', offered(features))
        self.assertIn('connection-timeout', s.read_until('connection-timeout', timeout=10),
                      'c2s.handshake_timeout_s: a stream that does not log in is ended')
        self.assertLess(time.monotonic() - t0, 9, 'c2s.handshake_timeout_s: after 1 s, not the default 60 s')
        s.close()

    def test_limits_on_stanzas_and_sessions(self):
        self.start(users=('alice', 'bob', 'carol'))
        # Before: two sessions of one account are fine.
        zero = login(self.server, 'alice', 'zero')
        one = authenticated(self.server, 'alice')
        self.assertIn('<jid>', bind(one, 'one', 'x1'))
        one.close()
        self.reload(extra='\n[limits]\nmax_stanza_bytes = 10000\nmax_depth = 4\nmax_sessions_per_account = 1\n')
        # max_sessions_per_account: alice has a session ('zero'); a second one is refused.
        two = authenticated(self.server, 'alice')
        self.assertIn('resource-constraint', bind(two, 'two', 'x2'))
        two.close()
        zero.close()
        # max_depth: a stanza nested deeper than 4 ends the stream.
        bob = login(self.server, 'bob', 'deep')
        bob.send("<message to='alice@parley.test'><a xmlns='urn:x'><b><c><d><e/></d></c></b></a></message>")
        self.assertIn('policy-violation', bob.read_until('</stream:error>'))
        bob.close()
        # max_stanza_bytes: a stanza over 10000 bytes ends the stream.
        carol = login(self.server, 'carol', 'big')
        carol.send("<message to='alice@parley.test'><body>%s</body></message>" % ('x' * 12000))
        self.assertIn('policy-violation', carol.read_until('</stream:error>'))
        carol.close()

    def test_limits_on_read_rate(self):
        self.start()
        self.reload(extra='\n[limits]\nmax_stanza_bytes = 10000\nmax_read_bytes_per_s = 1024\n')
        # The bucket is 10000 bytes deep and refills at 1024 bytes/s: after
        # more than 10000 bytes the server reads nothing for seconds.
        a = login(self.server, 'alice', 'fast')
        pad = "<message to='nobody.test'><body>%s</body></message>" % ('y' * 5000)
        a.send(pad + pad + "<iq type='get' id='p1' to='parley.test'><ping xmlns='urn:xmpp:ping'/></iq>")
        a.read_until("id='p1'", timeout=30)
        t0 = time.monotonic()
        a.send("<iq type='get' id='p2' to='parley.test'><ping xmlns='urn:xmpp:ping'/></iq>")
        a.read_until("id='p2'", timeout=30)
        waited = time.monotonic() - t0
        a.close()
        self.assertGreaterEqual(waited, 1.0, 'limits.max_read_bytes_per_s: reading must pause (%.2fs)' % waited)

    def test_limits_on_the_send_queue(self):
        # Before the reload the queue may hold 1 GiB: the 8 MiB below never reach it.
        self.start(users=('alice', 'bob'),
                   extra='\n[limits]\nmax_read_bytes_per_s = 0\nmax_send_queue_bytes = 1073741824\n')
        self.reload(extra='\n[limits]\nmax_read_bytes_per_s = 0\nmax_send_queue_bytes = 65536\n')
        alice = RawStream(self.server.starttls_port, rcvbuf=4096)
        alice.login_plain(self.server.ca, 'alice', 'secret', resource='slow')
        bob = login(self.server, 'bob', 'flood')
        chunk = ''.join("<message to='alice@parley.test/slow' type='chat'><body>%s</body></message>" % ('z' * 65536)
                        for _ in range(16))
        for _ in range(8):
            try:
                bob.send(chunk)
            except OSError:
                break
        self.assertTrue(self.server.wait_log(r'send queue over 65536 bytes', timeout=20),
                        'limits.max_send_queue_bytes: a reader this slow is cut off:\n'
                        + self.server.log_text()[-2000:])
        bob.close()
        alice.close()

    def test_restart_only_keys_are_named_in_the_log_line(self):
        self.start()
        tail = self.reload(workers=3)
        self.assertRegex(tail, r'reloaded: .*; these changes need a restart: workers\b')
        # The running value (2) stays in effect, so the next reload says so again.
        tail = self.reload(workers=3)
        self.assertIn('these changes need a restart: workers', tail)
        tail = self.reload(workers=2)
        self.assertNotIn('need a restart', tail)


if __name__ == '__main__':
    unittest.main()
