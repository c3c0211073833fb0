"""A second real client library, aioxmpp (Debian's python3-aioxmpp), for the
core cases: login over STARTTLS, chat both ways with a slixmpp user, ping
and disco, and a wrong password refused."""
import asyncio
import unittest

import aiosasl
import aioxmpp
import aioxmpp.connector
import aioxmpp.dispatcher
import aioxmpp.errors
import aioxmpp.ping

from clients import online
from harness import ServerTestCase, DOMAIN, run


def aio_client(server, node, password, resource='aio'):
    # The test CA is not in the system store: verification is turned off
    # here, in the test only.
    return aioxmpp.PresenceManagedClient(
        aioxmpp.JID.fromstr('%s@%s/%s' % (node, DOMAIN, resource)),
        aioxmpp.make_security_layer(password, no_verify=True),
        override_peer=[('127.0.0.1', server.starttls_port, aioxmpp.connector.STARTTLSConnector())])


class Aioxmpp(ServerTestCase):
    users = ('alice', 'bob')

    def test_aioxmpp_and_slixmpp_users_chat_both_ways(self):
        async def conversation():
            bob = await online(self.server, 'bob', resource='sli')
            alice = aio_client(self.server, 'alice', 'secret')
            inbox = asyncio.Queue()
            dispatcher = alice.summon(aioxmpp.dispatcher.SimpleMessageDispatcher)
            dispatcher.register_callback(aioxmpp.MessageType.CHAT, None, inbox.put_nowait)
            async with alice.connected():
                self.assertEqual(str(alice.local_jid), 'alice@parley.test/aio')
                msg = aioxmpp.Message(to=aioxmpp.JID.fromstr('bob@parley.test/sli'), type_=aioxmpp.MessageType.CHAT)
                msg.body[None] = 'hello from aioxmpp'
                await alice.send(msg)
                got = await bob.next_message()
                self.assertEqual(got['body'], 'hello from aioxmpp')
                self.assertEqual(got['from'].full, 'alice@parley.test/aio')
                bob.send_message(mto='alice@parley.test/aio', mbody='hello from slixmpp', mtype='chat')
                reply = await asyncio.wait_for(inbox.get(), 10)
                self.assertEqual(reply.body.any(), 'hello from slixmpp')
                self.assertEqual(str(reply.from_), 'bob@parley.test/sli')
                await aioxmpp.ping.ping(alice, aioxmpp.JID.fromstr(DOMAIN))
                disco = alice.summon(aioxmpp.DiscoClient)
                info = await disco.query_info(aioxmpp.JID.fromstr(DOMAIN))
                self.assertIn('urn:xmpp:ping', info.features)
                self.assertIn('jabber:iq:version', info.features)
            await bob.bye()
        run(conversation())

    def test_aioxmpp_with_a_wrong_password_is_refused(self):
        async def conversation():
            alice = aio_client(self.server, 'alice', 'wrong')
            try:
                async with alice.connected():
                    pass
                self.fail('aioxmpp logged in with a wrong password')
            except (aiosasl.AuthenticationFailure, aioxmpp.errors.SecurityNegotiationFailure):
                pass
        run(conversation())
        # aioxmpp gives up after the server's refusal; the server said why.
        self.assertTrue(self.server.wait_log(r"authentication failed for 'alice@parley.test' .*: not-authorized"),
                        self.server.log_text()[-2000:])


if __name__ == '__main__':
    unittest.main()
