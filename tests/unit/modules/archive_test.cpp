#define BOOST_TEST_DYN_LINK
#include "modules/archive/archiver.hpp"

#include <boost/test/unit_test.hpp>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "archive/audit/audit.hpp"
#include "archive/chain/verify.hpp"
#include "modules/archive/prefs.hpp"
#include "support/env_database.hpp"
#include "support/fake_host.hpp"
#include "support/fake_service_host.hpp"
#include "support/temp_dir.hpp"
#include "xml/serializer.hpp"

using namespace parley;
using namespace parley::mod_archive;
using Kind = module::RouteOutcome::Kind;

namespace {

xmpp::Jid jid(const std::string& s) { return xmpp::Jid::parse(s).value(); }

xml::Element msg(const std::string& type, bool body = true) {
    xml::Element m("message", std::string(xmpp::kNsClient));
    if (!type.empty()) m.set_attr("type", type);
    m.set_attr("id", "m1");
    if (body) m.add_child("body", std::string(xmpp::kNsClient)).add_text("hello");
    return m;
}

Plan plan_for(const xml::Element& m, Kind outcome, bool compliance = false,
              module::Origin origin = module::Origin::local_client, const std::string& from = "alice@example.org/a",
              const std::string& to = "bob@example.org", bool before = false) {
    xmpp::Jid f = jid(from), t = jid(to);
    bool fl = f.domain() == "example.org", tl = t.domain() == "example.org";
    return plan({m, f, t, origin, outcome, fl, tl, compliance, before});
}

class FakeHold final : public module::Hold {
public:
    void release() override { ++released; }
    void reject(const StanzaError& e) override {
        ++rejected;
        error = e;
    }
    int released = 0, rejected = 0;
    StanzaError error;
};

class FakeRouted final : public module::RoutedContext {
public:
    FakeRouted(xml::Element& s, const xmpp::Jid& f, const xmpp::Jid& t, module::Origin o,
               const module::RouteOutcome& out)
        : RoutedContext(s, f, t, o, out) {}
    std::shared_ptr<module::Hold> hold() override {
        holds.push_back(std::make_shared<FakeHold>());
        return holds.back();
    }
    void when_done(std::function<void(const StanzaError*)>) override {}
    std::vector<std::shared_ptr<FakeHold>> holds;
};

struct ArchiverFixture {
    test::TempDir tmp;
    std::unique_ptr<store::Env> env;
    std::shared_ptr<test::EnvDatabase> db;
    std::shared_ptr<test::EnvDatabase> prefs_db;
    MDB_dbi journal_dbi = 0;
    MDB_dbi db_dbi() const { return journal_dbi; }
    Service service;
    test::FakeHost host;
    Archiver archiver;
    std::string opened_environment;

    explicit ArchiverFixture(const std::string& durability = "durable", bool compliance = false) {
        std::string key = tmp.sub("archive.key");
        BOOST_REQUIRE(archive::create_key_file(key));
        config::Section s;
        s.values["key_file"] = {key, 1};
        s.values["durability"] = {durability, 2};
        s.values["compliance"] = {compliance, 3};
        test::FakeServiceHost sh(s);
        Status st = service.start(sh);
        BOOST_REQUIRE_MESSAGE(st, st.to_string());
        auto e = store::Env::open(tmp.sub("archive"), size_t{16} << 20);
        BOOST_REQUIRE(e);
        env = std::move(e.value());
        auto d = env->database("archive.journal", 1);
        BOOST_REQUIRE(d);
        journal_dbi = d.value();
        db = std::make_shared<test::EnvDatabase>(*env, d.value());
        auto pd = env->database("archive.prefs", 1);
        BOOST_REQUIRE(pd);
        prefs_db = std::make_shared<test::EnvDatabase>(*env, pd.value());
        host.database = [this](const module::DatabaseSpec& spec) -> Result<std::shared_ptr<module::Database>> {
            if (spec.name == "prefs") return std::shared_ptr<module::Database>(prefs_db);
            opened_environment = spec.environment;
            return std::shared_ptr<module::Database>(db);
        };
        host.services[archive::JournalService::kServiceName] = &service;
        st = archiver.start(host);
        BOOST_REQUIRE_MESSAGE(st, st.to_string());
    }
    ~ArchiverFixture() { archiver.stop(); }

    // Routes `m` through the archive's routed hook.
    std::unique_ptr<FakeRouted> route(xml::Element& m, const std::string& from, const std::string& to,
                                      Kind kind = Kind::delivered,
                                      module::Origin origin = module::Origin::local_client) {
        static xmpp::Jid f, t;
        f = jid(from);
        t = jid(to);
        static module::RouteOutcome out;
        out = {};
        out.kind = kind;
        auto c = std::make_unique<FakeRouted>(m, f, t, origin, out);
        BOOST_REQUIRE(host.routed.size() == 1u);
        host.routed[0](*c);
        return c;
    }
    std::optional<archive::Record> record(uint64_t id) {
        std::optional<archive::Record> out;
        Status s = db->read([&](const store::Txn& t, MDB_dbi d) {
            auto r = service.journal().get(t.handle(), d, id);
            if (!r) return r.status();
            out = *r;
            return Status::ok();
        });
        BOOST_REQUIRE_MESSAGE(s, s.to_string());
        return out;
    }
};

const xml::Element* stanza_id(const xml::Element& m) { return m.child("stanza-id", kNsSid); }

}  // namespace

BOOST_AUTO_TEST_SUITE(archive_module)

BOOST_AUTO_TEST_CASE(plan_follows_mam_rules) {
    Plan p = plan_for(msg("chat"), Kind::delivered);
    BOOST_TEST(p.journal);
    BOOST_REQUIRE(p.views.size() == 2u);
    BOOST_TEST(p.views[0].owner == "alice@example.org");
    BOOST_TEST(p.views[0].peer == "bob@example.org");
    BOOST_TEST(p.views[1].owner == "bob@example.org");
    BOOST_TEST(p.views[1].peer == "alice@example.org");
    BOOST_TEST(p.recipient_view);

    BOOST_TEST(plan_for(msg(""), Kind::taken_over).views.size() == 2u);  // normal, stored offline
    Plan bounced = plan_for(msg("chat"), Kind::no_account);
    BOOST_TEST(bounced.views.size() == 1u);  // the sender's only
    BOOST_TEST(!bounced.recipient_view);
    for (const char* type : {"headline", "error", "groupchat"}) {
        BOOST_TEST(!plan_for(msg(type), Kind::delivered).journal, type);
        Plan c = plan_for(msg(type), Kind::delivered, true);
        BOOST_TEST(c.journal, type);
        BOOST_TEST(c.views.empty(), type);
    }
    // A room's groupchat: journaled once (compliance mode) as the occupant
    // sent it to the room, not again in each copy the room sends.
    Plan to_room = plan_for(msg("groupchat"), Kind::domain, true, module::Origin::local_client, "alice@example.org/a",
                            "room@conference.example.org");
    BOOST_TEST(to_room.journal);
    BOOST_TEST(to_room.views.empty());
    BOOST_TEST(!plan_for(msg("groupchat"), Kind::delivered, true, module::Origin::server,
                         "room@conference.example.org/alice", "bob@example.org/b")
                    .journal);
    // When the room service journals its rooms' messages itself (mod_muc,
    // in the room's view), the routed hook leaves them alone.
    {
        xml::Element m = msg("groupchat");
        xmpp::Jid f = jid("alice@example.org/a"), t = jid("room@conference.example.org");
        BOOST_TEST(!plan({m, f, t, module::Origin::local_client, Kind::domain, true, false, true, false, true}).journal);
    }
    // A chat state without a body: journaled only in compliance mode.
    BOOST_TEST(!plan_for(msg("chat", false), Kind::delivered).journal);
    BOOST_TEST(plan_for(msg("chat", false), Kind::delivered, true).journal);
    xml::Element stored = msg("chat", false);
    stored.add_child("store", std::string(kNsHints));
    BOOST_TEST(plan_for(stored, Kind::delivered).views.size() == 2u);
    // XEP-0334: the sender asked it not be kept.
    for (const char* hint : {"no-store", "no-permanent-store"}) {
        xml::Element m = msg("chat");
        m.add_child(hint, std::string(kNsHints));
        BOOST_TEST(!plan_for(m, Kind::delivered).journal, hint);
        Plan c = plan_for(m, Kind::delivered, true);
        BOOST_TEST(c.journal, hint);
        BOOST_TEST(c.views.empty(), hint);
    }
    // Copies of what was journaled already are not journaled again.
    xml::Element carbon = msg("chat", false);
    carbon.add_child("received", "urn:xmpp:carbons:2");
    BOOST_TEST(!plan_for(carbon, Kind::delivered, true, module::Origin::server).journal);
    BOOST_TEST(!plan_for(msg("chat"), Kind::delivered, true, module::Origin::server, "alice@example.org/a",
                         "bob@example.org", true)
                    .journal);
    BOOST_TEST(!plan_for(msg("chat"), Kind::consumed, true).journal);
    // To oneself: one view, and the copy gets its stanza-id.
    Plan self = plan_for(msg("chat"), Kind::delivered, false, module::Origin::local_client, "alice@example.org/a",
                         "alice@example.org/b");
    BOOST_TEST(self.views.size() == 1u);
    BOOST_TEST(self.recipient_view);
    // From another server: the recipient's view only.
    Plan remote = plan_for(msg("chat"), Kind::delivered, false, module::Origin::remote_server, "zed@remote.example/x",
                           "bob@example.org");
    BOOST_REQUIRE(remote.views.size() == 1u);
    BOOST_TEST(remote.views[0].owner == "bob@example.org");
    // To another server (bounced until federation): the sender's view.
    Plan out = plan_for(msg("chat"), Kind::bounced, false, module::Origin::local_client, "alice@example.org/a",
                        "zed@remote.example");
    BOOST_REQUIRE(out.views.size() == 1u);
    BOOST_TEST(out.views[0].owner == "alice@example.org");
    BOOST_TEST(!plan_for(xml::Element("presence", std::string(xmpp::kNsClient)), Kind::delivered, true).journal);
}

BOOST_AUTO_TEST_CASE(prefs_rules_and_codec) {
    archive::Prefs p;
    BOOST_TEST(archive::keeps(p, "x@y", false));
    p.default_mode = archive::Prefs::Default::never;
    p.always = {"friend@y"};
    BOOST_TEST(!archive::keeps(p, "x@y", true));
    BOOST_TEST(archive::keeps(p, "friend@y", false));
    p.default_mode = archive::Prefs::Default::roster;
    p.never = {"friend@y", "spam@z"};
    BOOST_TEST(!archive::keeps(p, "friend@y", true));  // never wins
    BOOST_TEST(archive::keeps(p, "x@y", true));
    BOOST_TEST(!archive::keeps(p, "x@y", false));
    auto back = decode_prefs(encode_prefs(p));
    BOOST_REQUIRE(back);
    BOOST_TEST((*back == p));
    BOOST_TEST(!decode_prefs(""));
    BOOST_TEST(!decode_prefs(std::string(1, '\x03')));
    BOOST_TEST(!decode_prefs(encode_prefs(p) + "x"));
    BOOST_TEST((archive::parse_default("roster") == archive::Prefs::Default::roster));
    BOOST_TEST(!archive::parse_default("sometimes"));
}

BOOST_AUTO_TEST_CASE(prefs_drop_views) {
    Plan p = plan_for(msg("chat"), Kind::delivered);
    apply_prefs(p, false, [](const archive::View& v) { return v.owner != "bob@example.org"; });
    BOOST_TEST(p.journal);
    BOOST_REQUIRE(p.views.size() == 1u);
    BOOST_TEST(p.views[0].owner == "alice@example.org");
    BOOST_TEST(p.sender_view);
    BOOST_TEST(!p.recipient_view);
    Plan none = plan_for(msg("chat"), Kind::delivered);
    apply_prefs(none, false, [](const archive::View&) { return false; });
    BOOST_TEST(!none.journal);
    BOOST_TEST(!none.sender_view);
    Plan kept = plan_for(msg("chat"), Kind::delivered);
    apply_prefs(kept, true, [](const archive::View&) { return false; });
    BOOST_TEST(kept.journal);  // compliance keeps it
    BOOST_TEST(kept.views.empty());
}

BOOST_AUTO_TEST_CASE(stored_prefs_apply) {
    ArchiverFixture f;
    archive::Prefs never;
    never.default_mode = archive::Prefs::Default::never;
    int done = 0;
    BOOST_REQUIRE(f.service.set_prefs(f.host, "bob@example.org", never, [&](Status s) {
        BOOST_TEST(s.is_ok());
        ++done;
    }));
    f.prefs_db->flush();
    BOOST_TEST(done == 1);
    auto read = f.service.prefs(0, "bob@example.org");
    BOOST_REQUIRE(read);
    BOOST_TEST((*read == never));
    BOOST_TEST((f.service.prefs(0, "alice@example.org")->default_mode == archive::Prefs::Default::always));
    xml::Element m = msg("chat");
    auto c = f.route(m, "alice@example.org/a", "bob@example.org");
    // Kept for alice only: no stanza-id for bob.
    BOOST_TEST((!stanza_id(m) || stanza_id(m)->attr_or("by") == "alice@example.org"));
    BOOST_TEST(f.db->flush() == 1u);
}

BOOST_AUTO_TEST_CASE(strip_only_ours) {
    xml::Element m = msg("chat");
    m.add_child("stanza-id", std::string(kNsSid)).set_attr("by", "bob@example.org");
    m.add_child("stanza-id", std::string(kNsSid)).set_attr("by", "room@muc.elsewhere");
    size_t n = strip_stanza_ids(m, [](std::string_view by) { return by == "bob@example.org"; });
    BOOST_TEST(n == 1u);
    BOOST_REQUIRE(stanza_id(m));
    BOOST_TEST(stanza_id(m)->attr_or("by") == "room@muc.elsewhere");
}

BOOST_AUTO_TEST_CASE(log_throttle_logs_the_first_then_one_per_interval_with_the_count_left_out) {
    LogThrottle t(1000);
    BOOST_TEST(t.due(5000).value() == 0u, "archive: the first warning is logged");
    for (uint64_t ms = 5001; ms < 6000; ms += 100) BOOST_TEST(!t.due(ms).has_value(), "archive: quiet at " << ms);
    BOOST_TEST(t.due(6000).value() == 10u, "archive: the next line counts the 10 left out");
    BOOST_TEST(!t.due(6999).has_value());
    BOOST_TEST(t.due(9000).value() == 1u);
    BOOST_TEST(t.due(10000).value() == 0u, "archive: nothing left out since the last line");
    LogThrottle early(1000);
    BOOST_TEST(early.due(0).has_value(), "archive: a first warning at time 0 is logged too");
    BOOST_TEST(!early.due(1).has_value());
}

BOOST_AUTO_TEST_CASE(durable_holds_until_on_disk_and_gives_stanza_id) {
    ArchiverFixture f;
    BOOST_TEST(f.opened_environment == "archive");
    xml::Element m = msg("chat");
    auto c = f.route(m, "alice@example.org/a", "bob@example.org");
    BOOST_REQUIRE(c->holds.size() == 1u);
    BOOST_TEST(c->holds[0]->released == 0);  // not on disk yet
    const xml::Element* sid = stanza_id(m);
    BOOST_REQUIRE(sid);
    BOOST_TEST(sid->attr_or("by") == "bob@example.org");
    // The sender's id (the same record) rides along for carbon copies...
    std::vector<std::string> bys;
    for (const xml::Element& e : m.children())
        if (e.name() == "stanza-id") bys.push_back(std::string(e.attr_or("by")) + "=" + std::string(e.attr_or("id")));
    BOOST_REQUIRE(bys.size() == 2u);
    BOOST_TEST(bys[1] == "alice@example.org=" + std::string(sid->attr_or("id")));
    // ...and is removed from what bob receives.
    xml::Element delivered = m;
    xmpp::Jid bob = jid("bob@example.org/b"), alice = jid("alice@example.org/a");
    module::StanzaContext out{delivered, alice, bob, false, 7};
    for (auto& [point, prio, fn] : f.host.hooks)
        if (point == module::HookPoint::stanza_out) fn(out);
    BOOST_TEST(delivered.child_count() == 2u);  // body and bob's stanza-id
    BOOST_TEST(stanza_id(delivered)->attr_or("by") == "bob@example.org");
    auto id = archive::parse_stanza_id(sid->attr_or("id"));
    BOOST_REQUIRE(id);
    BOOST_TEST(!f.record(*id));
    BOOST_TEST(f.db->flush() == 1u);
    BOOST_TEST(c->holds[0]->released == 1);
    auto r = f.record(*id);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->entry.from == "alice@example.org/a");
    BOOST_TEST(r->entry.outcome == "delivered");
    BOOST_TEST(r->entry.views.size() == 2u);
    // The journal keeps the stanza as it was routed, before the stanza-id.
    BOOST_TEST(r->entry.stanza.find("stanza-id") == std::string::npos);
    BOOST_TEST(r->entry.stanza.find("<body>hello</body>") != std::string::npos);
    BOOST_TEST(f.archiver.counters().journaled == 1u);

    // Ids increase, and a second message is held as well.
    xml::Element m2 = msg("chat");
    auto c2 = f.route(m2, "bob@example.org/b", "alice@example.org");
    auto id2 = archive::parse_stanza_id(stanza_id(m2)->attr_or("id"));
    BOOST_REQUIRE(id2);
    BOOST_TEST(*id2 > *id);
    f.db->flush();
    BOOST_TEST(c2->holds[0]->released == 1);
}

BOOST_AUTO_TEST_CASE(a_write_that_fails_bounces_the_message) {
    ArchiverFixture f;
    f.db->busy = true;
    xml::Element m = msg("chat");
    auto c = f.route(m, "alice@example.org/a", "bob@example.org");
    BOOST_REQUIRE(c->holds.size() == 1u);
    BOOST_TEST(c->holds[0]->rejected == 1);
    BOOST_TEST(c->holds[0]->error.condition == "resource-constraint");
    BOOST_TEST(!stanza_id(m));
    BOOST_TEST(f.archiver.counters().refused == 1u);
}

BOOST_AUTO_TEST_CASE(compliance_mode_refuses_async_durability) {
    test::TempDir tmp;
    std::string key = tmp.sub("archive.key");
    BOOST_REQUIRE(archive::create_key_file(key));
    config::Section s;
    s.values["key_file"] = {key, 1};
    s.values["durability"] = {std::string("async"), 2};
    s.values["compliance"] = {true, 3};
    test::FakeServiceHost sh(s);
    Service service;
    Status st = service.start(sh);
    BOOST_REQUIRE(!st);
    BOOST_TEST(st.message().find("compliance mode needs durability") != std::string::npos, st.message());
}

BOOST_AUTO_TEST_CASE(async_mode_does_not_hold) {
    ArchiverFixture f("async");
    xml::Element m = msg("chat");
    auto c = f.route(m, "alice@example.org/a", "bob@example.org");
    BOOST_TEST(c->holds.empty());
    BOOST_REQUIRE(stanza_id(m));
    BOOST_TEST(f.db->flush() == 1u);
    BOOST_TEST(f.archiver.counters().journaled == 1u);
}

BOOST_AUTO_TEST_CASE(nothing_archived_is_not_held) {
    ArchiverFixture f;
    xml::Element h = msg("headline");
    auto c = f.route(h, "alice@example.org/a", "bob@example.org");
    BOOST_TEST(c->holds.empty());
    BOOST_TEST(!stanza_id(h));
    BOOST_TEST(f.db->queued() == 0u);
    // A resend of a journaled message (stream management) is not journaled again.
    xml::Element m = msg("chat");
    m.add_child("stanza-id", std::string(kNsSid)).set_attr("by", "bob@example.org");
    auto again = f.route(m, "alice@example.org/a", "bob@example.org/x", Kind::delivered, module::Origin::server);
    BOOST_TEST(again->holds.empty());
    BOOST_TEST(f.db->queued() == 0u);
}

BOOST_AUTO_TEST_CASE(compliance_keeps_everything_and_says_so) {
    ArchiverFixture f("durable", true);
    BOOST_TEST((std::find(f.host.features.begin(), f.host.features.end(), "urn:xmpp:parley:compliance-archive:0") !=
                f.host.features.end()));
    xml::Element h = msg("headline");
    auto c = f.route(h, "alice@example.org/a", "bob@example.org");
    BOOST_TEST(c->holds.size() == 1u);
    BOOST_TEST(!stanza_id(h));  // in nobody's MAM view
    BOOST_TEST(f.db->flush() == 1u);
    BOOST_TEST(c->holds[0]->released == 1);
    ArchiverFixture plain;
    BOOST_TEST((std::find(plain.host.features.begin(), plain.host.features.end(),
                          "urn:xmpp:parley:compliance-archive:0") == plain.host.features.end()));
}

BOOST_AUTO_TEST_CASE(forged_stanza_ids_from_clients_are_removed) {
    ArchiverFixture f;
    xml::Element m = msg("chat");
    m.add_child("stanza-id", std::string(kNsSid)).set_attr("by", "bob@example.org");
    m.add_child("stanza-id", std::string(kNsSid)).set_attr("by", "example.org");
    m.add_child("stanza-id", std::string(kNsSid)).set_attr("by", "other.example");
    xmpp::Jid from = jid("alice@example.org/a"), to = jid("bob@example.org");
    module::StanzaContext sc{m, from, to, true, 1};
    bool ran = false;
    for (auto& [point, prio, fn] : f.host.hooks)
        if (point == module::HookPoint::stanza_in) {
            fn(sc);
            ran = true;
        }
    BOOST_REQUIRE(ran);
    BOOST_TEST(m.child_count() == 2u);  // body and the other server's
    BOOST_TEST(stanza_id(m)->attr_or("by") == "other.example");
}

BOOST_AUTO_TEST_CASE(a_wrong_key_refuses_to_start) {
    ArchiverFixture f;
    xml::Element m = msg("chat");
    f.route(m, "alice@example.org/a", "bob@example.org");
    f.db->flush();
    // Another key file for the same archive.
    std::string other = f.tmp.sub("other.key");
    BOOST_REQUIRE(archive::create_key_file(other));
    config::Section s;
    s.values["key_file"] = {other, 1};
    test::FakeServiceHost sh(s);
    Service second;
    BOOST_REQUIRE(second.start(sh));
    test::FakeHost host;
    host.database = [&](const module::DatabaseSpec& spec) -> Result<std::shared_ptr<module::Database>> {
        if (spec.name == "prefs") return std::shared_ptr<module::Database>(f.prefs_db);
        return std::shared_ptr<module::Database>(f.db);
    };
    host.services[archive::JournalService::kServiceName] = &second;
    Archiver a;
    Status st = a.start(host);
    BOOST_TEST(st.code() == "wrong-key");
    BOOST_TEST(st.message().find("key file holds key") != std::string::npos);
    // And a key file that others may read is refused before anything opens.
    chmod(other.c_str(), 0644);
    Service third;
    BOOST_TEST(third.start(sh).code() == "insecure");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(archive_keeper)

namespace {

struct Answer {
    int calls = 0;
    Result<std::string> value = Status::error("none", "no answer");
};

std::shared_ptr<Answer> command(ArchiverFixture& f, const std::string& name, std::vector<std::string> args) {
    auto a = std::make_shared<Answer>();
    BOOST_REQUIRE(f.host.controls.count(name));
    f.host.controls[name](args, [a](Result<std::string> r) {
        ++a->calls;
        a->value = std::move(r);
    });
    return a;
}

std::string text(const std::shared_ptr<Answer>& a) {
    BOOST_REQUIRE_MESSAGE(a->calls == 1, "answers: " << a->calls);
    BOOST_REQUIRE_MESSAGE(a->value, a->value.status().to_string());
    return *a->value;
}

}  // namespace

BOOST_AUTO_TEST_CASE(retention_holds_purge_and_audit_end_to_end) {
    ArchiverFixture f;
    const uint64_t now = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    const uint64_t day = 86'400'000;
    // Old messages, as if written 40 days ago.
    std::vector<uint64_t> old;
    for (const char* to : {"bob@example.org", "carol@example.org", "carol@example.org"}) {
        Status s = f.env->write([&](store::Txn& t) {
            archive::Entry e;
            e.from = "alice@example.org/a";
            e.to = to;
            e.type = "chat";
            e.views = {{"alice@example.org", to}, {to, "alice@example.org"}};
            e.stanza = "<message/>";
            auto id = f.service.journal().append(t.handle(), f.db_dbi(), now - 40 * day, e);
            if (id) old.push_back(*id);
            return id ? Status::ok() : id.status();
        });
        BOOST_REQUIRE(s);
    }

    auto set = command(f, "retention", {"set", "domain", "example.org", "-", "30", "root"});
    BOOST_TEST(set->calls == 0);  // answered once on disk
    f.db->flush();
    BOOST_TEST(text(set).find("keep 30 days") != std::string::npos);
    BOOST_TEST(text(command(f, "retention", {"list"})).find("example.org") != std::string::npos);
    std::string explained = text(command(f, "retention", {"explain", "carol@example.org"}));
    BOOST_TEST(explained.find("\"days\":30") != std::string::npos, explained);
    BOOST_TEST(!command(f, "retention", {"set", "domain", "not a domain!", "-", "30", "root"})->value);
    BOOST_TEST(!command(f, "retention", {"set", "user", "a@example.org", "-", "soon", "root"})->value);

    auto hold = command(f, "hold", {"add", "CASE-9", "user", "bob@example.org", "legal", "pending", "litigation"});
    f.db->flush();
    BOOST_TEST(text(hold).find("CASE-9") != std::string::npos);
    BOOST_TEST(text(command(f, "retention", {"explain", "bob@example.org"})).find("CASE-9") != std::string::npos);

    // A pass is answered at once with its number (a control request must
    // not wait for a pass over a large archive); its outcome is asked for.
    auto purge = command(f, "archive", {"purge", "root"});
    BOOST_TEST(purge->calls == 1, "archive purge answers before the pass has run");
    const std::string started = text(purge);
    BOOST_TEST(started == "{\"pass\":1}");
    BOOST_TEST(text(command(f, "archive", {"purge-status", "1"})).find("\"running\":true") != std::string::npos);
    for (int i = 0; i < 10; ++i) f.db->flush();
    std::string summary = text(command(f, "archive", {"purge-status", "1"}));
    BOOST_TEST(!command(f, "archive", {"purge-status", "7"})->value);
    BOOST_TEST(summary.find("removed 2 record(s)") != std::string::npos, summary);
    BOOST_TEST(summary.find("1 kept by a legal hold") != std::string::npos, summary);
    BOOST_TEST(f.record(old[0]).has_value());  // bob's: on hold
    BOOST_TEST(!f.record(old[1]).has_value());
    BOOST_TEST(!f.record(old[2]).has_value());

    auto release = command(f, "hold", {"release", "CASE-9", "legal"});
    f.db->flush();
    BOOST_TEST(text(release).find("released") != std::string::npos);
    BOOST_TEST(text(command(f, "hold", {"list"})).find("released") != std::string::npos);
    auto audit = command(f, "archive", {"audit", "parleyctl (root)", "search", "user", "carol@example.org", "3 rows"});
    f.db->flush();
    text(audit);

    Status s = f.db->read([&](const store::Txn& t, MDB_dbi d) {
        auto events = archive::list_audit(f.service.journal(), t.handle(), d, 0, 100);
        BOOST_REQUIRE(events);
        std::string actions;
        for (const auto& e : *events) actions += e.action + " ";
        BOOST_TEST(actions == "retention.set hold.add purge hold.release search ");
        auto ok = archive::verify_audit(f.service.journal(), t.handle(), d);
        BOOST_REQUIRE(ok);
        BOOST_TEST(ok->ok());
        auto v = archive::verify(f.service.journal(), t.handle(), d, {});
        BOOST_REQUIRE(v);
        BOOST_TEST(v->ok());
        BOOST_TEST(v->purged == 2u);
        return Status::ok();
    });
    BOOST_REQUIRE(s);
}

BOOST_AUTO_TEST_CASE(a_pass_starts_where_the_last_ended_until_a_kept_record_comes_due_or_the_rules_change) {
    ArchiverFixture f;
    const uint64_t day = 86'400'000;
    auto now = [] {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    };
    const uint64_t t0 = now();
    // dave's messages are kept 1 day (the shortest rule, so every older
    // record is a candidate), everyone else's 30 days. The second record
    // comes due 2.5 s from now. (Ids follow time: written in time order.)
    std::vector<uint64_t> ids;
    for (uint64_t at : {t0 - 40 * day, t0 - 30 * day + 2500, t0 - 20 * day, t0 - 10 * day}) {
        Status s = f.env->write([&](store::Txn& t) {
            archive::Entry e;
            e.from = "carol@example.org/a";
            e.to = "erin@example.org";
            e.type = "chat";
            e.views = {{"carol@example.org", "erin@example.org"}, {"erin@example.org", "carol@example.org"}};
            e.stanza = "<message/>";
            auto id = f.service.journal().append(t.handle(), f.db_dbi(), at, e);
            if (id) ids.push_back(*id);
            return id ? Status::ok() : id.status();
        });
        BOOST_REQUIRE(s);
    }
    auto set = [&](const std::string& target, const std::string& days) {
        auto a = command(f, "retention", {"set", target.find('@') == std::string::npos ? "domain" : "user", target, "-",
                                         days, "root"});
        f.db->flush();
        text(a);
    };
    set("dave@example.org", "1");
    set("example.org", "30");
    auto pass = [&](int number) {
        text(command(f, "archive", {"purge", "root"}));
        for (int i = 0; i < 10; ++i) f.db->flush();
        return text(command(f, "archive", {"purge-status", std::to_string(number)}));
    };
    std::string first = pass(1);
    BOOST_TEST(first.find("examined 4, removed 1 record(s)") != std::string::npos, first);
    BOOST_TEST(!f.record(ids[0]).has_value());
    const bool kept = f.record(ids[1]).has_value();  // unless this machine took 2.5 s to get here
    // Nothing changed and nothing came due: the next pass starts where this one ended.
    std::string second = pass(2);
    if (now() < t0 + 2500) BOOST_TEST(second.find("examined 0,") != std::string::npos, second);
    // Once carol's oldest comes due, the pass walks from the start again and removes it.
    while (now() < t0 + 2600) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string third = pass(3);
    BOOST_TEST(!f.record(ids[1]).has_value(), third);
    if (kept) BOOST_TEST(third.find("examined 3, removed 1 record(s)") != std::string::npos, third);
    BOOST_TEST(f.record(ids[2]).has_value());
    // A rule that changes makes the next pass walk everything again.
    BOOST_TEST(pass(4).find("examined 0,") != std::string::npos);
    set("example.org", "15");
    std::string fifth = pass(5);
    BOOST_TEST(fifth.find("examined 2, removed 1 record(s)") != std::string::npos, fifth);
    BOOST_TEST(!f.record(ids[2]).has_value());
    BOOST_TEST(f.record(ids[3]).has_value());
    // And so does a legal hold placed or released.
    auto hold = command(f, "hold", {"add", "CASE-1", "user", "erin@example.org", "legal", "x"});
    f.db->flush();
    text(hold);
    std::string sixth = pass(6);
    BOOST_TEST(sixth.find("examined 1,") != std::string::npos, sixth);
}

BOOST_AUTO_TEST_CASE(a_deleted_account_takes_its_archive_with_it_unless_in_compliance_mode) {
    for (bool compliance : {false, true}) {
        ArchiverFixture f("durable", compliance);
        const uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch())
                                                       .count());
        std::vector<uint64_t> ids;
        for (const char* to : {"bob@example.org", "outside@remote.example"}) {
            Status s = f.env->write([&](store::Txn& t) {
                archive::Entry e;
                e.from = "alice@example.org/a";
                e.to = to;
                e.type = "chat";
                e.views = {{"alice@example.org", to}};
                if (std::string(to).starts_with("bob")) e.views.push_back({to, "alice@example.org"});
                e.stanza = "<message/>";
                auto id = f.service.journal().append(t.handle(), f.db_dbi(), now - 1000, e);
                if (id) ids.push_back(*id);
                return id ? Status::ok() : id.status();
            });
            BOOST_REQUIRE(s);
        }
        f.host.delete_account(jid("alice@example.org"));
        for (int i = 0; i < 10 && f.host.purge_results->empty(); ++i) f.db->flush();
        BOOST_REQUIRE(f.host.purge_results->size() == 1u);
        BOOST_TEST(f.host.purge_results->front().is_ok(), f.host.purge_results->front().to_string());
        // Bob keeps his copy; the message only alice had goes, outside compliance mode.
        BOOST_TEST(f.record(ids[0]).has_value());
        BOOST_TEST(f.record(ids[1]).has_value() == compliance, "compliance " << compliance);
        Status s = f.db->read([&](const store::Txn& t, MDB_dbi d) {
            auto events = archive::list_audit(f.service.journal(), t.handle(), d, 0, 100);
            BOOST_REQUIRE(events);
            BOOST_REQUIRE(!events->empty());
            const auto& e = events->back();
            BOOST_TEST(e.action == "account.forget");
            BOOST_TEST(e.scope == "user alice@example.org");
            BOOST_TEST(e.result.find(compliance ? "kept: compliance mode" : "removed 1 record(s)") != std::string::npos,
                       e.result);
            auto v = archive::verify(f.service.journal(), t.handle(), d, {});
            BOOST_REQUIRE(v);
            BOOST_TEST(v->ok());
            return Status::ok();
        });
        BOOST_REQUIRE(s);
    }
}

BOOST_AUTO_TEST_SUITE_END()
