"""The server's life: SIGHUP reload keeps sessions and changes modules,
SIGTERM says system-shutdown, parleyctl manages accounts with and without a
running server, --check-config names file, line and key."""
import asyncio
import os
import select
import signal
import ssl
import subprocess
import threading
import time
import unittest

from clients import online
from harness import BUILD, DOMAIN, ParleyServer, RawStream, run, worker_of


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.server = ParleyServer()

    def tearDown(self):
        try:
            self.server.stop()
        finally:
            self.server.cleanup()

    def test_sighup_reload_keeps_sessions_and_applies_modules(self):
        self.server.add_user('alice', 'secret')
        self.server.add_user('bob', 'secret')
        self.server.start()

        async def conversation():
            alice = await online(self.server, 'alice', resource='a', plugins=('xep_0030', 'xep_0202'))
            bob = await online(self.server, 'bob', resource='b')
            info = await alice['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            self.assertIn('urn:xmpp:time', info['disco_info']['features'])
            # Drop mod_time and reload.
            self.server.write_config(modules=('disco', 'ping', 'version'))
            self.server.signal(signal.SIGHUP)
            self.assertTrue(self.server.wait_log(r'reloaded'), self.server.log_text()[-2000:])
            # Each worker applies the reload from its inbox: ask until both
            # have (bounded), since alice's worker may be the later one.
            for _ in range(50):
                info = await alice['xep_0030'].get_info(jid=DOMAIN, timeout=10)
                if 'urn:xmpp:time' not in info['disco_info']['features']:
                    break
                await asyncio.sleep(0.1)
            self.assertNotIn('urn:xmpp:time', info['disco_info']['features'], 'disco must follow the loaded modules')
            try:
                await alice['xep_0202'].get_entity_time(DOMAIN, timeout=10)
                self.fail('time must be gone after the reload')
            except Exception as e:
                self.assertEqual(getattr(e, 'condition', None), 'service-unavailable', repr(e))
            # Both sessions survived the reload.
            alice.send_message(mto='bob@parley.test/b', mbody='after reload', mtype='chat')
            got = await bob.next_message()
            self.assertEqual(got['body'], 'after reload')
            # A broken config is refused and the running one stays.
            with open(self.server.config, 'a') as f:
                f.write('\nno_such_key = 1\n')
            self.server.signal(signal.SIGHUP)
            self.assertTrue(self.server.wait_log(r'reload failed'), self.server.log_text()[-2000:])
            info = await alice['xep_0030'].get_info(jid=DOMAIN, timeout=10)
            self.assertIn('urn:xmpp:ping', info['disco_info']['features'])
            await bob.bye()
            await alice.bye()
        run(conversation())

    def test_sigterm_ends_streams_with_system_shutdown(self):
        self.server.add_user('alice', 'secret')
        self.server.start()

        async def conversation():
            alice = await online(self.server, 'alice')
            self.server.signal(signal.SIGTERM)
            await alice.wait_gone()
            self.assertIn('system-shutdown', alice.stream_errors)
        run(conversation())
        self.assertEqual(self.server.proc.wait(timeout=20), 0, 'parleyd exits 0 after SIGTERM')
        self.assertNotIn('secret', self.server.log_text(), 'passwords never reach the log')

    def test_sigterm_while_workers_send_to_each_other(self):
        """Two sessions on different workers flood each other (every stanza
        crosses workers through their inboxes) when SIGTERM comes: parleyd
        exits 0, with no abort and no sanitizer report."""
        self.server.add_user('alice', 'secret')
        self.server.add_user('bob', 'secret')
        self.server.start()
        ca = self.server.ca
        alice = RawStream(self.server.starttls_port)
        alice.login_plain(ca, 'alice', 'secret', resource='a')
        self.assertTrue(self.server.wait_log(r'alice@parley.test/a bound on worker'))
        wa = worker_of(self.server, 'alice@parley.test/a')
        bob = None
        # The kernel spreads connections over the workers' sockets; a
        # bounded number of tries lands bob on the other worker.
        for i in range(24):
            b = RawStream(self.server.starttls_port)
            b.login_plain(ca, 'bob', 'secret', resource='b%d' % i)
            self.assertTrue(self.server.wait_log(r'bob@parley.test/b%d bound on worker' % i))
            if worker_of(self.server, 'bob@parley.test/b%d' % i) != wa:
                bob = b
                break
            b.close()
        self.assertIsNotNone(bob, 'could not get sessions on two workers')
        bob_jid = 'bob@parley.test/b%d' % i

        received = {'alice': 0, 'bob': 0}
        stop = threading.Event()

        def pump(stream, to, name):
            """One thread per client, sending and reading in turn: an SSL
            socket must not be read and written from two threads at once
            (one side then saw nothing, now and then)."""
            sock = stream.sock
            sock.setblocking(False)
            batch = (("<message to='%s' type='chat'><body>%s</body></message>" % (to, 'x' * 200)) * 20).encode()
            out = b''
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if not stop.is_set() and len(out) < 65536:
                    out += batch
                readable, writable, _ = select.select([sock], [sock] if out else [], [], 0.5)
                if readable or sock.pending():
                    try:
                        chunk = sock.recv(65536)
                        if not chunk:
                            return
                        received[name] += len(chunk)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                        pass
                    except OSError:
                        return
                if writable and out:
                    try:
                        out = out[sock.send(out):]
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                        pass
                    except OSError:
                        return

        threads = [threading.Thread(target=pump, args=(alice, bob_jid, 'alice')),
                   threading.Thread(target=pump, args=(bob, 'alice@parley.test/a', 'bob'))]
        for t in threads:
            t.start()
        try:
            # Both directions are flowing before the signal.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and min(received.values()) < 100000:
                time.sleep(0.05)
            self.assertGreaterEqual(min(received.values()), 100000, 'the flood did not flow both ways: %r' % received)
            self.server.signal(signal.SIGTERM)
            self.assertEqual(self.server.proc.wait(timeout=30), 0, 'parleyd must exit 0 after SIGTERM:\n'
                             + self.server.log_text()[-3000:])
        finally:
            stop.set()
            alice.close()
            bob.close()
            for t in threads:
                t.join(timeout=70)
        # stop() (in tearDown) checks the log for sanitizer reports.

    def test_parleyctl_accounts_with_and_without_parleyd(self):
        ctl = self.server.ctl
        # Not running: accounts still work, status says so.
        self.server.add_user('alice', 'secret')
        r = ctl('user', 'add', 'alice@' + DOMAIN, input='again\n', check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('already exists', r.stderr)
        self.assertEqual(ctl('user', 'list', DOMAIN).stdout.split(), ['alice@' + DOMAIN])
        r = ctl('status', check=False)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn('not running', r.stdout)
        r = ctl('user', 'add', 'x@not-a-host.example', input='pw\n', check=False)
        self.assertNotEqual(r.returncode, 0)
        # No plaintext password anywhere in the data directory.
        for root, _, files in os.walk(self.server.data):
            for name in files:
                with open(os.path.join(root, name), 'rb') as f:
                    self.assertNotIn(b'secret', f.read(), 'plaintext password found in ' + name)
        self.server.start()

        async def conversation():
            r = ctl('status', check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('running', r.stdout)
            self.server.add_user('bob', 'bobpw')  # while parleyd runs
            bob = await online(self.server, 'bob', password='bobpw')
            alice = await online(self.server, 'alice')
            ctl('user', 'passwd', 'alice@' + DOMAIN, input='newpw\n')
            await alice.wait_gone()
            ctl('user', 'del', 'bob@' + DOMAIN)
            await bob.wait_gone()
            self.assertEqual(ctl('user', 'list', DOMAIN).stdout.split(), ['alice@' + DOMAIN])
            again = await online(self.server, 'alice', password='newpw')
            # parleyctl reload: the same as SIGHUP, with the outcome on the terminal.
            r = ctl('reload', check=False)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn('reloaded', r.stdout)
            with open(self.server.config, 'a') as f:
                f.write('\nbogus_key = true\n')
            r = ctl('reload', check=False)
            self.assertEqual(r.returncode, 1, 'a reload of a broken config must fail: ' + r.stdout)
            self.assertIn('bogus_key', r.stderr)
            await again.bye()
        run(conversation())

    def test_a_second_parleyd_on_the_same_data_dir_refuses_to_start(self):
        self.server.start()
        r = subprocess.run([os.path.join(BUILD, 'server/parleyd'), '--config', self.server.config],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn('another parleyd (pid %d)' % self.server.proc.pid, r.stderr)
        # The first one is untouched: its control socket still answers.
        self.assertEqual(self.server.ctl('status', check=False).returncode, 0)

    def test_check_config_names_file_line_and_key(self):
        parleyd = os.path.join(BUILD, 'server/parleyd')
        r = subprocess.run([parleyd, '--check-config', '--config', self.server.config],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.server.config) as f:
            lines = f.read().splitlines()
        lines.insert(3, 'wrokers = 2')
        with open(self.server.config, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        r = subprocess.run([parleyd, '--check-config', '--config', self.server.config],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(self.server.config + ':4', r.stderr)
        self.assertIn('wrokers', r.stderr)


if __name__ == '__main__':
    unittest.main()
