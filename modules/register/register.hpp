// mod_register: XEP-0077 In-Band Registration (version 2.5) for the
// server's own accounts. Off by default: a deployment lists it to use it.
//
// Before authentication (when `allow_registration`, and only on a stream
// with TLS): the stream feature <register
// xmlns='http://jabber.org/features/iq-register'/>; an iq get returns what
// to fill in (username and password, or a data form that adds the
// invitation field `x-invite` when `require_invite`); an iq set creates the
// account through the host's account store (module::Accounts: the store,
// password rules and SCRAM iterations `parleyctl user add` uses; the
// username is nodeprep-normalised). Each well-formed request counts against
// the process-wide rate limits (rate_limits.hpp) of its client address and
// of all addresses. Invitations are the tokens `parleyctl invite create`
// makes, reached through the host (module::Invitations); one is used up
// before the account is made and given back if making it fails.
//
// After authentication, for the account itself (an iq to its server or its
// own bare JID): get says it is registered; set with username and password
// changes the password (same rules; the account's other sessions are
// ended, as `parleyctl user passwd` does); set with <remove/> deletes the
// account and ends its sessions when `allow_remove` (off by default).
// Passwords are never logged or kept. disco advertises jabber:iq:register.
//
// One instance per worker, loop-affine; the rate limits are the module's
// process-wide service.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "module/module_api.hpp"
#include "rate_limits.hpp"

namespace parley::mod_register {

inline constexpr const char* kNsRegister = "jabber:iq:register";
inline constexpr const char* kNsFeature = "http://jabber.org/features/iq-register";
inline constexpr const char* kNsData = "jabber:x:data";
inline constexpr const char* kFormType = "jabber:iq:register";
inline constexpr const char* kChangeFormType = "jabber:iq:register:changepassword";
inline constexpr const char* kInviteField = "x-invite";

struct Settings {
    bool allow_registration = true;
    bool require_invite = false;
    bool allow_remove = false;
};

// What a registration or password change request carries, from the legacy
// fields or the data form (XEP-0077 §4: never both).
struct Submission {
    std::optional<std::string> username, password, invite;
    bool remove = false;
    bool form = false;
};
// Reads the <query/> of a set. `form_type` is the FORM_TYPE a data form
// must have. Code "bad-request" for a malformed query (a form and fields
// both, a form of another type, <remove/> with siblings).
Result<Submission> read_submission(const xml::Element& query, std::string_view form_type,
                                   std::string_view other_form_type = {});

class Register final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    // Every option but allow_registration applies at once; a change of
    // that one is refused (it decides what start() registered).
    Status reload(const config::Section& section) override;
    void stop() override;

private:
    void registration_form(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) const;
    void register_account(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    // Creates the account once the invitation (if any) was used.
    void create_account(const xmpp::Jid& account, std::string password, std::string address,
                        std::optional<module::InvitationUse> used, std::shared_ptr<module::IqResponder> r);
    void give_back(const module::InvitationUse& used);
    void account_get(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) const;
    void account_set(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    // The account an iq after authentication is about, or the error.
    Result<xmpp::Jid> own_account(const module::IqRequest& req) const;

    Settings settings_;
    module::Host* host_ = nullptr;
    RateLimits* limits_ = nullptr;
    module::Invitations* invitations_ = nullptr;  // the host's, while started with registration on
};

extern const config::OptionSpec kOptions[];
extern const size_t kOptionCount;
extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;

}  // namespace parley::mod_register
