// mod_disco: XEP-0030 Service Discovery for the server's domains.
//
// disco#info to a served domain lists the server identity (server/im) and
// every feature the running modules registered on this worker — so disco
// advertises exactly what is loaded (a module that stops takes its features
// with it). disco#items lists the configured items (none yet: components,
// MUC and upload services register theirs when they exist). A query for a
// node the server does not have gets item-not-found.
//
// Queries to an account's bare JID are answered for the account (XEP-0030
// §3.1, as the compliance suites expect of a server): identity
// account/registered plus what modules serve on behalf of accounts
// (Host::account_disco_*), to the account itself and to those it shares its
// presence with (a subscription from or both, through the roster service);
// anyone else gets the same service-unavailable that an account that does
// not exist gets, so disco does not tell who has an account. One instance
// per worker; loop-affine.
#pragma once

#include <string>

#include "config/config.hpp"
#include "module/module_api.hpp"

namespace parley::mod_disco {

inline constexpr const char* kNsInfo = "http://jabber.org/protocol/disco#info";
inline constexpr const char* kNsItems = "http://jabber.org/protocol/disco#items";

class ServiceDiscovery final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override { return configure(section); }

    // The disco#info result payload for the server, from what the host knows.
    static xml::Element info(const module::Host& host);
    // The same for an account (identity account/registered first).
    static xml::Element account_info(const module::Host& host);

private:
    // Whether `requester` may see `account`'s disco.
    bool may_see(const xmpp::Jid& account, const xmpp::Jid& requester) const;

    std::string name_ = "Parley";
    module::Host* host_ = nullptr;
};

extern const config::OptionSpec kOptions[];
inline constexpr size_t kOptionCount = 1;
extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;


}  // namespace parley::mod_disco
