// A MAM query (XEP-0313 urn:xmpp:mam:2 and #extended) as the module reads
// it, and the page it selects.
//
// parse_query() reads the <query/> of an iq set: its data form (FORM_TYPE,
// with, start, end, before-id, after-id, ids), its RSM <set/> (XEP-0059: max,
// after, before, an empty <before/> for the last page) and <flip-page/>.
// Unknown fields are refused with feature-not-implemented (§4.1.1), values
// that do not parse with bad-request, and ids that cannot be in the archive
// with item-not-found. select_page() walks an owner's view (any source of
// ids in order, so that it is tested without a database) and picks the page.
//
// Pure functions: any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "errors/stanza_error.hpp"
#include "xml/element.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/jid.hpp"

namespace parley::mod_mam {

inline constexpr std::string_view kNsMam = "urn:xmpp:mam:2";
inline constexpr std::string_view kNsMamExtended = "urn:xmpp:mam:2#extended";
inline constexpr std::string_view kNsRsm = "http://jabber.org/protocol/rsm";
inline constexpr std::string_view kNsData = "jabber:x:data";
inline constexpr std::string_view kNsForward = "urn:xmpp:forward:0";
inline constexpr std::string_view kNsDelay = "urn:xmpp:delay";

inline constexpr size_t kDefaultMax = 50;   // a page when the client names no max
inline constexpr size_t kLimitMax = 250;    // the largest page the server sends
inline constexpr size_t kMaxIds = 250;      // ids in one 'ids' field

struct Query {
    std::string queryid;
    std::optional<xmpp::Jid> with;
    std::optional<uint64_t> start_ms, end_ms;   // inclusive
    std::optional<uint64_t> after_id, before_id;  // exclusive (form, #extended)
    std::vector<uint64_t> ids;                  // single-item retrieval (#extended)
    size_t max = kDefaultMax;
    std::optional<uint64_t> rsm_after;
    bool rsm_before = false;                    // page backwards (from the end)
    std::optional<uint64_t> rsm_before_id;      // ... from before this id
    bool flip = false;
};

std::variant<Query, StanzaError> parse_query(const xml::Element& query);

// XEP-0082 date-time: "2010-06-07T00:00:00Z", fractions and offsets allowed
// (xmpp/datetime.hpp, the DateTime profile).
inline std::optional<uint64_t> parse_datetime(std::string_view text) { return xmpp::parse_datetime(text); }
// "2010-06-07T00:00:00.123Z" (UTC, milliseconds).
inline std::string format_datetime(uint64_t ms) { return xmpp::format_datetime(ms); }

// The exclusive id bounds of a query's range (its form and RSM together).
struct Bounds {
    uint64_t after = 0;
    uint64_t before = UINT64_MAX;
};
Bounds bounds_of(const Query& q);

// Ids of the owner's view in order, strictly between after and before
// (backward: newest first); fn returns false to stop.
using ViewScan = std::function<void(uint64_t after, uint64_t before, bool backward,
                                    const std::function<bool(uint64_t id)>& fn)>;

struct Page {
    std::vector<uint64_t> ids;  // chronological (flip-page is the sender's business)
    bool complete = false;
};
// `keep` filters candidates (e.g. a 'with' full JID); at most `max_examined`
// candidates are looked at, past that the page ends incomplete.
Page select_page(const Query& q, const ViewScan& scan, const std::function<bool(uint64_t id)>& keep,
                 size_t max_examined = 10000);

// The empty form that an iq get of <query/> returns (§4.1.1).
xml::Element query_form();

}  // namespace parley::mod_mam
