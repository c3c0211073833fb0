// libFuzzer target: JID parsing and preparation (server/xmpp/jid). Any
// input: no crash; a JID that parses prints to a string that parses to the
// same JID (preparation is idempotent), with every part at most 1023 bytes;
// the printable-ASCII fast paths accept and prepare exactly what libidn's
// stringprep profiles do.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "xmpp/jid.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using parley::xmpp::Jid;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    auto j = Jid::parse(in);
    parley::xmpp::detail::set_fast_paths(false);
    auto slow = Jid::parse(in);
    parley::xmpp::detail::set_fast_paths(true);
    if (j.is_ok() != slow.is_ok()) std::abort();
    if (j && j->str() != slow->str()) std::abort();
    if (!j) return 0;
    if (j->node().size() > 1023 || j->domain().size() > 1023 || j->resource().size() > 1023) std::abort();
    auto again = Jid::parse(j->str());
    if (!again || !(again.value() == j.value())) std::abort();
    auto bare = Jid::parse(j->bare_str());
    if (!bare || !(bare.value() == j->bare())) std::abort();
    return 0;
}
