#include "mam.hpp"
#include "page.hpp"

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
    auto page = read_page(archive_->journal(), *db, req.from.bare_str(), q, req.from);
    if (auto* e = std::get_if<StanzaError>(&page)) {
        r->error(*e);
        return;
    }
    PageAnswer& answer = std::get<PageAnswer>(page);
    std::optional<module::SessionInfo> to;
    for (const auto& session : host_->sessions_of(req.from.bare()))
        if (session.full_jid == req.from) to = session;
    if (to)
        for (xml::Element& m : answer.results) host_->send_to_session(*to, std::move(m), module::Delivery::direct);
    r->result(std::move(answer.fin));
}

void Mam::metadata(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (!own(req, *r)) return;
    auto db = archive_->database(host_->worker_index());
    if (!db) {
        r->error(StanzaError::wait("internal-server-error", "the archive is not open"));
        return;
    }
    auto meta = read_metadata(archive_->journal(), *db, req.from.bare_str());
    if (auto* e = std::get_if<StanzaError>(&meta)) {
        r->error(*e);
        return;
    }
    r->result(std::move(std::get<xml::Element>(meta)));
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
