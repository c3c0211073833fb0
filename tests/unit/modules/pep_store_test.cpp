// The PEP store on a real LMDB environment: publish with auto-create and
// preconditions, trimming to max_items, overwrite, the account's limits,
// retract, purge, delete, whitelist members, private XML; and the element
// codec, including damaged records.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <memory>

#include "../modules/pep/bookmarks.hpp"
#include "../modules/pep/element_codec.hpp"
#include "../modules/pep/node_store.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::mod_pep;

namespace {

struct Store {
    test::TempDir dir;
    std::unique_ptr<store::Env> env;
    MDB_dbi db = 0;
    Limits limits;
    Store() {
        auto e = store::Env::open(dir.sub("state"));
        BOOST_REQUIRE(e);
        env = std::move(e.value());
        auto d = env->database("pep.data", kStoreVersion);
        BOOST_REQUIRE(d);
        db = d.value();
    }
    // Runs a write function in its own transaction; returns its status (refused ones abort).
    template <class F>
    Status write(F fn) {
        return env->write([&](store::Txn& txn) { return fn(txn, db); });
    }
    Status pub(const std::string& node, const std::string& id, const std::string& text, PublishOutcome& out,
               StanzaError& err, SubmittedForm pre = {}, NodeConfig create = {}) {
        xml::Element p("p", "urn:example");
        p.add_text(text);
        PublishRequest r{"juliet@example.org", node, id, "juliet@example.org/balcony", encode_element(p), 1, create,
                         std::move(pre)};
        return write([&](store::Txn& t, MDB_dbi d) { return publish(t, d, r, limits, out, err); });
    }
    std::vector<std::string> ids(const std::string& node, size_t newest = 0) {
        std::vector<StoredItem> items;
        auto txn = env->begin_read();
        BOOST_REQUIRE(txn);
        BOOST_REQUIRE(read_items(txn.value(), db, "juliet@example.org", node, newest, items));
        std::vector<std::string> out;
        for (auto& i : items) out.push_back(i.id);
        return out;
    }
    std::optional<NodeRecord> node(const std::string& name) {
        auto txn = env->begin_read();
        auto n = read_node(txn.value(), db, "juliet@example.org", name);
        BOOST_REQUIRE(n);
        return *n;
    }
    AccountRecord account() {
        auto txn = env->begin_read();
        auto a = read_account(txn.value(), db, "juliet@example.org");
        BOOST_REQUIRE(a);
        return a.value();
    }
};

SubmittedForm form(std::vector<std::pair<std::string, std::string>> fields) {
    SubmittedForm f;
    for (auto& [k, v] : fields) f.fields.emplace_back(k, std::vector<std::string>{v});
    return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_pep_store)

BOOST_AUTO_TEST_CASE(codec_round_trips_and_refuses_damage) {
    xml::Element e("conference", "urn:xmpp:bookmarks:1");
    e.set_attr("name", "The Play's <the> Thing");
    e.set_attr(xml::xml_lang(), "en");
    e.add_child("nick", "urn:xmpp:bookmarks:1").add_text("JC");
    e.add_text(" tail & text ");
    e.add_child("ext", "urn:other").set_attr("x", "1");
    const std::string bytes = encode_element(e);
    auto back = decode_element(bytes);
    BOOST_REQUIRE(back);
    BOOST_TEST((back.value() == e), "pep store: the element comes back as it was");
    for (size_t cut = 0; cut < bytes.size(); cut += 3)
        BOOST_TEST(!decode_element(bytes.substr(0, cut)), "pep store: a truncated record is refused");
    BOOST_TEST(!decode_element(bytes + "x"), "pep store: trailing bytes are refused");
    std::string bad = bytes;
    bad[2] = '1';  // the name becomes "1onference": not an NCName
    BOOST_TEST(!decode_element(bad));
}

BOOST_AUTO_TEST_CASE(publish_creates_checks_preconditions_and_trims) {
    Store s;
    PublishOutcome out;
    StanzaError err;
    NodeConfig create;
    create.max_items = 2;
    create.access = AccessModel::whitelist;
    BOOST_REQUIRE(s.pub("n", "a", "1", out, err, {}, create));
    BOOST_TEST(out.created);
    BOOST_TEST((s.node("n")->config.access == AccessModel::whitelist));
    BOOST_REQUIRE(s.pub("n", "b", "2", out, err));
    BOOST_TEST(!out.created);
    BOOST_REQUIRE(s.pub("n", "c", "3", out, err));
    BOOST_TEST(out.trimmed == std::vector<std::string>{"a"}, "pep store: the oldest item goes past max_items");
    BOOST_TEST(s.ids("n") == (std::vector<std::string>{"b", "c"}));
    // Republishing an id replaces the item and makes it the newest.
    BOOST_REQUIRE(s.pub("n", "b", "2bis", out, err));
    BOOST_TEST(s.ids("n") == (std::vector<std::string>{"c", "b"}));
    BOOST_TEST(s.ids("n", 1) == std::vector<std::string>{"b"});
    BOOST_TEST(s.node("n")->items == 2u);
    // A precondition that does not match: refused, nothing written.
    Status st = s.pub("n", "d", "4", out, err, form({{"pubsub#access_model", "presence"}}));
    BOOST_TEST(st.code() == "refused");
    BOOST_TEST(err.condition == "conflict");
    BOOST_TEST(err.app_condition == "precondition-not-met");
    BOOST_TEST(s.ids("n") == (std::vector<std::string>{"c", "b"}));
    // Matching preconditions, "1" for true and the number as given.
    BOOST_REQUIRE(s.pub("n", "d", "4", out, err,
                        form({{"pubsub#access_model", "whitelist"}, {"pubsub#persist_items", "1"},
                              {"pubsub#max_items", "2"}})));
    st = s.pub("n", "e", "5", out, err, form({{"pubsub#max_items", "max"}}));
    BOOST_TEST(err.app_condition == "precondition-not-met", "pep store: 2 is not max");
}

BOOST_AUTO_TEST_CASE(account_limits_refuse_with_clear_errors) {
    Store s;
    s.limits.max_nodes = 2;
    s.limits.max_account_bytes = 600;
    PublishOutcome out;
    StanzaError err;
    BOOST_REQUIRE(s.pub("n1", "a", "x", out, err));
    BOOST_REQUIRE(s.pub("n2", "a", "x", out, err));
    Status st = s.pub("n3", "a", "x", out, err);
    BOOST_TEST(st.code() == "refused");
    BOOST_TEST(err.app_condition == "max-nodes-exceeded");
    BOOST_TEST(err.text.find("2 nodes") != std::string::npos, "pep store: the text says the limit: " << err.text);
    BOOST_TEST(s.account().nodes == 2u);
    st = s.pub("n1", "big", std::string(1000, 'x'), out, err);
    BOOST_TEST(st.code() == "refused");
    BOOST_TEST(err.condition == "resource-constraint");
    BOOST_TEST(s.ids("n1") == std::vector<std::string>{"a"}, "pep store: the refused item was not kept");
    // Bytes are given back when items go.
    const uint64_t before = s.account().bytes;
    NodeRecord rec;
    BOOST_REQUIRE(s.write([&](store::Txn& t, MDB_dbi d) { return retract(t, d, "juliet@example.org", "n1", "a", rec, err); }));
    BOOST_TEST(s.account().bytes < before);
    BOOST_TEST(s.ids("n1").empty());
    st = s.write([&](store::Txn& t, MDB_dbi d) { return retract(t, d, "juliet@example.org", "n1", "a", rec, err); });
    BOOST_TEST(err.condition == "item-not-found");
}

BOOST_AUTO_TEST_CASE(purge_delete_configure_and_members) {
    Store s;
    PublishOutcome out;
    StanzaError err;
    NodeConfig create;
    create.max_items = 10;
    for (const char* id : {"a", "b", "c"}) BOOST_REQUIRE(s.pub("n", id, id, out, err, {}, create));
    NodeRecord rec;
    std::vector<std::string> trimmed;
    BOOST_REQUIRE(s.write([&](store::Txn& t, MDB_dbi d) {
        return configure_node(t, d, "juliet@example.org", "n", form({{"pubsub#max_items", "1"}}), s.limits, rec,
                              trimmed, err);
    }));
    BOOST_TEST(trimmed == (std::vector<std::string>{"a", "b"}), "pep store: lowering max_items trims the oldest");
    BOOST_TEST(s.ids("n") == std::vector<std::string>{"c"});
    Status st = s.write([&](store::Txn& t, MDB_dbi d) {
        return configure_node(t, d, "juliet@example.org", "n", form({{"pubsub#access_model", "roster"}}), s.limits,
                              rec, trimmed, err);
    });
    BOOST_TEST(st.code() == "refused");
    BOOST_TEST(err.condition == "not-acceptable");
    BOOST_TEST(err.text.find("pubsub#access_model") != std::string::npos);
    BOOST_REQUIRE(s.write([&](store::Txn& t, MDB_dbi d) {
        return set_members(t, d, "juliet@example.org", "n", {{"romeo@example.org", "member"}}, s.limits, err);
    }));
    BOOST_TEST(s.node("n")->members == std::vector<std::string>{"romeo@example.org"});
    BOOST_REQUIRE(s.write([&](store::Txn& t, MDB_dbi d) { return delete_node(t, d, "juliet@example.org", "n", true, rec, err); }));
    BOOST_TEST(s.ids("n").empty(), "pep store: purge removes the items");
    BOOST_TEST(s.node("n").has_value(), "pep store: purge keeps the node");
    BOOST_REQUIRE(s.write([&](store::Txn& t, MDB_dbi d) { return delete_node(t, d, "juliet@example.org", "n", false, rec, err); }));
    BOOST_TEST(!s.node("n").has_value());
    BOOST_TEST(s.account().nodes == 0u);
    BOOST_TEST(s.account().bytes == 0u, "pep store: every byte is given back");
    BOOST_TEST(s.write([&](store::Txn& t, MDB_dbi d) {
                    return create_node(t, d, "juliet@example.org", "m", NodeConfig{}, s.limits, err);
                }).is_ok());
    st = s.write([&](store::Txn& t, MDB_dbi d) { return create_node(t, d, "juliet@example.org", "m", NodeConfig{}, s.limits, err); });
    BOOST_TEST(err.condition == "conflict", "pep store: the node exists already");
}

BOOST_AUTO_TEST_CASE(private_xml_is_stored_per_namespace_and_counted) {
    Store s;
    s.limits.max_account_bytes = 4096;
    StanzaError err;
    xml::Element prefs("prefs", "urn:example:prefs");
    prefs.add_child("color", "urn:example:prefs").add_text("green");
    BOOST_REQUIRE(s.write([&](store::Txn& t, MDB_dbi d) {
        return write_private(t, d, "juliet@example.org", {{"urn:example:prefs", "prefs", encode_element(prefs)}},
                             s.limits, err);
    }));
    auto txn = s.env->begin_read();
    auto v = read_private(txn.value(), s.db, "juliet@example.org", "urn:example:prefs", "prefs");
    BOOST_REQUIRE(v);
    BOOST_REQUIRE(v->has_value());
    BOOST_TEST((decode_element(**v).value() == prefs));
    auto none = read_private(txn.value(), s.db, "romeo@example.org", "urn:example:prefs", "prefs");
    BOOST_TEST(!none->has_value(), "pep store: per user");
    Status st = s.write([&](store::Txn& t, MDB_dbi d) {
        return write_private(t, d, "juliet@example.org", {{"urn:example:big", "big", std::string(5000, 'x')}}, s.limits, err);
    });
    BOOST_TEST(st.code() == "refused");
    BOOST_TEST(err.condition == "resource-constraint");
}

BOOST_AUTO_TEST_CASE(legacy_bookmarks_convert_both_ways) {
    xml::Element storage("storage", "storage:bookmarks");
    auto& c = storage.add_child("conference", "storage:bookmarks");
    c.set_attr("jid", "play@conference.example.org");
    c.set_attr("name", "The Play");
    c.set_attr("autojoin", "1");
    c.add_child("nick", "storage:bookmarks").add_text("JC");
    c.add_child("state", "urn:client").set_attr("minimized", "true");
    auto& bad = storage.add_child("conference", "storage:bookmarks");
    bad.set_attr("jid", "not a jid@@");
    auto& url = storage.add_child("url", "storage:bookmarks");
    url.set_attr("url", "https://example.org/");
    LegacyBookmarks b = from_legacy(storage);
    BOOST_REQUIRE(b.rooms.size() == 1u);
    BOOST_TEST(b.rooms[0].first == "play@conference.example.org");
    const xml::Element& conf = b.rooms[0].second;
    BOOST_TEST(conf.ns() == "urn:xmpp:bookmarks:1");
    BOOST_TEST(conf.attr_or("autojoin") == "true");
    BOOST_TEST(conf.child("nick", "urn:xmpp:bookmarks:1")->text() == "JC");
    BOOST_REQUIRE(conf.child("extensions", "urn:xmpp:bookmarks:1") != nullptr);
    BOOST_TEST(conf.child("extensions", "urn:xmpp:bookmarks:1")->child("state", "urn:client") != nullptr,
               "pep bookmarks: another client's data goes to <extensions/>");
    BOOST_TEST(b.rest.child("url", "storage:bookmarks") != nullptr, "pep bookmarks: URLs are kept apart");
    StoredItem it{"play@conference.example.org", "", 1, 0, encode_element(conf)};
    xml::Element back = to_legacy({it}, &b.rest);
    const xml::Element* bc = back.child("conference", "storage:bookmarks");
    BOOST_REQUIRE(bc != nullptr);
    BOOST_TEST(bc->attr_or("jid") == "play@conference.example.org");
    BOOST_TEST(bc->attr_or("name") == "The Play");
    BOOST_TEST(bc->attr_or("autojoin") == "true");
    BOOST_TEST(bc->child("nick", "storage:bookmarks")->text() == "JC");
    BOOST_TEST(bc->child("state", "urn:client") != nullptr, "pep bookmarks: extensions come back");
    BOOST_TEST(back.child("url", "storage:bookmarks") != nullptr);
    // And the round trip is stable: converting the view again gives the same items.
    LegacyBookmarks again = from_legacy(back);
    BOOST_TEST((again.rooms[0].second == conf), "pep bookmarks: no spurious change on a round trip");
}

BOOST_AUTO_TEST_SUITE_END()
