"""In-band registration (XEP-0077, mod_register) against a real parleyd on
two workers: a newcomer registers over a raw TLS stream and then logs in
with the new account; a taken name is a conflict; one address is held to
its limit while another is not; invitations made with parleyctl are
required, used up and honoured until they expire; a logged-in user changes
the password, after which the old one fails and the new one works."""
import re
import time
import unittest

from clients import online
from harness import DOMAIN, ParleyServer, RawStream, ServerTestCase, run

NS = 'jabber:iq:register'


def ask(stream, iq, iq_id):
    """Sends `iq` and returns the text of the answer with that id (what came before is dropped)."""
    stream.buf = b''
    stream.send(iq)
    text = stream.read_until(r"<iq[^>]*id=['\"]%s['\"]([^>]*/>|.*?</iq>)" % iq_id)
    return text[text.index(re.search(r"<iq[^>]*id=['\"]%s['\"]" % iq_id, text).group(0)):]


def register_fields(stream, user, password, iq_id='r1'):
    return ask(stream, "<iq type='set' id='%s'><query xmlns='%s'><username>%s</username><password>%s</password>"
                       "</query></iq>" % (iq_id, NS, user, password), iq_id)


def register_form(stream, user, password, invite, iq_id='r1'):
    fields = ("<field var='FORM_TYPE'><value>jabber:iq:register</value></field>"
              "<field var='username'><value>%s</value></field>"
              "<field var='password'><value>%s</value></field>" % (user, password))
    if invite is not None:
        fields += "<field var='x-invite'><value>%s</value></field>" % invite
    return ask(stream, "<iq type='set' id='%s'><query xmlns='%s'><x xmlns='jabber:x:data' type='submit'>%s</x>"
                       "</query></iq>" % (iq_id, NS, fields), iq_id)


def outcome(reply):
    """'result', or the error condition of the reply."""
    m = re.search(r"<iq[^>]*type=['\"](\w+)['\"]", reply)
    if m and m.group(1) == 'result':
        return 'result'
    c = re.search(r"<(\w[\w-]*) xmlns=['\"]urn:ietf:params:xml:ns:xmpp-stanzas['\"]", reply)
    return c.group(1) if c else reply


class Newcomer:
    """A raw stream from `source` that has negotiated TLS and not logged in."""

    def __init__(self, server, source='127.0.0.1'):
        self.s = RawStream(server.starttls_port, source=source)
        self.features = self.s.secure(server.ca)

    def __enter__(self):
        return self.s

    def __exit__(self, *exc):
        self.s.close()


def can_log_in(server, node, password):
    s = RawStream(server.starttls_port)
    try:
        s.secure(server.ca)
        s.auth_plain(node, password)
        text = s.read_until(r'<success|<failure')
        return '<success' in text
    finally:
        s.close()


class OpenRegistration(ServerTestCase):
    users = ('taken',)
    settings = dict(modules=('disco', 'ping', 'register'),
                    module_options={'register': 'max_per_address = 3\nmax_total = 50'})

    def test_a_newcomer_registers_and_logs_in_with_the_new_account(self):
        n = Newcomer(self.server)
        with n as s:
            self.assertIn("<register xmlns='http://jabber.org/features/iq-register'/>", n.features.replace('"', "'"))
            form = ask(s, "<iq type='get' id='f1'><query xmlns='%s'/></iq>" % NS, 'f1')
            self.assertIn('<username', form)
            self.assertIn('<password', form)
            reply = register_fields(s, 'Juliet', 'balcony-scene')
            self.assertEqual(outcome(reply), 'result', reply)
            self.assertNotIn('balcony-scene', reply)
        self.assertTrue(self.server.wait_log(r'registered juliet@parley\.test from 127\.0\.0\.1'))
        self.assertNotIn('balcony-scene', self.server.log_text(), 'the password is never logged')
        self.assertTrue(can_log_in(self.server, 'juliet', 'balcony-scene'), 'the new account logs in')
        self.assertFalse(can_log_in(self.server, 'juliet', 'wrong'))

        async def conversation():
            juliet = await online(self.server, 'juliet', password='balcony-scene')
            await juliet.bye()
        run(conversation())

    def test_a_taken_name_is_a_conflict_and_the_account_keeps_its_password(self):
        with Newcomer(self.server, source='127.0.0.2') as s:
            reply = register_fields(s, 'taken', 'mine-now')
            self.assertEqual(outcome(reply), 'conflict', reply)
            self.assertNotIn('mine-now', reply, 'an error does not echo the password')
        self.assertTrue(can_log_in(self.server, 'taken', 'secret'))
        self.assertFalse(can_log_in(self.server, 'taken', 'mine-now'))

    def test_bad_input_is_refused_with_a_reason(self):
        with Newcomer(self.server, source='127.0.0.5') as s:
            self.assertEqual(outcome(register_fields(s, 'romeo', '', 'b1')), 'not-acceptable')
            self.assertEqual(outcome(register_fields(s, 'ro meo', 'pw', 'b2')), 'not-acceptable')
            reply = ask(s, "<iq type='set' id='b3'><query xmlns='%s'><username>romeo</username></query></iq>" % NS,
                        'b3')
            self.assertEqual(outcome(reply), 'not-acceptable')

    def test_registration_needs_tls(self):
        s = RawStream(self.server.starttls_port, source='127.0.0.6')
        try:
            s.open()
            features = s.read_until('</stream:features>')
            self.assertNotIn('iq-register', features, 'not offered in clear')
            s.send("<iq type='get' id='c1'><query xmlns='%s'/></iq>" % NS)
            text = s.read_until(r"id=['\"]c1['\"].*?</iq>|</stream:stream>")
            self.assertIn('not-authorized', text)
        finally:
            s.close()

    def test_one_address_is_held_to_its_limit_and_another_is_not(self):
        source = '127.0.0.3'
        with Newcomer(self.server, source=source) as s:
            # Three requests, a conflict among them: each counts.
            self.assertEqual(outcome(register_fields(s, 'taken', 'pw', 'l1')), 'conflict')
            self.assertEqual(outcome(register_fields(s, 'mercutio', 'pw-1', 'l2')), 'result')
            self.assertEqual(outcome(register_fields(s, 'benvolio', 'pw-2', 'l3')), 'result')
            reply = register_fields(s, 'tybalt', 'pw-3', 'l4')
            self.assertEqual(outcome(reply), 'policy-violation', reply)
            self.assertIn("type='wait'", reply.replace('"', "'"))
            self.assertIn('try again in', reply)
        # A new connection from the same address is still over the limit.
        with Newcomer(self.server, source=source) as s:
            self.assertEqual(outcome(register_fields(s, 'tybalt', 'pw-3', 'l5')), 'policy-violation')
        self.assertFalse(can_log_in(self.server, 'tybalt', 'pw-3'))
        with Newcomer(self.server, source='127.0.0.4') as s:
            self.assertEqual(outcome(register_fields(s, 'tybalt', 'pw-3', 'l6')), 'result')

    def test_disco_lists_the_feature(self):
        async def conversation():
            c = await online(self.server, 'taken', plugins=('xep_0030',))
            info = await c['xep_0030'].get_info(jid=DOMAIN, local=False, timeout=10)
            await c.bye()
            return info['disco_info']['features']
        self.assertIn(NS, run(conversation()))


class OverallLimit(ServerTestCase):
    settings = dict(modules=('register',), module_options={'register': 'max_per_address = 10\nmax_total = 2'})

    def test_all_addresses_together_are_bounded(self):
        results = []
        for i, source in enumerate(('127.0.1.1', '127.0.1.2', '127.0.1.3')):
            with Newcomer(self.server, source=source) as s:
                results.append(outcome(register_fields(s, 'user%d' % i, 'password-%d' % i)))
        self.assertEqual(results, ['result', 'result', 'resource-constraint'])


class Invitations(ServerTestCase):
    settings = dict(modules=('disco', 'register'),
                    module_options={'register': 'require_invite = true\nmax_per_address = 50'})

    def invite(self, *args):
        r = self.server.ctl('invite', 'create', *args)
        token = r.stdout.strip()
        self.assertRegex(token, r'^[a-z2-7]{40}$')
        return token

    def test_the_form_asks_for_an_invitation_and_none_means_no_account(self):
        with Newcomer(self.server) as s:
            form = ask(s, "<iq type='get' id='f1'><query xmlns='%s'/></iq>" % NS, 'f1')
            self.assertIn('x-invite', form)
            self.assertEqual(outcome(register_form(s, 'paris', 'pw-paris', None, 'i1')), 'not-acceptable')
            self.assertEqual(outcome(register_fields(s, 'paris', 'pw-paris', 'i2')), 'not-acceptable')
            self.assertEqual(outcome(register_form(s, 'paris', 'pw-paris', 'a' * 40, 'i3')), 'not-acceptable')
        self.assertFalse(can_log_in(self.server, 'paris', 'pw-paris'))

    def test_an_invitation_is_used_once(self):
        token = self.invite()
        self.assertIn(token[:8], self.server.ctl('invite', 'list').stdout)
        with Newcomer(self.server) as s:
            self.assertEqual(outcome(register_form(s, 'nurse', 'pw-nurse', token)), 'result')
        with Newcomer(self.server) as s:
            reply = register_form(s, 'friar', 'pw-friar', token)
            self.assertEqual(outcome(reply), 'not-acceptable', reply)
        self.assertTrue(can_log_in(self.server, 'nurse', 'pw-nurse'))
        self.assertFalse(can_log_in(self.server, 'friar', 'pw-friar'))
        self.assertNotIn(token[:8], self.server.ctl('invite', 'list').stdout, 'a used invitation is gone')
        self.assertNotIn(token[8:], self.server.log_text(), 'the secret is never logged')

    def test_an_invitation_for_two_uses_and_its_withdrawal(self):
        token = self.invite('--uses', '2')
        for i, name in enumerate(('capulet', 'montague')):
            with Newcomer(self.server) as s:
                self.assertEqual(outcome(register_form(s, name, 'pw-%s' % name, token, 'u%d' % i)), 'result')
        with Newcomer(self.server) as s:
            self.assertEqual(outcome(register_form(s, 'escalus', 'pw', token)), 'not-acceptable')
        other = self.invite()
        r = self.server.ctl('invite', 'del', other[:8])
        self.assertIn('withdrew', r.stdout)
        with Newcomer(self.server) as s:
            self.assertEqual(outcome(register_form(s, 'escalus', 'pw', other)), 'not-acceptable')

    def test_an_expired_invitation_is_refused(self):
        token = self.invite('--expires', '1s')
        listed = self.server.ctl('invite', 'list', '--json').stdout
        self.assertIn('"id":"%s"' % token[:8], listed)
        # What is tested is the passing of time itself: the expiry is one
        # second after the token was made, in whole seconds.
        time.sleep(2.1)
        with Newcomer(self.server) as s:
            reply = register_form(s, 'rosaline', 'pw', token)
            self.assertEqual(outcome(reply), 'not-acceptable', reply)
            self.assertIn('expired', reply)
        self.assertFalse(can_log_in(self.server, 'rosaline', 'pw'))


class PasswordChange(ServerTestCase):
    users = ('alice', 'bob')
    settings = dict(modules=('disco', 'register'), module_options={'register': 'allow_registration = false'})

    def test_no_registration_but_a_password_change(self):
        s = RawStream(self.server.starttls_port)
        try:
            features = s.secure(self.server.ca)
            self.assertNotIn('iq-register', features)
        finally:
            s.close()

        async def conversation():
            other = await online(self.server, 'alice', resource='other')
            s = RawStream(self.server.starttls_port)
            try:
                s.login_plain(self.server.ca, 'alice', 'secret', resource='changer')
                got = ask(s, "<iq type='get' id='g1'><query xmlns='%s'/></iq>" % NS, 'g1')
                self.assertIn('<registered', got)
                self.assertIn('alice', got)
                reply = ask(s, "<iq type='set' id='p0' to='%s'><query xmlns='%s'><username>bob</username>"
                               "<password>hijack</password></query></iq>" % (DOMAIN, NS), 'p0')
                self.assertEqual(outcome(reply), 'forbidden')
                self.assertNotIn('hijack', reply, 'an error does not echo the password')
                reply = ask(s, "<iq type='set' id='p1' to='%s'><query xmlns='%s'><username>alice</username>"
                               "<password></password></query></iq>" % (DOMAIN, NS), 'p1')
                self.assertEqual(outcome(reply), 'not-acceptable')
                reply = ask(s, "<iq type='set' id='p2' to='%s'><query xmlns='%s'><username>alice</username>"
                               "<password>n3w-secret</password></query></iq>" % (DOMAIN, NS), 'p2')
                self.assertEqual(outcome(reply), 'result', reply)
                # The other session ends; the one that asked stays.
                await other.wait_gone(15)
                self.assertIn('not-authorized', other.stream_errors)
                ask(s, "<iq type='get' id='g2' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % DOMAIN, 'g2')
            finally:
                s.close()
        run(conversation())
        self.assertFalse(can_log_in(self.server, 'alice', 'secret'), 'the old password is refused')
        self.assertTrue(can_log_in(self.server, 'alice', 'n3w-secret'), 'the new one works')
        self.assertTrue(can_log_in(self.server, 'bob', 'secret'), "bob's password is untouched")
        self.assertNotIn('n3w-secret', self.server.log_text())


class Removal(ServerTestCase):
    users = ('carol', 'dave')
    settings = dict(modules=('register',), module_options={'register': 'allow_remove = true'})

    def test_a_user_deletes_the_account_and_its_sessions_end(self):
        async def conversation():
            other = await online(self.server, 'carol', resource='other')
            s = RawStream(self.server.starttls_port)
            try:
                s.login_plain(self.server.ca, 'carol', 'secret', resource='leaver')
                s.buf = b''
                s.send("<iq type='set' id='x1'><query xmlns='%s'><remove/></query></iq>" % NS)
                text = s.read_until(r"id=['\"]x1['\"].*?</stream:stream>")
                self.assertEqual(outcome(text), 'result', text)
                self.assertIn('not-authorized', text)
                await other.wait_gone(15)
            finally:
                s.close()
        run(conversation())
        self.assertFalse(can_log_in(self.server, 'carol', 'secret'))
        self.assertNotIn('carol@', self.server.ctl('user', 'list').stdout)
        self.assertTrue(can_log_in(self.server, 'dave', 'secret'))


if __name__ == '__main__':
    unittest.main()
