"""What the group chat tests (test_muc*.py) share: the service's address,
the owner's configuration form, joining and its refusals, status codes, and
a bounded wait for groupchat messages."""
import asyncio
import time

from slixmpp.exceptions import PresenceError

from clients import query
from harness import DOMAIN

SERVICE = 'conference.' + DOMAIN
NS_MUC_USER = '{http://jabber.org/protocol/muc#user}'
NS_ADMIN = 'http://jabber.org/protocol/muc#admin'


def form(**fields):
    """The owner's submitted configuration form: fields by their short name
    (muc#roomconfig_NAME), or full name when it has a '#'."""
    body = ''.join("<field var='%s'><value>%s</value></field>" % (
        k if '#' in k else 'muc#roomconfig_' + k, v) for k, v in fields.items())
    return ("<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>%s</x>"
            "</query>" % body)


async def instant(owner, room):
    """Opens a room its owner has joined as an instant room (§10.1.2)."""
    r = await query(owner, room, form(), 'set')
    assert r[0] == 'result', r


async def create(owner, room, nick, **fields):
    """Joins (making the room) and submits the form: an instant room without fields."""
    await owner['xep_0045'].join_muc_wait(room, nick, maxstanzas=0, timeout=10)
    r = await query(owner, room, form(**fields), 'set')
    assert r[0] == 'result', r


async def admin(client, room, items):
    return await query(client, room, "<query xmlns='%s'>%s</query>" % (NS_ADMIN, items), 'set')


async def join_refused(client, room, nick, **kw):
    """The condition a join is refused with, or None when it was not."""
    try:
        await client['xep_0045'].join_muc_wait(room, nick, maxstanzas=0, timeout=10, **kw)
    except PresenceError as e:
        return e.condition
    return None


def codes(presence):
    return sorted(s.get('code') for s in presence.xml.iter(NS_MUC_USER + 'status'))


def item_of(presence):
    return presence.xml.find('%sx/%sitem' % (NS_MUC_USER, NS_MUC_USER))


async def groupchat(client, room, count, timeout=10):
    """The next `count` groupchat messages with a body from `room`, in order (bounded)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            m = await client.next_message(timeout=left)
        except asyncio.TimeoutError:
            break
        if m['type'] == 'groupchat' and m['from'].bare == room and m['body']:
            got.append(m)
    return got


async def groupchat_bodies(client, room, count, timeout=10):
    """(nick, body) of the next `count` groupchat messages from `room`."""
    return [(m['from'].resource, m['body']) for m in await groupchat(client, room, count, timeout)]
