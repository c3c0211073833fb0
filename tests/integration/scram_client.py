"""A SCRAM client (RFC 5802, RFC 7677) of our own for the raw-stream tests,
with channel binding (RFC 5056) when given its data."""
import base64
import hashlib
import hmac
import os


def b64(data):
    return base64.b64encode(data).decode()


class Scram:
    """A SCRAM client (RFC 5802) for one attempt; `gs2` is the GS2 header."""

    def __init__(self, hash_name, node, password, gs2, cb_data=b''):
        self.hash_name, self.password, self.gs2, self.cb_data = hash_name, password, gs2, cb_data
        self.nonce = b64(os.urandom(18))
        self.first_bare = 'n=%s,r=%s' % (node, self.nonce)

    def first(self):
        return (self.gs2 + self.first_bare).encode()

    def final(self, server_first):
        attrs = dict(kv.split('=', 1) for kv in server_first.split(','))
        assert attrs['r'].startswith(self.nonce)
        h = lambda key, msg: hmac.new(key, msg, self.hash_name).digest()
        salted = hashlib.pbkdf2_hmac(self.hash_name, self.password.encode(), base64.b64decode(attrs['s']),
                                     int(attrs['i']))
        client_key = h(salted, b'Client Key')
        stored = hashlib.new(self.hash_name, client_key).digest()
        without_proof = 'c=%s,r=%s' % (b64(self.gs2.encode() + self.cb_data), attrs['r'])
        auth = ('%s,%s,%s' % (self.first_bare, server_first, without_proof)).encode()
        proof = bytes(a ^ b for a, b in zip(client_key, h(stored, auth)))
        self.server_signature = b64(h(h(salted, b'Server Key'), auth))
        return ('%s,p=%s' % (without_proof, b64(proof))).encode()
