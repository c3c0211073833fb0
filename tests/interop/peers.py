"""Prosody 0.12 and ejabberd 23.01 (Debian 12 packages) as private
federation peers on loopback, for interop tests of Parley's s2s.

Each peer is one XMPP domain on one loopback address (127.0.1.2,
127.0.1.3, ...: all of 127/8 is loopback), its c2s and s2s listeners bound to
that address only. Everything it writes (config, data, logs) lives in a
temporary directory owned by the peer's system user; the system config and
the system service are never touched. There is no DNS here: `routes`
({remote domain: (address, port)}) tells a peer where each remote domain is.

    from peers import make_certs, cert_files, ProsodyPeer, EjabberdPeer
    ca = make_certs(certdir, ['prosody.test', 'ejabberd.test'])
    p = ProsodyPeer('prosody.test', '127.0.1.2', ca, *cert_files(certdir, 'prosody.test'),
                    routes={'ejabberd.test': ('127.0.1.3', 5269)})
    p.start(); p.register('alice', 'secret'); ...; p.cleanup()

Needs root (the peers run as the `prosody` and `ejabberd` users). Every wait
is bounded. Importing this module puts tests/integration on sys.path (for
harness.free_port).
"""
import ipaddress
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, '..', '..'))
if os.path.join(TOP, 'tests', 'integration') not in sys.path:
    sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
from harness import free_port  # noqa: E402  (a port below the ephemeral range)

CERTS_SH = os.path.join(TOP, 'tests', 'support', 'certs.sh')
PROSODY_PLUGIN = os.path.join(HERE, 'prosody', 'mod_parley_test_routes.lua')
LOOPBACK = ipaddress.ip_network('127.0.0.0/8')


def make_certs(dirpath, domains):
    """Makes (once) the test CA dirpath/ca.pem and, per entry of `domains`,
    a certificate and key with tests/support/certs.sh (`DOMAIN` is signed
    by the CA; `self-signed:DOMAIN` and the script's other KIND: prefixes
    make other kinds). Returns the CA file's path. All peers and Parley of
    one test should share one `dirpath`, so that they share one CA."""
    subprocess.run(['sh', CERTS_SH, dirpath] + list(domains), check=True, stdout=subprocess.DEVNULL,
                   timeout=120)
    return os.path.join(dirpath, 'ca.pem')


def cert_files(dirpath, name):
    """(certificate, key) paths that make_certs wrote for `name` (a domain
    or KIND:DOMAIN)."""
    base = name.replace(':', '-', 1)
    return os.path.join(dirpath, base + '.pem'), os.path.join(dirpath, base + '.key')


def _check_loopback(what, address):
    if ipaddress.ip_address(address) not in LOOPBACK:
        raise ValueError('%s %s is not in 127.0.0.0/8' % (what, address))


def port_open(address, port):
    """Whether something accepts TCP connections on address:port now."""
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return ''


class _Peer:
    """What both peers share: the temporary directory (owned by `user`),
    private copies of the certificates, the process (in a process group of
    its own, so that stop can end all of it), the readiness wait."""
    user = None     # the system user the server runs as
    kind = None     # for messages

    def __init__(self, domain, address, ca_file, cert, key, routes, dialback, require_certs, c2s_port, s2s_port,
                 extra_config):
        _check_loopback('address', address)
        for remote, (ip, port) in routes.items():
            _check_loopback('route for %s:' % remote, ip)
        self.domain, self.address = domain, address
        self.c2s_port, self.s2s_port = c2s_port, s2s_port
        self.routes = dict(routes)
        self.dialback, self.require_certs = dialback, require_certs
        self.extra_config = extra_config
        self.proc = None
        self._console = None
        self.dir = tempfile.mkdtemp(prefix='parley-%s-' % self.kind)
        os.chmod(self.dir, 0o755)
        # The peer runs as its own user: it gets copies it may read (a key
        # from certs.sh is readable by its owner only).
        self.certs = os.path.join(self.dir, 'certs')
        os.mkdir(self.certs)
        self.ca_file = os.path.join(self.certs, 'ca.pem')
        self.cert = os.path.join(self.certs, domain + '.pem')
        self.key = os.path.join(self.certs, domain + '.key')
        for src, dst in ((ca_file, self.ca_file), (cert, self.cert), (key, self.key)):
            shutil.copyfile(src, dst)
        os.chmod(self.key, 0o600)
        self.console_path = os.path.join(self.dir, 'console.log')

    def _own_tree(self):
        """Gives the whole temporary directory to the peer's user."""
        pw = pwd.getpwnam(self.user)
        for root, dirs, files in os.walk(self.dir):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(name, pw.pw_uid, pw.pw_gid)

    def _start(self, argv, timeout):
        """Starts argv (the server, prefixed with runuser) in a process group
        of its own and waits until it listens; if it does not, stops what
        started and raises."""
        for port in (self.c2s_port, self.s2s_port):
            # Else the readiness check below would believe another server.
            if port_open(self.address, port):
                raise RuntimeError('%s:%d is already taken (another peer still running?)' % (self.address, port))
        self._console = open(self.console_path, 'ab')
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._console,
                                     stderr=subprocess.STDOUT, start_new_session=True, cwd=self.dir)
        try:
            return self._wait_listening(timeout)
        except RuntimeError:
            self.stop(timeout=10)
            raise

    def _wait_listening(self, timeout):
        """Waits until both the c2s and the s2s port accept connections;
        raises (with the log) if the process exits or time runs out."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        pending = [self.c2s_port, self.s2s_port]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('%s %s exited at start (%d):\n%s'
                                   % (self.kind, self.domain, self.proc.returncode, self.log_text()[-4000:]))
            if not port_open(self.address, pending[0]):
                time.sleep(0.1)
                continue
            pending.pop(0)
            if not pending:
                self.start_seconds = time.monotonic() - t0
                return self
        raise RuntimeError('%s %s not listening on %s ports %d/%d after %ds:\n%s'
                           % (self.kind, self.domain, self.address, self.c2s_port, self.s2s_port, timeout,
                              self.log_text()[-4000:]))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _finish(self, timeout):
        """Waits (at most `timeout` seconds) for the main process to exit
        after a stop request; SIGKILL to the process group if it did not,
        and in any case to whatever of the group outlived it. Returns the
        main process's exit code."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self._signal_group(signal.SIGKILL)
        code = self.proc.wait(timeout=10)
        self._close_console()
        return code

    def _close_console(self):
        if self._console:
            self._console.close()

    def cleanup(self):
        """Stops the peer if it runs and removes its directory."""
        try:
            if self.running():
                self.stop()
        finally:
            self._close_console()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.cleanup()

    def jid(self, user):
        return '%s@%s' % (user, self.domain)


def _lua(s):
    """A Lua string literal."""
    return '"%s"' % str(s).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


class ProsodyPeer(_Peer):
    """Prosody 0.12 as a private peer: `prosody -F --config FILE` as the
    prosody user. `routes` reach Prosody through the test-only plugin
    tests/interop/prosody/mod_parley_test_routes.lua. `dialback` loads
    mod_dialback; `require_certs` sets s2s_secure_auth (a peer must present
    a certificate valid for its domain, chained to `ca_file`). SASL EXTERNAL
    (mod_saslauth) is offered to a peer whose certificate is valid.
    `extra_config`: Lua lines added to the global section."""
    user = 'prosody'
    kind = 'prosody'

    def __init__(self, domain, address, ca_file, cert, key, routes, dialback=True, require_certs=False,
                 c2s_port=5222, s2s_port=5269, extra_config='', bidi=False):
        super().__init__(domain, address, ca_file, cert, key, routes, dialback, require_certs, c2s_port, s2s_port,
                         extra_config)
        self.bidi = bidi  # mod_s2s_bidi (XEP-0288), not loaded by default in 0.12
        self.config = os.path.join(self.dir, 'prosody.cfg.lua')
        self.log_path = os.path.join(self.dir, 'prosody.log')
        self.pidfile = os.path.join(self.dir, 'prosody.pid')
        plugins = os.path.join(self.dir, 'plugins')
        os.mkdir(plugins)
        shutil.copy(PROSODY_PLUGIN, plugins)
        os.mkdir(os.path.join(self.dir, 'data'), 0o750)
        self._write_config(plugins)
        self._own_tree()

    def _write_config(self, plugins):
        modules = ['saslauth', 'tls', 'roster', 'disco', 'ping', 'parley_test_routes']
        if self.dialback:
            modules.append('dialback')
        if self.bidi:
            modules.append('s2s_bidi')
        routes = ''.join('\t[%s] = { %s, %d };\n' % (_lua(d), _lua(ip), port)
                         for d, (ip, port) in sorted(self.routes.items()))
        with open(self.config, 'w') as f:
            f.write(f'''-- Written by tests/interop/peers.py: a private test instance.
pidfile = {_lua(self.pidfile)}
data_path = {_lua(os.path.join(self.dir, 'data'))}
plugin_paths = {{ {_lua(plugins)} }}
log = {{ {{ levels = {{ min = "debug" }}, to = "file", filename = {_lua(self.log_path)} }} }}

-- Listen on this peer's loopback address only; no direct TLS ports.
interfaces = {{ {_lua(self.address)} }}
c2s_ports = {{ {self.c2s_port} }}
s2s_ports = {{ {self.s2s_port} }}
c2s_direct_tls_ports = {{ }}
s2s_direct_tls_ports = {{ }}

modules_enabled = {{ {', '.join(_lua(m) for m in modules)} }}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = {'true' if self.require_certs else 'false'}

-- One certificate for the one domain; peers' certificates are checked
-- against the test CA.
ssl = {{
	certificate = {_lua(self.cert)};
	key = {_lua(self.key)};
	cafile = {_lua(self.ca_file)};
}}

-- Where remote domains are, without DNS (mod_parley_test_routes).
parley_test_routes = {{
{routes}}}
{self.extra_config}

VirtualHost {_lua(self.domain)}
''')

    def start(self, timeout=30):
        """Starts Prosody in the foreground (as a child process) and waits
        until its c2s and s2s ports accept connections."""
        return self._start(['runuser', '-u', 'prosody', '--', 'prosody', '-F', '--config', self.config], timeout)

    def register(self, user, password):
        """Creates an account (prosodyctl; works stopped or running); returns its JID."""
        r = subprocess.run(['runuser', '-u', 'prosody', '--', 'prosodyctl', '--config', self.config, 'register',
                            user, self.domain, password], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError('prosodyctl register %s failed (%d): %s%s' % (user, r.returncode, r.stdout, r.stderr))
        return self.jid(user)

    def stop(self, timeout=15):
        """SIGTERM to Prosody (its clean shutdown), SIGKILL after `timeout`
        seconds; returns the exit code (0 after a clean shutdown)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._terminate()
        return self._finish(timeout)

    def _terminate(self):
        # To Prosody itself, named by its pidfile, not to runuser: runuser
        # would pass SIGTERM on but SIGKILL Prosody 2 s later, whatever it
        # is doing. Without a pidfile of a process of ours (Prosody failed
        # early), to the whole group.
        try:
            pid = int(_read(self.pidfile).strip())
            if os.getpgid(pid) == self.proc.pid:
                os.kill(pid, signal.SIGTERM)
                return
        except (ValueError, ProcessLookupError):
            pass
        self._signal_group(signal.SIGTERM)

    def log_text(self):
        return _read(self.log_path) + _read(self.console_path)


def _ensure_hosts(routes):
    """ejabberd resolves remote domains with getaddrinfo, i.e. /etc/hosts:
    adds 'ADDRESS DOMAIN' for each route that is missing there. Only for
    *.test domains on 127.0.1.x; a domain already listed with another
    address is an error (existing lines are never changed)."""
    known = {}
    for line in _read('/etc/hosts').splitlines():
        fields = line.split('#', 1)[0].split()
        for name in fields[1:]:
            known.setdefault(name, fields[0])
    missing = []
    for domain, (ip, _port) in sorted(routes.items()):
        if known.get(domain) == ip:
            continue
        if domain in known:
            raise ValueError('/etc/hosts has %s at %s, the route says %s' % (domain, known[domain], ip))
        if not domain.endswith('.test') or not ip.startswith('127.0.1.'):
            raise ValueError('route %s -> %s: only *.test domains on 127.0.1.x go into /etc/hosts' % (domain, ip))
        missing.append('%s %s\n' % (ip, domain))
    if missing:
        with open('/etc/hosts', 'a') as f:
            f.writelines(missing)


class EjabberdPeer(_Peer):
    """ejabberd 23.01 as a private peer: `ejabberdctl foreground-quiet` as the
    ejabberd user with its own config dir, spool, logs, Erlang node name
    and distribution port (no epmd; bound to 127.0.0.1), so that several
    can run at once.

    Resolution without DNS: a private inetrc with no name server makes the
    SRV lookups fail at once; the fallback A lookup is getaddrinfo, i.e.
    /etc/hosts, to which `routes` are added (see _ensure_hosts). ejabberd
    23.01 has no per-domain route option: the port is the global
    outgoing_s2s_port, so all routes must share one port.

    `dialback=False`: no mod_s2s_dialback, so SASL EXTERNAL with a valid
    certificate is the only s2s authentication, both ways.
    `dialback=True, require_certs=False`: mod_s2s_dialback as usual; then
    ejabberd does not verify certificates on outgoing connections.
    `dialback=True, require_certs=True`: mod_s2s_dialback whose access rule
    denies every server: outgoing connections verify the peer's
    certificate (as without the module); incoming dialback is still
    accepted (23.01 cannot require a certificate from it).
    `extra_config`: YAML top-level lines added to the config."""
    user = 'ejabberd'
    kind = 'ejabberd'

    def __init__(self, domain, address, ca_file, cert, key, routes, dialback=True, require_certs=False,
                 c2s_port=5222, s2s_port=5269, extra_config=''):
        super().__init__(domain, address, ca_file, cert, key, routes, dialback, require_certs, c2s_port, s2s_port,
                         extra_config)
        ports = {port for _ip, port in self.routes.values()}
        if len(ports) > 1:
            raise ValueError('ejabberd 23.01 has one outgoing s2s port; routes want %s' % sorted(ports))
        self.outgoing_port = ports.pop() if ports else 5269
        self.node = 'parley-%s-%s@localhost' % (domain.split('.')[0], secrets.token_hex(4))
        self.dist_port = free_port()
        self.config = os.path.join(self.dir, 'ejabberd.yml')
        self.ctl_config = os.path.join(self.dir, 'ejabberdctl.cfg')
        self.spool = os.path.join(self.dir, 'spool')
        self.logs = os.path.join(self.dir, 'logs')
        for d in (self.spool, self.logs):
            os.mkdir(d, 0o750)
        self._write_config()
        self._own_tree()

    def _write_config(self):
        q = json.dumps  # a JSON string is a YAML double-quoted scalar
        # ejabberdctl reads $CONFIG_DIR/inetrc (ERL_INETRC) and
        # $CONFIG_DIR/vm.args (extra erl arguments, for the ctl clients too).
        with open(os.path.join(self.dir, 'inetrc'), 'w') as f:
            f.write('%% Names from /etc/hosts only; no name server.\n'
                    '{lookup, [file]}.\n{hosts_file, "/etc/hosts"}.\n{resolv_conf, ""}.\n')
        with open(os.path.join(self.dir, 'vm.args'), 'w') as f:
            f.write('-setcookie %s\n-kernel inet_dist_use_interface {127,0,0,1}\n' % secrets.token_hex(16))
        with open(self.ctl_config, 'w') as f:
            f.write(f'''# Written by tests/interop/peers.py: a private test instance.
ERLANG_NODE={self.node}
# Distribution on this port, without epmd.
ERL_DIST_PORT={self.dist_port}
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
# Its PID is recorded here, not in /run/ejabberd.
EJABBERD_PID_PATH={self.dir}/ejabberd.pid
CONTRIB_MODULES_PATH={self.dir}/contrib
''')
        if not self.dialback:
            dialback = ''
        elif self.require_certs:
            dialback = '  mod_s2s_dialback:\n    access: no_server\n'
        else:
            dialback = '  mod_s2s_dialback: {}\n'
        with open(self.config, 'w') as f:
            f.write(f'''# Written by tests/interop/peers.py: a private test instance.
hosts:
  - {q(self.domain)}
loglevel: info
log_rotate_count: 0
certfiles:
  - {q(self.cert)}
  - {q(self.key)}
# Peers' certificates are checked against the test CA.
ca_file: {q(self.ca_file)}
s2s_use_starttls: required
# No DNS: the SRV lookups fail at once (no name server in inetrc), then
# the A lookup reads /etc/hosts. 0 retries would fail every lookup.
s2s_dns_retries: 1
s2s_dns_timeout: 2
outgoing_s2s_port: {self.outgoing_port}
outgoing_s2s_families:
  - ipv4
outgoing_s2s_ipv4_address: {q(self.address)}
auth_method: internal
auth_password_format: scram
listen:
  -
    port: {self.c2s_port}
    ip: {q(self.address)}
    module: ejabberd_c2s
    starttls_required: true
  -
    port: {self.s2s_port}
    ip: {q(self.address)}
    module: ejabberd_s2s_in
access_rules:
  no_server:
    deny: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
modules:
  mod_disco: {{}}
  mod_offline: {{}}
  mod_ping: {{}}
  mod_roster: {{}}
{dialback}{self.extra_config}
''')

    def _ejabberdctl(self, *args):
        return ['ejabberdctl', '--config-dir', self.dir, '--config', self.config, '--ctl-config', self.ctl_config,
                '--logs', self.logs, '--spool', self.spool] + list(args)

    def ctl(self, *args, timeout=60, check=True):
        """Runs ejabberdctl (as the ejabberd user) against this instance."""
        r = subprocess.run(['runuser', '-u', 'ejabberd', '--'] + self._ejabberdctl(*args), capture_output=True,
                           text=True, timeout=timeout, cwd=self.dir)
        if check and r.returncode != 0:
            raise RuntimeError('ejabberdctl %s failed (%d): %s%s' % (' '.join(args), r.returncode, r.stdout, r.stderr))
        return r

    def start(self, timeout=60):
        """Starts ejabberd (`ejabberdctl foreground-quiet`: a child process,
        only critical messages on its console; the log is logs/ejabberd.log)
        and waits until its c2s and s2s ports accept connections."""
        _ensure_hosts(self.routes)
        return self._start(['runuser', '-u', 'ejabberd', '--'] + self._ejabberdctl('foreground-quiet'), timeout)

    def register(self, user, password):
        """Creates an account (ejabberdctl; ejabberd must be running); returns its JID."""
        self.ctl('register', user, self.domain, password)
        return self.jid(user)

    def stop(self, timeout=30):
        """`ejabberdctl stop`, then waits; SIGKILL to the process group if
        ejabberd is still there after `timeout` seconds. Returns the exit
        code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.ctl('stop', timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                pass
        return self._finish(timeout)

    def log_text(self):
        return ''.join(_read(os.path.join(self.logs, name)) for name in ('ejabberd.log', 'error.log')) \
            + _read(self.console_path)
