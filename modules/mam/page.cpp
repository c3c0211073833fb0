#include "page.hpp"

#include <algorithm>
#include <optional>

#include "log/log.hpp"
#include "xml/parse_element.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_mam {

namespace {

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
std::optional<xml::Element> result_message(const archive::Record& rec, const xmpp::Jid& requester,
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
    out.set_attr("to", requester.str());
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

}  // namespace

std::variant<PageAnswer, StanzaError> read_page(const archive::Journal& journal, const module::Database& db,
                                                const std::string& owner, const Query& q,
                                                const xmpp::Jid& requester, uint64_t floor, const Annotate& annotate) {
    std::vector<xml::Element> results;
    Page page;
    std::optional<StanzaError> refusal;
    Status s = db.read([&](const store::Txn& t, MDB_dbi dbi) {
        MDB_txn* txn = t.handle();
        for (auto id : {q.rsm_after, q.rsm_before_id, q.after_id, q.before_id})
            if (id && (*id < floor || !in_view(journal, txn, dbi, owner, *id))) {
                refusal = StanzaError::cancel("item-not-found", "no message with that id is in the archive");
                return Status::ok();
            }
        if (!q.ids.empty()) {
            for (uint64_t id : q.ids)
                if (id < floor || !in_view(journal, txn, dbi, owner, id)) {
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
                Status v = journal.view(txn, dbi, {owner, peer, std::max(after, floor ? floor - 1 : 0), before, backward}, fn);
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
            if (auto m = result_message(**rec, requester, owner, q.queryid)) {
                if (annotate) annotate(*m->child("result", kNsMam)->child("forwarded", kNsForward)->child("message", xmpp::kNsClient), **rec);
                results.push_back(std::move(*m));
            }
        }
        return Status::ok();
    });
    if (!s) {
        log::error("mam", "a query of {} failed: {}", owner, s.to_string());
        return StanzaError::wait("internal-server-error", "the archive cannot be read now");
    }
    if (refusal) return *refusal;
    if (q.flip) std::reverse(results.begin(), results.end());
    PageAnswer answer;
    answer.results = std::move(results);
    std::vector<uint64_t> sent = page.ids;
    if (q.flip) std::reverse(sent.begin(), sent.end());
    if (page.complete) answer.fin.set_attr("complete", "true");
    xml::Element& set = answer.fin.add_child("set", std::string(kNsRsm));
    if (!sent.empty()) {
        set.add_child("first", std::string(kNsRsm)).add_text(archive::stanza_id_text(sent.front()));
        set.add_child("last", std::string(kNsRsm)).add_text(archive::stanza_id_text(sent.back()));
    } else {
        set.add_child("count", std::string(kNsRsm)).add_text("0");
    }
    return answer;
}

std::variant<xml::Element, StanzaError> read_metadata(const archive::Journal& j, const module::Database& db,
                                                      const std::string& owner, uint64_t floor) {
    std::optional<uint64_t> first, last;
    Status s = db.read([&](const store::Txn& t, MDB_dbi dbi) {
        const uint64_t after = floor ? floor - 1 : 0;
        Status a = j.view(t.handle(), dbi, {owner, "", after, UINT64_MAX, false}, [&](uint64_t id) {
            first = id;
            return false;
        });
        if (!a) return a;
        return j.view(t.handle(), dbi, {owner, "", after, UINT64_MAX, true}, [&](uint64_t id) {
            last = id;
            return false;
        });
    });
    if (!s) return StanzaError::wait("internal-server-error", "the archive cannot be read now");
    xml::Element meta("metadata", std::string(kNsMam));
    if (first && last) {
        for (auto [name, id] : {std::pair{"start", *first}, std::pair{"end", *last}}) {
            xml::Element& e = meta.add_child(name, std::string(kNsMam));
            e.set_attr("id", archive::stanza_id_text(id));
            e.set_attr("timestamp", format_datetime(archive::id_time_ms(id)));
        }
    }
    return meta;
}

}  // namespace parley::mod_mam
