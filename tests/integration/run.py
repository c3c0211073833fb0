"""Runs every integration test (tests/integration/test_*.py) and every
interop test with real peer servers (tests/interop/test_*.py), and writes the
counts to the file named by --counts as 'PASSED FAILED'. Each test is
reported on its own line; failures print their traceback and parleyd's log
tail is in the assertion messages."""
import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.join(os.path.dirname(HERE), 'interop')
sys.path.insert(0, HERE)
sys.path.insert(0, INTEROP)


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.stream.write('  (%.1fs)\n' % (time.monotonic() - self._t0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--counts', required=True)
    ap.add_argument('pattern', nargs='?', default='test_*.py')
    args = ap.parse_args()
    suite = unittest.defaultTestLoader.discover(HERE, pattern=args.pattern, top_level_dir=HERE)
    suite.addTests(unittest.defaultTestLoader.discover(INTEROP, pattern=args.pattern, top_level_dir=INTEROP))
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result, stream=sys.stdout)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    with open(args.counts, 'w') as f:
        f.write('%d %d\n' % (passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
