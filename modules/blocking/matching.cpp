#include "matching.hpp"

namespace parley::mod_blocking {

std::vector<std::string> items_catching(const xmpp::Jid& jid) {
    std::vector<std::string> out;
    if (jid.empty()) return out;
    if (jid.has_node()) {
        if (jid.has_resource()) out.push_back(jid.str());
        out.push_back(jid.bare_str());
    } else if (jid.has_resource()) {
        out.push_back(jid.str());
    }
    out.push_back(jid.domain());
    return out;
}

bool catches(const xmpp::Jid& item, const xmpp::Jid& jid) {
    if (item.empty() || jid.empty() || item.domain() != jid.domain()) return false;
    if (!item.has_node() && !item.has_resource()) return true;  // the domain: everything at it
    // user@domain/resource, user@domain, domain/resource: the user part
    // must be the same (none for domain/resource).
    if (item.node() != jid.node()) return false;
    if (!item.has_resource()) return true;  // user@domain: any resource
    return item.resource() == jid.resource();
}

bool exempt(const xmpp::Jid& user, const xmpp::Jid& jid) {
    if (jid.domain() != user.domain()) return false;
    return !jid.has_node() || jid.node() == user.node();
}

}  // namespace parley::mod_blocking
