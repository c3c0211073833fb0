#include "s2s/receive.hpp"

#include "component/handshake.hpp"
#include "log/log.hpp"
#include "loop/worker.hpp"
#include "router/router.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::s2s {

using xmpp::StreamErrorCondition;

bool served_here(const loop::Worker& worker, const std::string& domain) {
    auto& w = const_cast<loop::Worker&>(worker);
    const config::Config& cfg = w.config();
    return cfg.find_host(domain) || cfg.find_component(domain) || w.hooks().find_domain(domain);
}

std::optional<StreamRefusal> receive_stanza(loop::Worker& worker, const xml::Element& in,
                                            const std::function<bool(const std::string&)>& may_come_from,
                                            const std::function<bool(const std::string&)>& may_go_to,
                                            const std::string& peer) {
    const std::string* from_attr = in.attr("from");
    const std::string* to_attr = in.attr("to");
    if (!from_attr || !to_attr)
        return StreamRefusal{StreamErrorCondition::improper_addressing,
                             "stanzas between servers carry both 'from' and 'to'"};
    auto from = xmpp::Jid::parse(*from_attr);
    if (!from || !may_come_from(from->domain())) {
        log::warn("s2s", "{}: a stanza from '{}', not at a domain authenticated on this stream: closed", peer,
                  *from_attr);
        return StreamRefusal{StreamErrorCondition::invalid_from,
                             "the 'from' address is not at a domain authenticated on this stream"};
    }
    auto to = xmpp::Jid::parse(*to_attr);
    const std::string& name = in.name();
    xml::Element stanza = component::translate_ns(in, xmpp::kNsServer, xmpp::kNsClient);
    stanza.set_attr("from", from->str());
    auto& router = worker.router();
    if (!to || to->empty()) {
        stanza.remove_attr("to");
        router.refuse(std::move(stanza), from.value(), {}, module::Origin::remote_server,
                      StanzaError::modify("jid-malformed", "the 'to' address is not a valid JID"));
        return std::nullopt;
    }
    if (!may_go_to(to->domain())) {
        log::warn("s2s", "{}: {} sent a stanza to '{}', not served here for it: closed", peer, from->domain(),
                  to->domain());
        return StreamRefusal{StreamErrorCondition::host_unknown, "the 'to' address is not served here"};
    }
    stanza.set_attr("to", to->str());
    if (name == "iq") {
        if (auto bad = xmpp::iq_shape_error(stanza)) {
            router.refuse(std::move(stanza), from.value(), to.value(), module::Origin::remote_server, *bad);
            return std::nullopt;
        }
    }
    auto& hooks = worker.hooks();
    if (hooks.has_hooks(module::HookPoint::stanza_in)) {
        module::StanzaContext ctx{stanza, from.value(), to.value(), false, 0};
        ctx.from_remote_server = true;
        std::string owner;
        const module::HookResult r = hooks.run(module::HookPoint::stanza_in, ctx, &owner);
        if (r.verdict == module::HookResult::Verdict::handled) {
            router.consumed(stanza, from.value(), to.value(), module::Origin::remote_server, owner);
            return std::nullopt;
        }
        if (r.verdict == module::HookResult::Verdict::reject) {
            router.refuse(std::move(stanza), from.value(), to.value(), module::Origin::remote_server, r.error);
            return std::nullopt;
        }
    }
    router.route(std::move(stanza), std::move(from.value()), std::move(to.value()), module::Origin::remote_server);
    return std::nullopt;
}

}  // namespace parley::s2s
