// modules/vcard: XEP-0054 get and set (own, others', the server's), answers
// only once stored, the size limit, refusals that tell nobody which accounts
// exist, persistence across a restart; XEP-0153 photo hashes computed from
// the decoded BINVAL and added to broadcast presence that carries none.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "../modules/vcard/vcard.hpp"
#include "../modules/vcard/vcard_record.hpp"
#include "support/fake_host.hpp"
#include "support/fake_storage.hpp"
#include "xml/serializer.hpp"

using namespace parley;
using mod_vcard::kNsUpdate;
using mod_vcard::kNsVcard;

namespace {

// SHA-1 of "hello world", and its base64.
constexpr const char* kHelloSha1 = "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed";
constexpr const char* kHelloB64 = "aGVsbG8gd29ybGQ=";

xml::Element vcard(const std::string& fn, const std::string& binval = {}) {
    xml::Element v("vCard", kNsVcard);
    v.add_child("FN", kNsVcard).add_text(fn);
    if (!binval.empty()) {
        auto& photo = v.add_child("PHOTO", kNsVcard);
        photo.add_child("TYPE", kNsVcard).add_text("image/png");
        photo.add_child("BINVAL", kNsVcard).add_text(binval);
    }
    return v;
}

// An iq from `from` to `to` through the handler registered for it.
std::shared_ptr<test::RecordingResponder> ask(test::FakeHost& host, module::IqTarget target, const std::string& type,
                                              const xml::Element& payload, const std::string& from,
                                              const std::string& to) {
    auto r = std::make_shared<test::RecordingResponder>();
    auto it = host.iqs.find(std::make_tuple(static_cast<int>(target), type, payload.ns(), payload.name()));
    if (it == host.iqs.end()) return r;
    xml::Element iq("iq", std::string(xmpp::kNsClient));
    iq.set_attr("type", type);
    iq.set_attr("id", "v1");
    iq.set_attr("from", from);
    iq.add_child(payload);
    auto from_jid = xmpp::Jid::parse(from).value();
    auto to_jid = xmpp::Jid::parse(to).value();
    module::IqRequest req{iq, *iq.first_child(), from_jid, to_jid};
    it->second(req, r);
    return r;
}

const std::string kJuliet = "juliet@example.org/balcony";
const std::string kRomeo = "romeo@example.org/orchard";

struct Fixture {
    test::FakeStorage storage;
    test::FakeHost host;
    mod_vcard::Vcard module;
    Fixture() {
        host.database_factory = storage.factory();
        BOOST_REQUIRE(module.start(host).is_ok());
    }
    // Sets juliet's vCard and stores it.
    void juliet_sets(const xml::Element& v) {
        auto r = ask(host, module::IqTarget::account, "set", v, kJuliet, "juliet@example.org");
        storage.complete();
        BOOST_REQUIRE_MESSAGE(r->answers == 1 && r->ok, "vcard: juliet's set must succeed: " << r->err.condition);
    }
    // Runs the stanza_in hooks on a presence from `from` (a local client).
    xml::Element presence(xml::Element p, const std::string& from = kJuliet, const std::string& to = {}) {
        auto from_jid = xmpp::Jid::parse(from).value();
        xmpp::Jid to_jid;
        if (!to.empty()) to_jid = xmpp::Jid::parse(to).value();
        module::StanzaContext ctx{p, from_jid, to_jid, true};
        for (auto& [point, prio, fn] : host.hooks)
            if (point == module::HookPoint::stanza_in) BOOST_TEST((fn(ctx).verdict == module::HookResult::Verdict::pass));
        return p;
    }
};

xml::Element bare_presence() { return xml::Element("presence", std::string(xmpp::kNsClient)); }

std::string photo_of(const xml::Element& p) {
    const xml::Element* x = p.child("x", kNsUpdate);
    BOOST_REQUIRE_MESSAGE(x, "vcard: the presence must carry vcard-temp:x:update");
    const xml::Element* photo = x->child("photo", kNsUpdate);
    BOOST_REQUIRE_MESSAGE(photo, "vcard: the update must carry <photo/>");
    return photo->text();
}

bool same_error(const StanzaError& a, const StanzaError& b) {
    return a.type == b.type && a.condition == b.condition && a.text == b.text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_vcard)

BOOST_AUTO_TEST_CASE(binval_decodes_as_clients_wrap_it_and_refuses_what_is_not_base64) {
    BOOST_TEST(mod_vcard::decode_binval(kHelloB64).value() == "hello world");
    BOOST_TEST(mod_vcard::decode_binval("aGVsbG8gd29ybGQ").value() == "hello world", "padding may be left out");
    BOOST_TEST(mod_vcard::decode_binval("  aGVs\nbG8g\r\n\td29y bGQ=\n").value() == "hello world",
               "whitespace anywhere is ignored");
    BOOST_TEST(mod_vcard::decode_binval("").value().empty());
    BOOST_TEST(!mod_vcard::decode_binval("aGV$bG8="), "a character outside the alphabet");
    BOOST_TEST(!mod_vcard::decode_binval("aGVsbG8=aGVs"), "data after the padding");
    BOOST_TEST(!mod_vcard::decode_binval("aGVsb"), "five characters cannot be base64");
    BOOST_TEST(mod_vcard::decode_binval("aGVsb").status().code() == "bad-request");
}

BOOST_AUTO_TEST_CASE(the_photo_hash_is_the_sha1_of_the_decoded_image) {
    BOOST_TEST(mod_vcard::sha1_hex("hello world") == kHelloSha1);
    BOOST_TEST(mod_vcard::photo_hash(vcard("J", kHelloB64)).value() == kHelloSha1);
    BOOST_TEST(mod_vcard::photo_hash(vcard("J", "aGVsbG8g\nd29ybGQ")).value() == kHelloSha1,
               "the same image wrapped and unpadded has the same hash");
    BOOST_TEST(mod_vcard::photo_hash(vcard("J")).value().empty(), "no PHOTO: no hash");
    xml::Element ext = vcard("J");
    ext.add_child("PHOTO", kNsVcard).add_child("EXTVAL", kNsVcard).add_text("https://example.org/j.png");
    BOOST_TEST(mod_vcard::photo_hash(ext).value().empty(), "an EXTVAL is no image data");
    BOOST_TEST(mod_vcard::photo_hash(vcard("J", "   ")).value().empty(), "an empty BINVAL is no photo");
    auto bad = mod_vcard::photo_hash(vcard("J", "not base64!"));
    BOOST_TEST(!bad);
    BOOST_TEST(bad.status().code() == "bad-request");
}

BOOST_AUTO_TEST_CASE(records_round_trip_and_corrupt_ones_are_refused) {
    xml::Element v = vcard("Juliet Capulet", kHelloB64);
    v.set_attr("version", "3.0");
    v.add_child("DESC", kNsVcard).add_text("Text with <markup> & 'quotes' \xc3\xa9");
    const std::string text = xml::to_string(v, xmpp::kNsClient);
    const std::string rec = mod_vcard::encode_record(kHelloSha1, text);
    auto d = mod_vcard::decode_record(rec);
    BOOST_REQUIRE(d);
    BOOST_TEST(d.value().hash == kHelloSha1);
    BOOST_TEST(d.value().xml == text);
    auto back = mod_vcard::parse_vcard(d.value().xml);
    BOOST_REQUIRE_MESSAGE(back, "vcard: " << back.status().to_string());
    BOOST_TEST((back.value() == v), "the stored vCard parses back to the same tree");
    auto nohash = mod_vcard::decode_record(mod_vcard::encode_record("", text));
    BOOST_TEST(nohash.value().hash.empty());

    BOOST_TEST(!mod_vcard::decode_record(""));
    BOOST_TEST(!mod_vcard::decode_record(std::string(1, '\x05') + "abcde<vCard/>"), "a hash of a bad length");
    BOOST_TEST(!mod_vcard::decode_record(std::string(1, '\x28') + "abc"), "truncated");
    BOOST_TEST(!mod_vcard::decode_record(std::string(1, '\x28') + std::string(40, 'Z') + text), "not hex");
    BOOST_TEST(!mod_vcard::parse_vcard("<vCard xmlns='vcard-temp'>"), "unclosed");
    BOOST_TEST(!mod_vcard::parse_vcard("<other xmlns='vcard-temp'/>"), "not a vCard");
    BOOST_TEST(!mod_vcard::parse_vcard("<vCard xmlns='vcard-temp'/><vCard xmlns='vcard-temp'/>"), "two elements");
    BOOST_TEST(mod_vcard::parse_vcard("garbage").status().code() == "corrupt");
}

BOOST_FIXTURE_TEST_CASE(own_vcard_is_answered_only_once_stored_and_then_read_back, Fixture) {
    const xml::Element v = vcard("Juliet", kHelloB64);
    // No 'to': the router gives the handler the sender's bare JID.
    auto r = ask(host, module::IqTarget::account, "set", v, kJuliet, "juliet@example.org");
    BOOST_TEST(r->answers == 0, "vcard: no result before the vCard is on disk");
    BOOST_TEST(storage.pending() == 1u);
    auto early = ask(host, module::IqTarget::account, "get", xml::Element("vCard", kNsVcard), kRomeo,
                     "juliet@example.org");
    BOOST_TEST(!early->ok, "nothing readable before the write committed");
    BOOST_TEST(storage.complete() == 1u);
    BOOST_TEST(r->answers == 1);
    BOOST_TEST(r->ok);
    BOOST_TEST(!r->payload.has_value(), "a set's result is empty (XEP-0054 §3.2)");

    auto own = ask(host, module::IqTarget::account, "get", xml::Element("vCard", kNsVcard), kJuliet,
                   "juliet@example.org");
    BOOST_REQUIRE(own->ok);
    BOOST_TEST((*own->payload == v), "juliet reads back what she set");
    // Anyone who can reach the account reads it.
    auto other = ask(host, module::IqTarget::account, "get", xml::Element("vCard", kNsVcard), kRomeo,
                     "juliet@example.org");
    BOOST_REQUIRE(other->ok);
    BOOST_TEST((*other->payload == v));
}

BOOST_FIXTURE_TEST_CASE(no_vcard_is_empty_for_its_owner_and_the_missing_account_error_for_others, Fixture) {
    auto own = ask(host, module::IqTarget::account, "get", xml::Element("vCard", kNsVcard), kJuliet,
                   "juliet@example.org");
    BOOST_REQUIRE(own->ok);
    BOOST_TEST((*own->payload == xml::Element("vCard", kNsVcard)), "an empty <vCard/> (XEP-0054 §3.1)");
    auto other = ask(host, module::IqTarget::account, "get", xml::Element("vCard", kNsVcard), kRomeo,
                     "juliet@example.org");
    BOOST_TEST(other->answers == 1);
    BOOST_TEST(!other->ok);
    BOOST_TEST(same_error(other->err, recipient_unavailable()),
               "vcard: exactly what a missing account gets, got " << other->err.condition << " / " << other->err.text);
    // The server's own vCard: empty, since disco advertises vcard-temp there.
    auto server = ask(host, module::IqTarget::server, "get", xml::Element("vCard", kNsVcard), kRomeo, "example.org");
    BOOST_REQUIRE(server->ok);
    BOOST_TEST((*server->payload == xml::Element("vCard", kNsVcard)));
}

BOOST_FIXTURE_TEST_CASE(setting_another_accounts_vcard_is_refused_as_if_it_did_not_exist, Fixture) {
    auto r = ask(host, module::IqTarget::account, "set", vcard("Not Juliet"), kRomeo, "juliet@example.org");
    BOOST_TEST(r->answers == 1);
    BOOST_TEST(!r->ok);
    BOOST_TEST(same_error(r->err, recipient_unavailable()));
    BOOST_TEST(storage.pending() == 0u, "vcard: nothing is written for a refused set");
    BOOST_TEST(ask(host, module::IqTarget::server, "set", vcard("x"), kRomeo, "example.org")->answers == 0,
               "a set to the server domain is not this handler's");
}

BOOST_FIXTURE_TEST_CASE(an_oversize_vcard_or_a_bad_photo_is_refused_and_nothing_stored, Fixture) {
    host.section.values["max_bytes"] = config::OptionValue{int64_t{2048}, 1};
    BOOST_REQUIRE(module.reload(host.section).is_ok());
    auto big = ask(host, module::IqTarget::account, "set", vcard("J", std::string(4000, 'A')), kJuliet,
                   "juliet@example.org");
    BOOST_TEST(big->answers == 1);
    BOOST_TEST(!big->ok);
    BOOST_TEST(big->err.condition == "not-acceptable");
    BOOST_TEST(big->err.type == "modify");
    BOOST_TEST(big->err.text.find("2048") != std::string::npos, "the text names the limit: " << big->err.text);
    auto bad = ask(host, module::IqTarget::account, "set", vcard("J", "!!"), kJuliet, "juliet@example.org");
    BOOST_TEST(!bad->ok);
    BOOST_TEST(bad->err.condition == "bad-request");
    BOOST_TEST(storage.pending() == 0u);
    // Just under the limit is taken.
    auto ok = ask(host, module::IqTarget::account, "set", vcard("J", std::string(1800, 'A')), kJuliet,
                  "juliet@example.org");
    storage.complete();
    BOOST_TEST(ok->ok);
}

BOOST_FIXTURE_TEST_CASE(a_failed_or_refused_write_gets_an_error_not_a_result, Fixture) {
    storage.fail_writes = 1;
    auto r = ask(host, module::IqTarget::account, "set", vcard("J"), kJuliet, "juliet@example.org");
    storage.complete();
    BOOST_TEST(r->answers == 1);
    BOOST_TEST(!r->ok);
    BOOST_TEST(r->err.condition == "internal-server-error");
    storage.busy = true;
    auto busy = ask(host, module::IqTarget::account, "set", vcard("J"), kJuliet, "juliet@example.org");
    BOOST_TEST(busy->answers == 1);
    BOOST_TEST(busy->err.condition == "resource-constraint");
    BOOST_TEST(busy->err.type == "wait");
}

BOOST_FIXTURE_TEST_CASE(an_empty_vcard_deletes_it, Fixture) {
    juliet_sets(vcard("Juliet", kHelloB64));
    juliet_sets(xml::Element("vCard", kNsVcard));
    auto other = ask(host, module::IqTarget::account, "get", xml::Element("vCard", kNsVcard), kRomeo,
                     "juliet@example.org");
    BOOST_TEST(same_error(other->err, recipient_unavailable()), "deleted: as if there were none");
    BOOST_TEST(photo_of(presence(bare_presence())).empty(), "and no photo any more");
}

BOOST_FIXTURE_TEST_CASE(broadcast_presence_gets_the_photo_hash_before_the_roster_sees_it, Fixture) {
    BOOST_REQUIRE(host.hooks.size() == 1u);
    BOOST_TEST(std::get<1>(host.hooks[0]) > 0, "vcard: the hook must run before mod_roster's (priority 0)");
    // No vCard yet: an empty photo.
    BOOST_TEST(photo_of(presence(bare_presence())).empty());
    juliet_sets(vcard("Juliet", kHelloB64));
    xml::Element p = bare_presence();
    p.add_child("status", std::string(xmpp::kNsClient)).add_text("here");
    xml::Element out = presence(p);
    BOOST_TEST(photo_of(out) == kHelloSha1);
    BOOST_TEST(out.child_count() == 2u, "the rest of the presence is left as it was");
    // A new photo: the next presence carries the new hash.
    juliet_sets(vcard("Juliet", "aGk="));  // "hi"
    BOOST_TEST(photo_of(presence(bare_presence())) == mod_vcard::sha1_hex("hi"));
    // A vCard without a photo: an empty photo.
    juliet_sets(vcard("Juliet"));
    BOOST_TEST(photo_of(presence(bare_presence())).empty());
}

BOOST_FIXTURE_TEST_CASE(presence_the_hook_must_leave_alone, Fixture) {
    juliet_sets(vcard("Juliet", kHelloB64));
    // The client's own update, even an empty one ("not ready"), is kept.
    xml::Element own = bare_presence();
    own.add_child("x", kNsUpdate);
    xml::Element out = presence(own);
    BOOST_TEST((out == own), "a client that speaks XEP-0153 is not overridden");
    // Directed presence, unavailable presence, and presence not from a client.
    BOOST_TEST((presence(bare_presence(), kJuliet, "romeo@example.org") == bare_presence()));
    xml::Element gone = bare_presence();
    gone.set_attr("type", "unavailable");
    BOOST_TEST((presence(gone) == gone));
    xml::Element p = bare_presence();
    auto from = xmpp::Jid::parse(kJuliet).value();
    xmpp::Jid none;
    module::StanzaContext ctx{p, from, none, false};
    std::get<2>(host.hooks[0])(ctx);
    BOOST_TEST((p == bare_presence()), "a stanza from the server or a peer is not a client's broadcast");
    xml::Element msg("message", std::string(xmpp::kNsClient));
    BOOST_TEST((presence(msg) == xml::Element("message", std::string(xmpp::kNsClient))));
}

BOOST_FIXTURE_TEST_CASE(vcards_survive_a_restart, Fixture) {
    const xml::Element v = vcard("Juliet", kHelloB64);
    juliet_sets(v);
    test::FakeHost again;
    again.database_factory = storage.factory();
    mod_vcard::Vcard restarted;
    BOOST_REQUIRE(restarted.start(again).is_ok());
    auto r = ask(again, module::IqTarget::account, "get", xml::Element("vCard", kNsVcard), kRomeo,
                 "juliet@example.org");
    BOOST_REQUIRE(r->ok);
    BOOST_TEST((*r->payload == v));
}

BOOST_FIXTURE_TEST_CASE(disco_advertises_vcard_temp_on_the_server_and_accounts, Fixture) {
    BOOST_TEST(host.disco_features() == std::vector<std::string>{"vcard-temp"});
    BOOST_TEST(host.account_disco_features() == std::vector<std::string>{"vcard-temp"});
}

BOOST_AUTO_TEST_CASE(without_storage_the_module_does_not_start) {
    test::FakeHost host;
    mod_vcard::Vcard m;
    BOOST_TEST(!m.start(host).is_ok());
    BOOST_TEST(host.iqs.empty(), "vcard: nothing is advertised or handled without its database");
}

// Accounts whose keys start alike: a node that is a prefix of another's,
// and a domain that is a prefix of another's.
const char* const kNeighbours[] = {"al@example.org", "alice@example.org", "al@example.org.evil", "al@example.net"};

BOOST_FIXTURE_TEST_CASE(a_deleted_accounts_vcard_and_photo_hash_go_and_no_one_elses, Fixture) {
    for (const char* who : kNeighbours) {
        auto r = ask(host, module::IqTarget::account, "set", vcard(who, kHelloB64), std::string(who) + "/r", who);
        storage.complete();
        BOOST_REQUIRE(r->ok);
    }
    auto stored = [&](const std::string& who) {
        auto dbi = storage.env().database("test.cards", 1);
        BOOST_REQUIRE(dbi);
        auto txn = storage.env().begin_read();
        BOOST_REQUIRE(txn);
        auto v = txn->get(dbi.value(), who);
        BOOST_REQUIRE(v);
        return v.value().has_value();
    };
    BOOST_REQUIRE(host.account_deleted.size() == 1u);
    BOOST_TEST(host.delete_account(xmpp::Jid::parse("al@example.org").value()).empty(),
               "vcard: done waits until the removal is durable");
    BOOST_TEST(stored("al@example.org"), "vcard: nothing removed before the write commits");
    BOOST_TEST(storage.complete() == 1u);
    BOOST_REQUIRE(host.purge_results->size() == 1u);
    BOOST_TEST(host.purge_results->front().is_ok());
    BOOST_TEST(!stored("al@example.org"));
    for (const char* other : {"alice@example.org", "al@example.org.evil", "al@example.net"})
        BOOST_TEST(stored(other), "vcard: " << other << " keeps its vCard");
    // The owner now gets an empty vCard, and its presence an empty photo.
    auto own = ask(host, module::IqTarget::account, "get", xml::Element("vCard", kNsVcard), "al@example.org/r",
                   "al@example.org");
    BOOST_REQUIRE(own->ok && own->payload);
    BOOST_TEST(own->payload->child_count() == 0u);
    BOOST_TEST(photo_of(presence(bare_presence(), "al@example.org/r")).empty(), "vcard: no photo hash left");
    BOOST_TEST(photo_of(presence(bare_presence(), "alice@example.org/r")) == kHelloSha1);
    BOOST_TEST(host.purge_results->size() == 1u, "vcard: done ran once");
}

BOOST_FIXTURE_TEST_CASE(a_purge_the_writer_refuses_reports_the_error, Fixture) {
    juliet_sets(vcard("J"));
    storage.busy = true;
    auto results = host.delete_account(xmpp::Jid::parse("juliet@example.org").value());
    BOOST_REQUIRE(results.size() == 1u);
    BOOST_TEST(results[0].code() == "busy");
    storage.busy = false;
    BOOST_TEST(storage.complete() == 0u);
    BOOST_TEST(host.purge_results->size() == 1u, "vcard: done ran once");
    // Asked again later, it succeeds.
    host.delete_account(xmpp::Jid::parse("juliet@example.org").value());
    storage.complete();
    BOOST_REQUIRE(host.purge_results->size() == 1u);
    BOOST_TEST(host.purge_results->front().is_ok());
}


BOOST_AUTO_TEST_SUITE_END()
