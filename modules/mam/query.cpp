#include "query.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>

#include "../archive/journal_service.hpp"
#include "archive/journal/journal.hpp"

namespace parley::mod_mam {

namespace {

StanzaError bad(std::string text) { return StanzaError::modify("bad-request", std::move(text)); }

std::vector<std::string> values(const xml::Element& field) {
    std::vector<std::string> out;
    for (const xml::Element& v : field.children())
        if (v.name() == "value" && v.ns() == kNsData) out.push_back(v.text());
    return out;
}

// An archive id as the client wrote it, or the error for one that cannot be
// in the archive.
std::variant<uint64_t, StanzaError> archive_id(std::string_view text) {
    auto id = archive::parse_stanza_id(text);
    if (!id) return StanzaError::cancel("item-not-found", "no message with that id is in the archive");
    return *id;
}

}  // namespace

std::variant<Query, StanzaError> parse_query(const xml::Element& query) {
    Query q;
    q.queryid = std::string(query.attr_or("queryid"));
    if (q.queryid.size() > 256) return bad("the queryid is too long");
    if (const xml::Element* x = query.child("x", kNsData)) {
        if (x->attr_or("type") != "submit" && !x->attr_or("type").empty())
            return bad("the query form must be of type submit");
        for (const xml::Element& f : x->children()) {
            if (f.name() != "field" || f.ns() != kNsData) continue;
            const std::string var(f.attr_or("var"));
            std::vector<std::string> vs = values(f);
            if (var == "FORM_TYPE") {
                if (vs.size() != 1 || vs[0] != kNsMam) return bad("FORM_TYPE must be urn:xmpp:mam:2");
                continue;
            }
            if (var == "ids") {
                if (vs.size() > kMaxIds) return bad(fmt::format("at most {} ids in one query", kMaxIds));
                for (const std::string& v : vs) {
                    auto id = archive_id(v);
                    if (auto* e = std::get_if<StanzaError>(&id)) return *e;
                    q.ids.push_back(std::get<uint64_t>(id));
                }
                continue;
            }
            if (vs.size() > 1) return bad("the field '" + var + "' takes one value");
            if (vs.empty() || vs[0].empty()) {
                if (var == "with" || var == "start" || var == "end" || var == "before-id" || var == "after-id")
                    continue;  // an empty field does not restrict
                return StanzaError::cancel("feature-not-implemented", "the field '" + var + "' is not supported");
            }
            const std::string& v = vs[0];
            if (var == "with") {
                auto j = xmpp::Jid::parse(v);
                if (!j) return StanzaError::modify("jid-malformed", "the 'with' field is not a JID");
                q.with = *j;
            } else if (var == "start" || var == "end") {
                auto t = parse_datetime(v);
                if (!t) return bad("the '" + var + "' field is not an XEP-0082 date-time");
                (var == "start" ? q.start_ms : q.end_ms) = *t;
            } else if (var == "before-id" || var == "after-id") {
                auto id = archive_id(v);
                if (auto* e = std::get_if<StanzaError>(&id)) return *e;
                (var == "before-id" ? q.before_id : q.after_id) = std::get<uint64_t>(id);
            } else {
                return StanzaError::cancel("feature-not-implemented", "the field '" + var + "' is not supported");
            }
        }
    }
    if (const xml::Element* set = query.child("set", kNsRsm)) {
        if (const xml::Element* m = set->child("max", kNsRsm)) {
            const std::string t = m->text();
            size_t max = 0;
            auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), max);
            if (ec != std::errc() || p != t.data() + t.size()) return bad("RSM <max/> is not a number");
            q.max = std::min(max, kLimitMax);
        } else {
            q.max = kDefaultMax;
        }
        const xml::Element* after = set->child("after", kNsRsm);
        const xml::Element* before = set->child("before", kNsRsm);
        if (after && before) return bad("RSM <after/> and <before/> together: use after-id and before-id");
        if (after) {
            auto id = archive_id(after->text());
            if (auto* e = std::get_if<StanzaError>(&id)) return *e;
            q.rsm_after = std::get<uint64_t>(id);
        }
        if (before) {
            q.rsm_before = true;
            if (!before->text().empty()) {
                auto id = archive_id(before->text());
                if (auto* e = std::get_if<StanzaError>(&id)) return *e;
                q.rsm_before_id = std::get<uint64_t>(id);
            }
        }
        if (set->child("index", kNsRsm)) return StanzaError::cancel("feature-not-implemented", "RSM <index/> is not supported");
    }
    q.flip = query.child("flip-page", kNsMam) != nullptr;
    if (q.start_ms && q.end_ms && *q.start_ms > *q.end_ms) return bad("'start' is after 'end'");
    return q;
}

Bounds bounds_of(const Query& q) {
    Bounds b;
    auto raise = [&](uint64_t v) { b.after = std::max(b.after, v); };
    auto lower = [&](uint64_t v) { b.before = std::min(b.before, v); };
    if (q.start_ms && *q.start_ms > 0) raise(archive::first_id_at(*q.start_ms) - 1);
    if (q.end_ms) lower(archive::first_id_at(*q.end_ms + 1));
    if (q.after_id) raise(*q.after_id);
    if (q.before_id) lower(*q.before_id);
    if (q.rsm_after) raise(*q.rsm_after);
    if (q.rsm_before_id) lower(*q.rsm_before_id);
    return b;
}

Page select_page(const Query& q, const ViewScan& scan, const std::function<bool(uint64_t id)>& keep,
                 size_t max_examined) {
    Page page;
    const Bounds b = bounds_of(q);
    if (b.after != UINT64_MAX && b.before <= b.after + 1) {
        page.complete = true;
        return page;
    }
    const size_t want = q.max + 1;  // one more than a page tells whether more follow
    size_t examined = 0;
    bool cut = false;
    scan(b.after, b.before, q.rsm_before, [&](uint64_t id) {
        if (++examined > max_examined) {
            cut = true;
            return false;
        }
        if (!keep(id)) return true;
        page.ids.push_back(id);
        return page.ids.size() < want;
    });
    page.complete = !cut && page.ids.size() <= q.max;
    if (page.ids.size() > q.max) page.ids.resize(q.max);
    if (q.rsm_before) std::reverse(page.ids.begin(), page.ids.end());
    return page;
}

xml::Element query_form() {
    xml::Element query("query", std::string(kNsMam));
    xml::Element& x = query.add_child("x", std::string(kNsData));
    x.set_attr("type", "form");
    auto field = [&](const char* var, const char* type) -> xml::Element& {
        xml::Element& f = x.add_child("field", std::string(kNsData));
        f.set_attr("var", var);
        f.set_attr("type", type);
        return f;
    };
    field("FORM_TYPE", "hidden").add_child("value", std::string(kNsData)).add_text(std::string(kNsMam));
    field("with", "jid-single");
    field("start", "text-single");
    field("end", "text-single");
    field("before-id", "text-single");
    field("after-id", "text-single");
    field("ids", "list-multi")
        .add_child("validate", "http://jabber.org/protocol/xdata-validate")
        .add_child("open", "http://jabber.org/protocol/xdata-validate");
    return query;
}

}  // namespace parley::mod_mam
