// mod_ping: XEP-0199 XMPP Ping, answered by the server for its domains.
//
// A client (or, later, a peer server) sends <iq type='get'><ping
// xmlns='urn:xmpp:ping'/></iq> to a served domain; the server answers with an
// empty result. Pings to a full JID are routed to that client by the core,
// as any iq is. One instance per worker; loop-affine.
#pragma once

#include "module/module_api.hpp"

namespace parley::mod_ping {

inline constexpr const char* kNsPing = "urn:xmpp:ping";

class Ping final : public module::Module {
public:
    Status start(module::Host& host) override;
};

extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;

}  // namespace parley::mod_ping
