"""Durability of module writes through the storage seam: kill -9 of parleyd
during sustained writes from a test module on both workers; after a restart,
every write whose completion said "on disk" is there."""
import os
import signal
import tempfile
import time
import unittest

from harness import ParleyServer, module_dir_with_test_modules


def lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


class StoreCrash(unittest.TestCase):
    def test_every_completed_write_survives_kill_9(self):
        tmp = tempfile.mkdtemp(prefix='parley-store-crash-')
        done = os.path.join(tmp, 'done')
        dump = os.path.join(tmp, 'dump')
        moddir = module_dir_with_test_modules(os.path.join(tmp, 'modules'))
        server = ParleyServer(modules=('teststore',), module_dir=moddir,
                              module_options={'teststore': 'mode = "write"\nout_file = "%s"\nbatch = 100' % done},
                              log='level = "info"')
        try:
            server.start()
            # Sustained writes from both workers, then kill -9 in the middle.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                completed = lines(done)
                workers = {l.split()[0] for l in completed}
                if len(completed) >= 20000 and workers == {'0', '1'}:
                    break
                time.sleep(0.05)
            server.signal(signal.SIGKILL)
            server.proc.wait(timeout=10)
            completed = set(lines(done))
            self.assertGreaterEqual(len(completed), 20000, 'the module wrote from both workers before the kill')
            self.assertEqual({l.split()[0] for l in completed}, {'0', '1'})

            # The same data directory, the module now lists what is stored.
            server.log.close()
            os.rename(server.log_path, server.log_path + '.killed')  # "ready" must come from the new process
            server.write_config(modules=('teststore',),
                                module_options={'teststore': 'mode = "dump"\nout_file = "%s"' % dump},
                                log='level = "info"')
            server.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and 'end' not in lines(dump)[-1:]:
                time.sleep(0.05)
            stored = lines(dump)
            self.assertEqual(stored[-1:], ['end'], 'the dump finished: %r' % stored[-3:])
            stored = set(stored[:-1])
            missing = completed - stored
            self.assertEqual(len(missing), 0, '%d completed writes lost, e.g. %r' % (len(missing), sorted(missing)[:5]))
            # Writes in flight at the kill may or may not be there; none is
            # there that was never submitted.
            self.assertGreaterEqual(len(stored), len(completed))
            server.stop()
        finally:
            server.cleanup()


if __name__ == '__main__':
    unittest.main()
