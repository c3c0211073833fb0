#include "archive/hold/holds.hpp"

#include "archive/journal/journal.hpp"
#include "archive/journal/raw_db.hpp"

namespace parley::archive {

namespace {

constexpr char kHoldPrefix = 'H';

std::string hold_key(std::string_view case_id) {
    std::string k(1, kHoldPrefix);
    raw::put_str16(k, case_id);
    return k;
}

std::string encode(const LegalHold& h) {
    std::string v(1, static_cast<char>(h.scope));
    raw::put_str16(v, h.target);
    raw::put_str16(v, h.reason);
    raw::put_str16(v, h.by);
    v += layout::u64_be(h.since_ms);
    v += layout::u64_be(h.released_ms);
    raw::put_str16(v, h.released_by);
    return v;
}

bool decode(std::string_view case_id, std::string_view v, LegalHold& h) {
    h.case_id.assign(case_id);
    if (v.empty() || static_cast<uint8_t>(v[0]) > 3) return false;
    h.scope = static_cast<Scope>(v[0]);
    v.remove_prefix(1);
    if (!raw::get_str16(v, h.target) || !raw::get_str16(v, h.reason) || !raw::get_str16(v, h.by) || v.size() < 16)
        return false;
    h.since_ms = layout::read_u64_be(v.substr(0, 8));
    h.released_ms = layout::read_u64_be(v.substr(8, 8));
    v.remove_prefix(16);
    return raw::get_str16(v, h.released_by) && v.empty();
}

}  // namespace

Result<std::vector<LegalHold>> load_holds(MDB_txn* txn, MDB_dbi db) {
    std::vector<LegalHold> out;
    bool bad = false;
    Status s = raw::scan(txn, db, std::string(1, kHoldPrefix), {}, [&](std::string_view key, std::string_view value) {
        std::string_view k = key.substr(1);
        std::string case_id;
        LegalHold h;
        if (!raw::get_str16(k, case_id) || !k.empty() || !decode(case_id, value, h)) return !(bad = true);
        out.push_back(std::move(h));
        return true;
    });
    if (!s) return s;
    if (bad) return Status::error("corrupt", "a stored legal hold is damaged");
    return out;
}

Status add_hold(MDB_txn* txn, MDB_dbi db, const LegalHold& hold) {
    auto old = raw::get(txn, db, hold_key(hold.case_id));
    if (!old) return old.status();
    if (*old) {
        LegalHold h;
        if (decode(hold.case_id, **old, h) && h.active())
            return Status::error("exists", "case " + hold.case_id + " is on hold already");
    }
    LegalHold fresh = hold;
    fresh.released_ms = 0;
    fresh.released_by.clear();
    return raw::put(txn, db, hold_key(hold.case_id), encode(fresh));
}

Result<LegalHold> release_hold(MDB_txn* txn, MDB_dbi db, std::string_view case_id, std::string_view by,
                               uint64_t now_ms) {
    auto v = raw::get(txn, db, hold_key(case_id));
    if (!v) return v.status();
    LegalHold h;
    if (!*v || !decode(case_id, **v, h) || !h.active())
        return Status::error("not-found", "no active hold for case " + std::string(case_id));
    h.released_ms = now_ms;
    h.released_by.assign(by);
    if (Status s = raw::put(txn, db, hold_key(case_id), encode(h)); !s) return s;
    return h;
}

bool held(const std::vector<LegalHold>& holds, const Entry& e) {
    auto covers = [&](const LegalHold& h, std::string_view jid) {
        if (jid.empty()) return false;
        switch (h.scope) {
            case Scope::all: return true;
            case Scope::domain: return domain_of(jid) == h.target;
            case Scope::user:
            case Scope::room: return bare_of(jid) == h.target;
        }
        return false;
    };
    for (const LegalHold& h : holds) {
        if (!h.active()) continue;
        if (covers(h, e.from) || covers(h, e.to)) return true;
        for (const View& v : e.views)
            if (covers(h, v.owner) || covers(h, v.peer)) return true;
    }
    return false;
}

}  // namespace parley::archive
