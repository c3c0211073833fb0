#include "service_discovery.hpp"

#include <algorithm>

#include "../roster/roster_service.hpp"

namespace parley::mod_disco {

const config::OptionSpec kOptions[] = {
    {"name", config::OptionType::string, "Parley", "name of the server identity (category server, type im)"},
};
const module::XepInfo kXeps[] = {{"0030", "2.5rc3",
                                  "complete for the server's own info and items (the domains modules own) and for "
                                  "accounts' bare JIDs (to the account and its presence subscribers)"}};

Status ServiceDiscovery::configure(const config::Section& section) {
    std::string name = section.get_string("name", "Parley");
    if (name.empty()) return Status::error("config", "name must not be empty");
    name_ = std::move(name);
    return Status::ok();
}

xml::Element ServiceDiscovery::info(const module::Host& host) {
    xml::Element q("query", kNsInfo);
    for (const auto& id : host.disco_identities()) {
        auto& e = q.add_child("identity", kNsInfo);
        e.set_attr("category", id.category);
        e.set_attr("type", id.type);
        if (!id.name.empty()) e.set_attr("name", id.name);
    }
    for (const auto& f : host.disco_features()) q.add_child("feature", kNsInfo).set_attr("var", f);
    return q;
}

xml::Element ServiceDiscovery::account_info(const module::Host& host) {
    xml::Element q("query", kNsInfo);
    auto add_identity = [&q](const module::DiscoIdentity& id) {
        auto& e = q.add_child("identity", kNsInfo);
        e.set_attr("category", id.category);
        e.set_attr("type", id.type);
        if (!id.name.empty()) e.set_attr("name", id.name);
    };
    add_identity(module::DiscoIdentity{"account", "registered", ""});
    for (const auto& id : host.account_disco_identities()) add_identity(id);
    std::vector<std::string> features = host.account_disco_features();
    features.push_back(kNsInfo);
    features.push_back(kNsItems);
    std::sort(features.begin(), features.end());
    features.erase(std::unique(features.begin(), features.end()), features.end());
    for (const auto& f : features) q.add_child("feature", kNsInfo).set_attr("var", f);
    return q;
}

bool ServiceDiscovery::may_see(const xmpp::Jid& account, const xmpp::Jid& requester) const {
    if (requester.bare() == account.bare()) return true;
    auto* rosters = module::service<roster::RosterService>(*host_);
    return rosters && rosters->presence_visible_to(host_->worker_index(), account.bare(), requester.bare());
}

Status ServiceDiscovery::start(module::Host& host) {
    host_ = &host;
    // The identity is registered at start, so a reload that renames it takes
    // effect on the next start; the name itself is read per request.
    host.disco_identity(module::DiscoIdentity{"server", "im", name_});
    host.disco_feature(kNsInfo);
    host.disco_feature(kNsItems);
    Status s = host.iq_handler(module::IqTarget::server, "get", kNsInfo, "query",
                               [this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
                                   if (!req.payload.attr_or("node").empty()) {
                                       r->error(StanzaError::cancel("item-not-found", "no such node"));
                                       return;
                                   }
                                   r->result(info(*host_));
                               });
    if (!s) return s;
    s = host.iq_handler(module::IqTarget::server, "get", kNsItems, "query",
                           [this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
                               if (!req.payload.attr_or("node").empty()) {
                                   r->error(StanzaError::cancel("item-not-found", "no such node"));
                                   return;
                               }
                               // The services modules run on their own domains
                               // under this virtual host (e.g. group chat).
                               xml::Element q("query", kNsItems);
                               for (const auto& d : host_->domains_of(req.to.domain()))
                                   q.add_child("item", kNsItems).set_attr("jid", d);
                               r->result(std::move(q));
                           });
    if (!s) return s;
    // Accounts (the router brings only queries to accounts that exist).
    s = host.iq_handler(module::IqTarget::account, "get", kNsInfo, "query",
                        [this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
                            if (!may_see(req.to, req.from)) {
                                r->error(recipient_unavailable());
                                return;
                            }
                            if (!req.payload.attr_or("node").empty()) {
                                if (!host_->account_disco_node(req, r))
                                    r->error(StanzaError::cancel("item-not-found", "no such node"));
                                return;
                            }
                            r->result(account_info(*host_));
                        });
    if (!s) return s;
    return host.iq_handler(module::IqTarget::account, "get", kNsItems, "query",
                           [this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
                               if (!may_see(req.to, req.from)) {
                                   r->error(recipient_unavailable());
                                   return;
                               }
                               if (!req.payload.attr_or("node").empty()) {
                                   if (!host_->account_disco_node(req, r))
                                       r->error(StanzaError::cancel("item-not-found", "no such node"));
                                   return;
                               }
                               xml::Element q("query", kNsItems);
                               for (const auto& i : host_->account_disco_item_list(req.to.bare(), req.from)) {
                                   auto& e = q.add_child("item", kNsItems);
                                   e.set_attr("jid", i.jid);
                                   if (!i.node.empty()) e.set_attr("node", i.node);
                                   if (!i.name.empty()) e.set_attr("name", i.name);
                               }
                               r->result(std::move(q));
                           });
}

}  // namespace parley::mod_disco
