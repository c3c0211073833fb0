"""The login throttle holds across connections: guesses sent on parallel
connections are refused unevaluated while the account's or the address's
wait runs, with the same failure whether the password was right or not."""
import re
import time
import unittest

from harness import ServerTestCase, DOMAIN, RawStream


def failure_of(text):
    m = re.search(r'<failure .*?</failure>', text, re.S)
    return m.group(0) if m else None


class Throttle(ServerTestCase):
    users = ('carol', 'dave')
    # Long waits, so that the test's own latency (a sanitizer build, the
    # logging thread's 10 ms) cannot hide a refusal.
    sasl = 'failure_delay_ms = 2500\nfailure_delay_max_ms = 5000'

    def secured(self, n, sources=None):
        streams = []
        for i in range(n):
            s = RawStream(self.server.starttls_port, source=sources[i] if sources else None)
            s.secure(self.server.ca)
            streams.append(s)
        return streams

    def guess_then_race(self, guessed_node, node, sources=None):
        """A wrong guess for `guessed_node` on one connection; while its wait
        runs, the right and a wrong password for `node` on two others.
        Returns (right reply, wrong reply, seconds until both came)."""
        a, right, wrong, later = self.secured(4, sources)
        try:
            failures_before = self.server.log_text().count("authentication failed for '%s@" % guessed_node)
            a.auth_plain(guessed_node, 'a-wrong-guess')
            deadline = time.monotonic() + 10
            while (self.server.log_text().count("authentication failed for '%s@" % guessed_node) == failures_before
                   and time.monotonic() < deadline):
                time.sleep(0.02)
            t0 = time.monotonic()
            right.auth_plain(node, 'secret')
            wrong.auth_plain(node, 'not-it')
            r = right.read_until('</failure>|<success', timeout=15)
            w = wrong.read_until('</failure>|<success', timeout=15)
            elapsed = time.monotonic() - t0
            # Once the guess's own reply came, its wait is over: the right
            # password logs in again (the throttle refuses, it does not lock out).
            a.read_until('</failure>', timeout=15)
            later.auth_plain(node.rstrip('\u00ad'), 'secret')
            self.assertIn('<success', later.read_until('</failure>|<success', timeout=15),
                          'after the wait the right password must log in')
            return r, w, elapsed
        finally:
            for s in (a, right, wrong, later):
                s.close()

    def test_parallel_connections_guessing_one_account_are_throttled(self):
        r, w, elapsed = self.guess_then_race('carol', 'carol')
        self.assertNotIn('<success', r, 'an attempt during the account\'s wait must not be evaluated')
        self.assertIn('<not-authorized/>', r)
        # The same failure, whether the password was right or not.
        self.assertEqual(failure_of(r), failure_of(w))
        # Answered after the wait a failure gets (1 s here), not at once.
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertTrue(self.server.wait_log(r"authentication for 'carol@%s' from 127\.0\.0\.1 throttled" % re.escape(DOMAIN)),
                        self.server.log_text()[-2000:])

    def test_a_name_padded_with_characters_nodeprep_removes_is_the_same_account(self):
        # carol followed by 130 soft hyphens (U+00AD, deleted by nodeprep) is
        # carol for Cyrus: so it is for the throttle too, even from an address
        # that never failed.
        padded = 'carol' + '\u00ad' * 130
        r, w, elapsed = self.guess_then_race('carol', padded, sources=['127.0.0.2', '127.0.0.3', '127.0.0.3',
                                                                         '127.0.0.4'])
        self.assertNotIn('<success', r, 'a padded name must not bypass the account\'s wait')
        self.assertEqual(failure_of(r), failure_of(w))

    def test_parallel_connections_from_one_address_are_throttled(self):
        # Guessing at one account slows the address down for every account.
        r, w, elapsed = self.guess_then_race('nobody-here', 'dave')
        self.assertNotIn('<success', r, 'an attempt during the address\'s wait must not be evaluated')
        self.assertEqual(failure_of(r), failure_of(w))
        self.assertGreaterEqual(elapsed, 0.5)


if __name__ == '__main__':
    unittest.main()
