#include "register.hpp"

#include <fmt/format.h>

#include "log/log.hpp"

namespace parley::mod_register {

const config::OptionSpec kOptions[] = {
    {"allow_registration", config::OptionType::boolean, "true",
     "new accounts may be registered in-band, before login"},
    {"require_invite", config::OptionType::boolean, "false",
     "registration needs an invitation made with parleyctl invite create"},
    {"allow_remove", config::OptionType::boolean, "false", "users may delete their own account in-band"},
    {"max_per_address", config::OptionType::integer, "5",
     "registration requests per client address (IPv6: per ipv6_prefix) within window_s", 1, 1000000},
    {"max_total", config::OptionType::integer, "100", "registration requests from all addresses within window_s", 1,
     1000000},
    {"window_s", config::OptionType::integer, "3600", "the sliding window of the two limits, in seconds", 1, 604800},
    {"ipv6_prefix", config::OptionType::integer, "64", "IPv6 addresses are counted by this many leading bits", 16,
     128},
};
const size_t kOptionCount = std::size(kOptions);
const module::XepInfo kXeps[] = {
    {"0077", "2.5",
     "complete for the server's accounts: registration (optionally by invitation), password change, cancellation "
     "(when allowed); no redirection to a web page"}};

namespace {

// A field of a submitted data form, or nullopt.
std::optional<std::string> form_value(const xml::Element& form, std::string_view var) {
    for (const xml::Element& f : form.children()) {
        if (f.name() != "field" || f.ns() != kNsData || f.attr_or("var") != var) continue;
        const xml::Element* v = f.child("value", kNsData);
        return v ? v->text() : std::string();
    }
    return std::nullopt;
}

std::string minutes(std::chrono::seconds s) {
    const auto m = (s.count() + 59) / 60;
    return m <= 1 ? "a minute" : fmt::format("{} minutes", m);
}

StanzaError store_error(const Status& s) {
    if (s.code() == "busy")
        return StanzaError::wait("resource-constraint", "the server is busy; try again in a moment");
    return StanzaError::cancel("internal-server-error", "the account could not be changed");
}

}  // namespace

Result<Submission> read_submission(const xml::Element& query, std::string_view form_type,
                                   std::string_view other_form_type) {
    Submission sub;
    const xml::Element* form = nullptr;
    bool fields = false;
    for (const xml::Element& c : query.children()) {
        if (c.ns() == kNsData && c.name() == "x") {
            if (form) return Status::error("bad-request", "more than one data form");
            form = &c;
        } else if (c.ns() == kNsRegister) {
            if (c.name() == "remove") sub.remove = true;
            else if (c.name() == "username") sub.username = c.text(), fields = true;
            else if (c.name() == "password") sub.password = c.text(), fields = true;
            else fields = true;  // other iq:register fields (email, ...): not asked for, ignored
        }
    }
    if (sub.remove) {
        if (query.child_count() != 1) return Status::error("bad-request", "<remove/> must be the only child of the query");
        return sub;
    }
    if (form && fields) return Status::error("bad-request", "send either the data form or the fields, not both");
    if (form) {
        const std::string type(form->attr_or("type"));
        if (type != "submit") return Status::error("bad-request", "the data form must be of type 'submit'");
        const auto ft = form_value(*form, "FORM_TYPE");
        if (ft && *ft != form_type && (other_form_type.empty() || *ft != other_form_type))
            return Status::error("bad-request", fmt::format("the data form must have FORM_TYPE {}", form_type));
        sub.form = true;
        sub.username = form_value(*form, "username");
        sub.password = form_value(*form, "password");
        sub.invite = form_value(*form, kInviteField);
    }
    return sub;
}

Status Register::configure(const config::Section& section) {
    settings_.allow_registration = section.get_bool("allow_registration", true);
    settings_.require_invite = section.get_bool("require_invite", false);
    settings_.allow_remove = section.get_bool("allow_remove", false);
    if (settings_.require_invite && !settings_.allow_registration)
        return Status::error("config", section.where("require_invite") +
                                           ": require_invite has no effect while allow_registration is false");
    return Status::ok();
}

Status Register::reload(const config::Section& section) {
    const Settings old = settings_;
    Status s = configure(section);
    if (!s) return s;
    if (host_ && settings_.allow_registration != old.allow_registration) {
        settings_ = old;
        return Status::error("config", section.where("allow_registration") +
                                           ": a change takes effect when parleyd starts again, not at a reload");
    }
    return Status::ok();
}

Status Register::start(module::Host& host) {
    host_ = &host;
    using module::IqTarget;
    auto bind = [this](auto method) {
        return [this, method](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
            (this->*method)(req, std::move(r));
        };
    };
    for (IqTarget t : {IqTarget::server, IqTarget::account}) {
        Status s = host.iq_handler(t, "get", kNsRegister, "query", bind(&Register::account_get));
        if (s) s = host.iq_handler(t, "set", kNsRegister, "query", bind(&Register::account_set));
        if (!s) return s;
    }
    if (settings_.allow_registration) {
        limits_ = module::service<RateLimits>(host);
        if (!limits_) return Status::error("register", "the registration rate limits are not running");
        // Opened whether invitations are required now or not: a reload may
        // start requiring them.
        auto inv = host.invitations();
        if (!inv) return inv.status();
        invitations_ = inv.value();
        Status s = host.iq_handler(IqTarget::pre_auth, "get", kNsRegister, "query", bind(&Register::registration_form));
        if (s) s = host.iq_handler(IqTarget::pre_auth, "set", kNsRegister, "query", bind(&Register::register_account));
        if (!s) return s;
        // RFC 6120 §4.3: offered with the other pre-authentication features,
        // only once the stream is encrypted (the password travels in it).
        host.stream_feature(module::StreamStage::before_auth,
                            [](const module::StreamInfo& info) -> std::optional<xml::Element> {
                                if (!info.secure) return std::nullopt;
                                return xml::Element("register", kNsFeature);
                            });
    }
    host.disco_feature(kNsRegister);
    return Status::ok();
}

void Register::stop() {
    // No completion reaches a stopped module: the host drops them with its
    // invitations and accounts.
    invitations_ = nullptr;
    limits_ = nullptr;
    host_ = nullptr;
}

void Register::registration_form(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) const {
    if (!req.stream || !req.stream->secure) {
        r->error(StanzaError::auth("not-authorized", "registration needs an encrypted stream: start TLS first"));
        return;
    }
    xml::Element q("query", kNsRegister);
    if (!settings_.require_invite) {
        q.add_child("instructions", kNsRegister).add_text("Choose a username and a password.");
        q.add_child("username", kNsRegister);
        q.add_child("password", kNsRegister);
        r->result(std::move(q));
        return;
    }
    // XEP-0077 §6: a form with a field the legacy fields cannot carry goes
    // with instructions only, no legacy fields.
    q.add_child("instructions", kNsRegister)
        .add_text("Registration here needs an invitation. Fill in the form: a username, a password and your "
                  "invitation.");
    auto& x = q.add_child("x", kNsData);
    x.set_attr("type", "form");
    x.add_child("title", kNsData).add_text("Register an account");
    auto field = [&x](const char* var, const char* type, const char* label, bool required) -> xml::Element& {
        auto& f = x.add_child("field", kNsData);
        f.set_attr("var", var);
        f.set_attr("type", type);
        if (label) f.set_attr("label", label);
        if (required) f.add_child("required", kNsData);
        return f;
    };
    field("FORM_TYPE", "hidden", nullptr, false).add_child("value", kNsData).add_text(kFormType);
    field("username", "text-single", "Username", true);
    field("password", "text-private", "Password", true);
    field(kInviteField, "text-single", "Invitation", true);
    r->result(std::move(q));
}

void Register::register_account(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (!req.stream || !req.stream->secure) {
        r->error(StanzaError::auth("not-authorized", "registration needs an encrypted stream: start TLS first"));
        return;
    }
    auto sub = read_submission(req.payload, kFormType);
    if (!sub) {
        r->error(StanzaError::modify("bad-request", sub.status().message()));
        return;
    }
    if (sub->remove) {
        r->error(StanzaError::cancel("unexpected-request", "log in to remove an account"));
        return;
    }
    if (!sub->username || sub->username->empty() || !sub->password || sub->password->empty()) {
        r->error(StanzaError::modify("not-acceptable", "both a username and a password are required"));
        return;
    }
    if (settings_.require_invite && (!sub->invite || sub->invite->empty())) {
        r->error(StanzaError::modify("not-acceptable", sub->form ? "an invitation is required"
                                                                 : "an invitation is required: fill in the data form"));
        return;
    }
    const std::string domain(req.stream->domain);
    // The username, or this server's bare JID of it; nodeprep'd (RFC 7622).
    Result<xmpp::Jid> account = Status::error("invalid", "");
    if (sub->username->find('@') != std::string::npos) {
        account = xmpp::Jid::parse(*sub->username);
        if (account && (!account->has_node() || account->has_resource() || account->domain() != domain))
            account = Status::error("invalid", "a username of this server");
    } else {
        account = xmpp::Jid::make(*sub->username, domain);
    }
    if (!account) {
        r->error(StanzaError::modify("not-acceptable", "that username is not allowed: " + account.status().message()));
        return;
    }
    if (Status p = host_->accounts().check_new_password(*sub->password); !p) {
        r->error(StanzaError::modify("not-acceptable", p.message()));
        return;
    }
    const std::string address(req.stream->remote_ip);
    auto d = limits_->take(address);
    if (d.kind == SlidingWindows::Decision::Kind::address_full) {
        log::info("register", "refused a registration from {}: the address is over its limit", address);
        r->error(StanzaError::wait("policy-violation", "too many registrations from your address; try again in " +
                                                           minutes(d.retry_after)));
        return;
    }
    if (d.kind == SlidingWindows::Decision::Kind::total_full) {
        log::warn("register", "refused a registration from {}: the server is over its overall limit", address);
        r->error(StanzaError::wait("resource-constraint", "the server takes no more registrations for now; try again in " +
                                                              minutes(d.retry_after)));
        return;
    }
    auto exists = host_->accounts().exists(account.value());
    if (!exists) {
        r->error(StanzaError::cancel("internal-server-error", "the account store cannot be read"));
        return;
    }
    if (exists.value()) {
        r->error(StanzaError::cancel("conflict", "that username is taken"));
        return;
    }
    if (!settings_.require_invite) {
        create_account(account.value(), std::move(*sub->password), address, std::nullopt, std::move(r));
        return;
    }
    // Use the invitation first, in one write: two registrations racing for
    // its last use cannot both have it.
    invitations_->use(
        std::move(*sub->invite),
        [this, account = account.value(), password = std::move(*sub->password), address,
         r](Result<module::InvitationUse> used) mutable {
            using Kind = module::InvitationUse::Kind;
            if (!used) {
                r->error(store_error(used.status()));
                return;
            }
            if (used->kind == Kind::unknown) {
                log::info("register", "refused a registration from {}: not a valid invitation", address);
                r->error(StanzaError::modify("not-acceptable", "that invitation is not valid"));
                return;
            }
            if (used->kind == Kind::expired) {
                log::info("register", "refused a registration from {}: invitation {} has expired", address, used->id);
                r->error(StanzaError::modify("not-acceptable", "that invitation has expired"));
                return;
            }
            create_account(account, std::move(password), address, std::move(used.value()), std::move(r));
        });
}

void Register::create_account(const xmpp::Jid& account, std::string password, std::string address,
                              std::optional<module::InvitationUse> used, std::shared_ptr<module::IqResponder> r) {
    host_->accounts().create(account, std::move(password), [this, account, address, used, r](Status s) {
        if (s) {
            log::info("register", "registered {} from {}{}", account.bare_str(), address,
                      used ? " with invitation " + used->id : std::string());
            r->result(std::nullopt);
            return;
        }
        if (used) give_back(*used);
        if (s.code() == "exists") r->error(StanzaError::cancel("conflict", "that username is taken"));
        else if (s.code() == "invalid") r->error(StanzaError::modify("not-acceptable", s.message()));
        else {
            if (s.code() != "busy") log::error("register", "cannot create {}: {}", account.bare_str(), s.message());
            r->error(store_error(s));
        }
    });
}

void Register::give_back(const module::InvitationUse& used) {
    if (!invitations_) return;
    invitations_->give_back(used, [id = used.id](Status st) {
        if (!st) log::warn("register", "could not give back a use of invitation {}: {}", id, st.message());
    });
}

Result<xmpp::Jid> Register::own_account(const module::IqRequest& req) const {
    // To the server (its domain) or to the account's own bare JID, from a
    // session of that account: nobody acts on another's registration.
    const xmpp::Jid account = req.from.bare();
    if (!account.has_node() || !host_->is_local_domain(account.domain()))
        return Status::error("forbidden", "only a local account can manage its registration");
    if (req.to.has_node() ? req.to != account : req.to.domain() != account.domain())
        return Status::error("forbidden", "an account's registration is managed by the account itself");
    return account;
}

void Register::account_get(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) const {
    auto account = own_account(req);
    if (!account) {
        r->error(StanzaError::auth("forbidden", account.status().message()));
        return;
    }
    // XEP-0077 §3.1: registered, with what is on file (never a password).
    xml::Element q("query", kNsRegister);
    q.add_child("registered", kNsRegister);
    q.add_child("instructions", kNsRegister)
        .add_text(settings_.allow_remove ? "To change your password, send your username and a new password; to "
                                           "delete your account, send <remove/>."
                                         : "To change your password, send your username and a new password.");
    q.add_child("username", kNsRegister).add_text(account->node());
    q.add_child("password", kNsRegister);
    r->result(std::move(q));
}

void Register::account_set(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    auto account = own_account(req);
    if (!account) {
        r->error(StanzaError::auth("forbidden", account.status().message()));
        return;
    }
    // XEP-0077 §3.3 answers a failed password change without the request's
    // payload: the error carries no password back.
    auto sub = read_submission(req.payload, kFormType, kChangeFormType);
    if (!sub) {
        r->error(StanzaError::modify("bad-request", sub.status().message()));
        return;
    }
    if (sub->remove) {
        if (!settings_.allow_remove) {
            r->error(StanzaError::cancel("not-allowed", "accounts cannot be deleted in-band here; ask an administrator"));
            return;
        }
        host_->accounts().remove(account.value(), "the account was deleted at its owner's request",
                                 [account = account.value(), r](Status s) {
                                     if (s) {
                                         log::info("register", "{} deleted its account", account.bare_str());
                                         r->result(std::nullopt);
                                     } else if (s.code() == "not-found") {
                                         r->error(StanzaError::auth("registration-required", "no such account"));
                                     } else {
                                         r->error(store_error(s));
                                     }
                                 });
        return;
    }
    if (!sub->username || !sub->password) {
        r->error(StanzaError::modify("bad-request", "a password change carries the username and the new password"));
        return;
    }
    auto named = sub->username->find('@') != std::string::npos ? xmpp::Jid::parse(*sub->username)
                                                                : xmpp::Jid::make(*sub->username, account->domain());
    if (!named || named->bare() != account.value()) {
        r->error(StanzaError::auth("forbidden", "you can change only your own password"));
        return;
    }
    // An empty password never replaces the old one (XEP-0077 §3.3).
    if (Status p = host_->accounts().check_new_password(*sub->password); !p) {
        r->error(StanzaError::modify("not-acceptable", p.message()));
        return;
    }
    host_->accounts().set_password(account.value(), std::move(*sub->password), req.from,
                                   [account = account.value(), r](Status s) {
                                       if (s) {
                                           log::info("register", "{} changed its password", account.bare_str());
                                           r->result(std::nullopt);
                                       } else if (s.code() == "invalid") {
                                           r->error(StanzaError::modify("not-acceptable", s.message()));
                                       } else if (s.code() == "not-found") {
                                           r->error(StanzaError::auth("registration-required", "no such account"));
                                       } else {
                                           r->error(store_error(s));
                                       }
                                   });
}

}  // namespace parley::mod_register
