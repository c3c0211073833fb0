// mod_vcard: vcard-temp (XEP-0054 1.3.0) and vCard-based avatars in presence
// (XEP-0153 1.1.1).
//
// - An account sets its own vCard (iq set with no 'to' or to its own bare
//   JID); the result is sent only once the vCard is on disk. A vCard with no
//   child element deletes it. Over `max_bytes` (the serialized vCard):
//   not-acceptable. A set to any other account gets the error an account
//   that does not exist gets (recipient_unavailable()), so a set
//   tells nobody which accounts exist (XEP-0054 suggests forbidden, which
//   would).
// - Anyone who can reach an account reads its vCard (iq get to the bare
//   JID, answered by the server). An account without a vCard answers its
//   owner with an empty <vCard/> (XEP-0054 §3.1) and everyone else with
//   service-unavailable, exactly what an account that does not exist gets
//   (XEP-0054 1.3.0 §3.3 asks for the same error in both cases). The server
//   domain has no vCard of its own: a get to it is answered with an empty one.
// - XEP-0153: the SHA-1 of the photo is computed when the vCard is set and
//   stored with it. A client's broadcast presence (available, no 'to') that
//   carries no <x xmlns='vcard-temp:x:update'/> gets one from the server,
//   with the stored hash or an empty <photo/> when there is no photo; the
//   stanza_in hook runs before mod_roster's (priority 10 > 0), so the
//   presence the roster broadcasts, and answers probes with, carries it. The
//   server does not re-send presence when the photo changes: the session's
//   next presence carries the new hash (XEP-0153 §4.2 makes the client that
//   uploads a new photo send one).
//
// Storage: "vcard.cards" in data_dir/state (vcard_record.hpp); a deleted
// account's record is removed (Host::on_account_deleted). One Module
// instance per worker; loop-affine.
#pragma once

#include <functional>
#include <memory>

#include "module/module_api.hpp"

namespace parley::mod_vcard {

inline constexpr int kPresencePriority = 10;  // before mod_roster's broadcast (0)

class Vcard final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override { return configure(section); }

private:
    void get(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void set(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    module::HookResult presence(module::StanzaContext& ctx);
    // A deleted account (worker 0): its vCard and photo hash go, durably,
    // before `done`.
    void purge(const xmpp::Jid& user, std::function<void(Status)> done);

    module::Host* host_ = nullptr;
    std::shared_ptr<module::Database> db_;
    size_t max_bytes_ = 262144;
};

extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 2;
extern const config::OptionSpec kOptions[];
inline constexpr size_t kOptionCount = 1;

}  // namespace parley::mod_vcard
