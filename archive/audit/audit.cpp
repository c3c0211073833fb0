#include "archive/audit/audit.hpp"

#include "archive/journal/raw_db.hpp"

#include <cstring>

namespace parley::archive {

namespace {

constexpr char kAudit = 'A';
constexpr uint32_t kMaxResult = 1u << 20;

std::string event_key(uint64_t seq) { return std::string(1, kAudit) + layout::u64_be(seq); }

// Events are sealed like records: who searched for whom is itself
// confidential, and nothing in data.mdb is readable without the key.
void nonce_for(uint64_t seq, uint8_t (&nonce)[kNonceBytes]) {
    std::string b = layout::u64_be(seq);
    std::memcpy(nonce, b.data(), 8);
    std::memcpy(nonce + 8, "AUDT", 4);
}

std::string body(const AuditEvent& e) {
    std::string v = layout::u64_be(e.at_ms);
    raw::put_str16(v, e.who);
    raw::put_str16(v, e.action);
    raw::put_str16(v, e.scope);
    std::string_view result = std::string_view(e.result).substr(0, kMaxResult);
    v += layout::u32_be(static_cast<uint32_t>(result.size()));
    v += result;
    return v;
}

Digest event_mac(const ArchiveKeys& keys, uint64_t seq, std::string_view prev_mac, std::string_view body) {
    std::string in(1, kAudit);
    in += layout::u64_be(seq);
    in += prev_mac;
    in += body;
    return hmac_sha256(keys.chain, in);
}

// The sealed body and mac of a stored event, and the event; false when
// damaged or when it does not decrypt.
bool split(const ArchiveKeys& keys, uint64_t seq, std::string_view v, AuditEvent& e, std::string_view& body_out,
           std::string_view& mac) {
    if (v.size() < kTagBytes + kDigestBytes) return false;
    body_out = v.substr(0, v.size() - kDigestBytes);
    mac = v.substr(v.size() - kDigestBytes);
    uint8_t nonce[kNonceBytes];
    nonce_for(seq, nonce);
    auto plain = open(keys.data, nonce, event_key(seq), body_out);
    if (!plain) return false;
    std::string_view b = *plain;
    if (b.size() < 8) return false;
    e.at_ms = layout::read_u64_be(b.substr(0, 8));
    b.remove_prefix(8);
    if (!raw::get_str16(b, e.who) || !raw::get_str16(b, e.action) || !raw::get_str16(b, e.scope) || b.size() < 4)
        return false;
    uint32_t n = static_cast<uint32_t>(layout::read_u64_be(std::string(4, '\0') + std::string(b.substr(0, 4))));
    b.remove_prefix(4);
    if (b.size() != n) return false;
    e.result.assign(b);
    return true;
}

}  // namespace

Result<uint64_t> append_audit(const Journal& journal, MDB_txn* txn, MDB_dbi db, AuditEvent e) {
    auto keys = journal.ensure_keys(txn, db);
    if (!keys) return keys.status();
    auto tail = raw::get(txn, db, layout::meta_key("audit"));
    if (!tail) return tail.status();
    uint64_t last = 0;
    std::string prev_mac(kDigestBytes, '\0');
    if (*tail) {
        if ((*tail)->size() != 8 + kDigestBytes) return Status::error("corrupt", "the audit log's tail is damaged");
        last = layout::read_u64_be(**tail);
        prev_mac.assign((*tail)->substr(8));
    }
    e.seq = last + 1;
    uint8_t nonce[kNonceBytes];
    nonce_for(e.seq, nonce);
    auto sealed = seal(keys->data, nonce, event_key(e.seq), body(e));
    if (!sealed) return sealed.status();
    const std::string& b = *sealed;
    Digest mac = event_mac(*keys, e.seq, prev_mac, b);
    if (Status s = raw::put(txn, db, event_key(e.seq), b + std::string(as_view(mac)), MDB_NOOVERWRITE); !s) return s;
    if (Status s = raw::put(txn, db, layout::meta_key("audit"), layout::u64_be(e.seq) + std::string(as_view(mac))); !s)
        return s;
    return e.seq;
}

Result<std::vector<AuditEvent>> list_audit(const Journal& journal, MDB_txn* txn, MDB_dbi db, uint64_t after,
                                           size_t limit) {
    std::vector<AuditEvent> out;
    auto keys = journal.keys(txn, db);
    if (!keys) return keys.status().code() == "not-found" ? Result<std::vector<AuditEvent>>(out) : keys.status();
    Status s = raw::scan(txn, db, std::string(1, kAudit), event_key(after + 1),
                         [&](std::string_view key, std::string_view value) {
                             if (out.size() >= limit) return false;
                             AuditEvent e;
                             std::string_view b, m;
                             if (key.size() != 9) return true;
                             e.seq = layout::read_u64_be(key.substr(1));
                             if (!split(*keys, e.seq, value, e, b, m)) return true;
                             out.push_back(std::move(e));
                             return true;
                         });
    if (!s) return s;
    return out;
}

Result<AuditReport> verify_audit(const Journal& journal, MDB_txn* txn, MDB_dbi db) {
    AuditReport report;
    auto keys = journal.keys(txn, db);
    if (!keys) {
        if (keys.status().code() == "not-found") return report;
        return keys.status();
    }
    std::string prev_mac(kDigestBytes, '\0');
    uint64_t expect = 1;
    Status s = raw::scan(txn, db, std::string(1, kAudit), {}, [&](std::string_view key, std::string_view value) {
        if (key.size() != 9) return true;
        const uint64_t seq = layout::read_u64_be(key.substr(1));
        ++report.events;
        if (seq != expect) {
            if (seq > expect)
                report.problems.push_back("events " + std::to_string(expect) + " to " + std::to_string(seq - 1) +
                                          " are missing");
            else
                report.problems.push_back("event " + std::to_string(seq) + " is out of sequence");
        }
        AuditEvent e;
        std::string_view b, m;
        if (!split(*keys, seq, value, e, b, m)) {
            report.problems.push_back("event " + std::to_string(seq) + " was altered (it does not decrypt)");
        } else {
            // Try the chain as it should be; if the gap above broke it, the
            // event may still be authentic under its stored predecessor's mac.
            Digest want = event_mac(*keys, seq, prev_mac, b);
            if (!equal_constant_time(as_view(want), m) && seq == expect)
                report.problems.push_back("event " + std::to_string(seq) + " was altered or inserted");
            prev_mac.assign(m);
        }
        expect = seq + 1;
        return true;
    });
    if (!s) return s;
    auto tail = raw::get(txn, db, layout::meta_key("audit"));
    if (!tail) return tail.status();
    if (*tail && (*tail)->size() == 8 + kDigestBytes) {
        const uint64_t last = layout::read_u64_be(**tail);
        if (last >= expect)
            report.problems.push_back("events " + std::to_string(expect) + " to " + std::to_string(last) +
                                      " are missing (the log ends early)");
        else if (last + 1 == expect && (*tail)->substr(8) != prev_mac)
            report.problems.push_back("the audit log's tail does not match its last event");
    } else if (report.events > 0) {
        report.problems.push_back("the audit log's tail record is missing or damaged");
    }
    return report;
}

}  // namespace parley::archive
