#include "last_activity.hpp"

#include <algorithm>
#include <chrono>

#include "log/log.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_last {

const module::XepInfo kXeps[] = {
    {"0012", "2.0",
     "complete for the server's uptime and accounts' bare JIDs (to the account and its presence subscribers); "
     "others get the error a missing account gets instead of forbidden (no enumeration)"},
};

namespace {

// The status text of a session's last unavailable broadcast, until the
// account's record is written. Plain data: it moves with a resumed session.
struct StatusSlot final : module::SessionSlot {
    std::string status;
    size_t memory_bytes() const override { return sizeof(*this) + status.capacity(); }
};

xml::Element query(uint64_t seconds, std::string_view text) {
    xml::Element q("query", kNsLast);
    q.set_attr("seconds", std::to_string(seconds));
    if (!text.empty()) q.add_text(std::string(text));
    return q;
}

int64_t system_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string encode_record(const LastRecord& r) {
    std::string out(8, '\0');
    const auto v = static_cast<uint64_t>(r.when);
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
    out.append(r.status);
    return out;
}

Result<LastRecord> decode_record(std::string_view data) {
    if (data.size() < 8) return Status::error("corrupt", "a last activity record shorter than its time");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(data[i]);
    return LastRecord{static_cast<int64_t>(v), std::string(data.substr(8))};
}

std::string truncate_utf8(std::string_view s, size_t max) {
    if (s.size() <= max) return std::string(s);
    size_t n = max;
    // Back off over continuation bytes (10xxxxxx) to the start of a character.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
    return std::string(s.substr(0, n));
}

Status LastActivity::start(module::Host& host) {
    host_ = &host;
    if (!now_) now_ = system_now;
    auto db = host.open_database(module::DatabaseSpec{"activity", 1, {}, {}});
    if (!db) return db.status();
    db_ = std::move(db).value();
    rosters_ = module::service<roster::RosterService>(host);
    Status s = host.iq_handler(module::IqTarget::server, "get", kNsLast, "query",
                               [this](const module::IqRequest&, std::shared_ptr<module::IqResponder> r) {
                                   r->result(query(host_->uptime_seconds(), {}));
                               });
    if (!s) return s;
    s = host.iq_handler(module::IqTarget::account, "get", kNsLast, "query",
                        [this](const module::IqRequest& q, std::shared_ptr<module::IqResponder> r) {
                            account_query(q, std::move(r));
                        });
    if (!s) return s;
    host.hook(module::HookPoint::stanza_in, kStatusHookPriority,
              [this](module::StanzaContext& ctx) { return presence(ctx); });
    host.on_session(module::SessionEvent::available, [this](const module::SessionInfo& si) { session_available(si); });
    host.on_session(module::SessionEvent::unavailable, [this](const module::SessionInfo& si) { session_gone(si); });
    host.on_session(module::SessionEvent::closed, [this](const module::SessionInfo& si) {
        if (si.available) session_gone(si);
    });
    host.on_account_deleted(
        [this](const xmpp::Jid& user, std::function<void(Status)> done) { purge(user, std::move(done)); });
    host.disco_feature(kNsLast);
    host.account_disco_feature(kNsLast);
    return Status::ok();
}

void LastActivity::purge(const xmpp::Jid& user, std::function<void(Status)> done) {
    // One record per account, under its bare JID exactly.
    Status s = db_->write(
        [key = user.bare_str()](store::Txn& txn, MDB_dbi dbi) -> Status {
            auto d = txn.del(dbi, key);
            return d ? Status::ok() : d.status();
        },
        [done](Status st) { done(std::move(st)); });
    if (!s) done(std::move(s));
}

bool LastActivity::may_see(const xmpp::Jid& account, const xmpp::Jid& requester) const {
    if (requester.bare() == account) return true;
    return rosters_ && rosters_->presence_visible_to(host_->worker_index(), account, requester.bare());
}

void LastActivity::account_query(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    const xmpp::Jid account = req.to.bare();
    if (!may_see(account, req.from)) {
        // The same error as for an account that does not exist (XEP-0012 §3
        // asks for forbidden, which would tell who has an account).
        r->error(recipient_unavailable());
        return;
    }
    for (const auto& s : host_->sessions_of(account))
        if (s.available) {
            r->result(query(0, {}));
            return;
        }
    std::optional<LastRecord> rec;
    const std::string key = account.bare_str();
    Status s = db_->read([&](const store::Txn& txn, MDB_dbi dbi) -> Status {
        auto v = txn.get(dbi, key);
        if (!v) return v.status();
        if (!v.value()) return Status::ok();
        auto d = decode_record(*v.value());
        if (!d) return d.status();
        rec = std::move(d).value();
        return Status::ok();
    });
    if (!s) {
        log::error("last", "reading the last activity of {}: {}", key, s.to_string());
        r->error(StanzaError::wait("internal-server-error", "the last activity cannot be read now"));
        return;
    }
    if (!rec) {
        r->error(StanzaError::cancel("item-not-found", "no last activity is recorded for this account"));
        return;
    }
    const int64_t seconds = std::max<int64_t>(0, now_() - rec->when);
    r->result(query(static_cast<uint64_t>(seconds), rec->status));
}

std::optional<uint64_t> LastActivity::session_id_of(const xmpp::Jid& full) const {
    for (const auto& s : host_->sessions_of(full.bare()))
        if (s.full_jid == full && s.ref.worker == host_->worker_index()) return s.ref.session_id;
    return std::nullopt;
}

module::HookResult LastActivity::presence(module::StanzaContext& ctx) {
    const xml::Element& p = ctx.stanza;
    if (p.name() != "presence" || !ctx.from_local_client || !ctx.to.empty() || p.attr_or("type") != "unavailable")
        return module::HookResult::pass();
    auto id = session_id_of(ctx.from);
    if (!id) return module::HookResult::pass();
    const xml::Element* st = p.child("status", xmpp::kNsClient);
    auto slot = std::make_unique<StatusSlot>();
    if (st) slot->status = truncate_utf8(st->text(), kMaxStatusBytes);
    host_->set_slot(*id, std::move(slot));
    return module::HookResult::pass();
}

void LastActivity::session_available(const module::SessionInfo& s) {
    // A status kept from an unavailable presence the session then did not
    // send after all (another hook refused it) must not outlive this.
    if (auto* slot = static_cast<StatusSlot*>(host_->slot(s.ref.session_id))) slot->status.clear();
}

void LastActivity::session_gone(const module::SessionInfo& s) {
    const xmpp::Jid account = s.full_jid.bare();
    for (const auto& o : host_->sessions_of(account))
        if (o.available && !(o.ref == s.ref)) return;  // another resource is still online
    // A deleted account's sessions are ended after the account is gone, and
    // the purge of its record may already have run: writing now would
    // leave a record that no purge removes (and that a new account of the
    // name would show).
    if (auto exists = host_->accounts().exists(account); exists && !exists.value()) return;
    LastRecord rec{now_(), {}};
    if (auto* slot = static_cast<StatusSlot*>(host_->slot(s.ref.session_id))) rec.status = std::move(slot->status);
    const std::string key = account.bare_str();
    Status st = db_->write(
        [key, rec](store::Txn& txn, MDB_dbi dbi) -> Status {
            auto v = txn.get(dbi, key);
            if (!v) return v.status();
            if (v.value()) {
                // Two workers' records may commit in either order: the later one stays.
                auto old = decode_record(*v.value());
                if (old && old.value().when > rec.when) return Status::ok();
            }
            return txn.put(dbi, key, encode_record(rec));
        },
        [key](Status done) {
            if (!done) log::error("last", "storing the last activity of {}: {}", key, done.to_string());
        });
    if (!st) log::warn("last", "the last activity of {} is not recorded: {}", key, st.to_string());
}

}  // namespace parley::mod_last
