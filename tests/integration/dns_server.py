"""A small authoritative DNS server on a loopback UDP port, for tests.

It answers from a table: SRV, A and AAAA records by name. A name it knows
without a record of the asked type gets an empty NOERROR answer (NODATA);
a name it does not know gets NXDOMAIN; a name in `silent` gets no answer
at all (the resolver times out). Every question is recorded in `asked`.
Runs on its own thread until stop(); each wait is bounded.
"""
import socket
import struct
import threading


def _name_wire(name):
    if name == '.':
        return b'\0'
    out = b''
    for label in name.rstrip('.').split('.'):
        raw = label.encode('ascii')
        out += bytes([len(raw)]) + raw
    return out + b'\0'


class DnsServer:
    SRV, A, AAAA = 33, 1, 28

    def __init__(self, host='127.0.0.1'):
        self.srv = {}      # name -> [(priority, weight, port, target)]
        self.a = {}        # name -> [dotted IPv4]
        self.aaaa = {}     # name -> [IPv6]
        self.silent = set()
        self.asked = []    # (name, type)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.1)
        self.address = '%s:%d' % self.sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def questions(self, qtype=None):
        return [n for n, t in list(self.asked) if qtype is None or t == qtype]

    def _serve(self):
        while not self._stop.is_set():
            try:
                query, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self.answer(query)
            if reply:
                self.sock.sendto(reply, peer)

    def answer(self, query):
        if len(query) < 17:
            return None
        labels, i = [], 12
        while i < len(query) and query[i] != 0:
            n = query[i]
            labels.append(query[i + 1:i + 1 + n].decode('ascii', 'replace'))
            i += n + 1
        name = '.'.join(labels).lower()
        qtype, = struct.unpack('!H', query[i + 1:i + 3])
        question = query[12:i + 5]
        self.asked.append((name, qtype))
        if name in self.silent:
            return None
        known = name in self.srv or name in self.a or name in self.aaaa
        records = []
        if qtype == self.SRV:
            for prio, weight, port, target in self.srv.get(name, []):
                records.append((self.SRV, struct.pack('!HHH', prio, weight, port) + _name_wire(target)))
        elif qtype == self.A:
            records = [(self.A, socket.inet_pton(socket.AF_INET, ip)) for ip in self.a.get(name, [])]
        elif qtype == self.AAAA:
            records = [(self.AAAA, socket.inet_pton(socket.AF_INET6, ip)) for ip in self.aaaa.get(name, [])]
        flags = 0x8400 if known else 0x8403  # response, authoritative; NXDOMAIN when unknown
        out = query[:2] + struct.pack('!HHHHH', flags | (query[2] & 0x01) << 8, 1, len(records), 0, 0) + question
        for rtype, rdata in records:
            out += b'\xc0\x0c' + struct.pack('!HHIH', rtype, 1, 60, len(rdata)) + rdata
        return out
