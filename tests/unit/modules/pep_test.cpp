// mod_pep against FakeHost with a real LMDB store (test::EnvDatabase):
// answers only after the write is durable, notifications only to sessions
// whose caps ask for the node and who may read it, caps learnt by disco#info
// and cached only when they verify, the last item on initial presence,
// access models with and without the roster service, bookmarks through
// private storage, disco, and the README.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <map>
#include <set>

#include "../modules/pep/element_codec.hpp"
#include "../modules/pep/pep.hpp"
#include "../modules/roster/roster_service.hpp"
#include "support/env_database.hpp"
#include "support/fake_host.hpp"
#include "support/option_docs.hpp"
#include "support/temp_dir.hpp"
#include "xml/serializer.hpp"

using namespace parley;
using namespace parley::mod_pep;

namespace {

const std::string kTune = "http://jabber.org/protocol/tune";
const std::string kInfo = "http://jabber.org/protocol/disco#info";

xmpp::Jid jid(const std::string& s) { return xmpp::Jid::parse(s).value(); }

// A roster service of fixed subscriptions: from[user] = contacts who see user's presence.
class FakeRoster final : public roster::RosterService {
public:
    Status start(module::ServiceHost&) override { return Status::ok(); }
    std::map<std::string, std::set<std::string>> from;
    Result<std::optional<roster::Item>> item(unsigned, const xmpp::Jid&, const xmpp::Jid&) const override {
        return std::optional<roster::Item>();
    }
    Result<std::vector<roster::Item>> items(unsigned, const xmpp::Jid& user) const override {
        std::vector<roster::Item> out;
        // user's contacts who see user (from) and whom user sees (to): both here when mutual.
        for (const auto& [owner, contacts] : from) {
            const bool user_sees_owner = contacts.count(user.bare_str()) > 0;
            const bool owner_sees_user = owner == user.bare_str();
            if (owner_sees_user)
                for (const auto& c : contacts) {
                    roster::Item it;
                    it.jid = jid(c);
                    it.subscription = roster::Subscription::from;
                    out.push_back(it);
                }
            if (user_sees_owner) {
                roster::Item it;
                it.jid = jid(owner);
                it.subscription = roster::Subscription::to;
                out.push_back(it);
            }
        }
        return out;
    }
    bool presence_visible_to(unsigned, const xmpp::Jid& user, const xmpp::Jid& contact) const override {
        if (user.bare() == contact.bare()) return true;
        auto it = from.find(user.bare_str());
        return it != from.end() && it->second.count(contact.bare_str()) > 0;
    }
};

struct Fixture {
    test::TempDir dir;
    std::unique_ptr<store::Env> env;
    std::shared_ptr<test::EnvDatabase> db;
    MDB_dbi dbi = 0;
    MDB_dbi db_dbi() const { return dbi; }
    test::FakeHost host;
    FakeRoster roster;
    Pep pep;
    uint64_t next_session = 1;

    explicit Fixture(bool with_roster = true) {
        auto e = store::Env::open(dir.sub("state"));
        BOOST_REQUIRE(e);
        env = std::move(e.value());
        auto d = env->database("pep.data", kStoreVersion);
        BOOST_REQUIRE(d);
        dbi = d.value();
        db = std::make_shared<test::EnvDatabase>(*env, d.value());
        host.database = [this](const module::DatabaseSpec& spec) -> Result<std::shared_ptr<module::Database>> {
            BOOST_TEST(spec.name == "data");
            return std::static_pointer_cast<module::Database>(db);
        };
        if (with_roster) host.services[roster::RosterService::kServiceName] = &roster;
        host.module_instance = &pep;
        BOOST_REQUIRE(pep.configure(host.section));
        BOOST_REQUIRE(pep.start(host));
    }

    uint64_t session(const std::string& full) {
        module::SessionInfo s;
        s.full_jid = jid(full);
        s.ref.session_id = next_session++;
        s.available = true;
        host.sessions.push_back(s);
        return s.ref.session_id;
    }

    // The client's presence through the module's stanza_in hook.
    void presence(const std::string& full, const std::string& ver = "", const std::string& type = "") {
        xml::Element p("presence", "jabber:client");
        if (!type.empty()) p.set_attr("type", type);
        if (!ver.empty()) {
            auto& c = p.add_child("c", std::string(kNsCaps));
            c.set_attr("hash", "sha-1");
            c.set_attr("node", "http://example.org/client");
            c.set_attr("ver", ver);
        }
        const xmpp::Jid from = jid(full), to;
        module::StanzaContext ctx{p, from, to, true};
        for (auto& [point, prio, fn] : host.hooks)
            if (point == module::HookPoint::stanza_in) BOOST_TEST((fn(ctx).verdict == module::HookResult::Verdict::pass));
    }

    // Makes `ver` a known caps value asking for `nodes`.
    void known_caps(const std::string& ver, std::vector<std::string> nodes) {
        pep.caps_cache().insert("sha-1 " + ver, std::make_shared<const NotifySet>(std::move(nodes)));
    }

    std::shared_ptr<test::RecordingResponder> ask(const std::string& from, const std::string& to, const std::string& type,
                                                  xml::Element payload) {
        auto r = std::make_shared<test::RecordingResponder>();
        auto it = host.iqs.find(std::make_tuple(static_cast<int>(module::IqTarget::account), type, payload.ns(), payload.name()));
        BOOST_REQUIRE_MESSAGE(it != host.iqs.end(), "pep: no handler for " << payload.name());
        xml::Element iq("iq", "jabber:client");
        iq.set_attr("type", type);
        iq.set_attr("id", "t");
        iq.add_child(payload);
        const xmpp::Jid f = jid(from), t = jid(to);
        module::IqRequest req{iq, *iq.first_child(), f, t};
        it->second(req, r);
        return r;
    }

    std::shared_ptr<test::RecordingResponder> publish(const std::string& node, const std::string& id,
                                                      const std::string& text, const std::string& options = "") {
        xml::Element ps("pubsub", std::string(kNsPubsub));
        auto& p = ps.add_child("publish", std::string(kNsPubsub));
        p.set_attr("node", node);
        auto& item = p.add_child("item", std::string(kNsPubsub));
        if (!id.empty()) item.set_attr("id", id);
        item.add_child("tune", kTune).add_child("title", kTune).add_text(text);
        if (!options.empty()) {
            auto& x = ps.add_child("publish-options", std::string(kNsPubsub)).add_child("x", "jabber:x:data");
            x.set_attr("type", "submit");
            auto& ft = x.add_child("field", "jabber:x:data");
            ft.set_attr("var", "FORM_TYPE");
            ft.add_child("value", "jabber:x:data").add_text(std::string(kFormPublishOptions));
            auto& f = x.add_child("field", "jabber:x:data");
            f.set_attr("var", "pubsub#access_model");
            f.add_child("value", "jabber:x:data").add_text(options);
        }
        auto r = ask("juliet@example.org/balcony", "juliet@example.org", "set", ps);
        db->flush();
        return r;
    }

    std::shared_ptr<test::RecordingResponder> items(const std::string& from, const std::string& node) {
        xml::Element ps("pubsub", std::string(kNsPubsub));
        ps.add_child("items", std::string(kNsPubsub)).set_attr("node", node);
        return ask(from, "juliet@example.org", "get", ps);
    }

    // Who got a pubsub event for `node` (the full JIDs), from host.sent; clears it.
    std::vector<std::string> event_recipients(const std::string& node) {
        std::vector<std::string> out;
        for (const auto& s : host.sent) {
            const xml::Element* ev = s.child("event", kNsPubsubEvent);
            const xml::Element* items = ev ? ev->child("items", kNsPubsubEvent) : nullptr;
            if (s.name() == "message" && items && items->attr_or("node") == node) {
                BOOST_TEST(s.attr_or("from") == "juliet@example.org", "pep: events come from the owner's bare JID");
                BOOST_TEST(s.attr_or("type") == "headline");
                out.emplace_back(s.attr_or("to"));
            }
        }
        host.sent.clear();
        std::sort(out.begin(), out.end());
        return out;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_pep)

BOOST_AUTO_TEST_CASE(the_publisher_hears_success_only_once_the_item_is_on_disk) {
    Fixture f;
    xml::Element ps("pubsub", std::string(kNsPubsub));
    auto& p = ps.add_child("publish", std::string(kNsPubsub));
    p.set_attr("node", kTune);
    p.add_child("item", std::string(kNsPubsub)).add_child("tune", kTune);
    auto r = f.ask("juliet@example.org/balcony", "juliet@example.org", "set", ps);
    BOOST_TEST(r->answers == 0, "pep: no answer before the write is durable");
    BOOST_TEST(f.db->queued() == 1u);
    f.db->flush();
    BOOST_REQUIRE(r->answers == 1);
    BOOST_REQUIRE(r->ok);
    const xml::Element* item = r->payload->child("publish", kNsPubsub)->child("item", kNsPubsub);
    BOOST_REQUIRE(item != nullptr);
    BOOST_TEST(item->attr_or("id").size() == 16u, "pep: a generated item id is returned");
    auto got = f.items("juliet@example.org/balcony", kTune);
    BOOST_TEST(got->payload->child("items", kNsPubsub)->child("item", kNsPubsub)->attr_or("id") == item->attr_or("id"));
}

BOOST_AUTO_TEST_CASE(notifications_go_to_available_resources_that_asked_and_may_read) {
    Fixture f;
    f.roster.from["juliet@example.org"] = {"romeo@example.org"};
    f.known_caps("wants", {kTune});
    f.known_caps("other", {"urn:example:other"});
    f.session("juliet@example.org/balcony");
    f.session("juliet@example.org/chamber");
    f.session("romeo@example.org/orchard");
    f.session("romeo@example.org/away");
    f.session("benvolio@example.org/street");
    f.presence("juliet@example.org/balcony", "wants");
    f.presence("juliet@example.org/chamber", "other");
    f.presence("romeo@example.org/orchard", "wants");
    f.presence("romeo@example.org/away", "wants");
    f.presence("romeo@example.org/away", "", "unavailable");
    f.presence("benvolio@example.org/street", "wants");  // no subscription
    f.host.sent.clear();
    auto r = f.publish(kTune, "1", "Finzi");
    BOOST_REQUIRE(r->ok);
    BOOST_TEST(f.event_recipients(kTune) ==
                   (std::vector<std::string>{"juliet@example.org/balcony", "romeo@example.org/orchard"}),
               "pep: +notify, availability and the presence access model decide");
    // Whitelist: only the owner's resources.
    f.publish("urn:example:w", "1", "x", "whitelist");
    f.known_caps("w", {"urn:example:w"});
    f.presence("romeo@example.org/orchard", "w");
    f.host.sent.clear();
    f.publish("urn:example:w", "2", "y");
    BOOST_TEST(f.event_recipients("urn:example:w").empty(), "pep: romeo wants it but is not on the whitelist");
}

BOOST_AUTO_TEST_CASE(caps_are_learnt_by_disco_and_cached_only_when_they_verify) {
    Fixture f;
    f.session("juliet@example.org/balcony");
    f.session("juliet@example.org/chamber");
    // The disco#info answer of a client asking for tune; its real verification string.
    xml::Element q("query", kInfo);
    auto& id = q.add_child("identity", kInfo);
    id.set_attr("category", "client");
    id.set_attr("type", "pc");
    q.add_child("feature", kInfo).set_attr("var", kTune + "+notify");
    const std::string ver = verification_string(q, "sha-1").value();

    f.presence("juliet@example.org/balcony", ver);
    f.presence("juliet@example.org/chamber", ver);
    BOOST_REQUIRE(f.host.iq_replies.size() == 1u);  // one query for both sessions
    const xml::Element& asked = f.host.sent.back();
    BOOST_TEST(asked.attr_or("to") == "juliet@example.org/balcony");
    BOOST_TEST(asked.child("query", kInfo)->attr_or("node") == "http://example.org/client#" + ver);
    xml::Element reply("iq", "jabber:client");
    reply.set_attr("type", "result");
    reply.add_child(q);
    f.host.iq_replies.back()(&reply);
    BOOST_TEST(f.pep.caps_cache().find("sha-1 " + ver) != nullptr, "pep: a verified ver is cached");
    f.host.sent.clear();
    f.publish(kTune, "1", "a");
    BOOST_TEST(f.event_recipients(kTune).size() == 2u, "pep: both sessions showing that ver get it");

    // A client whose answer does not match its ver: it gets what it said, nobody else, and nothing is cached.
    f.session("juliet@example.org/liar");
    f.presence("juliet@example.org/liar", "bogusver=");
    BOOST_REQUIRE(f.host.iq_replies.size() == 2u);
    f.host.iq_replies.back()(&reply);
    BOOST_TEST(f.pep.caps_cache().find("sha-1 bogusver=") == nullptr, "pep: an unverified ver is not cached");
    f.host.sent.clear();
    f.publish(kTune, "2", "b");
    BOOST_TEST(f.event_recipients(kTune).size() == 3u);
    // A client that does not answer (timeout): no notifications, no crash.
    f.session("juliet@example.org/mute");
    f.presence("juliet@example.org/mute", "silentver=");
    BOOST_REQUIRE(f.host.iq_replies.size() == 3u);
    f.host.iq_replies.back()(nullptr);
    f.host.sent.clear();
    f.publish(kTune, "3", "c");
    BOOST_TEST(f.event_recipients(kTune).size() == 3u);
}

BOOST_AUTO_TEST_CASE(the_last_item_is_sent_on_initial_presence_only) {
    Fixture f;
    f.roster.from["juliet@example.org"] = {"romeo@example.org"};
    f.publish(kTune, "last", "Purcell");
    f.known_caps("wants", {kTune});
    f.session("romeo@example.org/orchard");
    f.host.sent.clear();
    f.presence("romeo@example.org/orchard", "wants");
    auto to = f.event_recipients(kTune);
    BOOST_TEST(to == std::vector<std::string>{"romeo@example.org/orchard"}, "pep: the contact's new resource gets it");
    f.presence("romeo@example.org/orchard", "wants");  // a presence update, not initial
    BOOST_TEST(f.event_recipients(kTune).empty(), "pep: XEP-0163 §4.3.3: not again on a presence update");
    f.presence("romeo@example.org/orchard", "", "unavailable");
    f.presence("romeo@example.org/orchard", "wants");
    BOOST_TEST(f.event_recipients(kTune).size() == 1u, "pep: again after unavailable");
    // New caps on an update: only the newly wanted nodes.
    f.publish("urn:example:mood", "m", "x");
    f.known_caps("more", {kTune, "urn:example:mood"});
    f.host.sent.clear();
    f.presence("romeo@example.org/orchard", "more");
    BOOST_TEST(f.host.sent.size() == 1u, "pep: one last item, for the node newly asked for");
    BOOST_TEST(f.event_recipients("urn:example:mood").size() == 1u);
    // A node with send_last_published_item never (the bookmarks default) is not sent.
    f.session("juliet@example.org/desk");
    f.publish("urn:xmpp:bookmarks:1", "room@conference.example.org", "x");
    f.known_caps("bm", {"urn:xmpp:bookmarks:1"});
    f.host.sent.clear();
    f.presence("juliet@example.org/desk", "bm");
    BOOST_TEST(f.event_recipients("urn:xmpp:bookmarks:1").empty());
}

BOOST_AUTO_TEST_CASE(a_new_subscriber_gets_the_last_items_after_its_roster_push) {
    Fixture f;
    f.publish(kTune, "t", "Dowland");
    f.known_caps("wants", {kTune});
    f.session("romeo@example.org/orchard");
    f.presence("romeo@example.org/orchard", "wants");
    BOOST_TEST(f.event_recipients(kTune).empty(), "pep: not yet a contact");
    auto push = [&](const char* subscription) {
        xml::Element iq("iq", "jabber:client");
        iq.set_attr("type", "set");
        iq.set_attr("to", "romeo@example.org/orchard");
        auto& item = iq.add_child("query", "jabber:iq:roster").add_child("item", "jabber:iq:roster");
        item.set_attr("jid", "juliet@example.org");
        item.set_attr("subscription", subscription);
        const xmpp::Jid from, to = jid("romeo@example.org/orchard");
        module::StanzaContext ctx{iq, from, to, false};
        for (auto& [point, prio, fn] : f.host.hooks)
            if (point == module::HookPoint::stanza_out)
                BOOST_TEST((fn(ctx).verdict == module::HookResult::Verdict::pass), "pep: the push goes on");
    };
    push("none");
    BOOST_TEST(f.event_recipients(kTune).empty());
    f.roster.from["juliet@example.org"] = {"romeo@example.org"};  // the roster module approved it
    push("to");
    BOOST_TEST(f.event_recipients(kTune) == std::vector<std::string>{"romeo@example.org/orchard"},
               "pep: XEP-0163 §4.3.4: the new subscriber gets the last item");
}

BOOST_AUTO_TEST_CASE(access_models_with_and_without_the_roster_service) {
    {
        Fixture f;
        f.roster.from["juliet@example.org"] = {"romeo@example.org"};
        f.publish(kTune, "1", "a");
        BOOST_TEST(f.items("romeo@example.org/orchard", kTune)->ok, "pep: a contact reads a presence node");
        auto r = f.items("benvolio@example.org/street", kTune);
        BOOST_TEST(!r->ok);
        BOOST_TEST(r->err.condition == "not-authorized");
        BOOST_TEST(r->err.app_condition == "presence-subscription-required");
        f.publish("urn:example:open", "1", "a", "open");
        BOOST_TEST(f.items("benvolio@example.org/street", "urn:example:open")->ok, "pep: open is open to anyone");
        auto missing = f.items("romeo@example.org/orchard", "urn:example:none");
        BOOST_TEST(missing->err.condition == "item-not-found");
    }
    {
        Fixture f(false);
        f.publish(kTune, "1", "a");
        auto r = f.items("romeo@example.org/orchard", kTune);
        BOOST_TEST(r->err.condition == "not-authorized", "pep: without the roster service nobody but the owner");
        BOOST_TEST(f.items("juliet@example.org/chamber", kTune)->ok);
    }
}

BOOST_AUTO_TEST_CASE(bad_requests_get_the_right_errors) {
    Fixture f;
    auto send = [&](const std::string& from, const std::string& type, xml::Element ps) {
        auto r = f.ask(from, "juliet@example.org", type, std::move(ps));
        f.db->flush();
        BOOST_REQUIRE(r->answers == 1);
        return r->err;
    };
    xml::Element no_node("pubsub", std::string(kNsPubsub));
    no_node.add_child("publish", std::string(kNsPubsub)).add_child("item", std::string(kNsPubsub)).add_child("x", "x");
    auto e = send("juliet@example.org/b", "set", no_node);
    BOOST_TEST(e.condition == "bad-request");
    BOOST_TEST(e.app_condition == "nodeid-required");
    xml::Element two_payloads("pubsub", std::string(kNsPubsub));
    auto& item = two_payloads.add_child("publish", std::string(kNsPubsub));
    item.set_attr("node", "n");
    auto& it = item.add_child("item", std::string(kNsPubsub));
    it.add_child("a", "x");
    it.add_child("b", "x");
    BOOST_TEST(send("juliet@example.org/b", "set", two_payloads).app_condition == "invalid-payload");
    BOOST_TEST(send("romeo@example.org/o", "set", two_payloads).condition == "forbidden");
    xml::Element big("pubsub", std::string(kNsPubsub));
    auto& bp = big.add_child("publish", std::string(kNsPubsub));
    bp.set_attr("node", "n");
    bp.add_child("item", std::string(kNsPubsub)).add_child("blob", "x").add_text(std::string(70000, 'a'));
    e = send("juliet@example.org/b", "set", big);
    BOOST_TEST(e.condition == "not-acceptable");
    BOOST_TEST(e.app_condition == "payload-too-big");
    xml::Element sub("pubsub", std::string(kNsPubsub));
    sub.add_child("subscribe", std::string(kNsPubsub)).set_attr("node", "n");
    e = send("romeo@example.org/o", "set", sub);
    BOOST_TEST(e.condition == "feature-not-implemented");
    BOOST_TEST(e.app_feature == "subscribe");
    xml::Element empty("pubsub", std::string(kNsPubsub));
    BOOST_TEST(send("juliet@example.org/b", "get", empty).condition == "bad-request");
    xml::Element cfg("pubsub", std::string(kNsPubsubOwner));
    cfg.add_child("configure", std::string(kNsPubsubOwner)).set_attr("node", "missing");
    BOOST_TEST(send("juliet@example.org/b", "get", cfg).condition == "item-not-found");
    BOOST_TEST(send("romeo@example.org/o", "get", cfg).condition == "forbidden");
}

BOOST_AUTO_TEST_CASE(legacy_bookmarks_become_items_and_notifications) {
    Fixture f;
    f.known_caps("bm", {"urn:xmpp:bookmarks:1"});
    f.session("juliet@example.org/modern");
    f.presence("juliet@example.org/modern", "bm");
    f.host.sent.clear();
    auto legacy = [](std::vector<std::string> rooms) {
        xml::Element q("query", "jabber:iq:private");
        auto& s = q.add_child("storage", "storage:bookmarks");
        for (const auto& r : rooms) {
            auto& c = s.add_child("conference", "storage:bookmarks");
            c.set_attr("jid", r);
            c.set_attr("name", "Room " + r);
        }
        return q;
    };
    auto r = f.ask("juliet@example.org/old", "juliet@example.org", "set", legacy({"a@muc.example.org", "b@muc.example.org"}));
    f.db->flush();
    BOOST_REQUIRE(r->ok);
    BOOST_TEST(f.event_recipients("urn:xmpp:bookmarks:1").size() == 2u, "pep: one notification per new room");
    auto items = f.items("juliet@example.org/modern", "urn:xmpp:bookmarks:1");
    BOOST_REQUIRE(items->ok);
    BOOST_TEST(items->payload->child("items", kNsPubsub)->child_count() == 2u);
    r = f.ask("juliet@example.org/old", "juliet@example.org", "set", legacy({"b@muc.example.org"}));
    f.db->flush();
    BOOST_REQUIRE(r->ok);
    bool retracted = false;
    for (const auto& s : f.host.sent)
        if (auto* ev = s.child("event", kNsPubsubEvent))
            if (auto* its = ev->child("items", kNsPubsubEvent))
                retracted |= its->child("retract", kNsPubsubEvent) != nullptr &&
                             its->child("retract", kNsPubsubEvent)->attr_or("id") == "a@muc.example.org";
    BOOST_TEST(retracted, "pep: the removed room is retracted");
    BOOST_TEST(f.event_recipients("urn:xmpp:bookmarks:1").size() == 1u, "pep: only the change, not b again");
    xml::Element q("query", "jabber:iq:private");
    q.add_child("storage", "storage:bookmarks");
    auto view = f.ask("juliet@example.org/old", "juliet@example.org", "get", q);
    BOOST_REQUIRE(view->ok);
    const xml::Element* storage = view->payload->child("storage", "storage:bookmarks");
    BOOST_REQUIRE(storage != nullptr);
    BOOST_TEST(storage->child_count() == 1u);
    BOOST_TEST(storage->child("conference", "storage:bookmarks")->attr_or("jid") == "b@muc.example.org");
    // Someone else's private storage: forbidden.
    auto other = f.ask("romeo@example.org/o", "juliet@example.org", "get", q);
    BOOST_TEST(other->err.condition == "forbidden");
}

BOOST_AUTO_TEST_CASE(disco_shows_pep_and_only_readable_nodes) {
    Fixture f;
    f.publish(kTune, "1", "a");
    f.publish("urn:example:open", "1", "a", "open");
    // What PEP adds to the account's disco (the disco module answers it and
    // decides who may see it at all: modules/disco).
    bool pep = false;
    for (const auto& id : f.host.account_disco_identities())
        if (id.category == "pubsub" && id.type == "pep") pep = true;
    BOOST_TEST(pep);
    std::set<std::string> features;
    for (const auto& v : f.host.account_disco_features()) features.insert(v);
    BOOST_TEST(features.count("http://jabber.org/protocol/pubsub#publish-options") == 1u);
    BOOST_TEST(features.count("urn:xmpp:bookmarks:1#compat") == 1u);
    BOOST_TEST(features.count("http://jabber.org/protocol/pubsub#subscribe") == 0u, "pep: not offered, not advertised");
    std::vector<std::string> nodes;
    for (const auto& i : f.host.account_disco_item_list(jid("juliet@example.org"), jid("benvolio@example.org/s")))
        nodes.push_back(i.node);
    BOOST_TEST(nodes == std::vector<std::string>{"urn:example:open"}, "pep: a stranger's list holds only open nodes");
    nodes.clear();
    for (const auto& i : f.host.account_disco_item_list(jid("juliet@example.org"), jid("juliet@example.org/b")))
        nodes.push_back(i.node);
    BOOST_TEST(nodes.size() == 2u, "pep: the owner sees every node");
    // A node's own disco goes to PEP.
    xml::Element q("query", kInfo);
    q.set_attr("node", "urn:example:open");
    xml::Element iq("iq", "jabber:client");
    iq.set_attr("type", "get");
    iq.add_child(q);
    const xmpp::Jid from = jid("benvolio@example.org/s"), to = jid("juliet@example.org");
    module::IqRequest req{iq, *iq.first_child(), from, to};
    auto r = std::make_shared<test::RecordingResponder>();
    BOOST_TEST(f.host.account_disco_node(req, r));
    BOOST_REQUIRE(r->answers == 1);
    BOOST_TEST(r->ok);
}

BOOST_AUTO_TEST_CASE(readme_documents_every_option) {
    const std::string doc = test::read_text(std::string(PARLEY_TEST_SRCDIR) + "/modules/pep/README.md");
    BOOST_REQUIRE(!doc.empty());
    const auto missing = test::undocumented_options(doc, kOptions, kOptionCount);
    BOOST_TEST(missing.empty(), "pep README: " << fmt::format("{}", fmt::join(missing, "; ")));
}

// Stores, directly in the store, what an account can keep: a node with two
// items, a whitelisted node naming `members`, and a private XML element.
void fill(Fixture& f, const std::string& owner, const std::vector<std::string>& members) {
    Limits limits;
    StanzaError refused;
    xml::Element payload("tune", kTune);
    for (const char* id : {"i1", "i2"}) {
        NodeConfig config;
        config.max_items = 10;
        PublishRequest r{owner, std::string(kTune), id, owner + "/r", encode_element(payload), 1, config, {}};
        PublishOutcome out;
        BOOST_REQUIRE(f.env->write([&](store::Txn& t) { return publish(t, f.db_dbi(), r, limits, out, refused); }));
    }
    BOOST_REQUIRE(f.env->write([&](store::Txn& t) {
        NodeConfig wl;
        wl.access = AccessModel::whitelist;
        if (Status st = create_node(t, f.db_dbi(), owner, "urn:xmpp:bookmarks:1", wl, limits, refused); !st) return st;
        std::vector<std::pair<std::string, std::string>> changes;
        for (const auto& m : members) changes.emplace_back(m, "member");
        return set_members(t, f.db_dbi(), owner, "urn:xmpp:bookmarks:1", changes, limits, refused);
    }));
    xml::Element note("storage", "storage:rosternotes");
    BOOST_REQUIRE(f.env->write([&](store::Txn& t) {
        return write_private(t, f.db_dbi(), owner, {{"storage:rosternotes", "storage", encode_element(note)}}, limits,
                             refused);
    }));
}

// What the store holds of `owner`: {nodes, items, private elements, bytes
// counted}, and the whitelist of its bookmarks node.
struct Held {
    size_t nodes = 0, items = 0, privates = 0;
    uint64_t bytes = 0;
    std::vector<std::string> members;
};
Held held(Fixture& f, const std::string& owner) {
    Held h;
    auto txn = f.env->begin_read();
    BOOST_REQUIRE(txn);
    std::vector<std::pair<std::string, NodeRecord>> nodes;
    BOOST_REQUIRE(read_nodes(txn.value(), f.db_dbi(), owner, nodes));
    h.nodes = nodes.size();
    for (const auto& [name, rec] : nodes) {
        std::vector<StoredItem> items;
        BOOST_REQUIRE(read_items(txn.value(), f.db_dbi(), owner, name, 0, items));
        h.items += items.size();
        if (name == "urn:xmpp:bookmarks:1") h.members = rec.members;
    }
    auto p = read_private(txn.value(), f.db_dbi(), owner, "storage:rosternotes", "storage");
    BOOST_REQUIRE(p);
    h.privates = p.value() ? 1 : 0;
    auto a = read_account(txn.value(), f.db_dbi(), owner);
    BOOST_REQUIRE(a);
    h.bytes = a.value().bytes + a.value().nodes;
    return h;
}

BOOST_AUTO_TEST_CASE(a_deleted_accounts_nodes_items_and_private_xml_go_and_it_leaves_every_whitelist) {
    Fixture f;
    // Accounts whose keys start alike: a node that is a prefix of another's,
    // and a domain that is a prefix of another's. Each whitelists the others.
    const std::vector<std::string> accounts = {"al@example.org", "alice@example.org", "al@example.org.evil",
                                               "al@example.net"};
    for (const auto& a : accounts) {
        std::vector<std::string> others;
        for (const auto& o : accounts)
            if (o != a) others.push_back(o);
        fill(f, a, others);
    }
    for (const auto& a : accounts) {
        Held h = held(f, a);
        BOOST_REQUIRE((h.nodes == 2u && h.items == 2u && h.privates == 1u && h.members.size() == 3u));
    }
    BOOST_REQUIRE(f.host.account_deleted.size() == 1u);
    BOOST_TEST(f.host.delete_account(jid("al@example.org")).empty(), "pep: done waits for the write");
    BOOST_TEST(held(f, "al@example.org").nodes == 2u, "pep: nothing removed before the write commits");
    BOOST_TEST(f.db->flush() == 1u);
    BOOST_REQUIRE(f.host.purge_results->size() == 1u);
    BOOST_TEST(f.host.purge_results->front().is_ok());
    Held gone = held(f, "al@example.org");
    BOOST_TEST(gone.nodes == 0u);
    BOOST_TEST(gone.items == 0u);
    BOOST_TEST(gone.privates == 0u);
    BOOST_TEST(gone.bytes == 0u, "pep: the account record (counters) is gone");
    // No record of any kind is left under the account (the order index too).
    size_t left = 0;
    {
        auto txn = f.env->begin_read();
        BOOST_REQUIRE(txn);
        for (char kind : {'a', 'n', 'i', 'o', 'p'}) {
            std::string prefix(1, kind);
            put_str16(prefix, "al@example.org");
            BOOST_REQUIRE(txn->scan(f.db_dbi(), prefix, [&](std::string_view, std::string_view) { return ++left > 0; }));
        }
    }
    BOOST_TEST(left == 0u);
    for (size_t i = 1; i < accounts.size(); ++i) {
        Held h = held(f, accounts[i]);
        BOOST_TEST((h.nodes == 2u && h.items == 2u && h.privates == 1u), "pep: " << accounts[i] << " keeps its data");
        BOOST_TEST(h.members.size() == 2u, "pep: " << accounts[i] << "'s whitelist loses only the deleted account");
        BOOST_TEST((std::find(h.members.begin(), h.members.end(), "al@example.org") == h.members.end()));
    }
    BOOST_TEST(f.host.purge_results->size() == 1u, "pep: done ran once");
}

BOOST_AUTO_TEST_CASE(a_pep_purge_the_writer_refuses_reports_the_error) {
    Fixture f;
    fill(f, "juliet@example.org", {"romeo@example.org"});
    f.db->busy = true;
    auto results = f.host.delete_account(jid("juliet@example.org"));
    BOOST_REQUIRE(results.size() == 1u);
    BOOST_TEST(results[0].code() == "busy");
    f.db->busy = false;
    BOOST_TEST(f.db->flush() == 0u);
    BOOST_TEST(f.host.purge_results->size() == 1u, "pep: done ran once");
    BOOST_TEST(held(f, "juliet@example.org").nodes == 2u, "pep: refused, so nothing removed");
}


BOOST_AUTO_TEST_SUITE_END()
