"""HTTP File Upload (XEP-0363) with a real slixmpp client and python's
http.client over TLS (the harness's test CA): the service in the server's
disco#items and its disco#info (max-file-size); alice asks a slot, PUTs a
file and GETs it back byte for byte; too large at slot time (file-too-large
with max-file-size) and at PUT (413); a tampered token (403); a second PUT
to a used slot (409); an account of another virtual host refused a slot;
the quota reached (resource-constraint). A deleted account's files go with
it (`parleyctl user del`, also while parleyd is down): their URLs answer 404,
they are no longer under the data dir, its unused slot is refused, another
account's file stays, and a new account of the name starts with an empty
quota. Traffic to 127.0.0.1 only."""
import asyncio
import http.client
import os
import re
import socket
import ssl
import urllib.parse


from clients import Client, online, query
from harness import DOMAIN, ServerTestCase, cert_dir, free_port, run

NS = 'urn:xmpp:http:upload:0'
SERVICE = 'upload.' + DOMAIN
HTTP_PORT = free_port()


async def ask_slot(client, filename, size, content_type=None):
    ct = " content-type='%s'" % content_type if content_type else ''
    return await query(client, SERVICE, "<request xmlns='%s' filename='%s' size='%d'%s/>" % (NS, filename, size, ct))


def slot_of(reply):
    slot = reply[1].find('{%s}slot' % NS)
    put = slot.find('{%s}put' % NS)
    header = put.find('{%s}header' % NS)
    return put.get('url'), header.get('name'), header.text, slot.find('{%s}get' % NS).get('url')


def https_request(method, url, body=None, headers=None):
    """(status, headers dict, body) of one request to the listener on 127.0.0.1."""
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=os.path.join(cert_dir(), 'ca.pem'))
    conn = http.client.HTTPSConnection('127.0.0.1', u.port, context=ctx, timeout=10)
    # The URL names the virtual host, which only the certificate knows:
    # connect to 127.0.0.1 and check the certificate against that name.
    raw = socket.create_connection(('127.0.0.1', u.port), timeout=10)
    conn.sock = ctx.wrap_socket(raw, server_hostname=u.hostname)
    try:
        conn.request(method, u.path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class Upload(ServerTestCase):
    users = ('alice', 'bob', 'carol')
    extra = '''
[[virtual_host]]
domain = "other.test"
certificate = "%s/other.test.pem"
key = "%s/other.test.key"
''' % (cert_dir(), cert_dir())
    settings = dict(modules=('disco', 'ping', 'upload'),
                    module_options={'upload': '''domain = "%s"
max_file_size = 100000
quota_bytes = 150000
http_port = %d
external_url = "https://%s:%d"''' % (SERVICE, HTTP_PORT, DOMAIN, HTTP_PORT)})

    def test_disco_lists_the_service_with_its_limit(self):
        async def go():
            a = await online(self.server, 'alice')
            try:
                items = await query(a, DOMAIN, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
                jids = [i.get('jid') for i in items[1].iter('{http://jabber.org/protocol/disco#items}item')]
                self.assertIn(SERVICE, jids, 'the upload service is in the server disco#items')
                info = await query(a, SERVICE, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
                self.assertEqual(info[0], 'result', info)
                q = info[1].find('{http://jabber.org/protocol/disco#info}query')
                ident = q.find('{http://jabber.org/protocol/disco#info}identity')
                self.assertEqual((ident.get('category'), ident.get('type')), ('store', 'file'))
                feats = [f.get('var') for f in q.findall('{http://jabber.org/protocol/disco#info}feature')]
                self.assertIn(NS, feats)
                fields = {f.get('var'): f.findtext('{jabber:x:data}value')
                          for f in q.iter('{jabber:x:data}field')}
                self.assertEqual(fields.get('FORM_TYPE'), NS)
                self.assertEqual(fields.get('max-file-size'), '100000')
            finally:
                await a.bye()
        run(go())

    def test_upload_and_download_byte_identical_once(self):
        async def go():
            a = await online(self.server, 'alice')
            try:
                data = os.urandom(70000)
                r = await ask_slot(a, 'holiday photo.jpg', len(data), 'image/jpeg')
                self.assertEqual(r[0], 'result', r)
                put, hname, token, get = slot_of(r)
                self.assertEqual(hname, 'Authorization')
                self.assertEqual(put, get)
                self.assertTrue(put.startswith('https://%s:%d/' % (DOMAIN, HTTP_PORT)), put)
                # A tampered token is refused before anything is stored.
                bad = token[:-1] + ('0' if token[-1] != '0' else '1')
                st, _, _ = await asyncio.to_thread(https_request, 'PUT', put, data,
                                                   {'Authorization': bad, 'Content-Type': 'image/jpeg'})
                self.assertEqual(st, 403)
                # More than the slot's size.
                st, _, _ = await asyncio.to_thread(https_request, 'PUT', put, data + b'x',
                                                   {'Authorization': token, 'Content-Type': 'image/jpeg'})
                self.assertEqual(st, 413)
                st, _, _ = await asyncio.to_thread(https_request, 'PUT', put, data,
                                                   {'Authorization': token, 'Content-Type': 'image/jpeg'})
                self.assertEqual(st, 201)
                st, headers, body = await asyncio.to_thread(https_request, 'GET', get)
                self.assertEqual(st, 200)
                self.assertEqual(body, data, 'the download is byte-identical')
                self.assertEqual(headers['content-type'], 'image/jpeg')
                self.assertEqual(headers['x-content-type-options'], 'nosniff')
                # The slot is used: a second PUT is refused and the file stays.
                st, _, _ = await asyncio.to_thread(https_request, 'PUT', put, os.urandom(len(data)),
                                                   {'Authorization': token, 'Content-Type': 'image/jpeg'})
                self.assertEqual(st, 409)
                st, _, body = await asyncio.to_thread(https_request, 'GET', get)
                self.assertEqual(body, data)
                # Unknown files.
                st, _, _ = await asyncio.to_thread(https_request, 'GET', get[:-3] + 'png')
                self.assertEqual(st, 404)
                # HEAD: the length, no body.
                st, headers, body = await asyncio.to_thread(https_request, 'HEAD', get)
                self.assertEqual((st, headers['content-length'], body), (200, str(len(data)), b''))
            finally:
                await a.bye()
        run(go())

    def test_html_is_never_served_as_a_page(self):
        async def go():
            a = await online(self.server, 'alice')
            try:
                page = b'<script>alert(1)</script>'
                r = await ask_slot(a, 'page.html', len(page), 'text/html')
                put, _, token, get = slot_of(r)
                st, _, _ = await asyncio.to_thread(https_request, 'PUT', put, page,
                                                   {'Authorization': token, 'Content-Type': 'text/html'})
                self.assertEqual(st, 201)
                st, headers, body = await asyncio.to_thread(https_request, 'GET', get)
                self.assertEqual((st, body), (200, page))
                self.assertTrue(headers['content-disposition'].startswith('attachment'), headers)
                self.assertEqual(headers['x-content-type-options'], 'nosniff')
            finally:
                await a.bye()
        run(go())

    def test_too_large_is_refused_with_the_limit(self):
        async def go():
            b = await online(self.server, 'bob')
            try:
                r = await ask_slot(b, 'big.bin', 100001)
                self.assertEqual(r[:3], ('error', 'modify', 'not-acceptable'), r)
                self.assertEqual(r[4].findtext('{%s}file-too-large/{%s}max-file-size' % (NS, NS)), '100000')
                r = await ask_slot(b, '../escape', 10)
                self.assertEqual(r[:3], ('error', 'modify', 'bad-request'), r)
            finally:
                await b.bye()
        run(go())

    def test_another_hosts_account_is_refused(self):
        async def go():
            self.server.ctl('user', 'add', 'zed@other.test', input='secret\n')
            z = Client('zed@other.test', 'secret', self.server.ca)
            outcome = await z.login(self.server.starttls_port)
            self.assertEqual(outcome, 'session')
            try:
                r = await ask_slot(z, 'x.txt', 10)
                self.assertEqual(r[:3], ('error', 'cancel', 'not-allowed'), r)
            finally:
                await z.bye()
        run(go())

    def test_quota_reached(self):
        async def go():
            c = await online(self.server, 'carol')
            try:
                data = os.urandom(90000)
                r = await ask_slot(c, 'one.bin', len(data))
                self.assertEqual(r[0], 'result', r)
                put, _, token, _ = slot_of(r)
                st, _, _ = await asyncio.to_thread(https_request, 'PUT', put, data, {'Authorization': token})
                self.assertEqual(st, 201)
                r = await ask_slot(c, 'two.bin', 70000)
                self.assertEqual(r[:3], ('error', 'wait', 'resource-constraint'), r)
                # What still fits is granted.
                r = await ask_slot(c, 'three.bin', 50000)
                self.assertEqual(r[0], 'result', r)
            finally:
                await c.bye()
        run(go())


def thread_names(server):
    """The names of parleyd's threads now (its /proc entry), sorted."""
    names = []
    for t in os.listdir('/proc/%d/task' % server.proc.pid):
        with open('/proc/%d/task/%s/comm' % (server.proc.pid, t)) as f:
            names.append(f.read().strip())
    return sorted(names)


RELOAD_PORT = free_port()
RELOAD_OPTIONS = 'domain = "%s"\nhttp_port = %d\nexternal_url = "https://%s:%d"' % (
    SERVICE, RELOAD_PORT, DOMAIN, RELOAD_PORT)


class UploadReload(ServerTestCase):
    users = ('alice',)
    settings = dict(modules=('disco', 'upload'), module_options={'upload': RELOAD_OPTIONS})

    def test_a_reload_with_a_new_listener_leaves_no_thread_behind(self):
        before = thread_names(self.server)
        for n in (3, 4):  # a new listener each time (another connection limit)
            out = self.server.reload(modules=('disco', 'upload'),
                                     module_options={'upload': RELOAD_OPTIONS + '\nmax_connections = %d' % n})
            self.assertIn('reloaded', out)
        self.assertEqual(thread_names(self.server), before, 'the old HTTP threads were joined')

        async def go():
            a = await online(self.server, 'alice')
            try:
                r = await ask_slot(a, 'after-reload.txt', 3)
                put, _, token, get = slot_of(r)
                st, _, _ = await asyncio.to_thread(https_request, 'PUT', put, b'abc', {'Authorization': token})
                self.assertEqual(st, 201)
                st, _, body = await asyncio.to_thread(https_request, 'GET', get)
                self.assertEqual((st, body), (200, b'abc'))
            finally:
                await a.bye()
        run(go())


DELETE_PORT = free_port()
DELETE_OPTIONS = 'domain = "%s"\nquota_bytes = 30000\nhttp_port = %d\nexternal_url = "https://%s:%d"' % (
    SERVICE, DELETE_PORT, DOMAIN, DELETE_PORT)
PURGED = r'the data of deleted account %s@%s is removed'


def jid(node):
    return '%s@%s' % (node, DOMAIN)


def slot_paths(server, url):
    """The data and the record of the upload behind a GET URL, under the
    server's data dir."""
    slot = urllib.parse.urlsplit(url).path.split('/')[1]
    base = os.path.join(server.data, 'upload')
    return os.path.join(base, 'files', slot), os.path.join(base, 'meta', slot)


async def upload(client, name, data):
    """Asks a slot and PUTs `data`; the GET URL."""
    r = await ask_slot(client, name, len(data))
    assert r[0] == 'result', r
    put, _, token, get = slot_of(r)
    st, _, _ = await asyncio.to_thread(https_request, 'PUT', put, data, {'Authorization': token})
    assert st == 201, st
    return get


class UploadAccountDelete(ServerTestCase):
    users = ('dave', 'erin', 'fred')
    settings = dict(modules=('disco', 'ping', 'upload'), module_options={'upload': DELETE_OPTIONS})

    def test_a_deleted_accounts_files_go_with_it(self):
        async def go():
            dave = await online(self.server, 'dave')
            erin = await online(self.server, 'erin')
            try:
                data = os.urandom(20000)
                get = await upload(dave, 'notes.bin', data)
                st, _, body = await asyncio.to_thread(https_request, 'GET', get)
                self.assertEqual((st, body), (200, data))
                files, meta = slot_paths(self.server, get)
                self.assertTrue(os.path.exists(files) and os.path.exists(meta), 'the upload is under the data dir')
                # A slot granted and not used before the deletion.
                r = await ask_slot(dave, 'later.bin', 10)
                later_put, _, later_token, _ = slot_of(r)
                # erin's file is not dave's.
                erin_data = os.urandom(3000)
                erin_get = await upload(erin, 'erin.bin', erin_data)

                mark = len(self.server.log_text())
                r = self.server.ctl('user', 'del', jid('dave'))
                self.assertIn('deleted %s' % jid('dave'), r.stdout)
                await dave.wait_gone()
                self.assertTrue(self.server.wait_log(PURGED % ('dave', re.escape(DOMAIN)), timeout=30),
                                'the purge was logged:\n' + self.server.log_text()[mark:][-3000:])
                log = self.server.log_text()[mark:]
                self.assertNotIn('could not remove the data', log)
                self.assertIn('removed 1 file(s) of deleted account %s' % jid('dave'), log)
                # The purge was reported: the file is gone, from the URL and the disk.
                st, _, _ = await asyncio.to_thread(https_request, 'GET', get)
                self.assertEqual(st, 404, "a deleted account's file is not served")
                st, _, _ = await asyncio.to_thread(https_request, 'HEAD', get)
                self.assertEqual(st, 404)
                self.assertFalse(os.path.exists(files), 'the data is no longer under the data dir')
                self.assertFalse(os.path.exists(meta), 'nor its record')
                # Its slot granted before the deletion is refused.
                st, _, _ = await asyncio.to_thread(https_request, 'PUT', later_put, os.urandom(10),
                                                   {'Authorization': later_token})
                self.assertEqual(st, 403, "a deleted account's slot is refused")
                st, _, body = await asyncio.to_thread(https_request, 'GET', erin_get)
                self.assertEqual((st, body), (200, erin_data), "erin's file stays")

                # A new account of the name: an empty quota (the old file's
                # 20000 bytes of 30000 would leave too little), its uploads
                # served.
                self.server.ctl('user', 'add', jid('dave'), input='secret\n')
                dave = await online(self.server, 'dave')
                fresh = os.urandom(25000)
                fresh_get = await upload(dave, 'fresh.bin', fresh)
                st, _, body = await asyncio.to_thread(https_request, 'GET', fresh_get)
                self.assertEqual((st, body), (200, fresh))
            finally:
                await dave.bye()
                await erin.bye()
        run(go(), timeout=120)

    def test_an_account_deleted_while_parleyd_is_down_loses_its_files_at_start(self):
        async def before():
            fred = await online(self.server, 'fred')
            try:
                return await upload(fred, 'fred.bin', os.urandom(1000))
            finally:
                await fred.bye()
        get = run(before())
        files, meta = slot_paths(self.server, get)
        self.assertTrue(os.path.exists(files))
        self.server.stop()
        r = self.server.ctl('user', 'del', jid('fred'))
        self.assertIn('parleyd is not running', r.stdout)
        self.assertTrue(os.path.exists(files), 'parleyctl leaves the files to parleyd')
        os.rename(self.server.log_path, self.server.log_path + '.before-restart')
        self.server.start()
        self.assertTrue(self.server.wait_log(PURGED % ('fred', re.escape(DOMAIN)), timeout=30),
                        'the purge at start was logged:\n' + self.server.log_text()[-3000:])
        self.assertFalse(os.path.exists(files) or os.path.exists(meta), "fred's upload is gone")
        st, _, _ = run(asyncio.to_thread(https_request, 'GET', get))
        self.assertEqual(st, 404)
