#include "mam.hpp"

#include <fmt/core.h>

#include <algorithm>

#include "log/log.hpp"
#include "xml/parse_element.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_mam {

const module::XepInfo kXeps[] = {
    {"0313", "1.1.1",
     "complete for users' archives: with/start/end, RSM both ways with complete, #extended (before-id, after-id, "
     "ids, flip-page), metadata; group chat archives come with modules/muc"},
    {"0441", "0.2.0", "complete: preferences always/never/roster with JID lists, kept by mod_archive"},
    {"0059", "1.0", "partial: max, after, before (RSM <index/> and <count/> are not offered)"},
};
const size_t kXepCount = std::size(kXeps);

namespace {

constexpr size_t kMaxPrefsJids = 1000;
constexpr size_t kStanzaDepth = 64;

bool in_view(const archive::Journal& j, MDB_txn* txn, MDB_dbi db, const std::string& owner, uint64_t id) {
    bool found = false;
    archive::Journal::Query q{owner, "", id - 1, id + 1, false};
    Status s = j.view(txn, db, q, [&](uint64_t got) {
        found = got == id;
        return false;
    });
    return s && found;
}

// One result message of the page (nullopt when the record cannot be read).
std::optional<xml::Element> result_message(const archive::Record& rec, const module::IqRequest& req,
                                           const std::string& owner, const std::string& queryid) {
    auto inner = xml::parse_element(rec.entry.stanza, xmpp::kNsClient, kStanzaDepth);
    if (!inner) {
        log::error("mam", "record {} of {} does not parse: {}", rec.id, owner, inner.status().to_string());
        return std::nullopt;
    }
    xml::Element& m = inner.value();
    if (!m.attr("from")) m.set_attr("from", rec.entry.from);
    if (!m.attr("to")) m.set_attr("to", rec.entry.to);
    xml::Element out("message", std::string(xmpp::kNsClient));
    out.set_attr("to", req.from.str());
    out.set_attr("from", owner);
    out.set_attr("id", "mam-" + archive::stanza_id_text(rec.id));
    xml::Element& result = out.add_child("result", std::string(kNsMam));
    if (!queryid.empty()) result.set_attr("queryid", queryid);
    result.set_attr("id", archive::stanza_id_text(rec.id));
    xml::Element& fwd = result.add_child("forwarded", std::string(kNsForward));
    fwd.add_child("delay", std::string(kNsDelay)).set_attr("stamp", format_datetime(archive::id_time_ms(rec.id)));
    fwd.add_child(std::move(m));
    return out;
}

xml::Element jid_list(const char* name, const std::vector<std::string>& jids) {
    xml::Element list(name, std::string(kNsMam));
    for (const std::string& j : jids) list.add_child("jid", std::string(kNsMam)).add_text(j);
    return list;
}

}  // namespace

xml::Element prefs_element(const archive::Prefs& p) {
    xml::Element prefs("prefs", std::string(kNsMam));
    prefs.set_attr("default", archive::to_string(p.default_mode));
    prefs.add_child(jid_list("always", p.always));
    prefs.add_child(jid_list("never", p.never));
    return prefs;
}

std::variant<archive::Prefs, StanzaError> parse_prefs(const xml::Element& el) {
    archive::Prefs p;
    auto d = archive::parse_default(el.attr_or("default"));
    if (!d) return StanzaError::modify("bad-request", "'default' must be always, never or roster");
    p.default_mode = *d;
    for (const char* name : {"always", "never"}) {
        const xml::Element* list = el.child(name, kNsMam);
        if (!list) continue;
        std::vector<std::string>& into = std::string_view(name) == "always" ? p.always : p.never;
        for (const xml::Element& j : list->children()) {
            if (j.name() != "jid" || j.ns() != kNsMam) continue;
            auto jid = xmpp::Jid::parse(j.text());
            if (!jid) return StanzaError::modify("jid-malformed", "'" + j.text() + "' is not a JID");
            std::string bare = jid->bare_str();
            if (std::find(into.begin(), into.end(), bare) == into.end()) into.push_back(std::move(bare));
            if (into.size() > kMaxPrefsJids)
                return StanzaError::modify("not-acceptable", fmt::format("at most {} JIDs in each list", kMaxPrefsJids));
        }
    }
    return p;
}

Status Mam::start(module::Host& host) {
    host_ = &host;
    archive_ = module::service<archive::JournalService>(host);
    if (!archive_) return Status::error("config", "mam needs the archive module (add \"archive\" to the modules)");
    alive_ = std::make_shared<bool>(true);
    using T = module::IqTarget;
    Status s = host.iq_handler(T::account, "set", kNsMam, "query", [this](auto& req, auto r) { query(req, r); });
    if (s) s = host.iq_handler(T::account, "get", kNsMam, "query", [this](auto& req, auto r) {
        if (own(req, *r)) r->result(query_form());
    });
    if (s) s = host.iq_handler(T::account, "get", kNsMam, "metadata", [this](auto& req, auto r) { metadata(req, r); });
    if (s) s = host.iq_handler(T::account, "get", kNsMam, "prefs", [this](auto& req, auto r) { get_prefs(req, r); });
    if (s) s = host.iq_handler(T::account, "set", kNsMam, "prefs", [this](auto& req, auto r) { set_prefs(req, r); });
    if (!s) return s;
    host.account_disco_feature(std::string(kNsMam));
    host.account_disco_feature(std::string(kNsMamExtended));
    return Status::ok();
}

void Mam::stop() { alive_.reset(); }

bool Mam::own(const module::IqRequest& req, module::IqResponder& r) const {
    if (req.to.bare() == req.from.bare()) return true;
    r.error(StanzaError::cancel("forbidden", "only the owner of an archive may use it"));
    return false;
}

void Mam::query(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (!own(req, *r)) return;
    auto parsed = parse_query(req.payload);
    if (auto* e = std::get_if<StanzaError>(&parsed)) {
        r->error(*e);
        return;
    }
    const Query& q = std::get<Query>(parsed);
    auto db = archive_->database(host_->worker_index());
    if (!db) {
        r->error(StanzaError::wait("internal-server-error", "the archive is not open"));
        return;
    }
    const std::string owner = req.from.bare_str();
    const archive::Journal& journal = archive_->journal();
    std::vector<xml::Element> results;
    Page page;
    std::optional<StanzaError> refusal;
    Status s = db->read([&](const store::Txn& t, MDB_dbi dbi) {
        MDB_txn* txn = t.handle();
        for (auto id : {q.rsm_after, q.rsm_before_id, q.after_id, q.before_id})
            if (id && !in_view(journal, txn, dbi, owner, *id)) {
                refusal = StanzaError::cancel("item-not-found", "no message with that id is in the archive");
                return Status::ok();
            }
        if (!q.ids.empty()) {
            for (uint64_t id : q.ids)
                if (!in_view(journal, txn, dbi, owner, id)) {
                    refusal = StanzaError::cancel("item-not-found", "no message with that id is in the archive");
                    return Status::ok();
                }
            page.ids = q.ids;
            std::sort(page.ids.begin(), page.ids.end());
            page.ids.erase(std::unique(page.ids.begin(), page.ids.end()), page.ids.end());
            page.complete = true;
        } else {
            const std::string peer = q.with ? q.with->bare_str() : std::string();
            const std::string full = q.with && q.with->has_resource() ? q.with->str() : std::string();
            ViewScan scan = [&](uint64_t after, uint64_t before, bool backward, const std::function<bool(uint64_t)>& fn) {
                Status v = journal.view(txn, dbi, {owner, peer, after, before, backward}, fn);
                if (!v) log::error("mam", "reading the archive of {}: {}", owner, v.to_string());
            };
            auto keep = [&](uint64_t id) {
                if (full.empty()) return true;
                auto rec = journal.get(txn, dbi, id);
                return rec && *rec && ((*rec)->entry.from == full || (*rec)->entry.to == full);
            };
            page = select_page(q, scan, keep);
        }
        for (uint64_t id : page.ids) {
            auto rec = journal.get(txn, dbi, id);
            if (!rec) return rec.status();
            if (!*rec) continue;
            if (auto m = result_message(**rec, req, owner, q.queryid)) results.push_back(std::move(*m));
        }
        return Status::ok();
    });
    if (!s) {
        log::error("mam", "a query of {} failed: {}", owner, s.to_string());
        r->error(StanzaError::wait("internal-server-error", "the archive cannot be read now"));
        return;
    }
    if (refusal) {
        r->error(*refusal);
        return;
    }
    if (q.flip) std::reverse(results.begin(), results.end());
    std::optional<module::SessionInfo> to;
    for (const auto& session : host_->sessions_of(req.from.bare()))
        if (session.full_jid == req.from) to = session;
    if (to)
        for (xml::Element& m : results) host_->send_to_session(*to, std::move(m), module::Delivery::direct);

    std::vector<uint64_t> sent = page.ids;
    if (q.flip) std::reverse(sent.begin(), sent.end());
    xml::Element fin("fin", std::string(kNsMam));
    if (page.complete) fin.set_attr("complete", "true");
    xml::Element& set = fin.add_child("set", std::string(kNsRsm));
    if (!sent.empty()) {
        set.add_child("first", std::string(kNsRsm)).add_text(archive::stanza_id_text(sent.front()));
        set.add_child("last", std::string(kNsRsm)).add_text(archive::stanza_id_text(sent.back()));
    } else {
        set.add_child("count", std::string(kNsRsm)).add_text("0");
    }
    r->result(std::move(fin));
}

void Mam::metadata(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (!own(req, *r)) return;
    auto db = archive_->database(host_->worker_index());
    if (!db) {
        r->error(StanzaError::wait("internal-server-error", "the archive is not open"));
        return;
    }
    const std::string owner = req.from.bare_str();
    std::optional<uint64_t> first, last;
    Status s = db->read([&](const store::Txn& t, MDB_dbi dbi) {
        const archive::Journal& j = archive_->journal();
        Status a = j.view(t.handle(), dbi, {owner, "", 0, UINT64_MAX, false}, [&](uint64_t id) {
            first = id;
            return false;
        });
        if (!a) return a;
        return j.view(t.handle(), dbi, {owner, "", 0, UINT64_MAX, true}, [&](uint64_t id) {
            last = id;
            return false;
        });
    });
    if (!s) {
        r->error(StanzaError::wait("internal-server-error", "the archive cannot be read now"));
        return;
    }
    xml::Element meta("metadata", std::string(kNsMam));
    if (first && last) {
        for (auto [name, id] : {std::pair{"start", *first}, std::pair{"end", *last}}) {
            xml::Element& e = meta.add_child(name, std::string(kNsMam));
            e.set_attr("id", archive::stanza_id_text(id));
            e.set_attr("timestamp", format_datetime(archive::id_time_ms(id)));
        }
    }
    r->result(std::move(meta));
}

void Mam::get_prefs(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (!own(req, *r)) return;
    auto p = archive_->prefs(host_->worker_index(), req.from.bare_str());
    if (!p) {
        r->error(StanzaError::wait("internal-server-error", "the preferences cannot be read now"));
        return;
    }
    r->result(prefs_element(*p));
}

void Mam::set_prefs(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (!own(req, *r)) return;
    auto parsed = parse_prefs(req.payload);
    if (auto* e = std::get_if<StanzaError>(&parsed)) {
        r->error(*e);
        return;
    }
    archive::Prefs p = std::get<archive::Prefs>(parsed);
    std::weak_ptr<bool> alive = alive_;
    Status s = archive_->set_prefs(*host_, req.from.bare_str(), p, [alive, r, p](Status done) {
        if (alive.expired()) return;
        if (!done) {
            r->error(StanzaError::wait("internal-server-error", "the preferences could not be stored"));
            return;
        }
        r->result(prefs_element(p));
    });
    if (!s) r->error(StanzaError::wait("resource-constraint", "the server cannot store preferences now"));
}

}  // namespace parley::mod_mam
