#include "ping.hpp"

namespace parley::mod_ping {

const module::XepInfo kXeps[] = {{"0199", "2.0.1", "complete: server answers pings to its domains"}};

Status Ping::start(module::Host& host) {
    Status s = host.iq_handler(module::IqTarget::server, "get", kNsPing, "ping",
                               [](const module::IqRequest&, std::shared_ptr<module::IqResponder> r) {
                                   r->result(std::nullopt);
                               });
    if (!s) return s;
    host.disco_feature(kNsPing);
    return Status::ok();
}

}  // namespace parley::mod_ping
