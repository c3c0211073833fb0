#include "client_state.hpp"

#include "xmpp/namespaces.hpp"

namespace parley::mod_csi {

const module::XepInfo kXeps[] = {
    {"0352", "1.0.0", "complete: presence updates and chat states held while inactive; no per-user settings"},
};

const config::OptionSpec kOptions[] = {
    {"max_held", config::OptionType::integer, "100",
     "stanzas held for an inactive client; past this, all that was held is sent", 1, 10000},
};

namespace {

constexpr std::string_view kNsChatStates = "http://jabber.org/protocol/chatstates";
constexpr std::string_view kNsCarbons = "urn:xmpp:carbons:2";
constexpr std::string_view kNsForward = "urn:xmpp:forward:0";
constexpr std::string_view kNsReceipts = "urn:xmpp:receipts";
constexpr std::string_view kNsMucUser = "http://jabber.org/protocol/muc#user";

// Payloads that make a message worth waking the client for even without a
// body: end-to-end encryption (OMEMO, its legacy namespace, OpenPGP for
// XMPP, legacy OpenPGP) and its XEP-0380 hint.
bool encrypted(const xml::Element& m) {
    for (const xml::Element& c : m.children()) {
        const std::string& ns = c.ns();
        if (ns == "urn:xmpp:omemo:2" || ns == "eu.siacs.conversations.axolotl" || ns == "urn:xmpp:openpgp:0" ||
            ns == "jabber:x:encrypted" || ns == "urn:xmpp:eme:0")
            return true;
    }
    return false;
}

// A message whose only news is a chat state.
bool chat_state_only(const xml::Element& m) {
    if (m.attr_or("type") == "error") return false;
    if (m.child("body", xmpp::kNsClient) || m.child("subject", xmpp::kNsClient)) return false;
    if (encrypted(m) || m.child("request", kNsReceipts)) return false;
    bool state = false;
    for (const xml::Element& c : m.children()) {
        if (c.ns() == kNsChatStates) state = true;
        else if (c.ns() == kNsCarbons) {
            // A carbon copy (XEP-0280): what counts is the message inside.
            const xml::Element* fwd = c.child("forwarded", kNsForward);
            const xml::Element* inner = fwd ? fwd->child("message", xmpp::kNsClient) : nullptr;
            if (!inner || !chat_state_only(*inner)) return false;
            state = true;
        }
    }
    return state;
}

bool muc_self_presence(const xml::Element& p) {
    const xml::Element* x = p.child("x", kNsMucUser);
    if (!x) return false;
    for (const xml::Element& c : x->children())
        if (c.name() == "status" && c.attr_or("code") == "110") return true;
    return false;
}

}  // namespace

bool can_wait(const xml::Element& stanza, const xmpp::Jid& recipient) {
    const std::string& name = stanza.name();
    if (stanza.ns() != xmpp::kNsClient) return false;
    if (name == "presence") {
        const std::string_view type = stanza.attr_or("type");
        if (!type.empty() && type != "unavailable") return false;  // subscriptions, errors, probes
        if (stanza.attr_or("from") == recipient.str()) return false;  // its own, reflected
        return !muc_self_presence(stanza);
    }
    if (name == "message") return chat_state_only(stanza);
    return false;  // iq
}

Status ClientState::configure(const config::Section& section) {
    max_held_ = static_cast<size_t>(section.get_int("max_held", 100));
    return Status::ok();
}

Status ClientState::reload(const config::Section& section) { return configure(section); }

Status ClientState::start(module::Host& host) {
    host_ = &host;
    max_held_ = static_cast<size_t>(host.config().get_int("max_held", 100));
    host.stream_feature(module::StreamStage::after_auth, [](const module::StreamInfo&) -> std::optional<xml::Element> {
        return xml::Element("csi", kNsCsi);
    });
    Status s = host.nonza(module::StreamStage::bound, kNsCsi, "inactive",
                          [this](const module::StreamInfo& info, const xml::Element&, module::StreamControl&) {
                              CsiSlot* c = slot(info.session_id);
                              if (!c) {
                                  auto fresh = std::make_unique<CsiSlot>();
                                  c = fresh.get();
                                  if (!host_->set_slot(info.session_id, std::move(fresh))) return;
                              }
                              c->inactive = true;
                          });
    if (!s) return s;
    s = host.nonza(module::StreamStage::bound, kNsCsi, "active",
                   [this](const module::StreamInfo& info, const xml::Element&, module::StreamControl&) {
                       if (CsiSlot* c = slot(info.session_id)) flush(info.session_id, *c);
                   });
    if (!s) return s;
    // Late (low priority): other stanza_out hooks (blocking, privacy) decide
    // first whether the stanza goes to this client at all.
    host.hook(module::HookPoint::stanza_out, -100, [this](module::StanzaContext& c) { return on_out(c); });
    host.on_session(module::SessionEvent::resumed, [this](const module::SessionInfo& info) {
        // §4.2: a resumed stream starts active.
        if (CsiSlot* c = slot(info.ref.session_id)) flush(info.ref.session_id, *c);
    });
    return Status::ok();
}

void ClientState::stop() {
    // Leaving: what was held goes out now rather than with the slots.
    if (!host_) return;
    for (const auto& s : host_->all_sessions()) {
        if (s.ref.worker != host_->worker_index()) continue;
        if (CsiSlot* c = slot(s.ref.session_id)) flush(s.ref.session_id, *c);
    }
}

CsiSlot* ClientState::slot(uint64_t session_id) const {
    if (session_id == 0) return nullptr;
    return dynamic_cast<CsiSlot*>(host_->slot(session_id));
}

void ClientState::flush(uint64_t session_id, CsiSlot& s) {
    s.inactive = false;
    std::vector<xml::Element> held = std::move(s.held);
    s.held.clear();
    const module::SessionInfo to{xmpp::Jid(), sessions::SessionRef{host_->worker_index(), session_id}, false, 0};
    // Direct: past the stanza_out hooks, which saw each one already.
    for (auto& st : held) host_->send_to_session(to, std::move(st), module::Delivery::direct);
}

module::HookResult ClientState::on_out(module::StanzaContext& c) {
    CsiSlot* s = slot(c.session_id);
    if (!s || !s->inactive) return module::HookResult::pass();
    if (!can_wait(c.stanza, c.to)) {
        // Urgent: what was held goes first, so the order is kept. The
        // session stays inactive.
        if (!s->held.empty()) {
            flush(c.session_id, *s);
            s->inactive = true;
        }
        return module::HookResult::pass();
    }
    if (c.stanza.name() == "presence") {
        const std::string_view from = c.stanza.attr_or("from");
        std::erase_if(s->held, [&](const xml::Element& h) { return h.name() == "presence" && h.attr_or("from") == from; });
    }
    s->held.push_back(c.stanza);
    if (s->held.size() > max_held_) {
        flush(c.session_id, *s);
        s->inactive = true;
    }
    return module::HookResult::handled();
}

}  // namespace parley::mod_csi
