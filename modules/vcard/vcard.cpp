#include "vcard.hpp"

#include <fmt/format.h>

#include <optional>

#include "log/log.hpp"
#include "vcard_record.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_vcard {

const module::XepInfo kXeps[] = {
    {"0054", "1.3.0",
     "complete: own vCard get and set (answered once stored), others' vCards readable by anyone who can reach "
     "the account; a set to another account gets the error a missing account gets, not forbidden (no enumeration)"},
    {"0153", "1.1.1",
     "complete for the server's part: the photo hash is added to broadcast presence that carries none"},
};

const config::OptionSpec kOptions[] = {
    {"max_bytes", config::OptionType::integer, "262144",
     "largest vCard kept, in bytes of its XML (photo included); larger sets get not-acceptable", 1024, 16777216},
};

Status Vcard::configure(const config::Section& section) {
    max_bytes_ = static_cast<size_t>(section.get_int("max_bytes", 262144));
    return Status::ok();
}

Status Vcard::start(module::Host& host) {
    host_ = &host;
    Status s = configure(host.config());
    if (!s) return s;
    auto db = host.open_database(module::DatabaseSpec{"cards", 1, {}, {}});
    if (!db) return db.status();
    db_ = std::move(db).value();
    s = host.iq_handler(module::IqTarget::account, "get", kNsVcard, "vCard",
                        [this](const module::IqRequest& q, std::shared_ptr<module::IqResponder> r) {
                            get(q, std::move(r));
                        });
    if (!s) return s;
    s = host.iq_handler(module::IqTarget::account, "set", kNsVcard, "vCard",
                        [this](const module::IqRequest& q, std::shared_ptr<module::IqResponder> r) {
                            set(q, std::move(r));
                        });
    if (!s) return s;
    // The server has no vCard of its own (XEP-0054 §3.3 allows one): an
    // empty one, so that what disco advertises on the domain answers.
    s = host.iq_handler(module::IqTarget::server, "get", kNsVcard, "vCard",
                        [](const module::IqRequest&, std::shared_ptr<module::IqResponder> r) {
                            r->result(xml::Element("vCard", kNsVcard));
                        });
    if (!s) return s;
    host.hook(module::HookPoint::stanza_in, kPresencePriority,
              [this](module::StanzaContext& ctx) { return presence(ctx); });
    host.on_account_deleted(
        [this](const xmpp::Jid& user, std::function<void(Status)> done) { purge(user, std::move(done)); });
    host.disco_feature(kNsVcard);
    host.account_disco_feature(kNsVcard);
    return Status::ok();
}

void Vcard::get(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    const xmpp::Jid account = req.to.bare();
    const std::string key = account.bare_str();
    std::optional<xml::Element> vcard;
    Status s = db_->read([&](const store::Txn& txn, MDB_dbi dbi) -> Status {
        auto v = txn.get(dbi, key);
        if (!v) return v.status();
        if (!v.value()) return Status::ok();
        auto rec = decode_record(*v.value());
        if (!rec) return rec.status();
        auto e = parse_vcard(rec.value().xml);
        if (!e) return e.status();
        vcard = std::move(e).value();
        return Status::ok();
    });
    if (!s) {
        log::error("vcard", "reading the vCard of {}: {}", key, s.to_string());
        r->error(StanzaError::wait("internal-server-error", "the vCard cannot be read now"));
        return;
    }
    if (vcard) {
        r->result(std::move(*vcard));
        return;
    }
    if (req.from.bare() == account) {
        // One's own: XEP-0054 §3.1 allows an empty vCard, which clients take
        // more gracefully than an error.
        r->result(xml::Element("vCard", kNsVcard));
        return;
    }
    // Anyone else: the very error a missing account gets (XEP-0054 1.3.0 §3.3).
    r->error(recipient_unavailable());
}

void Vcard::set(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    const xmpp::Jid account = req.to.bare();
    if (req.from.bare() != account) {
        // Not forbidden (XEP-0054 §3.2's suggestion): that would tell the
        // sender the account exists, where a missing one gets this.
        r->error(recipient_unavailable());
        return;
    }
    std::string record;  // empty: the vCard is deleted
    if (req.payload.child_count() > 0) {
        std::string text = xml::to_string(req.payload, xmpp::kNsClient);
        if (text.size() > max_bytes_) {
            r->error(StanzaError::modify(
                "not-acceptable",
                fmt::format("the vCard is {} bytes; this server keeps vCards of up to {} bytes", text.size(),
                            max_bytes_)));
            return;
        }
        auto hash = photo_hash(req.payload);
        if (!hash) {
            r->error(StanzaError::modify("bad-request", hash.status().message()));
            return;
        }
        record = encode_record(hash.value(), text);
    }
    const std::string key = account.bare_str();
    Status s = db_->write(
        [key, record = std::move(record)](store::Txn& txn, MDB_dbi dbi) -> Status {
            if (!record.empty()) return txn.put(dbi, key, record);
            auto d = txn.del(dbi, key);
            return d ? Status::ok() : d.status();
        },
        [r, key](Status st) {
            if (st) {
                r->result(std::nullopt);  // on disk now
                return;
            }
            log::error("vcard", "storing the vCard of {}: {}", key, st.to_string());
            r->error(StanzaError::wait("internal-server-error", "the vCard cannot be stored now"));
        });
    if (!s) {
        if (s.code() != "busy") log::error("vcard", "storing the vCard of {}: {}", key, s.to_string());
        r->error(s.code() == "busy" ? StanzaError::wait("resource-constraint", "the server is busy; try again")
                                    : StanzaError::wait("internal-server-error", "the vCard cannot be stored now"));
    }
}

void Vcard::purge(const xmpp::Jid& user, std::function<void(Status)> done) {
    // One record per account, under its bare JID exactly: the vCard and its
    // photo hash go together, and no other account's key can match.
    Status s = db_->write(
        [key = user.bare_str()](store::Txn& txn, MDB_dbi dbi) -> Status {
            auto d = txn.del(dbi, key);
            return d ? Status::ok() : d.status();
        },
        [done](Status st) { done(std::move(st)); });
    if (!s) done(std::move(s));
}

module::HookResult Vcard::presence(module::StanzaContext& ctx) {
    xml::Element& p = ctx.stanza;
    // Only a client's own broadcast of available presence (RFC 6121 §4.2, §4.4).
    if (p.name() != "presence" || !ctx.from_local_client || !ctx.to.empty() || !p.attr_or("type").empty())
        return module::HookResult::pass();
    // A client that speaks XEP-0153 says what it means, even "not ready" (an
    // empty <x/>): left as it is.
    if (p.child("x", kNsUpdate)) return module::HookResult::pass();
    const std::string key = ctx.from.bare_str();
    std::string hash;
    Status s = db_->read([&](const store::Txn& txn, MDB_dbi dbi) -> Status {
        auto v = txn.get(dbi, key);
        if (!v) return v.status();
        if (!v.value()) return Status::ok();
        auto rec = decode_record(*v.value());
        if (!rec) return rec.status();
        hash = std::string(rec.value().hash);
        return Status::ok();
    });
    if (!s) {
        // Better no claim than a wrong one ("no photo").
        log::error("vcard", "reading the photo hash of {}: {}", key, s.to_string());
        return module::HookResult::pass();
    }
    xml::Element& photo = p.add_child("x", kNsUpdate).add_child("photo", kNsUpdate);
    if (!hash.empty()) photo.add_text(std::move(hash));
    return module::HookResult::pass();
}

}  // namespace parley::mod_vcard
