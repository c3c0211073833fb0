// Routing to external components (XEP-0114) through the router's domain
// handler seam.
//
// At its start every worker registers, for each configured [[component]],
// a domain handler (owner kOwner, which is not a module name, so no module
// stop drops it) listed under the virtual host that is the domain's parent
// (bot.example.org under example.org), so mod_disco's items show it. The
// handler runs on whichever worker routed the stanza: it looks the domain
// up in the component::Directory and sends the stanza to the connection
// there, posting it to the connection's worker when that is another one.
// With no connection (or one gone by the time the post arrives), an iq
// request or a message is bounced with <service-unavailable/> (RFC 6120
// §10.3.3 for a domain with no service), and presence or an error or
// result is dropped. Loop-affine: the worker passed in.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "errors/status.hpp"
#include "xml/element.hpp"

namespace parley::loop {
class Worker;
}

namespace parley::component {

// The owner name of the domain handlers in the HookTable.
inline constexpr std::string_view kOwner = "xep-0114";

// The virtual host whose disco#items list `domain`: the longest virtual
// host domain that `domain` is a subdomain of, or "" for none.
std::string parent_host(const config::Config& cfg, std::string_view domain);

// Registers the handlers of cfg's components on w (at worker start).
Status register_domains(loop::Worker& w, const config::Config& cfg);

// Whether `domain` was registered at start (a reload may add a component
// to the config; it is served only after a restart).
bool routed_here(loop::Worker& w, std::string_view domain);

// Hands `stanza` (to a JID at `domain`) to the component's connection, or
// bounces or drops it as above.
void deliver(loop::Worker& w, const std::string& domain, xml::Element stanza);

}  // namespace parley::component
