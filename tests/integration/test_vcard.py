"""vcard-temp (XEP-0054) and vCard-based avatars (XEP-0153) with real
slixmpp clients on two workers (mod_vcard, with mod_roster for presence):
an account sets and reads its own vCard, reads another's, cannot set
another's, is refused an oversize vCard; a vCard survives a restart; an
account without a vCard, and a set to another account, answer exactly like
an account that does not exist; a subscribed contact sees the photo hash the
server adds to presence (and the new one after the photo changes), also in
the presence that answers its probe at login."""
import asyncio
import base64
import hashlib
import os
import time

from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

from clients import PresenceRecorder as Watcher, Client, online
from harness import DOMAIN, ServerTestCase, run

NS = 'vcard-temp'
NS_UPDATE = 'vcard-temp:x:update'
# An "image": the bytes do not matter, only that the hash is of the decoded data.
IMAGE = bytes(range(256)) * 3
IMAGE2 = b'another picture' * 40


def restart(server):
    """SIGTERM (checked: exit 0, no sanitizer report), then a new parleyd on
    the same data directory; "ready" must come from the new process's log."""
    server.stop()
    os.rename(server.log_path, server.log_path + '.before-restart')
    server.start()


def jid(node, resource=None):
    return '%s@%s' % (node, DOMAIN) + ('/' + resource if resource else '')


def vcard_xml(fn, image=None):
    """A vCard; the photo base64 wrapped at 76 characters, as clients send it."""
    photo = ''
    if image is not None:
        photo = ('<PHOTO><TYPE>image/png</TYPE><BINVAL>%s</BINVAL></PHOTO>'
                 % base64.encodebytes(image).decode())
    return "<vCard xmlns='%s'><FN>%s</FN><NICKNAME>%s</NICKNAME>%s</vCard>" % (NS, fn, fn.lower(), photo)


async def exchange(client, itype, payload, to=None):
    """Sends an iq of `itype` with `payload` (XML text); returns the reply,
    result or error."""
    iq = client.make_iq_set(ito=to) if itype == 'set' else client.make_iq_get(ito=to)
    iq.append(ET.fromstring(payload))
    try:
        return await iq.send(timeout=10)
    except IqError as e:
        return e.iq


def error_shape(reply):
    """What a reply tells the sender, addresses and id aside."""
    err = reply.xml.find('{jabber:client}error')
    others = [ET.tostring(c) for c in reply.xml if c.tag != '{jabber:client}error']
    return (reply['type'], ET.tostring(err) if err is not None else None, others)


def fn_of(reply):
    v = reply.xml.find('{%s}vCard' % NS)
    f = v.find('{%s}FN' % NS) if v is not None else None
    return f.text if f is not None else None


def photo_in(presence):
    """The <photo/> text of a presence's update element, '' for an empty
    one, None when there is none."""
    photo = presence.xml.find('{%s}x/{%s}photo' % (NS_UPDATE, NS_UPDATE))
    if photo is None:
        return None
    return photo.text or ''


async def subscribe(watcher_of_contact, contact, user, watcher_of_user):
    """`contact` asks for `user`'s presence and `user` approves."""
    contact.send_presence(pto=user.boundjid.bare, ptype='subscribe')
    await watcher_of_user.wait(lambda p: p['type'] == 'subscribe', 'the request arrives')
    user.send_presence(pto=contact.boundjid.bare, ptype='subscribed')
    await watcher_of_contact.wait(lambda p: p['type'] == 'subscribed', 'the approval arrives')


class Vcard(ServerTestCase):
    users = ('alice', 'bob', 'carol', 'dave', 'erin', 'fred', 'gina', 'hugo')
    settings = dict(modules=('disco', 'ping', 'roster', 'vcard'),
                    module_options={'vcard': 'max_bytes = 8192'})

    def test_set_and_get_own_vcard_and_read_anothers(self):
        async def go():
            a = await online(self.server, 'alice')
            b = await online(self.server, 'bob')
            try:
                # Own, with no 'to' (XEP-0054 §3.1): an empty vCard before any set.
                r = await exchange(a, 'get', "<vCard xmlns='%s'/>" % NS)
                self.assertEqual(r['type'], 'result')
                v = r.xml.find('{%s}vCard' % NS)
                self.assertIsNotNone(v, 'an empty <vCard/> for an account without one')
                self.assertEqual(len(v), 0)
                r = await exchange(a, 'set', vcard_xml('Alice Liddell', IMAGE))
                self.assertEqual(r['type'], 'result', str(r))
                r = await exchange(a, 'get', "<vCard xmlns='%s'/>" % NS)
                self.assertEqual(fn_of(r), 'Alice Liddell')
                # To her own bare JID works the same.
                r = await exchange(a, 'get', "<vCard xmlns='%s'/>" % NS, to=jid('alice'))
                self.assertEqual(fn_of(r), 'Alice Liddell')
                # bob reads it (answered by the server on alice's behalf).
                r = await exchange(b, 'get', "<vCard xmlns='%s'/>" % NS, to=jid('alice'))
                self.assertEqual(r['type'], 'result')
                self.assertEqual(str(r['from']), jid('alice'))
                self.assertEqual(fn_of(r), 'Alice Liddell')
                binval = r.xml.find('{%s}vCard/{%s}PHOTO/{%s}BINVAL' % (NS, NS, NS)).text
                self.assertEqual(base64.b64decode(''.join(binval.split())), IMAGE, 'the photo comes back whole')
                # And with slixmpp's own plugin.
                b.register_plugin('xep_0054')
                r = await b['xep_0054'].get_vcard(jid('alice'), local=False, timeout=10)
                self.assertEqual(r['vcard_temp']['FN'], 'Alice Liddell')
            finally:
                await a.bye()
                await b.bye()
        run(go())

    def test_refusals_tell_nobody_who_exists(self):
        async def go():
            b = await online(self.server, 'bob', resource='r2')
            c = await online(self.server, 'carol')
            try:
                # carol has no vCard: bob gets what an account that does not exist gets.
                none = await exchange(b, 'get', "<vCard xmlns='%s'/>" % NS, to=jid('carol'))
                missing = await exchange(b, 'get', "<vCard xmlns='%s'/>" % NS, to=jid('nobody-here'))
                self.assertEqual(missing['error']['condition'], 'service-unavailable')
                self.assertEqual(error_shape(none), error_shape(missing))
                # bob may not set carol's vCard, and learns no more than for a missing account.
                bad_set = await exchange(b, 'set', vcard_xml('Not Carol'), to=jid('carol'))
                missing_set = await exchange(b, 'set', vcard_xml('Not Carol'), to=jid('nobody-here'))
                self.assertEqual(bad_set['type'], 'error')
                self.assertEqual(error_shape(bad_set), error_shape(missing_set))
                r = await exchange(c, 'get', "<vCard xmlns='%s'/>" % NS)
                self.assertEqual(len(r.xml.find('{%s}vCard' % NS)), 0, "carol's vCard is still empty")
            finally:
                await b.bye()
                await c.bye()
        run(go())

    def test_an_oversize_vcard_is_refused_and_the_old_one_kept(self):
        async def go():
            c = await online(self.server, 'fred')
            try:
                r = await exchange(c, 'set', vcard_xml('Fred'))
                self.assertEqual(r['type'], 'result')
                r = await exchange(c, 'set', vcard_xml('Fred Big', b'x' * 9000))
                self.assertEqual(r['type'], 'error')
                self.assertEqual(r['error']['condition'], 'not-acceptable')
                self.assertEqual(r['error']['type'], 'modify')
                self.assertIn('8192', r['error']['text'], 'the text names the limit')
                r = await exchange(c, 'get', "<vCard xmlns='%s'/>" % NS)
                self.assertEqual(fn_of(r), 'Fred', 'the refused vCard replaced nothing')
                # A photo that is not base64.
                r = await exchange(c, 'set', "<vCard xmlns='%s'><PHOTO><BINVAL>*not base64*</BINVAL>"
                                             "</PHOTO></vCard>" % NS)
                self.assertEqual(r['error']['condition'], 'bad-request')
            finally:
                await c.bye()
        run(go())

    def test_a_subscribed_contact_sees_the_photo_hash_in_presence(self):
        async def go():
            # dave's client knows nothing of XEP-0153: the server adds the hash.
            d = Client(jid('dave', 'phone'), 'secret', self.server.ca)
            wd = Watcher(d)
            self.assertEqual(await d.login(self.server.starttls_port), 'session')
            await asyncio.wait_for(asyncio.shield(d.available), 15)
            e = Client(jid('erin', 'desk'), 'secret', self.server.ca)
            we = Watcher(e)
            self.assertEqual(await e.login(self.server.starttls_port), 'session')
            await asyncio.wait_for(asyncio.shield(e.available), 15)
            try:
                await subscribe(we, e, d, wd)
                # Approving sends dave's presence: no vCard yet, an empty photo.
                p = await we.wait(lambda p: str(p['from']) == jid('dave', 'phone') and p['type'] == 'available',
                                  "erin gets dave's presence")
                self.assertEqual(photo_in(p), '', 'no photo: an empty <photo/>')
                r = await exchange(d, 'set', vcard_xml('Dave', IMAGE))
                self.assertEqual(r['type'], 'result')
                d.send_presence(pstatus='with a face')
                p = await we.wait(lambda p: p['status'] == 'with a face', "erin sees dave's new presence")
                self.assertEqual(photo_in(p), hashlib.sha1(IMAGE).hexdigest())
                # A new photo: the next presence carries the new hash.
                r = await exchange(d, 'set', vcard_xml('Dave', IMAGE2))
                self.assertEqual(r['type'], 'result')
                d.send_presence(pstatus='new face')
                p = await we.wait(lambda p: p['status'] == 'new face', "erin sees dave's next presence")
                self.assertEqual(photo_in(p), hashlib.sha1(IMAGE2).hexdigest())
                # dave sees his own presence with it too (the core reflects what was broadcast).
                own = await wd.wait(lambda p: p['status'] == 'new face', 'dave hears himself')
                self.assertEqual(photo_in(own), hashlib.sha1(IMAGE2).hexdigest())
                # erin logs in again: the answer to her probe carries the hash.
                await e.bye()
                e2 = Client(jid('erin', 'laptop'), 'secret', self.server.ca)
                we2 = Watcher(e2)
                self.assertEqual(await e2.login(self.server.starttls_port), 'session')
                p = await we2.wait(lambda p: str(p['from']) == jid('dave', 'phone') and p['type'] == 'available',
                                   "the probe brings dave's presence")
                self.assertEqual(photo_in(p), hashlib.sha1(IMAGE2).hexdigest())
                await e2.bye()
            finally:
                await d.bye()
                await e.bye()
        run(go())

    def test_a_clients_own_update_element_is_left_alone(self):
        async def go():
            g = Client(jid('gina', 'a'), 'secret', self.server.ca)
            wg = Watcher(g)
            self.assertEqual(await g.login(self.server.starttls_port), 'session')
            await asyncio.wait_for(asyncio.shield(g.available), 15)
            h = Client(jid('hugo', 'b'), 'secret', self.server.ca)
            wh = Watcher(h)
            self.assertEqual(await h.login(self.server.starttls_port), 'session')
            await asyncio.wait_for(asyncio.shield(h.available), 15)
            try:
                await subscribe(wh, h, g, wg)
                r = await exchange(g, 'set', vcard_xml('Gina', IMAGE))
                self.assertEqual(r['type'], 'result')
                p = g.make_presence(pstatus='mine')
                x = ET.Element('{%s}x' % NS_UPDATE)
                ET.SubElement(x, '{%s}photo' % NS_UPDATE).text = 'ab' * 20
                p.xml.append(x)
                p.send()
                seen = await wh.wait(lambda p: p['status'] == 'mine', "hugo sees gina's presence")
                self.assertEqual(photo_in(seen), 'ab' * 20, 'the client speaks XEP-0153 itself')
                self.assertEqual(len(seen.xml.findall('{%s}x' % NS_UPDATE)), 1)
            finally:
                await g.bye()
                await h.bye()
        run(go())

    def test_disco_advertises_vcard_temp(self):
        async def go():
            a = await online(self.server, 'alice', resource='disco')
            try:
                for to in (DOMAIN, jid('alice')):
                    iq = a.make_iq_get(queryxmlns='http://jabber.org/protocol/disco#info', ito=to)
                    reply = await iq.send(timeout=10)
                    features = [f.get('var') for f in reply.xml.iter('{http://jabber.org/protocol/disco#info}feature')]
                    self.assertIn('vcard-temp', features, to)
                # The server's own vCard: empty, but answered.
                r = await exchange(a, 'get', "<vCard xmlns='%s'/>" % NS, to=DOMAIN)
                self.assertEqual(r['type'], 'result')
            finally:
                await a.bye()
        run(go())


class VcardRestart(ServerTestCase):
    users = ('alice', 'bob')
    settings = dict(modules=('disco', 'roster', 'vcard'))

    def test_a_vcard_survives_a_restart(self):
        async def go_set():
            a = await online(self.server, 'alice')
            try:
                r = await exchange(a, 'set', vcard_xml('Alice Kept', IMAGE))
                self.assertEqual(r['type'], 'result', 'answered: so it is on disk')
            finally:
                await a.bye()
        run(go_set())
        restart(self.server)

        async def go_get():
            b = await online(self.server, 'bob')
            try:
                r = await exchange(b, 'get', "<vCard xmlns='%s'/>" % NS, to=jid('alice'))
                self.assertEqual(fn_of(r), 'Alice Kept')
                binval = r.xml.find('{%s}vCard/{%s}PHOTO/{%s}BINVAL' % (NS, NS, NS)).text
                self.assertEqual(base64.b64decode(''.join(binval.split())), IMAGE)
            finally:
                await b.bye()
        run(go_get())
