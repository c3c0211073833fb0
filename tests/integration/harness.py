"""Integration test harness: a real parleyd on loopback, driven by real clients.

ParleyServer writes a private config (workers = 2, a temporary data
directory, free loopback ports below 32768), creates accounts with the real
parleyctl, starts the real parleyd and stops it. Clients are slixmpp
(Debian's python3-slixmpp), run on one asyncio loop per test; RawStream is a
plain socket for what no polite client would send (bad XML, oversize
stanzas). Every wait is bounded in time.
"""
import asyncio
import base64
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.environ.get('PARLEY_BUILD_DIR', os.path.join(TOP, '_build'))
DOMAIN = 'parley.test'
_CERT_DIR = None


def cert_dir():
    """Test CA and certificates, made once per run with tests/support/certs.sh."""
    global _CERT_DIR
    if _CERT_DIR is None:
        d = os.path.join(tempfile.gettempdir(), 'parley-test-certs-%d' % os.getpid())
        subprocess.run(['bash', os.path.join(TOP, 'tests/support/certs.sh'), d, DOMAIN, 'other.test', 'third.test'],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        _CERT_DIR = d
    return _CERT_DIR


def free_port():
    """A port below the ephemeral range that nothing listens on now."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
                return port
            except OSError:
                continue
    raise RuntimeError('no free port found')


def module_dir_with_test_modules(into):
    """A module directory holding the real modules and the test modules of
    tests/support (built by `make check`), as symbolic links."""
    os.makedirs(into, exist_ok=True)
    for src in (os.path.join(BUILD, 'modules/.libs'), os.path.join(BUILD, 'tests/support/modules/.libs')):
        for name in os.listdir(src):
            if name.startswith('mod_') and name.endswith('.so'):
                os.symlink(os.path.join(src, name), os.path.join(into, name))
    return into


class ParleyServer:
    def __init__(self, workers=2, modules=('disco', 'ping', 'version', 'time'), extra='', module_options=None,
                 module_dir=None, log=None, sasl=None, domain=DOMAIN):
        """`domain`: the virtual host (its certificate comes from cert_dir())."""
        self.domain = domain
        self.dir = tempfile.mkdtemp(prefix='parley-it-')
        self.data = os.path.join(self.dir, 'data')
        self.starttls_port = free_port()
        self.direct_port = free_port()
        while self.direct_port == self.starttls_port:
            self.direct_port = free_port()
        self.config = os.path.join(self.dir, 'parley.toml')
        self.log_path = os.path.join(self.dir, 'parleyd.log')
        self.ca = os.path.join(cert_dir(), 'ca.pem')
        self.proc = None
        self.module_dir = module_dir or os.path.join(BUILD, 'modules/.libs')
        self.write_config(workers, modules, extra, module_options, log, sasl)

    def write_config(self, workers=2, modules=('disco', 'ping', 'version', 'time'), extra='', module_options=None,
                     log=None, sasl=None):
        """`module_options`: {module name: TOML lines of its [modules.NAME] table};
        `log`, `sasl`: the lines of the [log] and [sasl] tables instead of the test defaults."""
        self.settings = dict(workers=workers, modules=modules, extra=extra, module_options=module_options,
                             log=log, sasl=sasl)
        if log is None:
            log = 'level = "debug"'
        if sasl is None:
            sasl = 'failure_delay_ms = 50\nfailure_delay_max_ms = 200'

        certs = cert_dir()
        mods = ', '.join('"%s"' % m for m in modules)
        if module_options:
            # With option tables the module list moves into [modules] (parley.toml(5)).
            modules_line = ''
            extra += '\n[modules]\nenabled = [%s]\n' % mods
            for name, lines in module_options.items():
                extra += '\n[modules.%s]\n%s\n' % (name, lines)
        else:
            modules_line = 'modules = [%s]' % mods
        with open(self.config, 'w') as f:
            f.write(f'''workers = {workers}
data_dir = "{self.data}"
module_dir = "{self.module_dir}"
{modules_line}

[log]
{log}

[c2s]
address = "127.0.0.1"
starttls_port = {self.starttls_port}
direct_tls_port = {self.direct_port}

[sasl]
{sasl}

[[virtual_host]]
domain = "{self.domain}"
certificate = "{certs}/{self.domain}.pem"
key = "{certs}/{self.domain}.key"
{extra}
''')

    def ctl(self, *args, input=None, check=True):
        cmd = [os.path.join(BUILD, 'tools/parleyctl/parleyctl'), '--config', self.config] + list(args)
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError('parleyctl %s failed (%d): %s' % (' '.join(args), r.returncode, r.stderr))
        return r

    def archive_key(self, name='archive.key', mode=None):
        """A new archive key file in the server's directory, made with
        `parleyctl archive keygen` (mode 0600, or `mode` after); returns its
        key id. The config names it as `key_file = "NAME"` (relative to the
        config file)."""
        path = os.path.join(self.dir, name)
        key_id = self.ctl('archive', 'keygen', path).stdout.strip()
        if mode is not None:
            os.chmod(path, mode)
        return key_id

    def add_user(self, node, password):
        self.ctl('user', 'add', '%s@%s' % (node, self.domain), input=password + '\n')
        return '%s@%s' % (node, self.domain)

    def start(self):
        # A port found free can be taken before parleyd binds it (another
        # test run on this machine): then try other ports, a bounded number of times.
        for attempt in range(3):
            try:
                return self._start_once()
            except AssertionError:
                if attempt == 2 or 'bind 127.0.0.1' not in self.log_text():
                    raise
                self.starttls_port, self.direct_port = free_port(), free_port()
                self.write_config(**self.settings)
                os.rename(self.log_path, self.log_path + '.%d' % attempt)

    def _start_once(self):
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([os.path.join(BUILD, 'server/parleyd'), '--config', self.config],
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('parleyd exited at start (%d):\n%s' % (self.proc.returncode, self.log_text()))
            if re.search(r'Parley \S+ ready:', self.log_text()):
                for port in (self.starttls_port, self.direct_port):
                    with socket.create_connection(('127.0.0.1', port), timeout=2):
                        pass
                return self
            time.sleep(0.05)
        raise AssertionError('parleyd did not become ready:\n' + self.log_text())

    def reload(self, edit=None, timeout=15, **settings):
        """Rewrites the config with `settings` (write_config's arguments),
        then applies `edit` (a function of the file's text) if given, sends
        SIGHUP and waits for the outcome; returns the log written since,
        which holds 'reloaded' or 'reload failed'."""
        self.write_config(**settings)
        if edit:
            with open(self.config) as f:
                text = edit(f.read())
            with open(self.config, 'w') as f:
                f.write(text)
        mark = len(self.log_text())
        self.signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tail = self.log_text()[mark:]
            if re.search(r'reloaded|reload failed', tail):
                return tail
            time.sleep(0.05)
        raise AssertionError('no reload outcome within %ss:\n%s' % (timeout, self.log_text()[-2000:]))

    def log_text(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        """SIGTERM, then checks that parleyd exited 0 and that no sanitizer
        reported anything in its log; returns the exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError('parleyd did not stop on SIGTERM within %ds' % timeout)
        if not self.log.closed:
            self.log.close()
        text = self.log_text()
        for marker in ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'):
            if marker in text:
                raise AssertionError('parleyd: sanitizer report in its log:\n' + text[text.index(marker) - 200:][:4000])
        if self.proc.returncode != 0:
            raise AssertionError('parleyd exited with %d:\n%s' % (self.proc.returncode, text[-3000:]))
        return self.proc.returncode

    def cleanup(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def wait_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log_text()):
                return True
            time.sleep(0.05)
        return False


def worker_of(server, full_jid):
    """The worker a full JID was bound on, from parleyd's log (None if not
    bound). The log is written by a thread of its own: waits for the line
    (bounded)."""
    pattern = re.escape(full_jid) + r' bound on worker (\d+)'
    server.wait_log(pattern, timeout=5)
    m = re.findall(pattern, server.log_text())
    return int(m[-1]) if m else None


class ServerTestCase(unittest.TestCase):
    """One parleyd for the whole class: accounts `users` (password 'secret'),
    config additions `extra`; stopped (and checked) after the last test."""
    users = ()
    extra = ''
    sasl = None     # the [sasl] table's lines, instead of the test defaults
    settings = {}  # more ParleyServer arguments

    @classmethod
    def prepare(cls, server):
        """Runs once the config is written, before parleyd starts (e.g. to
        make the key file a module's options name)."""

    @classmethod
    def setUpClass(cls):
        settings = dict(cls.settings)
        if cls.sasl is not None:
            settings.setdefault('sasl', cls.sasl)
        cls.server = ParleyServer(extra=cls.extra, **settings)
        cls.prepare(cls.server)
        for node in cls.users:
            cls.server.add_user(node, 'secret')
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()


def client_ssl_context(ca, tls_max=None):
    ctx = ssl.create_default_context(cafile=ca)
    if tls_max is not None:
        ctx.maximum_version = tls_max
    return ctx


class RawStream:
    """A plain socket speaking raw XMPP for negative tests (bounded reads)."""

    def __init__(self, port, host='127.0.0.1', source=None, rcvbuf=None):
        """`source`: another loopback address to connect from (127.0.0.2, ...),
        to look like a different client address. `rcvbuf`: a small SO_RCVBUF,
        for a client that stops reading and must make the server's writes to
        it stall soon."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        self.buf = b''

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def open(self, to=DOMAIN, extra=''):
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'%s>" % (to, extra))

    def read_until(self, pattern, timeout=10):
        """Reads until `pattern` (regex on the decoded stream) matches; returns the text so far."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, re.S)
        while time.monotonic() < deadline:
            text = self.buf.decode('utf-8', 'replace')
            if rx.search(text):
                return text
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            self.buf += chunk
        text = self.buf.decode('utf-8', 'replace')
        if rx.search(text):
            return text
        raise AssertionError('did not receive /%s/ within %ss; got: %r' % (pattern, timeout, text[-2000:]))

    def closed_by_peer(self, timeout=10):
        """True once the server closed the connection (EOF), within the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def starttls(self, ca, tls_max=None):
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.read_until('<proceed')
        self.buf = b''
        self.sock.settimeout(10)
        self.sock = client_ssl_context(ca, tls_max).wrap_socket(self.sock, server_hostname=DOMAIN)

    def secure(self, ca, tls_max=None):
        """Stream header, STARTTLS, new stream: returns the features offered over TLS."""
        self.open()
        self.read_until('</stream:features>')
        self.starttls(ca, tls_max)
        self.open()
        features = self.read_until('</stream:features>')
        self.buf = b''
        return features

    def auth_plain(self, node, password):
        """Sends SASL PLAIN for node/password (the answer is left to read)."""
        self.buf = b''
        token = base64.b64encode(b'\0' + node.encode() + b'\0' + password.encode()).decode()
        self.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" % token)

    def login_plain(self, ca, node, password, resource='raw'):
        """STARTTLS, SASL PLAIN, bind: a ready session, the way a minimal client does it."""
        self.secure(ca)
        self.auth_plain(node, password)
        self.read_until('<success')
        self.buf = b''
        self.open()
        self.read_until('</stream:features>')
        self.buf = b''
        self.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  "<resource>%s</resource></bind></iq>" % resource)
        self.read_until('</iq>')
        self.buf = b''

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run(coro, timeout=60):
    """Runs one test conversation on a fresh event loop, bounded in time."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
