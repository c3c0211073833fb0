// Bookmarks: the XEP-0048 view (<storage xmlns='storage:bookmarks'/>) of
// the XEP-0402 node urn:xmpp:bookmarks:1, both ways (XEP-0402 §5.3
// "Compatibility"): what a legacy client stores in private XML storage
// becomes one item per room on the node (unchanged rooms untouched, removed
// rooms retracted), and what it reads is built from the node's items. URL
// bookmarks, which XEP-0402 dropped, are kept in private storage beside it.
// Pure functions: any thread.
#pragma once

#include <string>
#include <vector>

#include "node_store.hpp"
#include "xml/element.hpp"

namespace parley::mod_pep {

struct LegacyBookmarks {
    // (room JID = item id, <conference xmlns='urn:xmpp:bookmarks:1'/>), in document order, one per room.
    std::vector<std::pair<std::string, xml::Element>> rooms;
    // Everything else of the <storage/> (e.g. <url/> bookmarks), kept as is.
    xml::Element rest{"storage", "storage:bookmarks"};
};

// Splits a legacy <storage/>; conferences without a valid jid are dropped.
LegacyBookmarks from_legacy(const xml::Element& storage);
// The legacy <storage/> of the node's items (oldest first) and the kept rest.
xml::Element to_legacy(const std::vector<StoredItem>& items, const xml::Element* rest);

}  // namespace parley::mod_pep
