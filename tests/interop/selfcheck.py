"""Proves the interop harness (peers.py) works, with no Parley involved:
Prosody for prosody.test on 127.0.1.2 and ejabberd for ejabberd.test on
127.0.1.3, certificates from one test CA, routes to each other; one account
on each; a chat message from the Prosody user to the ejabberd user and one
back, over s2s; then both stop and nothing of theirs may be left running.

Run as root with Debian's Python (it has python3-slixmpp):
    /usr/bin/python3 tests/interop/selfcheck.py
Exits 0 when everything worked. Not part of the counted test run.
"""
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# peers also puts tests/integration on sys.path, for its clients.py.
from peers import EjabberdPeer, ProsodyPeer, cert_files, make_certs, port_open  # noqa: E402
from clients import Client  # noqa: E402

PROSODY = ('prosody.test', '127.0.1.2')
EJABBERD = ('ejabberd.test', '127.0.1.3')


def say(*args):
    print(*args, flush=True)


async def online(peer, user, password, ca):
    """A slixmpp client logged in to `peer` (STARTTLS, the test CA trusted),
    its available presence reflected back."""
    c = Client(peer.jid(user), password, ca)
    c.connect((peer.address, peer.c2s_port), force_starttls=True)
    outcome = await asyncio.wait_for(asyncio.shield(c.outcome), 20)
    if outcome != 'session':
        raise AssertionError('%s could not log in: %s' % (peer.jid(user), outcome))
    await asyncio.wait_for(asyncio.shield(c.available), 15)
    say('  %s logged in (%s)' % (c.boundjid, c.mechanism()))
    return c


async def expect_body(client, body, timeout):
    """Waits for a chat message with `body`; an error bounce fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError('%s: no message %r within %ds' % (client.boundjid, body, timeout))
        try:
            m = await client.next_message(timeout=left)
        except asyncio.TimeoutError:
            continue
        if m['type'] == 'error':
            raise AssertionError('%s: error bounce: %s' % (client.boundjid, m))
        if m['body'] == body:
            return m


async def exchange(prosody, ejabberd, ca):
    alice = await online(prosody, 'alice', 'alice-secret', ca)
    bob = await online(ejabberd, 'bob', 'bob-secret', ca)
    try:
        for sender, receiver, body in ((alice, bob, 'hello from prosody.test'),
                                       (bob, alice, 'hello back from ejabberd.test')):
            t0 = time.monotonic()
            sender.send_message(mto=receiver.boundjid.bare, mbody=body, mtype='chat')
            m = await expect_body(receiver, body, 30)
            say('  %s -> %s: %r arrived in %.2fs (from %s)'
                % (sender.boundjid.bare, receiver.boundjid.bare, body, time.monotonic() - t0, m['from']))
    finally:
        await alice.bye()
        await bob.bye()


# The log lines that say how the s2s streams were secured and authenticated.
PROSODY_S2S = r's2s.*(validation result|is now authenticated|<auth .*mechanism=|verified dialback|Forbidding)'
EJABBERD_S2S = r'(Accepted|Failed|Retrying with) .*s2s'


def s2s_lines(peer, pattern, at_least=1, timeout=5):
    """The lines of the peer's log matching `pattern`, once there are
    `at_least` of them (ejabberd writes its log asynchronously) or after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line.strip() for line in peer.log_text().splitlines() if re.search(pattern, line)]
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def proc_stat(pid):
    """(parent pid, state) of a process, or None if it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), fields[0]


def descendants(pid):
    """pid and all its descendants now (some, like Erlang's erl_child_setup,
    leave the process group)."""
    children = {}
    for name in os.listdir('/proc'):
        if name.isdigit() and (st := proc_stat(int(name))):
            children.setdefault(st[0], []).append(int(name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[1] != 'Z'


def main():
    certdir = tempfile.mkdtemp(prefix='parley-interop-certs-')
    peers = []
    try:
        ca = make_certs(certdir, [PROSODY[0], EJABBERD[0]])
        say('test CA and certificates in %s' % certdir)
        prosody = ProsodyPeer(*PROSODY, ca, *cert_files(certdir, PROSODY[0]), routes={EJABBERD[0]: (EJABBERD[1], 5269)})
        peers.append(prosody)
        ejabberd = EjabberdPeer(*EJABBERD, ca, *cert_files(certdir, EJABBERD[0]),
                                routes={PROSODY[0]: (PROSODY[1], 5269)})
        peers.append(ejabberd)
        for peer in peers:
            peer.start()
            say('%s %s started on %s in %.2fs (dir %s)'
                % (peer.kind, peer.domain, peer.address, peer.start_seconds, peer.dir))
        say('registered %s and %s' % (prosody.register('alice', 'alice-secret'),
                                      ejabberd.register('bob', 'bob-secret')))
        asyncio.run(exchange(prosody, ejabberd, ca))

        say('s2s as the peers logged it:')
        for line in s2s_lines(prosody, PROSODY_S2S):
            say('  prosody: ' + line)
        # One line per direction at least: inbound and outbound.
        for line in s2s_lines(ejabberd, EJABBERD_S2S, at_least=2):
            say('  ejabberd: ' + re.sub(r'^\S+ \S+ \[(\w+)\] <[^>]*>@', r'[\1] ', line))

        processes = []
        for peer in peers:
            processes += descendants(peer.proc.pid)
            t0 = time.monotonic()
            code = peer.stop()
            say('%s stopped with exit code %s in %.2fs' % (peer.kind, code, time.monotonic() - t0))
        left = ['pid %d' % pid for pid in processes if alive(pid)]
        left += ['%s:%d' % (p.address, port) for p in peers for port in (p.c2s_port, p.s2s_port)
                 if port_open(p.address, port)]
        if left:
            raise AssertionError('still running after stop: %s' % ', '.join(left))
        say('nothing left running: none of the peers\' %d processes, no listener' % len(processes))
        say('SELFCHECK PASSED')
        return 0
    except Exception as e:
        say('SELFCHECK FAILED: %s: %s' % (type(e).__name__, e))
        for peer in peers:
            say('--- %s log (tail) ---\n%s' % (peer.kind, peer.log_text()[-4000:]))
        return 1
    finally:
        for peer in peers:
            peer.cleanup()
        shutil.rmtree(certdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
