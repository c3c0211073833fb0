"""Retention, legal holds and the audit log of the compliance archive
through parleyctl and a running parleyd: rules set, listed, explained and
removed; a hold placed, shown by explain and released; a purge run on
demand; every change and every search recorded in the audit log, which
`parleyctl archive audit` checks, and which catches an event removed by hand
from data.mdb. (That expired messages go, held ones stay, and the chain
still verifies after a purge is shown by the unit tests, which can make a
message 40 days old; a real parleyd only has today's.)"""
import json
import os
import unittest

import lmdb

from clients import online, ping
from harness import DOMAIN, ParleyServer, run

MODULES = ('disco', 'ping', 'offline', 'archive')  # offline: bob is away, his copy is kept


def jid(node):
    return '%s@%s' % (node, DOMAIN)


class Retention(unittest.TestCase):
    def setUp(self):
        self.server = ParleyServer(modules=MODULES, module_options={'archive': '''key_file = "archive.key"
[modules.archive.retention]
default_days = 2555
purge_interval = 3600
[[modules.archive.retention.rule]]
scope = "user"
target = "%s"
type = "headline"
days = 1''' % jid('carol')})
        self.server.ctl('archive', 'keygen', os.path.join(self.server.dir, 'archive.key'))
        for node in ('alice', 'bob', 'carol'):
            self.server.add_user(node, 'secret')
        self.server.start()

    def tearDown(self):
        try:
            self.server.stop()
        finally:
            self.server.cleanup()

    def ctl_json(self, *args):
        return json.loads(self.server.ctl(*args, '--json').stdout)

    def test_rules_holds_purge_and_the_audit_log(self):
        async def chat():
            alice = await online(self.server, 'alice', resource='a', plugins=('xep_0199',))
            alice.send_message(mto=jid('bob'), mbody='for the record', mtype='chat')
            await ping(alice, DOMAIN)
            await alice.bye()
        run(chat())
        s = self.server
        rules = self.ctl_json('retention', 'list')['rules']
        self.assertIn({'scope': 'default', 'target': '', 'type': '', 'days': 2555, 'origin': 'config'}, rules)
        self.assertTrue(any(r['target'] == jid('carol') and r['type'] == 'headline' and r['days'] == 1 for r in rules))

        out = s.ctl('retention', 'set', 'domain', DOMAIN, '30').stdout
        self.assertIn('keep 30 days', out)
        s.ctl('retention', 'set', 'user', jid('bob'), 'forever', '--type', 'chat')
        explained = {t['type']: t for t in self.ctl_json('retention', 'explain', jid('bob'))['types']}
        self.assertEqual(explained['chat']['days'], 0, 'bob\'s own rule for chat: forever')
        self.assertEqual(explained['normal']['days'], 30, 'the domain rule for the rest')
        self.assertIn('parleyctl:', explained['normal']['rule']['origin'])
        carol = {t['type']: t['days'] for t in self.ctl_json('retention', 'explain', jid('carol'))['types']}
        self.assertEqual(carol['headline'], 1)
        self.assertEqual(carol['chat'], 30)
        bad = s.ctl('retention', 'set', 'domain', 'not a domain', '30', check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn('not a domain', bad.stderr)
        s.ctl('retention', 'del', 'user', jid('bob'), '--type', 'chat')
        self.assertEqual({t['type']: t['days'] for t in self.ctl_json('retention', 'explain', jid('bob'))['types']}['chat'], 30)
        missing = s.ctl('retention', 'del', 'user', jid('bob'), '--type', 'chat', check=False)
        self.assertNotEqual(missing.returncode, 0)

        s.ctl('hold', 'add', 'CASE-42', 'user', jid('bob'), 'pending', 'litigation')
        again = s.ctl('hold', 'add', 'CASE-42', 'user', jid('bob'), 'twice', check=False)
        self.assertNotEqual(again.returncode, 0, 'one active hold per case')
        holds = self.ctl_json('hold', 'list')['holds']
        self.assertEqual([(h['case'], h['active'], h['reason']) for h in holds], [('CASE-42', True, 'pending litigation')])
        self.assertEqual(self.ctl_json('retention', 'explain', jid('bob'))['holds'], ['CASE-42'])
        purged = self.ctl_json('retention', 'purge')
        self.assertIn('removed 0 record(s)', purged['summary'], 'nothing is 30 days old yet')
        s.ctl('hold', 'release', 'CASE-42')
        holds = self.ctl_json('hold', 'list')['holds']
        self.assertEqual([(h['case'], h['active']) for h in holds], [('CASE-42', False)])

        results = json.loads(s.ctl('archive', 'search', '--user', jid('bob'), '--json').stdout)['results']
        self.assertEqual([r['body'] for r in results], ['for the record'])

        audit = self.ctl_json('archive', 'audit')
        self.assertTrue(audit['ok'], audit['problems'])
        actions = [e['action'] for e in audit['last']]
        self.assertEqual(actions, ['retention.set', 'retention.set', 'retention.del', 'hold.add', 'hold.release',
                                   'search'])
        self.assertTrue(all(e['who'].startswith('parleyctl:') for e in audit['last']))
        self.assertIn(jid('bob'), audit['last'][-1]['scope'])

        # Without parleyd, changes are refused (they go through it), and an
        # event removed by hand from data.mdb is caught.
        s.stop()
        off = s.ctl('retention', 'list', check=False)
        self.assertEqual(off.returncode, 3)
        env = lmdb.open(os.path.join(s.data, 'archive'), max_dbs=16, subdir=True)
        db = env.open_db(b'archive.journal')
        with env.begin(write=True, db=db) as txn:
            self.assertTrue(txn.delete(b'A' + (2).to_bytes(8, 'big')))
        env.close()
        bad = s.ctl('archive', 'audit', '--json', check=False)
        self.assertEqual(bad.returncode, 1)
        problems = json.loads(bad.stdout)['problems']
        self.assertTrue(any('2 to 2 are missing' in p for p in problems), problems)


if __name__ == '__main__':
    unittest.main()
