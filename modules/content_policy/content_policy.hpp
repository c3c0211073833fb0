// mod_content_policy: data-loss prevention on the messages our clients send
// (modules/content_policy/README.md). A stanza/in hook judges every message
// from a local client by the rules of policy.hpp before it is routed:
// blocks it with policy-violation, redacts what the rules found (and tells
// the sender), or flags it; removes XHTML-IM markup. Every flag, redaction
// and block goes to the archive's audit log when the archive module runs
// (and to parleyd's log always), with the rule, the sender, the recipient
// and the message's id, never what was matched.
//
// One instance per worker; loop-affine. Settings are read once per reload.
#pragma once

#include <cstdint>
#include <memory>

#include "module/module_api.hpp"
#include "policy.hpp"

namespace parley::mod_federation_policy {
class FederationService;
}

namespace parley::mod_content_policy {

inline constexpr const char* kNsXhtmlIm = "http://jabber.org/protocol/xhtml-im";
inline constexpr const char* kNsOob = "jabber:x:oob";

class ContentPolicy final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

    struct Counters {
        uint64_t blocked = 0, redacted = 0, flagged = 0, stripped = 0;
    };
    const Counters& counters() const { return counters_; }

private:
    module::HookResult on_in(module::StanzaContext& c);
    Direction direction_of(const xmpp::Jid& from, const xmpp::Jid& to) const;
    void record(const module::StanzaContext& c, const char* action, const std::string& result);
    void notify(const module::StanzaContext& c, const Verdict& v);

    module::Host* host_ = nullptr;
    mod_federation_policy::FederationService* federation_ = nullptr;  // when that module runs
    std::shared_ptr<const Settings> settings_;
    Counters counters_;
};

}  // namespace parley::mod_content_policy
