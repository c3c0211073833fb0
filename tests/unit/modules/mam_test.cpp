#define BOOST_TEST_DYN_LINK
#include "modules/mam/mam.hpp"

#include <boost/test/unit_test.hpp>

#include "archive/journal/journal.hpp"
#include "modules/archive/archiver.hpp"
#include "modules/archive/prefs.hpp"
#include "support/env_database.hpp"
#include "support/fake_host.hpp"
#include "support/fake_service_host.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::mod_mam;

namespace {

constexpr uint64_t kT0 = 1'764'700'000'000;  // 2025-12-02T18:26:40Z

xml::Element field(const std::string& var, const std::vector<std::string>& vals) {
    xml::Element f("field", std::string(kNsData));
    f.set_attr("var", var);
    for (const auto& v : vals) f.add_child("value", std::string(kNsData)).add_text(v);
    return f;
}

xml::Element query(std::vector<xml::Element> fields, std::optional<xml::Element> set = std::nullopt,
                   bool flip = false) {
    xml::Element q("query", std::string(kNsMam));
    q.set_attr("queryid", "q1");
    xml::Element& x = q.add_child("x", std::string(kNsData));
    x.set_attr("type", "submit");
    x.add_child(field("FORM_TYPE", {std::string(kNsMam)}));
    for (auto& f : fields) x.add_child(std::move(f));
    if (set) q.add_child(std::move(*set));
    if (flip) q.add_child("flip-page", std::string(kNsMam));
    return q;
}

xml::Element rsm(std::optional<size_t> max, std::optional<std::string> after, std::optional<std::string> before) {
    xml::Element s("set", std::string(kNsRsm));
    if (max) s.add_child("max", std::string(kNsRsm)).add_text(std::to_string(*max));
    if (after) s.add_child("after", std::string(kNsRsm)).add_text(*after);
    if (before) s.add_child("before", std::string(kNsRsm)).add_text(*before);
    return s;
}

Query ok(const xml::Element& q) {
    auto r = parse_query(q);
    if (auto* e = std::get_if<StanzaError>(&r)) BOOST_FAIL("expected a query, got " << e->condition << ": " << e->text);
    return std::get<Query>(r);
}

std::string refused(const xml::Element& q) {
    auto r = parse_query(q);
    BOOST_REQUIRE(std::holds_alternative<StanzaError>(r));
    return std::get<StanzaError>(r).condition;
}

// A view of ids 1..n (as ids: first_id_at(kT0 + i*1000)).
struct FakeView {
    std::vector<uint64_t> ids;
    explicit FakeView(int n) {
        for (int i = 0; i < n; ++i) ids.push_back(archive::first_id_at(kT0 + static_cast<uint64_t>(i) * 1000));
    }
    ViewScan scan() const {
        return [this](uint64_t after, uint64_t before, bool backward, const std::function<bool(uint64_t)>& fn) {
            if (!backward) {
                for (uint64_t id : ids)
                    if (id > after && id < before && !fn(id)) return;
            } else {
                for (auto it = ids.rbegin(); it != ids.rend(); ++it)
                    if (*it > after && *it < before && !fn(*it)) return;
            }
        };
    }
};

bool all(uint64_t) { return true; }

}  // namespace

BOOST_AUTO_TEST_SUITE(mam_query)

BOOST_AUTO_TEST_CASE(datetimes) {
    BOOST_TEST(*parse_datetime("1970-01-01T00:00:00Z") == 0u);
    BOOST_TEST(*parse_datetime("2025-12-02T18:26:40Z") == kT0);
    BOOST_TEST(*parse_datetime("2025-12-02T18:26:40.5Z") == kT0 + 500);
    BOOST_TEST(*parse_datetime("2025-12-02T19:26:40+01:00") == kT0);
    BOOST_TEST(*parse_datetime("2025-12-02T17:26:40.123-01:00") == kT0 + 123);
    for (const char* bad : {"2025-12-02", "2025-13-02T00:00:00Z", "2025-02-30T00:00:00Z", "2025-12-02T18:26:40",
                            "2025-12-02T18:26:40+0100", "2025-12-02T18:26:40.Z", "yesterday", ""})
        BOOST_TEST(!parse_datetime(bad), bad);
    BOOST_TEST(format_datetime(kT0 + 7) == "2025-12-02T18:26:40.007Z");
    BOOST_TEST(*parse_datetime(format_datetime(kT0 + 999)) == kT0 + 999);
}

BOOST_AUTO_TEST_CASE(form_and_rsm) {
    std::string id = archive::stanza_id_text(archive::first_id_at(kT0));
    Query q = ok(query({field("with", {"bob@example.org"}), field("start", {"2025-12-02T18:26:40Z"}),
                        field("end", {"2025-12-03T00:00:00Z"}), field("after-id", {id})},
                       rsm(10, id, std::nullopt), true));
    BOOST_TEST(q.queryid == "q1");
    BOOST_TEST(q.with->bare_str() == "bob@example.org");
    BOOST_TEST(*q.start_ms == kT0);
    BOOST_TEST(q.max == 10u);
    BOOST_TEST(*q.rsm_after == archive::first_id_at(kT0));
    BOOST_TEST(q.flip);
    BOOST_TEST(!q.rsm_before);
    Query last = ok(query({}, rsm(std::nullopt, std::nullopt, std::string())));
    BOOST_TEST(last.rsm_before);
    BOOST_TEST(!last.rsm_before_id);
    BOOST_TEST(last.max == kDefaultMax);
    BOOST_TEST(ok(query({}, rsm(100000, std::nullopt, std::nullopt))).max == kLimitMax);
    BOOST_TEST(!ok(query({field("with", {})})).with.has_value());  // empty: no restriction

    BOOST_TEST(refused(query({field("withtext", {"hello"})})) == "feature-not-implemented");
    BOOST_TEST(refused(query({field("start", {"last week"})})) == "bad-request");
    BOOST_TEST(refused(query({field("with", {"@@"})})) == "jid-malformed");
    BOOST_TEST(refused(query({field("after-id", {"nope"})})) == "item-not-found");
    BOOST_TEST(refused(query({}, rsm(5, std::string("x"), std::nullopt))) == "item-not-found");
    BOOST_TEST(refused(query({}, rsm(5, id, id))) == "bad-request");
    BOOST_TEST(refused(query({field("start", {"2025-12-03T00:00:00Z"}), field("end", {"2025-12-02T00:00:00Z"})})) ==
               "bad-request");
    xml::Element wrong_type = query({});
    wrong_type.child("x", kNsData)->child("field", kNsData)->child("value", kNsData)->add_text("x");
    BOOST_TEST(refused(wrong_type) == "bad-request");
}

BOOST_AUTO_TEST_CASE(pages_forward_backward_and_complete) {
    FakeView v(25);
    Query q = ok(query({}, rsm(10, std::nullopt, std::nullopt)));
    Page p1 = select_page(q, v.scan(), all);
    BOOST_TEST(p1.ids == std::vector<uint64_t>(v.ids.begin(), v.ids.begin() + 10), boost::test_tools::per_element());
    BOOST_TEST(!p1.complete);
    q.rsm_after = p1.ids.back();
    Page p2 = select_page(q, v.scan(), all);
    BOOST_TEST(p2.ids.front() == v.ids[10]);
    q.rsm_after = v.ids[19];
    Page p3 = select_page(q, v.scan(), all);
    BOOST_TEST(p3.ids.size() == 5u);
    BOOST_TEST(p3.complete);
    // Exactly a page left: complete, as nothing more follows.
    q.rsm_after = v.ids[14];
    BOOST_TEST(select_page(q, v.scan(), all).complete);

    // The last page, then the one before it: chronological within a page.
    Query b = ok(query({}, rsm(10, std::nullopt, std::string())));
    Page last = select_page(b, v.scan(), all);
    BOOST_TEST(last.ids == std::vector<uint64_t>(v.ids.begin() + 15, v.ids.end()), boost::test_tools::per_element());
    BOOST_TEST(!last.complete);
    b.rsm_before_id = last.ids.front();
    b.max = 20;
    Page first = select_page(b, v.scan(), all);
    BOOST_TEST(first.ids == std::vector<uint64_t>(v.ids.begin(), v.ids.begin() + 15), boost::test_tools::per_element());
    BOOST_TEST(first.complete);

    // Time and id bounds.
    Query t = ok(query({field("start", {format_datetime(kT0 + 5000)}), field("end", {format_datetime(kT0 + 7000)})}));
    BOOST_TEST(select_page(t, v.scan(), all).ids ==
                   std::vector<uint64_t>(v.ids.begin() + 5, v.ids.begin() + 8),
               boost::test_tools::per_element());
    Query between = ok(query({field("after-id", {archive::stanza_id_text(v.ids[2])}),
                              field("before-id", {archive::stanza_id_text(v.ids[6])})}));
    BOOST_TEST(select_page(between, v.scan(), all).ids ==
                   std::vector<uint64_t>(v.ids.begin() + 3, v.ids.begin() + 6),
               boost::test_tools::per_element());
    // A filter, and a bounded examination.
    Page odd = select_page(ok(query({})), v.scan(), [&](uint64_t id) { return (id >> 16) % 2000 == 0; });
    BOOST_TEST(odd.ids.size() == 13u);
    BOOST_TEST(odd.complete);
    Page cut = select_page(ok(query({})), v.scan(), [](uint64_t) { return false; }, 5);
    BOOST_TEST(cut.ids.empty());
    BOOST_TEST(!cut.complete);
    // max 0: nothing sent, complete only when nothing matched.
    Query zero = ok(query({}, rsm(0, std::nullopt, std::nullopt)));
    BOOST_TEST(!select_page(zero, v.scan(), all).complete);
    BOOST_TEST(select_page(zero, FakeView(0).scan(), all).complete);
}

BOOST_AUTO_TEST_CASE(prefs_round_trip) {
    archive::Prefs p;
    p.default_mode = archive::Prefs::Default::roster;
    p.always = {"a@x"};
    p.never = {"b@x", "c@y"};
    auto back = parse_prefs(prefs_element(p));
    BOOST_REQUIRE(std::holds_alternative<archive::Prefs>(back));
    BOOST_TEST((std::get<archive::Prefs>(back) == p));
    xml::Element bad("prefs", std::string(kNsMam));
    bad.set_attr("default", "sometimes");
    BOOST_TEST(std::get<StanzaError>(parse_prefs(bad)).condition == "bad-request");
    xml::Element full("prefs", std::string(kNsMam));
    full.set_attr("default", "always");
    full.add_child("never", std::string(kNsMam)).add_child("jid", std::string(kNsMam)).add_text("d@x/phone");
    auto stripped = parse_prefs(full);
    BOOST_TEST(std::get<archive::Prefs>(stripped).never.front() == "d@x");  // kept bare
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// mod_mam on a FakeHost over a real journal (mod_archive's service).
struct MamFixture {
    test::TempDir tmp;
    std::unique_ptr<store::Env> env;
    std::shared_ptr<test::EnvDatabase> db, prefs_db;
    mod_archive::Service archive;
    test::FakeHost host;
    Mam mam;
    module::SessionInfo juliet;

    MamFixture() {
        std::string key = tmp.sub("archive.key");
        BOOST_REQUIRE(archive::create_key_file(key));
        config::Section s;
        s.values["key_file"] = {key, 1};
        test::FakeServiceHost sh(s);
        BOOST_REQUIRE(archive.start(sh));
        auto e = store::Env::open(tmp.sub("archive"), size_t{16} << 20);
        BOOST_REQUIRE(e);
        env = std::move(e.value());
        db = std::make_shared<test::EnvDatabase>(*env, env->database("archive.journal", 1).value());
        prefs_db = std::make_shared<test::EnvDatabase>(*env, env->database("archive.prefs", 1).value());
        archive.attach(0, db, prefs_db);
        host.services[archive::JournalService::kServiceName] = &archive;
        juliet.full_jid = xmpp::Jid::parse("juliet@example.org/balcony").value();
        juliet.ref.session_id = 42;
        juliet.available = true;
        host.sessions.push_back(juliet);
        BOOST_REQUIRE(mam.start(host));
    }
    uint64_t add(const std::string& from, const std::string& to, const std::string& body) {
        archive::Entry e;
        e.from = from + "/r";
        e.to = to;
        e.type = "chat";
        e.outcome = "delivered";
        std::string fb = xmpp::Jid::parse(from).value().bare_str(), tb = xmpp::Jid::parse(to).value().bare_str();
        e.views = {{fb, tb}, {tb, fb}};
        e.stanza = "<message xmlns='jabber:client' type='chat' from='" + e.from + "' to='" + to + "'><body>" + body +
                   "</body></message>";
        auto id = archive.append(host, e, [](Status s) { BOOST_REQUIRE(s.is_ok()); });
        BOOST_REQUIRE(id);
        db->flush();
        return *id;
    }
    std::vector<std::string> bodies() {
        std::vector<std::string> out;
        for (auto& [sid, m] : host.to_sessions) {
            const xml::Element* fwd = m.child("result", kNsMam)->child("forwarded", kNsForward);
            out.push_back(fwd->child("message", xmpp::kNsClient)->child("body", xmpp::kNsClient)->text());
        }
        return out;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(mam_module)

BOOST_AUTO_TEST_CASE(queries_own_archive_with_paging) {
    MamFixture f;
    std::vector<uint64_t> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(f.add("romeo@example.org", "juliet@example.org", "r" + std::to_string(i)));
    f.add("romeo@example.org", "tybalt@example.org", "not hers");
    ids.push_back(f.add("juliet@example.org", "nurse@example.org", "n0"));

    auto r = f.host.ask(module::IqTarget::account, "set", query({}, rsm(4, std::nullopt, std::nullopt)),
                        "juliet@example.org");
    BOOST_REQUIRE(r->answers == 1);
    BOOST_REQUIRE(r->ok);
    BOOST_TEST(f.bodies() == (std::vector<std::string>{"r0", "r1", "r2", "r3"}), boost::test_tools::per_element());
    const xml::Element& first = f.host.to_sessions[0].second;
    BOOST_TEST(f.host.to_sessions[0].first == 42u);
    BOOST_TEST(first.attr_or("from") == "juliet@example.org");
    BOOST_TEST(first.child("result", kNsMam)->attr_or("queryid") == "q1");
    BOOST_TEST(first.child("result", kNsMam)->attr_or("id") == archive::stanza_id_text(ids[0]));
    BOOST_TEST(!first.child("result", kNsMam)->child("forwarded", kNsForward)->child("delay", kNsDelay)->attr_or("stamp").empty());
    const xml::Element* fin = &*r->payload;
    BOOST_TEST(fin->name() == "fin");
    BOOST_TEST(fin->attr_or("complete").empty());
    BOOST_TEST(fin->child("set", kNsRsm)->child("last", kNsRsm)->text() == archive::stanza_id_text(ids[3]));

    f.host.to_sessions.clear();
    auto next = f.host.ask(module::IqTarget::account, "set",
                           query({}, rsm(4, archive::stanza_id_text(ids[3]), std::nullopt), true), "juliet@example.org");
    BOOST_REQUIRE(next->ok);
    BOOST_TEST(f.bodies() == (std::vector<std::string>{"n0", "r4"}), boost::test_tools::per_element());  // flipped
    BOOST_TEST(next->payload->attr_or("complete") == "true");

    f.host.to_sessions.clear();
    auto with = f.host.ask(module::IqTarget::account, "set", query({field("with", {"nurse@example.org"})}),
                           "juliet@example.org");
    BOOST_TEST(f.bodies() == (std::vector<std::string>{"n0"}), boost::test_tools::per_element());

    f.host.to_sessions.clear();
    auto one = f.host.ask(module::IqTarget::account, "set",
                          query({field("ids", {archive::stanza_id_text(ids[2])})}), "juliet@example.org");
    BOOST_TEST(f.bodies() == (std::vector<std::string>{"r2"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(refusals) {
    MamFixture f;
    uint64_t theirs = f.add("romeo@example.org", "tybalt@example.org", "not hers");
    auto other = f.host.ask(module::IqTarget::account, "set", query({}), "romeo@example.org");
    BOOST_TEST(!other->ok);
    BOOST_TEST(other->err.condition == "forbidden");
    // An id of someone else's archive is not in hers.
    auto foreign = f.host.ask(module::IqTarget::account, "set",
                              query({field("ids", {archive::stanza_id_text(theirs)})}), "juliet@example.org");
    BOOST_TEST(foreign->err.condition == "item-not-found");
    auto after = f.host.ask(module::IqTarget::account, "set",
                            query({}, rsm(4, archive::stanza_id_text(theirs), std::nullopt)), "juliet@example.org");
    BOOST_TEST(after->err.condition == "item-not-found");
    BOOST_TEST(f.host.to_sessions.empty());
    auto prefs = f.host.ask(module::IqTarget::account, "get", xml::Element("prefs", std::string(kNsMam)),
                            "romeo@example.org");
    BOOST_TEST(prefs->err.condition == "forbidden");
}

BOOST_AUTO_TEST_CASE(metadata_form_and_prefs) {
    MamFixture f;
    auto empty = f.host.ask(module::IqTarget::account, "get", xml::Element("metadata", std::string(kNsMam)),
                            "juliet@example.org");
    BOOST_REQUIRE(empty->ok);
    BOOST_TEST(empty->payload->child_count() == 0u);
    uint64_t a = f.add("romeo@example.org", "juliet@example.org", "first");
    uint64_t b = f.add("juliet@example.org", "romeo@example.org", "last");
    auto meta = f.host.ask(module::IqTarget::account, "get", xml::Element("metadata", std::string(kNsMam)),
                           "juliet@example.org");
    BOOST_TEST(meta->payload->child("start", kNsMam)->attr_or("id") == archive::stanza_id_text(a));
    BOOST_TEST(meta->payload->child("end", kNsMam)->attr_or("id") == archive::stanza_id_text(b));

    auto form = f.host.ask(module::IqTarget::account, "get", xml::Element("query", std::string(kNsMam)),
                           "juliet@example.org");
    BOOST_REQUIRE(form->ok);
    BOOST_TEST(form->payload->child("x", kNsData)->child_count() == 7u);

    archive::Prefs p;
    p.default_mode = archive::Prefs::Default::never;
    p.always = {"romeo@example.org"};
    auto set = f.host.ask(module::IqTarget::account, "set", prefs_element(p), "juliet@example.org");
    BOOST_TEST(set->answers == 0);  // answered once on disk
    f.prefs_db->flush();
    BOOST_REQUIRE(set->answers == 1);
    BOOST_TEST(set->ok);
    auto get = f.host.ask(module::IqTarget::account, "get", xml::Element("prefs", std::string(kNsMam)),
                          "juliet@example.org");
    BOOST_REQUIRE(get->ok);
    BOOST_TEST((std::get<archive::Prefs>(parse_prefs(*get->payload)) == p));
    BOOST_TEST((std::find(f.host.account_features.begin(), f.host.account_features.end(), "urn:xmpp:mam:2#extended") !=
                f.host.account_features.end()));
}

BOOST_AUTO_TEST_SUITE_END()
