"""PLAIN's password checks (PBKDF2 on libuv's thread pool) are bounded per
worker: past `[sasl] max_queued_password_checks`, a PLAIN attempt is refused
at once with <temporary-auth-failure/> instead of queueing."""
import re
import time
import unittest

from harness import ServerTestCase, RawStream

CONNECTIONS = 8


class PasswordCheckQueue(ServerTestCase):
    users = ('erin',)
    # Costly keys (about a second of PBKDF2 each), so that every check is
    # still queued or running when the last attempt arrives; two per worker.
    sasl = ('failure_delay_ms = 50\nfailure_delay_max_ms = 200\n'
            'scram_iterations = 4000000\nmax_queued_password_checks = 2')

    def test_a_burst_of_plain_past_the_bound_is_refused_with_temporary_auth_failure(self):
        streams = []
        try:
            for _ in range(CONNECTIONS):
                s = RawStream(self.server.starttls_port)
                s.secure(self.server.ca)
                streams.append(s)
            for s in streams:
                s.auth_plain('erin', 'secret')
            outcomes = []
            for s in streams:
                text = s.read_until('</failure>|<success', timeout=60)
                if '<success' in text:
                    outcomes.append('success')
                elif '<temporary-auth-failure/>' in text:
                    outcomes.append('busy')
                else:
                    outcomes.append(text)
        finally:
            for s in streams:
                s.close()
        # Two workers, two checks each: at most four are evaluated, and they
        # log in (the password is right); the rest are refused, not queued.
        self.assertEqual(outcomes.count('success') + outcomes.count('busy'), CONNECTIONS, outcomes)
        self.assertGreaterEqual(outcomes.count('success'), 2, outcomes)
        self.assertLessEqual(outcomes.count('success'), 4, outcomes)
        # Refusals are logged once a minute per worker, not once each.
        self.server.wait_log(r'password checks already queued on worker')
        busy_lines = re.findall(r'password checks already queued on worker \d; refused \d+ since the last report',
                                self.server.log_text())
        self.assertGreaterEqual(len(busy_lines), 1)
        self.assertLessEqual(len(busy_lines), 2, 'at most one line per worker: %r' % busy_lines)
        # A refusal for a busy server is not a failed login: erin logs in
        # at once afterwards, from the same address.
        s = RawStream(self.server.starttls_port)
        try:
            s.secure(self.server.ca)
            s.auth_plain('erin', 'secret')
            self.assertIn('<success', s.read_until('</failure>|<success', timeout=60))
        finally:
            s.close()


if __name__ == '__main__':
    unittest.main()
