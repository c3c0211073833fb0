"""Modules through reload and shutdown, with the test module mod_testlife
(tests/support/modules), which writes what happens to it to a file: a
module removed on reload has its timers closed before its library is
unloaded; a module whose reload() fails on one worker changes no worker;
at SIGTERM the modules see every session's `closed` event before they stop."""
import asyncio
import os
import re
import signal
import tempfile
import time
import unittest

from clients import online
from harness import DOMAIN, ParleyServer, module_dir_with_test_modules, run, worker_of


class ModuleLifecycle(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='parley-mods-')
        self.events = os.path.join(self.tmp, 'events')
        self.server = None

    def tearDown(self):
        if self.server:
            try:
                self.server.stop()
            finally:
                self.server.cleanup()

    def start(self, modules, options):
        self.server = ParleyServer(modules=modules, module_options=options,
                                   module_dir=module_dir_with_test_modules(os.path.join(self.tmp, 'modules')))
        self.server.add_user('alice', 'secret')
        self.server.add_user('bob', 'secret')
        self.server.start()

    def reload(self, modules, options, outcome=r'reloaded'):
        self.server.write_config(modules=modules, module_options=options)
        mark = len(self.server.log_text())
        self.server.signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if re.search(r'reloaded|reload failed', self.server.log_text()[mark:]):
                break
            time.sleep(0.05)
        tail = self.server.log_text()[mark:]
        self.assertRegex(tail, outcome)
        return tail

    def event_lines(self):
        try:
            with open(self.events) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_events(self, predicate, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.event_lines()):
                return True
            time.sleep(0.05)
        return False

    def test_timers_of_a_removed_module_are_closed_before_its_library_is_unloaded(self):
        self.start(('disco', 'testlife'), {'testlife': 'events_file = "%s"\ntimer_ms = 20' % self.events})
        self.assertTrue(self.wait_events(lambda e: e.count('start 0') + e.count('start 1') == 2), self.event_lines())
        self.reload(('disco', 'ping'), None)
        # Both workers free their timer (the callback owns an object of the
        # library), and only then may the library go.
        self.assertTrue(self.wait_events(lambda e: e.count('timer-freed') == 2),
                        'timers not freed: %r\n%s' % (self.event_lines(), self.server.log_text()[-2000:]))
        events = self.event_lines()
        if 'unloaded' in events:  # (a sanitizer build keeps modules mapped until exit)
            self.assertLess(max(i for i, e in enumerate(events) if e == 'timer-freed'), events.index('unloaded'),
                            events)
        self.assertIsNone(self.server.proc.poll(), 'parleyd died:\n' + self.server.log_text()[-3000:])

        async def still_serving():
            alice = await online(self.server, 'alice', plugins=('xep_0199',))
            await alice['xep_0199'].ping(jid=DOMAIN, timeout=10)
            await alice.bye()
        run(still_serving())

    def test_a_module_reload_that_fails_on_one_worker_changes_no_worker(self):
        v1 = 'events_file = "%s"\nfeature = "urn:parley:test:v1"' % self.events
        self.start(('disco', 'testlife'), {'testlife': v1})

        async def conversation():
            # One client on each worker (the kernel spreads connections over
            # the workers' sockets; a bounded number of tries).
            clients = {}
            for i in range(24):
                c = await online(self.server, 'alice', resource='r%d' % i, plugins=('xep_0030',))
                self.assertTrue(self.server.wait_log(r'alice@parley.test/r%d bound on worker' % i))
                w = worker_of(self.server, 'alice@parley.test/r%d' % i)
                if w in clients:
                    await c.bye()
                    continue
                clients[w] = c
                if len(clients) == 2:
                    break
            self.assertEqual(len(clients), 2, 'could not get sessions on both workers')
            # The new config adds mod_time, and testlife's reload() throws on worker 1.
            tail = self.reload(('disco', 'testlife', 'time'),
                               {'testlife': v1 + '\nfail_reload_on_worker = 1'}, outcome=r'reload failed')
            self.assertIn('worker 1', tail)
            for w, c in sorted(clients.items()):
                info = await c['xep_0030'].get_info(jid=DOMAIN, timeout=10)
                self.assertNotIn('urn:xmpp:time', info['disco_info']['features'],
                                 'worker %d took a module of a reload that failed' % w)
                self.assertIn('urn:parley:test:v1', info['disco_info']['features'])
            # The same reload without the failure applies on both workers.
            self.reload(('disco', 'testlife', 'time'), {'testlife': v1})
            for w, c in sorted(clients.items()):
                for _ in range(50):
                    info = await c['xep_0030'].get_info(jid=DOMAIN, timeout=10)
                    if 'urn:xmpp:time' in info['disco_info']['features']:
                        break
                    await asyncio.sleep(0.1)
                self.assertIn('urn:xmpp:time', info['disco_info']['features'], 'worker %d' % w)
            for c in clients.values():
                await c.bye()
        run(conversation(), timeout=120)

    def test_at_sigterm_modules_see_closed_sessions_before_they_stop(self):
        self.start(('disco', 'testlife'), {'testlife': 'events_file = "%s"' % self.events})

        async def conversation():
            alice = await online(self.server, 'alice', resource='desk')
            bob = await online(self.server, 'bob', resource='desk')
            self.assertTrue(self.wait_events(lambda e: sum(x.startswith('bound ') for x in e) == 2),
                            self.event_lines())
            self.server.signal(signal.SIGTERM)
            await alice.wait_gone()
            await bob.wait_gone()
        run(conversation())
        self.assertEqual(self.server.proc.wait(timeout=20), 0)
        events = self.event_lines()
        for jid in ('alice@parley.test/desk', 'bob@parley.test/desk'):
            w = worker_of(self.server, jid)
            closed = 'closed %s %d' % (jid, w)
            self.assertIn(closed, events, 'the module never saw %s close: %r' % (jid, events))
            self.assertLess(events.index(closed), events.index('stop %d' % w), events)


if __name__ == '__main__':
    unittest.main()
