// mod_csi: XEP-0352 Client State Indication 1.0.0.
//
// A client says <inactive/> (its user is not looking) and <active/> again,
// after bind; the stream feature <csi xmlns='urn:xmpp:csi:0'/> is offered
// with bind. While a session is inactive, its stanza_out hook holds what is
// not urgent, in order, in the session's slot:
// - presence updates (available and unavailable) from others: only the latest
//   of each sender is kept (it replaces the older one, and moves behind what
//   was held meanwhile);
// - messages that carry nothing but a chat state (XEP-0085), also inside a
//   carbon copy (XEP-0280).
// Everything else is urgent and goes out at once, after what was held, so
// the client sees stanzas in the order they came: messages with a body or a
// subject, encrypted ones (OMEMO, OpenPGP, XEP-0380), receipt requests, any
// other message, iq, subscription presence, the session's own presence and
// MUC self-presence. More than `max_held` held stanzas are all sent. On
// <active/> (before anything the client sends next is processed, §4.1) and
// when a new stream resumes the session (the state is per stream, §4.2) the
// session is active again and what was held is sent, in order. Held stanzas
// are written with Delivery::direct, so stream management counts them when
// they are written. A session that ends while inactive drops what was held
// (presence and chat states: nothing that must be delivered later).
//
// One instance per worker; loop-affine.
#pragma once

#include <memory>
#include <vector>

#include "module/module_api.hpp"

namespace parley::mod_csi {

inline constexpr const char* kNsCsi = "urn:xmpp:csi:0";

struct CsiSlot final : module::SessionSlot {
    bool inactive = false;
    std::vector<xml::Element> held;  // oldest first
    size_t memory_bytes() const override { return sizeof(*this) + held.capacity() * (sizeof(xml::Element) + 256); }
};

// Whether a stanza for an inactive client can wait (see above); `recipient`
// is the session's full JID.
bool can_wait(const xml::Element& stanza, const xmpp::Jid& recipient);

class ClientState final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

private:
    CsiSlot* slot(uint64_t session_id) const;
    module::HookResult on_out(module::StanzaContext& c);
    void flush(uint64_t session_id, CsiSlot& s);

    module::Host* host_ = nullptr;
    size_t max_held_ = 100;
};

extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;
extern const config::OptionSpec kOptions[];
inline constexpr size_t kOptionCount = 1;

}  // namespace parley::mod_csi
