// modules/last: XEP-0012 answers for the server (uptime) and for accounts
// (0 while available, else the time since the last available session went
// away with its status text), only to the account and its presence
// subscribers, with the missing-account error for everyone else; records
// written when the last available session goes away, durable, never replaced
// by an older one, and read again after a restart.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <set>

#include "../modules/last/last_activity.hpp"
#include "support/fake_host.hpp"
#include "support/fake_storage.hpp"

using namespace parley;
using mod_last::kNsLast;

namespace {

// Rosters as the roster service would tell them: who sees whose presence.
class FakeRosters final : public roster::RosterService {
public:
    Status start(module::ServiceHost&) override { return Status::ok(); }
    Result<std::optional<roster::Item>> item(unsigned, const xmpp::Jid&, const xmpp::Jid&) const override {
        return std::optional<roster::Item>();
    }
    Result<std::vector<roster::Item>> items(unsigned, const xmpp::Jid&) const override {
        return std::vector<roster::Item>();
    }
    bool presence_visible_to(unsigned, const xmpp::Jid& user, const xmpp::Jid& contact) const override {
        ++asked;
        return user == contact || visible.count({user.bare_str(), contact.bare_str()}) != 0;
    }
    std::set<std::pair<std::string, std::string>> visible;  // (user, contact)
    mutable int asked = 0;
};

xmpp::Jid jid(const std::string& s) { return xmpp::Jid::parse(s).value(); }

module::SessionInfo session(const std::string& full, uint64_t id, bool available) {
    module::SessionInfo s;
    s.full_jid = jid(full);
    s.ref = sessions::SessionRef{0, id};
    s.available = available;
    return s;
}

struct Fixture {
    test::FakeStorage storage;
    test::FakeHost host;
    FakeRosters rosters;
    mod_last::LastActivity module;
    int64_t now = 1000000;
    Fixture() {
        host.database_factory = storage.factory();
        host.services[roster::RosterService::kServiceName] = &rosters;
        // Records are written only for accounts that exist.
        for (const char* a : {"juliet@example.org", "romeo@example.org", "nurse@example.org", "tybalt@example.org"})
            host.fake_accounts.passwords[a] = "pw";
        // romeo is subscribed to juliet's presence; tybalt is not.
        rosters.visible.insert({"juliet@example.org", "romeo@example.org"});
        module.set_clock([this] { return now; });
        BOOST_REQUIRE(module.start(host).is_ok());
    }

    std::shared_ptr<test::RecordingResponder> ask(const std::string& from, const std::string& to,
                                                  module::IqTarget target = module::IqTarget::account) {
        auto r = std::make_shared<test::RecordingResponder>();
        auto it = host.iqs.find(std::make_tuple(static_cast<int>(target), std::string("get"), std::string(kNsLast),
                                                std::string("query")));
        BOOST_REQUIRE_MESSAGE(it != host.iqs.end(), "last: no handler for jabber:iq:last");
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "get");
        iq.set_attr("id", "l1");
        iq.add_child(xml::Element("query", kNsLast));
        auto f = jid(from), t = jid(to);
        module::IqRequest req{iq, *iq.first_child(), f, t};
        it->second(req, r);
        return r;
    }

    // The session's broadcast presence through the stanza_in hooks.
    void send_presence(const std::string& full, const std::string& type, const std::string& status = {}) {
        xml::Element p("presence", std::string(xmpp::kNsClient));
        if (!type.empty()) p.set_attr("type", type);
        if (!status.empty()) p.add_child("status", std::string(xmpp::kNsClient)).add_text(status);
        auto f = jid(full);
        xmpp::Jid none;
        module::StanzaContext ctx{p, f, none, true};
        for (auto& [point, prio, fn] : host.hooks)
            if (point == module::HookPoint::stanza_in)
                BOOST_TEST((fn(ctx).verdict == module::HookResult::Verdict::pass), "last: the hook only watches");
    }

    void set_available(uint64_t id, bool available) {
        for (auto& s : host.sessions)
            if (s.ref.session_id == id) s.available = available;
    }
    void remove(uint64_t id) {
        std::erase_if(host.sessions, [id](const module::SessionInfo& s) { return s.ref.session_id == id; });
    }
    // A session that logs in and sends its first available presence.
    module::SessionInfo login(const std::string& full, uint64_t id) {
        host.sessions.push_back(session(full, id, true));
        host.fire(module::SessionEvent::available, host.sessions.back());
        return host.sessions.back();
    }
    // It sends unavailable presence (with `status`) and stays bound.
    void goes_unavailable(const std::string& full, uint64_t id, const std::string& status) {
        send_presence(full, "unavailable", status);
        set_available(id, false);
        host.fire(module::SessionEvent::unavailable, session(full, id, false));
    }
    // Its connection ends (after unavailable presence or not).
    void closes(const std::string& full, uint64_t id) {
        bool was = false;
        for (auto& s : host.sessions)
            if (s.ref.session_id == id) was = s.available;
        remove(id);
        host.fire(module::SessionEvent::closed, session(full, id, was));
    }
};

bool same_error(const StanzaError& a, const StanzaError& b) {
    return a.type == b.type && a.condition == b.condition && a.text == b.text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_last)

BOOST_AUTO_TEST_CASE(records_round_trip_and_status_texts_are_cut_at_a_character) {
    mod_last::LastRecord r{1712345678, "Heading Home \xc3\xa9"};
    auto back = mod_last::decode_record(mod_last::encode_record(r));
    BOOST_REQUIRE(back);
    BOOST_TEST(back.value().when == r.when);
    BOOST_TEST(back.value().status == r.status);
    BOOST_TEST(mod_last::decode_record(mod_last::encode_record({5, ""})).value().status.empty());
    BOOST_TEST(!mod_last::decode_record("short"), "last: a record shorter than its time is corrupt");
    // "aé" is 3 bytes: cut at 2, the é would be split, so only "a" stays.
    BOOST_TEST(mod_last::truncate_utf8("a\xc3\xa9", 2) == "a");
    BOOST_TEST(mod_last::truncate_utf8("a\xc3\xa9", 3) == "a\xc3\xa9");
    BOOST_TEST(mod_last::truncate_utf8("abcdef", 4) == "abcd");
    // A 4-byte character at the cut.
    BOOST_TEST(mod_last::truncate_utf8("ab\xf0\x9f\x98\x80", 5) == "ab");
}

BOOST_FIXTURE_TEST_CASE(the_server_answers_with_its_uptime, Fixture) {
    host.uptime = 123456;
    auto r = ask("romeo@example.org/orchard", "example.org", module::IqTarget::server);
    BOOST_REQUIRE(r->ok);
    BOOST_TEST(r->payload->name() == "query");
    BOOST_TEST(r->payload->ns() == kNsLast);
    BOOST_TEST(r->payload->attr_or("seconds") == "123456");
    BOOST_TEST(r->payload->text().empty(), "XEP-0012 §5: no text for a server");
}

BOOST_FIXTURE_TEST_CASE(a_subscriber_sees_zero_while_online_then_the_time_and_text_after_logout, Fixture) {
    login("juliet@example.org/balcony", 1);
    auto online = ask("romeo@example.org/orchard", "juliet@example.org");
    BOOST_REQUIRE(online->ok);
    BOOST_TEST(online->payload->attr_or("seconds") == "0");
    BOOST_TEST(online->payload->text().empty());

    goes_unavailable("juliet@example.org/balcony", 1, "Heading Home");
    BOOST_TEST(storage.pending() == 1u, "last: the logout is written");
    auto before = ask("romeo@example.org/orchard", "juliet@example.org");
    BOOST_TEST(before->err.condition == "item-not-found", "nothing is recorded before the write committed");
    storage.complete();
    closes("juliet@example.org/balcony", 1);
    BOOST_TEST(storage.pending() == 0u, "closing a session that was not available writes nothing");

    now += 903;
    auto r = ask("romeo@example.org/orchard", "juliet@example.org");
    BOOST_REQUIRE(r->ok);
    BOOST_TEST(r->payload->attr_or("seconds") == "903");
    BOOST_TEST(r->payload->text() == "Heading Home");
    // The account itself may ask too.
    auto self = ask("juliet@example.org/other", "juliet@example.org");
    BOOST_TEST(self->ok);
    BOOST_TEST(self->payload->attr_or("seconds") == "903");
}

BOOST_FIXTURE_TEST_CASE(strangers_get_exactly_the_missing_account_error, Fixture) {
    login("juliet@example.org/balcony", 1);
    auto r = ask("tybalt@example.org/street", "juliet@example.org");
    BOOST_TEST(r->answers == 1);
    BOOST_TEST(!r->ok);
    BOOST_TEST(same_error(r->err, recipient_unavailable()),
               "last: got " << r->err.type << "/" << r->err.condition << " '" << r->err.text << "'");
    BOOST_TEST(rosters.asked > 0, "the roster service decides");
    // Without a record the stranger still gets the same.
    auto none = ask("tybalt@example.org/street", "nurse@example.org");
    BOOST_TEST(same_error(none->err, recipient_unavailable()));
}

BOOST_FIXTURE_TEST_CASE(no_record_yet_is_item_not_found_for_those_allowed, Fixture) {
    auto r = ask("juliet@example.org/balcony", "juliet@example.org");
    BOOST_TEST(r->answers == 1);
    BOOST_TEST(r->err.condition == "item-not-found");
    BOOST_TEST(r->err.type == "cancel");
}

BOOST_FIXTURE_TEST_CASE(only_the_last_available_session_going_away_is_recorded, Fixture) {
    login("juliet@example.org/balcony", 1);
    login("juliet@example.org/phone", 2);
    goes_unavailable("juliet@example.org/balcony", 1, "one down");
    BOOST_TEST(storage.pending() == 0u, "another resource is still available");
    auto r = ask("romeo@example.org/orchard", "juliet@example.org");
    BOOST_TEST(r->payload->attr_or("seconds") == "0");
    // A bound session that is not available does not count as online.
    now += 10;
    closes("juliet@example.org/phone", 2);  // a dropped connection: no unavailable presence, no text
    BOOST_TEST(storage.pending() == 1u);
    storage.complete();
    now += 5;
    auto after = ask("romeo@example.org/orchard", "juliet@example.org");
    BOOST_REQUIRE(after->ok);
    BOOST_TEST(after->payload->attr_or("seconds") == "5");
    BOOST_TEST(after->payload->text().empty(), "a dropped connection leaves no status text");
}

BOOST_FIXTURE_TEST_CASE(a_status_from_before_the_session_came_back_is_forgotten, Fixture) {
    login("juliet@example.org/balcony", 1);
    // The hook saw an unavailable presence that then never took effect.
    send_presence("juliet@example.org/balcony", "unavailable", "stale");
    host.fire(module::SessionEvent::available, host.sessions.back());
    closes("juliet@example.org/balcony", 1);
    storage.complete();
    auto r = ask("romeo@example.org/orchard", "juliet@example.org");
    BOOST_REQUIRE(r->ok);
    BOOST_TEST(r->payload->text().empty());
}

BOOST_FIXTURE_TEST_CASE(an_older_record_never_replaces_a_newer_one, Fixture) {
    // Two sessions on two workers end at about the same time; each worker
    // saw no other available session. Their writes may commit in either
    // order: the later time must stay.
    now = 2000;
    host.fire(module::SessionEvent::closed, session("juliet@example.org/balcony", 1, true));
    now = 1500;
    host.fire(module::SessionEvent::closed, session("juliet@example.org/phone", 2, true));
    BOOST_TEST(storage.pending() == 2u);
    storage.complete();
    now = 2100;
    auto r = ask("romeo@example.org/orchard", "juliet@example.org");
    BOOST_REQUIRE(r->ok);
    BOOST_TEST(r->payload->attr_or("seconds") == "100");
    // A clock stepped back: 0, never negative.
    now = 1000;
    BOOST_TEST(ask("romeo@example.org/orchard", "juliet@example.org")->payload->attr_or("seconds") == "0");
}

BOOST_FIXTURE_TEST_CASE(records_survive_a_restart, Fixture) {
    login("juliet@example.org/balcony", 1);
    goes_unavailable("juliet@example.org/balcony", 1, "gone fishing");
    storage.complete();
    test::FakeHost again;
    again.database_factory = storage.factory();
    again.services[roster::RosterService::kServiceName] = &rosters;
    mod_last::LastActivity restarted;
    restarted.set_clock([] { return int64_t{1000060}; });
    BOOST_REQUIRE(restarted.start(again).is_ok());
    auto r = std::make_shared<test::RecordingResponder>();
    xml::Element iq("iq", std::string(xmpp::kNsClient));
    iq.add_child(xml::Element("query", kNsLast));
    auto f = jid("romeo@example.org/orchard"), t = jid("juliet@example.org");
    module::IqRequest req{iq, *iq.first_child(), f, t};
    again.iqs.at(std::make_tuple(static_cast<int>(module::IqTarget::account), std::string("get"),
                                 std::string(kNsLast), std::string("query")))(req, r);
    BOOST_REQUIRE(r->ok);
    BOOST_TEST(r->payload->attr_or("seconds") == "60");
    BOOST_TEST(r->payload->text() == "gone fishing");
}

BOOST_FIXTURE_TEST_CASE(a_failed_write_is_not_fatal_and_disco_lists_the_feature, Fixture) {
    login("juliet@example.org/balcony", 1);
    storage.busy = true;
    goes_unavailable("juliet@example.org/balcony", 1, "lost");
    BOOST_TEST(storage.pending() == 0u);
    BOOST_TEST(host.disco_features() == std::vector<std::string>{kNsLast});
    BOOST_TEST(host.account_disco_features() == std::vector<std::string>{kNsLast});
}

BOOST_AUTO_TEST_CASE(without_the_roster_service_only_the_account_itself_may_ask) {
    test::FakeStorage storage;
    test::FakeHost host;
    host.database_factory = storage.factory();
    mod_last::LastActivity m;
    BOOST_REQUIRE(m.start(host).is_ok());
    auto it = host.iqs.find(std::make_tuple(static_cast<int>(module::IqTarget::account), std::string("get"),
                                            std::string(kNsLast), std::string("query")));
    BOOST_REQUIRE(it != host.iqs.end());
    xml::Element iq("iq", std::string(xmpp::kNsClient));
    iq.add_child(xml::Element("query", kNsLast));
    auto t = jid("juliet@example.org");
    for (const char* from : {"romeo@example.org/orchard", "juliet@example.org/balcony"}) {
        auto r = std::make_shared<test::RecordingResponder>();
        auto f = jid(from);
        module::IqRequest req{iq, *iq.first_child(), f, t};
        it->second(req, r);
        if (std::string(from).starts_with("romeo"))
            BOOST_TEST(same_error(r->err, recipient_unavailable()));
        else
            BOOST_TEST(r->err.condition == "item-not-found", "the account itself is allowed");
    }
}

// The record of `who` as stored, if any.
bool has_record(test::FakeStorage& storage, const std::string& who) {
    auto dbi = storage.env().database("test.activity", 1);
    BOOST_REQUIRE(dbi);
    auto txn = storage.env().begin_read();
    BOOST_REQUIRE(txn);
    auto v = txn->get(dbi.value(), who);
    BOOST_REQUIRE(v);
    return v.value().has_value();
}

BOOST_FIXTURE_TEST_CASE(a_deleted_accounts_record_goes_and_no_one_elses, Fixture) {
    // Accounts whose keys start alike: a node that is a prefix of another's,
    // and a domain that is a prefix of another's.
    const std::vector<std::string> accounts = {"al@example.org", "alice@example.org", "al@example.org.evil",
                                               "al@example.net"};
    uint64_t id = 10;
    for (const auto& a : accounts) {
        host.fake_accounts.passwords[a] = "pw";
        login(a + "/r", ++id);
        goes_unavailable(a + "/r", id, "bye");
        closes(a + "/r", id);
    }
    storage.complete();
    for (const auto& a : accounts) BOOST_REQUIRE(has_record(storage, a));
    BOOST_REQUIRE(host.account_deleted.size() == 1u);
    BOOST_TEST(host.delete_account(jid("al@example.org")).empty(), "last: done waits for the write");
    BOOST_TEST(storage.complete() == 1u);
    BOOST_REQUIRE(host.purge_results->size() == 1u);
    BOOST_TEST(host.purge_results->front().is_ok());
    BOOST_TEST(!has_record(storage, "al@example.org"));
    for (size_t i = 1; i < accounts.size(); ++i)
        BOOST_TEST(has_record(storage, accounts[i]), "last: " << accounts[i] << " keeps its record");
    BOOST_TEST(ask("al@example.org/r", "al@example.org")->err.condition == "item-not-found");
    BOOST_TEST(host.purge_results->size() == 1u, "last: done ran once");
}

BOOST_FIXTURE_TEST_CASE(a_session_ending_after_its_account_was_deleted_writes_nothing, Fixture) {
    // The account goes first, then its sessions are ended (the host's order):
    // a record written then would outlive the purge.
    login("juliet@example.org/balcony", 1);
    host.fake_accounts.passwords.erase("juliet@example.org");
    closes("juliet@example.org/balcony", 1);
    BOOST_TEST(storage.pending() == 0u);
    BOOST_TEST(!has_record(storage, "juliet@example.org"));
}

BOOST_FIXTURE_TEST_CASE(a_purge_the_writer_refuses_reports_the_error, Fixture) {
    login("juliet@example.org/balcony", 1);
    closes("juliet@example.org/balcony", 1);
    storage.complete();
    storage.busy = true;
    auto results = host.delete_account(jid("juliet@example.org"));
    BOOST_REQUIRE(results.size() == 1u);
    BOOST_TEST(results[0].code() == "busy");
    BOOST_TEST(has_record(storage, "juliet@example.org"), "last: refused, so nothing removed");
    storage.busy = false;
    BOOST_TEST(storage.complete() == 0u);
    BOOST_TEST(host.purge_results->size() == 1u, "last: done ran once");
}


BOOST_AUTO_TEST_SUITE_END()
