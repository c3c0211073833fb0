"""XEP-0352 client state indication with a real parleyd on two workers: an
inactive client (slixmpp's xep_0352 plugin, and a raw stream where the order
on the wire matters) is not sent presence updates or chat states until it is
active again or something urgent comes, then gets them in order, only the
latest presence of each contact."""
import asyncio
import re
import socket
import ssl
import time
import unittest
from xml.etree.ElementTree import Element

from clients import online
from harness import DOMAIN, RawStream, ServerTestCase, run

NS = 'urn:xmpp:csi:0'
ALICE_PHONE = 'alice@%s/phone' % DOMAIN


def chat_state(client, to, mid, state='composing'):
    m = client.make_message(mto=to, mtype='chat')
    m['id'] = mid
    m.append(Element('{http://jabber.org/protocol/chatstates}%s' % state))
    m.send()


def body_message(client, to, mid):
    m = client.make_message(mto=to, mbody='hello ' + mid, mtype='chat')
    m['id'] = mid
    m.send()


def drain(s, seconds=0.3):
    """What `s` receives within `seconds` (kept in its buffer too)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            break
        if not chunk:
            break
        s.buf += chunk
    return s.buf.decode('utf-8', 'replace')


async def settled(client):
    """The server has read everything `client` sent before (a ping answered),
    and other workers had a moment to deliver it."""
    iq = client.make_iq_get(ito=DOMAIN)
    iq.enable('ping')
    await iq.send(timeout=10)
    await asyncio.sleep(0.3)


class ClientState(ServerTestCase):
    users = ('alice', 'bob', 'carol')
    settings = {'modules': ('disco', 'ping', 'sm', 'csi')}

    def login_raw(self):
        """A raw stream for alice/phone; returns it and the features offered with bind."""
        s = RawStream(self.server.starttls_port)
        s.secure(self.server.ca)
        s.auth_plain('alice', 'secret')
        s.read_until('<success')
        s.buf = b''
        s.open()
        features = s.read_until('</stream:features>')
        s.buf = b''
        s.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
               "<resource>phone</resource></bind></iq>")
        s.read_until('</iq>')
        s.buf = b''
        return s, features

    def test_an_inactive_client_gets_presence_and_chat_states_late_latest_first_in_order(self):
        async def conversation():
            alice, features = self.login_raw()
            self.assertIn("<csi xmlns='%s'/>" % NS, features, 'offered with bind')
            bob = await online(self.server, 'bob', resource='b', presence=False, plugins=('xep_0199',))
            carol = await online(self.server, 'carol', resource='c', presence=False, plugins=('xep_0199',))
            alice.send("<inactive xmlns='%s'/>" % NS)
            await asyncio.sleep(0.1)
            # Two senders (maybe on two workers): each settles before the
            # other goes on, so that the order they arrive in is known.
            bob.send_presence(pto=ALICE_PHONE, pstatus='bob-1')
            await settled(bob)
            carol.send_presence(pto=ALICE_PHONE, pstatus='carol-1')
            await settled(carol)
            chat_state(bob, ALICE_PHONE, 'state-1')
            bob.send_presence(pto=ALICE_PHONE, pstatus='bob-2')
            await settled(bob)
            early = drain(alice)
            self.assertNotIn('<presence', early, 'presence waits while inactive')
            self.assertNotIn('state-1', early, 'chat states wait while inactive')
            # A message with a body is urgent: what waited comes first, in
            # order, the older presence of bob left out.
            body_message(bob, ALICE_PHONE, 'urgent-1')
            text = await asyncio.get_event_loop().run_in_executor(None, alice.read_until, "id='urgent-1'")
            order = re.findall(r"<status>([^<]+)</status>|id='(state-1|urgent-1)'", text)
            seen = [a or b for a, b in order]
            self.assertEqual(seen, ['carol-1', 'state-1', 'bob-2', 'urgent-1'], text)
            # Still inactive: the next update waits until <active/>.
            alice.buf = b''
            bob.send_presence(pto=ALICE_PHONE, pstatus='bob-3')
            await settled(bob)
            self.assertNotIn('bob-3', drain(alice))
            alice.send("<active xmlns='%s'/><iq type='get' id='after' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
                       % (NS, DOMAIN))
            text = await asyncio.get_event_loop().run_in_executor(None, alice.read_until, "id='after'")
            self.assertLess(text.index('bob-3'), text.index("id='after'"),
                            'flushed before the next request is answered (XEP-0352 §4.1)')
            # Active again: presence comes at once.
            bob.send_presence(pto=ALICE_PHONE, pstatus='bob-4')
            await asyncio.get_event_loop().run_in_executor(None, alice.read_until, 'bob-4')
            alice.close()
            await bob.bye()
            await carol.bye()
        run(conversation(), timeout=60)

    def test_slixmpp_inactive_and_active(self):
        async def conversation():
            alice = await online(self.server, 'alice', resource='phone', plugins=('xep_0352', 'xep_0199'))
            self.assertTrue(alice['xep_0352'].enabled, 'the feature was offered')
            bob = await online(self.server, 'bob', resource='b2', presence=False, plugins=('xep_0199',))
            got = []
            alice.add_event_handler('presence', lambda p: got.append(('presence', p['from'].full, p['status'])))
            alice.add_event_handler('message', lambda m: got.append(('message', m['id'])))
            alice['xep_0352'].send_inactive()
            await settled(alice)
            bob.send_presence(pto=ALICE_PHONE, pstatus='away-1')
            bob.send_presence(pto=ALICE_PHONE, pstatus='away-2')
            await settled(bob)
            self.assertEqual(got, [], 'nothing while inactive')
            alice['xep_0352'].send_active()
            deadline = time.monotonic() + 10
            while not got and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await settled(bob)
            self.assertEqual(got, [('presence', 'bob@%s/b2' % DOMAIN, 'away-2')], 'only the latest, on active')
            await bob.bye()
            await alice.bye()
        run(conversation(), timeout=60)


if __name__ == '__main__':
    unittest.main()
