"""parleyctl run as root leaves nothing in the data directory that a
parleyd running as the directory's owner could not open."""
import glob
import os
import pwd
import shutil
import subprocess
import unittest

from harness import BUILD, ParleyServer


def owners_under(top):
    """(path, uid) of top and of everything under it."""
    found = [(top, os.lstat(top).st_uid)]
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(root, name)
            found.append((p, os.lstat(p).st_uid))
    return found


@unittest.skipUnless(os.geteuid() == 0, 'needs root: the case is parleyctl run as root')
class ParleyctlAsRoot(unittest.TestCase):
    def setUp(self):
        self.server = ParleyServer()
        self.nobody = pwd.getpwnam('nobody')
        # The test's directory is 0700 root: let nobody through to its data.
        os.chmod(self.server.dir, 0o755)

    def tearDown(self):
        self.server.cleanup()

    def assert_all_owned_by_nobody(self, top):
        wrong = [(p, uid) for p, uid in owners_under(top) if uid != self.nobody.pw_uid]
        self.assertEqual(wrong, [], 'files under the data directory not owned by nobody')

    def test_files_created_in_a_data_dir_owned_by_nobody_belong_to_nobody(self):
        os.mkdir(self.server.data, 0o700)
        os.chown(self.server.data, self.nobody.pw_uid, self.nobody.pw_gid)
        self.server.add_user('alice', 'secret')
        self.assert_all_owned_by_nobody(self.server.data)
        self.assertTrue(os.path.exists(os.path.join(self.server.data, 'state', 'data.mdb')))
        # The store opens for its owner: parleyctl run as nobody (as parleyd
        # would run) reads and writes it. The build tree may be where nobody
        # cannot go (a checkout under /root): run a copy of the binary and of
        # libparley from the test's own directory.
        bindir = os.path.join(self.server.dir, 'bin')
        os.mkdir(bindir, 0o755)
        shutil.copy2(os.path.join(BUILD, 'tools/parleyctl/.libs/parleyctl'), bindir)
        for lib in glob.glob(os.path.join(BUILD, '.libs/libparley.so*')):
            shutil.copy2(lib, bindir, follow_symlinks=True)
        env = dict(os.environ, LD_LIBRARY_PATH=bindir)
        ctl = [os.path.join(bindir, 'parleyctl'), '--config', self.server.config]
        r = subprocess.run(ctl + ['user', 'add', 'bob@parley.test'], input='pw\n', user='nobody',
                           group='nogroup', extra_groups=[], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(ctl + ['user', 'list'], user='nobody', group='nogroup', extra_groups=[],
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.split()), ['alice@parley.test', 'bob@parley.test'])

    def test_a_new_data_dir_takes_the_owner_of_its_parent(self):
        parent = os.path.join(self.server.dir, 'var')
        os.mkdir(parent, 0o755)
        os.chown(parent, self.nobody.pw_uid, self.nobody.pw_gid)
        self.server.data = os.path.join(parent, 'parley')
        self.server.write_config()
        self.server.add_user('alice', 'secret')
        self.assert_all_owned_by_nobody(parent)

    def test_a_data_dir_owned_by_root_stays_root(self):
        self.server.add_user('alice', 'secret')
        for p, uid in owners_under(self.server.data):
            self.assertEqual(uid, 0, p)


if __name__ == '__main__':
    unittest.main()
