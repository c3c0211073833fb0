// mod_carbons: XEP-0280 Message Carbons (1.0.1), with the XEP-0334 no-copy
// hint, so that every client of a user sees both sides of every chat.
//
// A session enables or disables carbons with an iq set to its own account
// (<enable/>, <disable/> in urn:xmpp:carbons:2); the state lives in the
// session's slot and moves with it when stream management resumes it on
// another worker. Copies are made in the routed hook, which runs once per
// stanza with the router's decision: a message a client sent is copied
// (<sent/>) to its account's other carbons-enabled sessions, and a message
// that reached an account is copied (<received/>) to the account's
// carbons-enabled sessions the router did not deliver it to; no session gets
// both the message and a copy. Copies are sent only once the router has
// carried the message out (RoutedContext::when_done), so a message a module
// held and then refused (blocking, a full offline store) is never copied;
// each copy is handed to the session's worker, which checks the session's
// slot there. Wrappers are never accepted from clients (stanza_in) and a
// message that looks like a carbon reaches a session only when it comes from
// that session's own bare JID (stanza_out, XEP-0280 §11).
//
// One instance per worker; loop-affine: every call runs on its worker.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "module/module_api.hpp"
#include "rules.hpp"

namespace parley::mod_carbons {

// Runs after other routed hooks (e.g. one adding a stanza-id), so that the
// copies carry what they added.
inline constexpr int kRoutedPriority = -100;

class Carbons final : public module::Module {
public:
    Status start(module::Host& host) override;
    void stop() override;

    // Whether session `session_id` of this worker has carbons enabled.
    bool enabled(uint64_t session_id) const;

private:
    void toggle(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r, bool on);
    // Sets the state of a session of this worker; false when it is not here.
    bool set(uint64_t session_id, bool on);
    void answer(uint64_t op, bool ok);
    void on_routed(module::RoutedContext& c);
    // Sends each target its copy (on its own worker) if it has carbons enabled.
    void deliver(Direction d, const xmpp::Jid& user, std::vector<module::SessionInfo> targets,
                 xml::Element original);
    void deliver_here(Direction d, const xmpp::Jid& user, const std::vector<module::SessionInfo>& targets,
                      xml::Element original);

    module::Host* host_ = nullptr;
    // Expires at stop(), so that a when_done callback of a stanza still held
    // then does nothing.
    std::shared_ptr<bool> alive_;
    // Requests waiting for a session's other worker to set its state.
    std::unordered_map<uint64_t, std::shared_ptr<module::IqResponder>> waiting_;
    uint64_t next_op_ = 0;
};

extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 2;

}  // namespace parley::mod_carbons
