// s2s::receive_stanza: a stanza a remote server sent us, checked and handed
// to the router. Used by incoming streams (Inbound) and, when a peer
// answers over our own stream (XEP-0288 bidirectional streams), by
// outgoing ones (Outbound).
//
// 'from' and 'to' are required (<improper-addressing/>); 'from' must be at
// a domain the stream authenticated (<invalid-from/>) and 'to' at one the
// stream may deliver to (<host-unknown/>): such a peer lies about
// addresses and loses its stream. A 'to' that is no JID bounces
// jid-malformed; an iq of the wrong shape bounces. The rest runs the
// stanza_in hooks (StanzaContext::from_remote_server) and is routed as
// module::Origin::remote_server. Loop-affine (the worker's).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "xml/element.hpp"
#include "xmpp/errors.hpp"

namespace parley::loop {
class Worker;
}

namespace parley::s2s {

struct StreamRefusal {
    xmpp::StreamErrorCondition condition;
    std::string text;
};

// `in` is in jabber:server. `may_come_from(domain)` and `may_go_to(domain)`
// say what this stream's authentication covers; `peer` names the peer
// in the log. A refusal is the stream error to end the stream with.
std::optional<StreamRefusal> receive_stanza(loop::Worker& worker, const xml::Element& in,
                                            const std::function<bool(const std::string&)>& may_come_from,
                                            const std::function<bool(const std::string&)>& may_go_to,
                                            const std::string& peer);

// Whether `domain` is served here: a virtual host, a component, or a
// module's domain handler.
bool served_here(const loop::Worker& worker, const std::string& domain);

}  // namespace parley::s2s
