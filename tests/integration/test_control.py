"""The control socket: a silent client cannot hold parleyd up, the socket
path is never used to delete something that is not a socket, and only
parleyd's own user and root may talk to it."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from harness import BUILD, ParleyServer


def read_until_closed(sock, timeout):
    """Everything the server sends until it closes; None if it is still open after timeout."""
    sock.settimeout(0.2)
    got = b''
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk
    return None


class ControlSocket(unittest.TestCase):
    def setUp(self):
        self.server = ParleyServer()
        self.sock_path = os.path.join(self.server.data, 'parleyd.sock')

    def tearDown(self):
        try:
            if self.server.proc and self.server.proc.poll() is None:
                self.server.stop()
        finally:
            self.server.cleanup()

    def connect(self, path=None):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path or self.sock_path)
        return s

    def test_a_silent_client_is_dropped_and_does_not_delay_sigterm(self):
        self.server.start()
        # The first client says nothing: the server drops it after its timeout.
        quiet = self.connect()
        got = read_until_closed(quiet, timeout=30)
        quiet.close()
        self.assertIsNotNone(got, 'a silent control client must be dropped')
        self.assertEqual(got, b'')
        self.assertTrue(self.server.wait_log(r'dropped a client that sent no request'), self.server.log_text()[-2000:])
        # The socket still serves others.
        self.assertEqual(self.server.ctl('status', check=False).returncode, 0)
        # A second silent client is connected when SIGTERM comes: parleyd
        # drops it at once and exits (not by the timeout: no second drop line).
        quiet = self.connect()
        log_before = self.server.log_text().count('dropped a client that sent no request')
        self.server.signal(15)
        try:
            code = self.server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.fail('parleyd did not exit on SIGTERM while a control client was connected')
        finally:
            quiet.close()
        self.assertEqual(code, 0, self.server.log_text()[-2000:])
        self.assertEqual(self.server.log_text().count('dropped a client that sent no request'), log_before,
                         'the client must be dropped by the shutdown, not by its timeout')
        self.assertFalse(os.path.exists(self.sock_path), 'the socket is removed at exit')

    def refuses_to_start_with(self, make):
        os.makedirs(self.server.data, exist_ok=True)
        what = make(self.sock_path)
        r = subprocess.run([os.path.join(BUILD, 'server/parleyd'), '--config', self.server.config],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('control socket %s exists and is not a socket' % self.sock_path, r.stderr)
        return what

    def test_a_regular_file_at_the_socket_path_is_left_alone(self):
        def make(path):
            with open(path, 'w') as f:
                f.write('precious\n')
        self.refuses_to_start_with(make)
        with open(self.sock_path) as f:
            self.assertEqual(f.read(), 'precious\n', 'the file must be left as it was')

    def test_a_symlink_at_the_socket_path_is_left_alone(self):
        target = os.path.join(self.server.dir, 'target')

        def make(path):
            with open(target, 'w') as f:
                f.write('precious\n')
            os.symlink(target, path)
        self.refuses_to_start_with(make)
        self.assertTrue(os.path.islink(self.sock_path))
        with open(target) as f:
            self.assertEqual(f.read(), 'precious\n')

    def test_a_stale_socket_of_an_earlier_run_is_replaced(self):
        def make(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            s.close()
        os.makedirs(self.server.data, exist_ok=True)
        make(self.sock_path)
        self.server.start()
        self.assertEqual(self.server.ctl('status', check=False).returncode, 0)

    @unittest.skipUnless(os.geteuid() == 0, 'needs root to run a client as another user (nobody)')
    def test_only_parleyds_user_and_root_may_use_the_socket(self):
        # A socket reachable by everyone by mistake: a world-searchable
        # directory, and the socket's mode opened up after start.
        open_dir = tempfile.mkdtemp(prefix='parley-ctl-')
        self.addCleanup(shutil.rmtree, open_dir, True)
        os.chmod(open_dir, 0o755)
        path = os.path.join(open_dir, 'parleyd.sock')
        with open(self.server.config) as f:
            text = f.read()
        with open(self.server.config, 'w') as f:
            f.write('control_socket = "%s"\n' % path + text)
        self.server.start()
        os.chmod(path, 0o666)
        client = ('import socket,sys\n'
                  's=socket.socket(socket.AF_UNIX)\n'
                  's.settimeout(20)\n'
                  's.connect(sys.argv[1])\n'
                  's.sendall(b"status\\n")\n'
                  'out=b""\n'
                  'while True:\n'
                  '    c=s.recv(4096)\n'
                  '    if not c: break\n'
                  '    out+=c\n'
                  'sys.stdout.write(out.decode())\n')
        r = subprocess.run([sys.executable, '-c', client, path], user='nobody', group='nogroup',
                           extra_groups=[], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn('"ok":true', r.stdout, 'nobody must not get an answer')
        self.assertIn('permission denied', r.stdout)
        self.assertTrue(self.server.wait_log(r'refused a client with uid %d' % 65534), self.server.log_text()[-2000:])
        # Root (this test) still may.
        r = self.server.ctl('status', check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('running', r.stdout)


if __name__ == '__main__':
    unittest.main()
