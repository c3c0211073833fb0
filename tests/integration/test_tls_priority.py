"""TLS 1.2 offers only ECDHE key exchange with AEAD ciphers: gnutls-cli
(Debian's gnutls-bin) tries each kind of suite against a parleyd serving an
ECDSA host and an RSA host (static RSA key exchange needs an RSA key, so
that host is what could accept it)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import ParleyServer, DOMAIN

RSA_HOST = 'rsa.test'
TLS12 = 'NORMAL:-VERS-ALL:+VERS-TLS1.2'


def make_rsa_cert(directory):
    tmpl = os.path.join(directory, 'rsa.tmpl')
    with open(tmpl, 'w') as f:
        f.write('cn = "%s"\ndns_name = "%s"\nserial = 7\nexpiration_days = 30\n'
                'tls_www_server\nencryption_key\nsigning_key\n' % (RSA_HOST, RSA_HOST))
    key, pem = os.path.join(directory, 'rsa.key'), os.path.join(directory, 'rsa.pem')
    subprocess.run(['certtool', '--generate-privkey', '--key-type=rsa', '--bits=2048', '--outfile', key],
                   check=True, capture_output=True, timeout=60)
    subprocess.run(['certtool', '--generate-self-signed', '--load-privkey', key, '--template', tmpl,
                    '--outfile', pem], check=True, capture_output=True, timeout=60)
    return pem, key


@unittest.skipUnless(shutil.which('gnutls-cli') and shutil.which('certtool'), 'needs gnutls-bin')
class TlsPriority(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix='parley-rsa-')
        pem, key = make_rsa_cert(cls.certs)
        cls.server = ParleyServer(extra='\n[[virtual_host]]\ndomain = "%s"\ncertificate = "%s"\nkey = "%s"\n'
                                  % (RSA_HOST, pem, key))
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()
            shutil.rmtree(cls.certs, ignore_errors=True)

    def handshake(self, priority, host):
        """(succeeded, gnutls-cli's output) for a handshake on the direct TLS port."""
        r = subprocess.run(['gnutls-cli', '--insecure', '--port', str(self.server.direct_port),
                            '--sni-hostname', host, '--priority', priority, '127.0.0.1'],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        out = r.stdout + r.stderr
        return '- Handshake was completed' in out, out

    def test_tls12_ecdhe_with_aead_is_accepted(self):
        for host, kx in ((DOMAIN, 'ECDHE-ECDSA'), (RSA_HOST, 'ECDHE-RSA')):
            for cipher in ('AES-128-GCM', 'AES-256-GCM', 'CHACHA20-POLY1305'):
                ok, out = self.handshake('%s:-KX-ALL:+%s:-CIPHER-ALL:+%s' % (TLS12, kx, cipher), host)
                self.assertTrue(ok, '%s with %s on %s must work:\n%s' % (kx, cipher, host, out[-1500:]))
                self.assertIn('(TLS1.2-', out)

    def test_tls12_static_rsa_key_exchange_is_refused(self):
        for cipher in ('AES-128-GCM', 'AES-256-GCM', 'AES-128-CBC'):
            ok, out = self.handshake('%s:-KX-ALL:+RSA:-CIPHER-ALL:+%s' % (TLS12, cipher), RSA_HOST)
            self.assertFalse(ok, 'static RSA key exchange with %s must be refused:\n%s' % (cipher, out[-1500:]))

    def test_tls12_cbc_is_refused(self):
        for host, kx in ((DOMAIN, 'ECDHE-ECDSA'), (RSA_HOST, 'ECDHE-RSA')):
            for cipher in ('AES-128-CBC', 'AES-256-CBC'):
                ok, out = self.handshake('%s:-KX-ALL:+%s:-CIPHER-ALL:+%s' % (TLS12, kx, cipher), host)
                self.assertFalse(ok, '%s with %s on %s must be refused:\n%s' % (kx, cipher, host, out[-1500:]))

    def test_tls12_finite_field_dhe_is_refused(self):
        ok, out = self.handshake('%s:-KX-ALL:+DHE-RSA' % TLS12, RSA_HOST)
        self.assertFalse(ok, 'DHE-RSA must be refused:\n' + out[-1500:])

    def test_tls13_still_works(self):
        ok, out = self.handshake('NORMAL:-VERS-ALL:+VERS-TLS1.3', DOMAIN)
        self.assertTrue(ok, out[-1500:])
        self.assertIn('(TLS1.3-', out)


if __name__ == '__main__':
    unittest.main()
