// One page of a MAM query (XEP-0313) over one archive view of the journal:
// a user's (mod_mam) or a room's (mod_muc, each module builds this file in).
//
// read_page() checks the ids the query names, selects the page in one MVCC
// read transaction of the worker's journal handle, and builds the result
// messages (from `owner` to `requester`, each with its <forwarded/> record)
// and the <fin/> with its RSM set. The caller sends the results, then the
// iq result with the fin.
//
// Loop-affine through `db` (the calling worker's handle).
#pragma once

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "../archive/journal_service.hpp"
#include "module/module_api.hpp"
#include "query.hpp"

namespace parley::mod_mam {

struct PageAnswer {
    std::vector<xml::Element> results;
    xml::Element fin{"fin", std::string(kNsMam)};
};

// What may be added to each forwarded message as it is sent (a room adds
// the sender's real JID for those who may see it).
using Annotate = std::function<void(xml::Element& message, const archive::Record& record)>;

// `floor`: ids below it are not in this archive (a room made again under
// an old name starts with its own history).
std::variant<PageAnswer, StanzaError> read_page(const archive::Journal& journal, const module::Database& db,
                                                const std::string& owner, const Query& q,
                                                const xmpp::Jid& requester, uint64_t floor = 0,
                                                const Annotate& annotate = {});

// The <metadata/> of a view (§6: its first and last record), or an error.
std::variant<xml::Element, StanzaError> read_metadata(const archive::Journal& journal, const module::Database& db,
                                                      const std::string& owner, uint64_t floor = 0);

}  // namespace parley::mod_mam
