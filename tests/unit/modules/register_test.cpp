#define BOOST_TEST_DYN_LINK
#include <fmt/format.h>

#include <boost/test/unit_test.hpp>

#include "../modules/register/register.hpp"
#include "support/fake_host.hpp"
#include "support/option_docs.hpp"

using namespace parley;
namespace reg = parley::mod_register;

namespace {

const xmpp::Jid kNobody;

config::Section section(std::map<std::string, config::OptionValue> values = {}) {
    config::Section s;
    s.name = "register";
    s.file = "parley.toml";
    s.values = std::move(values);
    return config::with_defaults(s, reg::kOptions, reg::kOptionCount);
}

config::OptionValue yes() { return config::OptionValue{true, 1}; }
config::OptionValue num(int64_t n) { return config::OptionValue{n, 1}; }

xml::Element fields(const std::string& user, const std::optional<std::string>& password) {
    xml::Element q("query", reg::kNsRegister);
    q.add_child("username", reg::kNsRegister).add_text(user);
    if (password) q.add_child("password", reg::kNsRegister).add_text(*password);
    return q;
}

xml::Element form(const std::string& user, const std::string& password, const std::optional<std::string>& invite,
                  const std::string& form_type = reg::kFormType) {
    xml::Element q("query", reg::kNsRegister);
    auto& x = q.add_child("x", reg::kNsData);
    x.set_attr("type", "submit");
    auto field = [&x](const std::string& var, const std::string& value) {
        auto& f = x.add_child("field", reg::kNsData);
        f.set_attr("var", var);
        f.add_child("value", reg::kNsData).add_text(value);
    };
    field("FORM_TYPE", form_type);
    field("username", user);
    field("password", password);
    if (invite) field(reg::kInviteField, *invite);
    return q;
}

// A module on a fake host, with its process-wide limits; invitations are
// the fake host's (the real ones: tests/unit/loop/host_invitations_test.cpp).
struct RegisterFixture {
    test::FakeHost host;
    reg::RateLimits limits;
    reg::Register module;
    int tokens = 0;

    void start(std::map<std::string, config::OptionValue> values = {}) {
        host.section = section(std::move(values));
        BOOST_REQUIRE(limits.reload(host.section).is_ok());
        host.services[reg::RateLimits::kServiceName] = &limits;
        BOOST_REQUIRE(module.configure(host.section).is_ok());
        Status s = module.start(host);
        BOOST_REQUIRE_MESSAGE(s, "register: start: " << s.to_string());
    }

    // An iq before authentication on a stream of example.org from `ip`.
    std::shared_ptr<test::RecordingResponder> pre_auth(const std::string& type, xml::Element payload,
                                                       const std::string& ip = "192.0.2.1", bool secure = true) {
        auto r = std::make_shared<test::RecordingResponder>();
        auto it = host.iqs.find(std::make_tuple(static_cast<int>(module::IqTarget::pre_auth), type, payload.ns(),
                                                payload.name()));
        if (it == host.iqs.end()) return r;
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", type);
        iq.set_attr("id", "r1");
        iq.add_child(payload);
        module::StreamInfo info{"example.org", "s1", secure, 0, kNobody, ip};
        module::IqRequest req{iq, *iq.first_child(), kNobody, kNobody, &info};
        it->second(req, r);
        return r;
    }
    // Lets the completions of the invitations and the accounts run.
    void settle() {
        for (int i = 0; i < 10; ++i) {
            size_t n = host.fake_accounts.run_pending();
            n += host.fake_invitations.run_pending();
            if (n == 0) return;
        }
    }
    std::string invite(uint32_t uses, bool expired = false) {
        const std::string token = fmt::format("token{:035}", ++tokens);
        host.fake_invitations.add(token, uses, expired);
        return token;
    }
    const std::map<std::string, test::FakeInvitations::Invite>& invites() { return host.fake_invitations.invites; }
};

void expect_error(const test::RecordingResponder& r, const std::string& condition, const std::string& type,
                  const std::string& why) {
    BOOST_TEST(r.answers == 1, "register: " << why << ": answered once");
    BOOST_TEST(!r.ok, "register: " << why << ": an error");
    BOOST_TEST(r.err.condition == condition, "register: " << why << ": " << r.err.condition << " (" << r.err.text << ")");
    BOOST_TEST(r.err.type == type, "register: " << why << ": type " << r.err.type);
    BOOST_TEST(!r.err.text.empty(), "register: " << why << ": with a text");
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(modules_register, RegisterFixture)

BOOST_AUTO_TEST_CASE(readme_documents_every_option_with_its_default) {
    const std::string doc = test::read_text(std::string(PARLEY_TEST_SRCDIR) + "/modules/register/README.md");
    BOOST_REQUIRE(!doc.empty());
    const auto missing = test::undocumented_options(doc, reg::kOptions, reg::kOptionCount);
    BOOST_TEST(missing.empty(), "register README: " << fmt::format("{}", fmt::join(missing, "; ")));
}

BOOST_AUTO_TEST_CASE(offers_the_stream_feature_only_on_encrypted_streams_and_advertises_disco) {
    start();
    BOOST_TEST(host.disco_features() == std::vector<std::string>{reg::kNsRegister});
    BOOST_REQUIRE(host.features_at.size() == 1u);
    BOOST_TEST((host.features_at[0].first == module::StreamStage::before_auth));
    module::StreamInfo tls{"example.org", "s", true, 0, kNobody, "192.0.2.1"};
    module::StreamInfo plain{"example.org", "s", false, 0, kNobody, "192.0.2.1"};
    auto f = host.features_at[0].second(tls);
    BOOST_REQUIRE(f.has_value());
    BOOST_TEST(f->name() == "register");
    BOOST_TEST(f->ns() == reg::kNsFeature);
    BOOST_TEST(!host.features_at[0].second(plain).has_value(), "register: never offered in clear");
    expect_error(*pre_auth("get", xml::Element("query", reg::kNsRegister), "192.0.2.1", false), "not-authorized",
                 "auth", "a request without TLS");
    expect_error(*pre_auth("set", fields("juliet", "pw"), "192.0.2.1", false), "not-authorized", "auth",
                 "a registration without TLS");
    BOOST_TEST(host.fake_accounts.passwords.empty());
}

BOOST_AUTO_TEST_CASE(without_registration_only_the_account_part_runs) {
    start({{"allow_registration", config::OptionValue{false, 1}}});
    BOOST_TEST(host.features_at.empty(), "register: no stream feature");
    BOOST_TEST(pre_auth("get", xml::Element("query", reg::kNsRegister))->answers == 0,
               "register: no pre-authentication handler");
    BOOST_TEST(host.disco_features() == std::vector<std::string>{reg::kNsRegister},
               "register: password change still works, so it is advertised");
    reg::Register other;
    auto bad = section({{"allow_registration", config::OptionValue{false, 1}}, {"require_invite", yes()}});
    BOOST_TEST(!other.configure(bad), "register: invitations without registration is a config mistake");
}

BOOST_AUTO_TEST_CASE(the_form_asks_for_username_and_password) {
    start();
    auto r = pre_auth("get", xml::Element("query", reg::kNsRegister));
    BOOST_REQUIRE(r->ok);
    BOOST_REQUIRE(r->payload.has_value());
    BOOST_TEST(r->payload->child("username", reg::kNsRegister) != nullptr);
    BOOST_TEST(r->payload->child("password", reg::kNsRegister) != nullptr);
    BOOST_TEST(r->payload->child("x", reg::kNsData) == nullptr);
    BOOST_TEST(r->payload->child("registered", reg::kNsRegister) == nullptr);
}

BOOST_AUTO_TEST_CASE(with_invitations_the_form_is_a_data_form_with_the_invitation_field) {
    start({{"require_invite", yes()}});
    auto r = pre_auth("get", xml::Element("query", reg::kNsRegister));
    BOOST_REQUIRE(r->ok);
    const xml::Element* x = r->payload->child("x", reg::kNsData);
    BOOST_REQUIRE(x);
    BOOST_TEST(x->attr_or("type") == "form");
    std::vector<std::string> vars;
    for (const auto& f : x->children())
        if (f.name() == "field") vars.push_back(std::string(f.attr_or("var")));
    BOOST_TEST(vars == (std::vector<std::string>{"FORM_TYPE", "username", "password", reg::kInviteField}));
    BOOST_TEST(r->payload->child("username", reg::kNsRegister) == nullptr, "register: no legacy fields (§6)");
    BOOST_TEST(r->payload->child("instructions", reg::kNsRegister) != nullptr);
}

BOOST_AUTO_TEST_CASE(registers_a_normalised_username_once_the_account_is_written) {
    start();
    auto r = pre_auth("set", fields("Juliet", "balcony"));
    BOOST_TEST(r->answers == 0, "register: no answer before the account is written");
    settle();
    BOOST_TEST(r->answers == 1);
    BOOST_TEST(r->ok);
    BOOST_TEST(!r->payload.has_value());
    BOOST_TEST(host.fake_accounts.passwords.count("juliet@example.org") == 1u, "register: nodeprep'd");
    BOOST_TEST(host.fake_accounts.passwords["juliet@example.org"] == "balcony");
    // The data form does the same, and name@domain of this server is taken.
    auto f = pre_auth("set", form("romeo@example.org", "verona", std::nullopt));
    settle();
    BOOST_TEST(f->ok);
    BOOST_TEST(host.fake_accounts.passwords.count("romeo@example.org") == 1u);
}

BOOST_AUTO_TEST_CASE(a_taken_name_is_a_conflict) {
    start();
    host.fake_accounts.passwords["juliet@example.org"] = "old";
    auto r = pre_auth("set", fields("juliet", "new"));
    settle();
    expect_error(*r, "conflict", "cancel", "an existing account");
    BOOST_TEST(host.fake_accounts.passwords["juliet@example.org"] == "old", "register: the account is untouched");
    // The race: free when asked, taken when written.
    host.fake_accounts.fail_next = Status::error("exists", "exists");
    auto raced = pre_auth("set", fields("tybalt", "pw"));
    settle();
    expect_error(*raced, "conflict", "cancel", "a name taken meanwhile");
}

BOOST_AUTO_TEST_CASE(bad_input_is_not_acceptable_or_a_bad_request) {
    start({{"max_per_address", num(1000)}});
    expect_error(*pre_auth("set", fields("juliet", std::nullopt)), "not-acceptable", "modify", "no password");
    expect_error(*pre_auth("set", fields("juliet", "")), "not-acceptable", "modify", "an empty password");
    expect_error(*pre_auth("set", fields("", "pw")), "not-acceptable", "modify", "an empty username");
    expect_error(*pre_auth("set", fields("jul iet", "pw")), "not-acceptable", "modify", "a space nodeprep refuses");
    expect_error(*pre_auth("set", fields("juliet@other.example", "pw")), "not-acceptable", "modify",
                 "another domain");
    expect_error(*pre_auth("set", fields("juliet", "line\nbreak")), "not-acceptable", "modify",
                 "a password parleyctl refuses");
    expect_error(*pre_auth("set", fields("juliet", std::string(1024, 'x'))), "not-acceptable", "modify",
                 "a password too long");
    auto both = form("juliet", "pw", std::nullopt);
    both.add_child("username", reg::kNsRegister).add_text("juliet");
    expect_error(*pre_auth("set", both), "bad-request", "modify", "fields and a form together");
    expect_error(*pre_auth("set", form("juliet", "pw", std::nullopt, "urn:other")), "bad-request", "modify",
                 "a form of another type");
    xml::Element remove("query", reg::kNsRegister);
    remove.add_child("remove", reg::kNsRegister);
    expect_error(*pre_auth("set", remove), "unexpected-request", "cancel", "a removal before login");
    settle();
    BOOST_TEST(host.fake_accounts.passwords.empty(), "register: nothing was created");
}

BOOST_AUTO_TEST_CASE(an_address_over_its_limit_waits_and_others_do_not) {
    start({{"max_per_address", num(2)}, {"max_total", num(3)}});
    host.fake_accounts.passwords["taken@example.org"] = "x";
    // A conflict counts too: guessing names is bounded.
    auto a = pre_auth("set", fields("taken", "pw"), "192.0.2.1");
    auto b = pre_auth("set", fields("one", "pw"), "192.0.2.1");
    auto c = pre_auth("set", fields("two", "pw"), "192.0.2.1");
    settle();
    BOOST_TEST(a->err.condition == "conflict");
    BOOST_TEST(b->ok);
    expect_error(*c, "policy-violation", "wait", "the third from one address");
    BOOST_TEST(c->err.text.find("try again in") != std::string::npos, c->err.text);
    // Malformed requests take nothing.
    expect_error(*pre_auth("set", fields("x", ""), "192.0.2.1"), "not-acceptable", "modify", "malformed");
    auto d = pre_auth("set", fields("three", "pw"), "192.0.2.2");
    settle();
    BOOST_TEST(d->ok, "register: another address still may");
    auto e = pre_auth("set", fields("four", "pw"), "192.0.2.3");
    settle();
    expect_error(*e, "resource-constraint", "wait", "over the overall limit");
    BOOST_TEST(host.fake_accounts.passwords.size() == 3u);
}

BOOST_AUTO_TEST_CASE(an_invitation_is_required_and_used_once) {
    start({{"require_invite", yes()}});
    const std::string token = invite(1);
    expect_error(*pre_auth("set", form("juliet", "pw", std::nullopt)), "not-acceptable", "modify", "no invitation");
    expect_error(*pre_auth("set", fields("juliet", "pw")), "not-acceptable", "modify", "legacy fields, no form");
    auto wrong = pre_auth("set", form("juliet", "pw", std::string(40, 'a')));
    settle();
    expect_error(*wrong, "not-acceptable", "modify", "an unknown invitation");
    BOOST_TEST(invites().size() == 1u);
    auto r = pre_auth("set", form("juliet", "pw", token));
    settle();
    BOOST_TEST(r->ok, "register: with the invitation: " << r->err.text);
    BOOST_TEST(host.fake_accounts.passwords.count("juliet@example.org") == 1u);
    BOOST_TEST(invites().empty(), "register: the single use is taken");
    auto again = pre_auth("set", form("romeo", "pw", token));
    settle();
    expect_error(*again, "not-acceptable", "modify", "a used invitation");
    BOOST_TEST(host.fake_accounts.passwords.count("romeo@example.org") == 0u);
}

BOOST_AUTO_TEST_CASE(an_expired_invitation_is_refused) {
    start({{"require_invite", yes()}});
    const std::string token = invite(5, true);
    auto r = pre_auth("set", form("juliet", "pw", token));
    settle();
    expect_error(*r, "not-acceptable", "modify", "an expired invitation");
    BOOST_TEST(r->err.text.find("expired") != std::string::npos);
    BOOST_TEST(host.fake_accounts.passwords.empty());
}

BOOST_AUTO_TEST_CASE(a_failed_creation_gives_the_use_back) {
    start({{"require_invite", yes()}});
    const std::string token = invite(1);
    host.fake_accounts.fail_next = Status::error("exists", "taken meanwhile");
    auto r = pre_auth("set", form("juliet", "pw", token));
    settle();
    expect_error(*r, "conflict", "cancel", "a name taken meanwhile");
    BOOST_REQUIRE(invites().size() == 1u);
    BOOST_TEST(invites().begin()->second.uses_left == 1u);
    BOOST_TEST(host.fake_invitations.given_back == 1);
    auto ok = pre_auth("set", form("juliet", "pw", token));
    settle();
    BOOST_TEST(ok->ok, "register: the invitation works again");
}

BOOST_AUTO_TEST_CASE(a_busy_store_is_a_wait) {
    start({{"require_invite", yes()}});
    const std::string token = invite(1);
    host.fake_invitations.refuse_next = Status::error("busy", "the writer's queue is full");
    auto r = pre_auth("set", form("juliet", "pw", token));
    expect_error(*r, "resource-constraint", "wait", "the writer's queue is full");
    BOOST_TEST(invites().size() == 1u, "register: nothing was used");
    BOOST_TEST(host.fake_accounts.passwords.empty());
}

BOOST_AUTO_TEST_CASE(the_password_rules_come_before_the_invitation_is_used) {
    start({{"require_invite", yes()}});
    const std::string token = invite(1);
    auto r = pre_auth("set", form("juliet", "line\nbreak", token));
    settle();
    expect_error(*r, "not-acceptable", "modify", "a password the host's rules refuse");
    BOOST_TEST(host.fake_accounts.password_checks == 1, "register: the host's rules were asked");
    BOOST_TEST(host.fake_invitations.uses_asked == 0, "register: the invitation was not touched");
    BOOST_TEST(invites().size() == 1u);
}

BOOST_AUTO_TEST_CASE(start_fails_when_the_invitations_cannot_be_opened) {
    host.invitations_error = Status::error("schema", "written by a newer Parley");
    host.section = section();
    BOOST_REQUIRE(limits.reload(host.section).is_ok());
    host.services[reg::RateLimits::kServiceName] = &limits;
    BOOST_REQUIRE(module.configure(host.section).is_ok());
    Status s = module.start(host);
    BOOST_TEST(s.code() == "schema", "register: " << s.to_string());
    // Without registration, invitations are not needed.
    reg::Register off;
    const auto no_reg = section({{"allow_registration", config::OptionValue{false, 1}}});
    BOOST_REQUIRE(off.configure(no_reg).is_ok());
    test::FakeHost other;
    other.invitations_error = Status::error("schema", "written by a newer Parley");
    other.section = no_reg;
    BOOST_TEST(off.start(other).is_ok(), "register: password change alone needs no invitations");
}

BOOST_AUTO_TEST_CASE(a_logged_in_user_sees_the_registration_and_changes_the_password) {
    start();
    host.fake_accounts.passwords["juliet@example.org"] = "old";
    auto g = host.ask(module::IqTarget::server, "get", xml::Element("query", reg::kNsRegister));
    BOOST_REQUIRE(g->ok);
    BOOST_TEST(g->payload->child("registered", reg::kNsRegister) != nullptr);
    BOOST_TEST(g->payload->child("username", reg::kNsRegister)->text() == "juliet");
    BOOST_TEST(g->payload->child("password", reg::kNsRegister)->text().empty(), "register: never the password");
    auto r = host.ask(module::IqTarget::server, "set", fields("juliet", "new"));
    BOOST_TEST(r->answers == 0);
    host.fake_accounts.run_pending();
    BOOST_TEST(r->ok);
    BOOST_TEST(host.fake_accounts.passwords["juliet@example.org"] == "new");
    BOOST_TEST(host.fake_accounts.kept.str() == "juliet@example.org/balcony", "register: the asking session stays");
    // To the account's own bare JID, as the form, works too.
    auto f = host.ask(module::IqTarget::account, "set", form("juliet", "newer", std::nullopt, reg::kChangeFormType),
                      "juliet@example.org");
    host.fake_accounts.run_pending();
    BOOST_TEST(f->ok);
    BOOST_TEST(host.fake_accounts.passwords["juliet@example.org"] == "newer");
}

BOOST_AUTO_TEST_CASE(a_password_change_follows_the_rules_and_touches_only_ones_own_account) {
    start();
    host.fake_accounts.passwords["juliet@example.org"] = "old";
    host.fake_accounts.passwords["romeo@example.org"] = "old";
    expect_error(*host.ask(module::IqTarget::server, "set", fields("juliet", "")), "not-acceptable", "modify",
                 "an empty password");
    expect_error(*host.ask(module::IqTarget::server, "set", fields("romeo", "mine")), "forbidden", "auth",
                 "another's username");
    expect_error(*host.ask(module::IqTarget::account, "set", fields("romeo", "mine"), "romeo@example.org"),
                 "forbidden", "auth", "another's bare JID");
    expect_error(*host.ask(module::IqTarget::account, "get", xml::Element("query", reg::kNsRegister),
                           "romeo@example.org"),
                 "forbidden", "auth", "another's registration");
    expect_error(*host.ask(module::IqTarget::server, "set", fields("juliet", std::nullopt)), "bad-request", "modify",
                 "no password element");
    host.fake_accounts.run_pending();
    BOOST_TEST(host.fake_accounts.passwords["juliet@example.org"] == "old");
    BOOST_TEST(host.fake_accounts.passwords["romeo@example.org"] == "old");
}

BOOST_AUTO_TEST_CASE(removal_is_off_by_default_and_deletes_the_account_when_on) {
    xml::Element remove("query", reg::kNsRegister);
    remove.add_child("remove", reg::kNsRegister);
    {
        RegisterFixture off;
        off.start();
        off.host.fake_accounts.passwords["juliet@example.org"] = "pw";
        expect_error(*off.host.ask(module::IqTarget::server, "set", remove), "not-allowed", "cancel", "removal off");
        BOOST_TEST(off.host.fake_accounts.passwords.size() == 1u);
    }
    start({{"allow_remove", yes()}});
    host.fake_accounts.passwords["juliet@example.org"] = "pw";
    auto with_more = remove;
    with_more.add_child("username", reg::kNsRegister).add_text("juliet");
    expect_error(*host.ask(module::IqTarget::server, "set", with_more), "bad-request", "modify",
                 "<remove/> with siblings");
    auto r = host.ask(module::IqTarget::server, "set", remove);
    host.fake_accounts.run_pending();
    BOOST_TEST(r->ok);
    BOOST_TEST(host.fake_accounts.passwords.empty());
    BOOST_TEST(!host.fake_accounts.removal_text.empty());
}

BOOST_AUTO_TEST_CASE(a_reload_may_require_invitations_but_not_switch_registration) {
    start();
    auto open = pre_auth("set", fields("juliet", "pw"));
    settle();
    BOOST_TEST(open->ok);
    BOOST_REQUIRE(module.reload(section({{"require_invite", yes()}})).is_ok());
    expect_error(*pre_auth("set", fields("romeo", "pw")), "not-acceptable", "modify", "invitations now required");
    auto get = pre_auth("get", xml::Element("query", reg::kNsRegister));
    BOOST_TEST(get->payload->child("x", reg::kNsData) != nullptr, "register: the form asks for the invitation");
    Status s = module.reload(section({{"allow_registration", config::OptionValue{false, 3}}}));
    BOOST_TEST(!s, "register: switching registration needs a restart");
    BOOST_TEST(s.message().find("allow_registration") != std::string::npos, s.message());
    // The refused reload left the running settings alone.
    expect_error(*pre_auth("set", fields("romeo", "pw")), "not-acceptable", "modify", "still invitations");
}

BOOST_AUTO_TEST_SUITE_END()
