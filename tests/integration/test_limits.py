"""Limits: a client that floods the server is slowed down (the server stops
reading from it), not disconnected, loses nothing, and does not starve the
other users."""
import asyncio
import time
import unittest

from clients import online
from harness import ServerTestCase, DOMAIN, RawStream, run

RATE = 20000        # [limits] max_read_bytes_per_s in this test's config
STANZA = 16384      # [limits] max_stanza_bytes
BURST = max(RATE, STANZA)  # the bucket depth
READ = 65536        # the most the server reads at once (the worker's buffer)


class ReadRate(ServerTestCase):
    users = ('mallory', 'alice')
    extra = '\n[limits]\nmax_stanza_bytes = %d\nmax_read_bytes_per_s = %d\n' % (STANZA, RATE)

    def test_a_flooding_client_is_slowed_down_not_dropped(self):
        count, size = 30, 4000
        total = count * (size + 100)

        async def conversation():
            alice = await online(self.server, 'alice', plugins=('xep_0199',))
            m = RawStream(self.server.starttls_port)
            m.login_plain(self.server.ca, 'mallory', 'secret', resource='flood')
            flood = ''.join("<message to='mallory@parley.test/flood' type='chat' id='f%d'><body>%s</body></message>"
                            % (i, 'A' * size) for i in range(count))
            loop = asyncio.get_event_loop()
            t0 = time.monotonic()
            sending = loop.run_in_executor(None, m.send, flood)
            # Alice is served while mallory floods.
            await alice['xep_0199'].ping(jid=DOMAIN, timeout=10)
            await sending
            text = await loop.run_in_executor(None, m.read_until, "id='f%d'" % (count - 1), 60)
            elapsed = time.monotonic() - t0
            self.assertEqual(text.count('<message '), count, 'every flooded message arrives, none is lost')
            self.assertNotIn('<stream:error', text, 'a fast client is slowed down, not disconnected')
            # Beyond the burst the server reads at RATE (the last read is not
            # waited for): a server without the limit echoes all of it in a
            # fraction of a second.
            floor = (total - BURST - READ) / RATE * 0.8
            self.assertGreaterEqual(elapsed, floor, 'the flood was not slowed down (%.2fs)' % elapsed)
            await alice['xep_0199'].ping(jid=DOMAIN, timeout=10)
            m.close()
            await alice.bye()
        run(conversation(), timeout=120)


if __name__ == '__main__':
    unittest.main()
