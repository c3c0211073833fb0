"""`parleyctl archive export` and `verify-export` against a running
parleyd whose archive real slixmpp clients filled: each format read back by
the parser an eDiscovery tool would use (json line by line, csv, Python's
email package for EML, an XML parser for the XEP-0227 file and the HTML
transcript), the bodies exactly as sent and in order, the manifest's sums
right, the export recorded in the audit log with the manifest's sum, and
verify-export naming a changed byte, a removed file and an added one."""
import csv
import email
import email.policy
import hashlib
import io
import json
import os
import stat
import xml.dom.minidom
import xml.etree.ElementTree as ET

from clients import online, ping
from harness import DOMAIN, ServerTestCase, run

MODULES = ('disco', 'ping', 'offline', 'archive')
NS_PIE = 'urn:xmpp:pie:0'
NS_PIE_MAM = 'urn:xmpp:pie:0#mam'
NS_MAM = 'urn:xmpp:mam:2'
NS_FWD = 'urn:xmpp:forward:0'
NS_DELAY = 'urn:xmpp:delay'
NS_CLIENT = 'jabber:client'
NS_XHTML = 'http://www.w3.org/1999/xhtml'

# Bodies each format must carry unchanged: line breaks, quotes and commas
# (CSV), markup characters (XML, HTML), non-ASCII and a line longer than a
# quoted-printable line (EML), '=' (quoted-printable's escape).
ALICE_TO_BOB = [
    'hello bob',
    'line one\nline two\n  indented',
    'she said "yes, tomorrow", then left',
    '<b>not markup</b> & <!-- nor a comment -->',
    'grüße, 中文, emoji 😀, and = signs =3D',
    'long ' + 'x' * 200 + ' end',
]
BOB_TO_ALICE = ['reply from bob']
CAROL_TO_ALICE = ['quarterly numbers attached']


def jid(node):
    return '%s@%s' % (node, DOMAIN)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class Export(ServerTestCase):
    users = ('alice', 'bob', 'carol')
    settings = dict(modules=MODULES, module_options={'archive': 'key_file = "archive.key"'})

    @classmethod
    def prepare(cls, server):
        server.archive_key()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        async def chat():
            alice = await online(cls.server, 'alice', resource='a', plugins=('xep_0199',))
            bob = await online(cls.server, 'bob', resource='b', plugins=('xep_0199',))
            carol = await online(cls.server, 'carol', resource='c', plugins=('xep_0199',))
            for body in ALICE_TO_BOB:
                alice.send_message(mto=jid('bob'), mbody=body, mtype='chat')
                await ping(alice, DOMAIN)
            for body in BOB_TO_ALICE:
                bob.send_message(mto=jid('alice'), mbody=body, mtype='chat')
                await ping(bob, DOMAIN)
            for body in CAROL_TO_ALICE:
                carol.send_message(mto=jid('alice'), mbody=body, mtype='chat')
                await ping(carol, DOMAIN)
            for c in (alice, bob, carol):
                await c.bye()
        run(chat())
        cls.sent = ALICE_TO_BOB + BOB_TO_ALICE + CAROL_TO_ALICE

    def export(self, name, *args, check=True):
        out = os.path.join(self.server.dir, name)
        r = self.server.ctl('archive', 'export', '--out', out, *args, check=check)
        return out, r

    def verify_export(self, path):
        r = self.server.ctl('archive', 'verify-export', path, '--json', check=False)
        return r.returncode, json.loads(r.stdout)

    def test_every_format_reads_back_with_the_bodies_as_sent(self):
        out, r = self.export('case7', '--user', jid('alice'), '--case', 'CASE-7')
        self.assertIn('exported 8 messages', r.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o700, 'only its owner may read an export')
        ids = [x['id'] for x in json.loads(self.server.ctl(
            'archive', 'search', '--user', jid('alice'), '--json').stdout)['results']]
        self.assertEqual(len(ids), 8)

        # JSON Lines: one message a line, ids and bodies as search has them.
        with open(os.path.join(out, 'messages.jsonl'), encoding='utf-8') as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual([x['body'] for x in lines], self.sent)
        self.assertEqual([x['id'] for x in lines], ids)
        self.assertEqual(lines[0]['from'].split('/')[0], jid('alice'))
        self.assertIn('<body>hello bob</body>', lines[0]['stanza'])

        # CSV, by Python's csv module.
        with open(os.path.join(out, 'messages.csv'), newline='', encoding='utf-8') as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0], ['id', 'time', 'from', 'to', 'type', 'origin', 'outcome', 'body'])
        self.assertEqual([row[7] for row in rows[1:]], self.sent)
        self.assertEqual([row[0] for row in rows[1:]], ids)

        # EML: one message per conversation-day, by Python's email package.
        eml_dir = os.path.join(out, 'eml')
        files = sorted(os.path.join(d, n) for d, _, ns in os.walk(eml_dir) for n in ns)
        self.assertEqual(len(files), 2, 'alice with bob, alice with carol: one day each')
        texts = {}
        for path in files:
            with open(path, 'rb') as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            self.assertEqual(msg.get_content_type(), 'text/plain')
            self.assertEqual(msg['X-Parley-Case'], 'CASE-7')
            self.assertIsNotNone(msg['Date'].datetime, 'an RFC 5322 date')
            self.assertIn('@', msg['Message-ID'])
            parties = {a.addr_spec for a in msg['From'].addresses + msg['To'].addresses}
            texts[frozenset(parties)] = msg.get_content().replace('\r\n', '\n')  # CRLF: the mail line break
        with_bob = texts[frozenset({jid('alice'), jid('bob')})]
        for body in ALICE_TO_BOB + BOB_TO_ALICE:
            for line in body.split('\n'):
                self.assertIn('    ' + line + '\n', with_bob)
        self.assertIn('quarterly numbers attached', texts[frozenset({jid('alice'), jid('carol')})])
        self.assertNotIn('hello bob', texts[frozenset({jid('alice'), jid('carol')})])

        # XEP-0227: alice's archive as XEP-0313 results, oldest first.
        root = ET.parse(os.path.join(out, 'messages.xml')).getroot()
        self.assertEqual(root.tag, '{%s}server-data' % NS_PIE)
        hosts = root.findall('{%s}host' % NS_PIE)
        self.assertEqual([h.get('jid') for h in hosts], [DOMAIN])
        users = hosts[0].findall('{%s}user' % NS_PIE)
        self.assertEqual([u.get('name') for u in users], ['alice'])
        results = users[0].find('{%s}archive' % NS_PIE_MAM).findall('{%s}result' % NS_MAM)
        self.assertEqual([x.get('id') for x in results], ids)
        bodies = [x.find('{%s}forwarded/{%s}message/{%s}body' % (NS_FWD, NS_CLIENT, NS_CLIENT)).text
                  for x in results]
        self.assertEqual(bodies, self.sent)
        self.assertTrue(all(x.find('{%s}forwarded/{%s}delay' % (NS_FWD, NS_DELAY)).get('stamp').endswith('Z')
                            for x in results))

        # The HTML transcript is well-formed (an XML parser reads it) and
        # shows each body as text.
        with open(os.path.join(out, 'transcript.html'), encoding='utf-8') as f:
            page = f.read()
        dom = xml.dom.minidom.parseString(page.encode('utf-8'))
        cells = [td for td in dom.getElementsByTagNameNS(NS_XHTML, 'td') if td.getAttribute('class') == 'body']
        self.assertEqual([''.join(n.data for n in td.childNodes) for td in cells], self.sent)
        self.assertNotIn('<b>not markup</b>', page)

        # The manifest: scope, case, counts, the chain check and each file's sum.
        with open(os.path.join(out, 'manifest.json'), encoding='utf-8') as f:
            manifest = json.load(f)
        self.assertEqual(manifest['format'], 'parley-archive-export/1')
        self.assertEqual(manifest['case'], 'CASE-7')
        self.assertEqual(manifest['scope']['user'], jid('alice'))
        self.assertEqual(manifest['counts']['messages'], 8)
        self.assertEqual(manifest['counts']['conversation_days'], 2)
        self.assertTrue(manifest['chain']['ok'])
        self.assertTrue(manifest['by'].startswith('parleyctl:'))
        listed = {f['name']: f for f in manifest['files']}
        on_disk = {os.path.relpath(os.path.join(d, n), out) for d, _, ns in os.walk(out) for n in ns}
        self.assertEqual(on_disk, set(listed) | {'manifest.json'})
        for name, f in listed.items():
            self.assertEqual(sha256(os.path.join(out, name)), f['sha256'], name)
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out, name)).st_mode), 0o600, name)

        # The audit log names the export and the manifest's sum.
        audit = json.loads(self.server.ctl('archive', 'audit', '--json').stdout)
        exports = [e for e in audit['last'] if e['action'] == 'export']
        self.assertTrue(exports)
        self.assertIn(sha256(os.path.join(out, 'manifest.json')), exports[-1]['result'])
        self.assertIn('case CASE-7', exports[-1]['scope'])
        self.assertTrue(audit['ok'])

        code, report = self.verify_export(out)
        self.assertEqual((code, report['problems']), (0, []))
        self.assertEqual(report['messages'], 8)

    def test_verify_export_names_a_changed_removed_or_added_file(self):
        out, _ = self.export('tamper', '--user', jid('bob'), '--format', 'jsonl,csv,eml')
        self.assertFalse(os.path.exists(os.path.join(out, 'messages.xml')), 'only the formats asked for')
        code, report = self.verify_export(out)
        self.assertEqual((code, report['problems']), (0, []))
        self.assertEqual(report['messages'], 7)

        path = os.path.join(out, 'messages.csv')
        with open(path, 'rb') as f:
            data = bytearray(f.read())
        i = data.index(b'hello bob')
        data[i] ^= 0x20  # 'h' -> 'H': same size, another sum
        with open(path, 'wb') as f:
            f.write(data)
        eml = [os.path.join(d, n) for d, _, ns in os.walk(os.path.join(out, 'eml')) for n in ns][0]
        os.unlink(eml)
        with open(os.path.join(out, 'extra.txt'), 'w') as f:
            f.write('not part of the export')
        code, report = self.verify_export(out)
        self.assertEqual(code, 1)
        text = '\n'.join(report['problems'])
        self.assertIn('messages.csv was changed', text)
        self.assertIn(os.path.relpath(eml, out) + ' is missing', text)
        self.assertIn('extra.txt is not in the manifest', text)
        self.assertNotIn('messages.jsonl', text)

        # A line dropped from the JSON Lines file (and its sum "fixed" in
        # the manifest) is still caught by the count.
        out2, _ = self.export('dropped', '--user', jid('bob'), '--format', 'jsonl')
        path = os.path.join(out2, 'messages.jsonl')
        with open(path, encoding='utf-8') as f:
            lines = f.readlines()
        with open(path, 'w', encoding='utf-8') as f:
            f.writelines(lines[1:])
        mpath = os.path.join(out2, 'manifest.json')
        with open(mpath, encoding='utf-8') as f:
            manifest = json.load(f)
        for entry in manifest['files']:
            if entry['name'] == 'messages.jsonl':
                entry['sha256'] = sha256(path)
                entry['bytes'] = os.path.getsize(path)
        with open(mpath, 'w', encoding='utf-8') as f:
            json.dump(manifest, f)
        code, report = self.verify_export(out2)
        self.assertEqual(code, 1)
        self.assertIn('6 lines, the manifest counts 7 messages', '\n'.join(report['problems']))

    def test_search_by_words_uses_every_word_and_audit_verify(self):
        found = json.loads(self.server.ctl('archive', 'search', '--words', 'LINE two', '--json').stdout)
        self.assertEqual([r['body'] for r in found['results']], ['line one\nline two\n  indented'])
        self.assertIsNone(found['user'])
        mine = json.loads(self.server.ctl('archive', 'search', '--words', 'reply', '--user', jid('carol'),
                                          '--json').stdout)
        self.assertEqual(mine['results'], [], 'carol is not a party to bob\'s reply')
        table = self.server.ctl('archive', 'search', '--words', 'quarterly').stdout
        self.assertIn('quarterly numbers attached', table)
        bad = self.server.ctl('archive', 'search', '--words', '!', check=False)
        self.assertEqual(bad.returncode, 2)
        audit = self.server.ctl('audit', 'verify', '--json')
        self.assertTrue(json.loads(audit.stdout)['ok'])
        scopes = [e['scope'] for e in json.loads(audit.stdout)['last'] if e['action'] == 'search']
        self.assertIn('words LINE two', scopes)

    def test_scopes_words_all_and_refusals(self):
        out, r = self.export('words', '--words', 'Quarterly', '--format', 'jsonl')
        with open(os.path.join(out, 'messages.jsonl'), encoding='utf-8') as f:
            self.assertEqual([json.loads(x)['body'] for x in f], ['quarterly numbers attached'])
        out, r = self.export('everything', '--all', '--format', 'jsonl,xml')
        with open(os.path.join(out, 'messages.jsonl'), encoding='utf-8') as f:
            self.assertEqual([json.loads(x)['body'] for x in f], self.sent)
        root = ET.parse(os.path.join(out, 'messages.xml')).getroot()
        users = {u.get('name'): len(u.findall('.//{%s}result' % NS_MAM)) for u in root.iter('{%s}user' % NS_PIE)}
        self.assertEqual(users, {'alice': 8, 'bob': 7, 'carol': 1}, 'each message in each party\'s archive')
        out, r = self.export('bobcarol', '--user', jid('bob'), '--with', jid('carol'), '--format', 'csv')
        with open(os.path.join(out, 'messages.csv'), newline='', encoding='utf-8') as f:
            self.assertEqual(len(list(csv.reader(f))), 1, 'only the header: they never talked')

        _, r = self.export('words', '--all', check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn('not an empty directory', r.stderr)
        _, r = self.export('x1', check=False)
        self.assertEqual(r.returncode, 2)
        _, r = self.export('x2', '--all', '--format', 'pdf', check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown export format 'pdf'", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.server.dir, 'x2')))


if __name__ == '__main__':
    import unittest
    unittest.main()
