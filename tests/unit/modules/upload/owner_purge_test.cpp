// mod_upload: a deleted account's uploads go (FileStore::remove_owner, the
// OwnerPurge steps, Upload::purge_account through the fake host), its slots
// are refused, a download already started ends whole, and files stored
// before the owner index existed are purged like new ones.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <gnutls/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "modules/upload/http_exchange.hpp"
#include "modules/upload/owner_purge.hpp"
#include "modules/upload/upload.hpp"
#include "support/fake_host.hpp"
#include "support/temp_dir.hpp"
#include "xmpp/base64.hpp"

using namespace parley;
using namespace parley::mod_upload;

namespace {

const std::string kJuliet = "juliet@example.org";
const std::string kRomeo = "romeo@example.org";

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// A slot id from a number: 32 hex digits.
std::string slot_id(unsigned n) {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%032x", n);
    return buf;
}

// A slot granted at `issued` (seconds; the token says milliseconds).
SlotGrant grant_for(const std::string& owner, unsigned n, uint64_t size, int64_t issued) {
    return SlotGrant{slot_id(n), "file" + std::to_string(n) + ".txt", size, "text/plain", issued + 300, owner,
                     issued * 1000};
}

// Stores a file of `size` bytes for g through the store's own begin/commit.
void store_file(FileStore& store, const SlotGrant& g, int64_t now) {
    auto fd = store.begin(g, 0, now);
    BOOST_REQUIRE_MESSAGE(fd, "upload: begin: " << fd.status().to_string());
    const std::string body(static_cast<size_t>(g.size), 'x');
    BOOST_REQUIRE(::write(fd.value(), body.data(), body.size()) == static_cast<ssize_t>(body.size()));
    Status s = store.commit(g, g.content_type, fd.value(), now);
    BOOST_REQUIRE_MESSAGE(s, "upload: commit: " << s.to_string());
}

bool on_disk(const FileStore& store, const std::string& slot) {
    return exists(store.data_path(slot)) || exists(store.dir() + "/meta/" + slot);
}

// HttpExchange fed a whole GET; the response head.
std::string get_head(const SlotGrant& g, HttpExchange& ex) {
    const std::string req = "GET /" + g.slot_id + "/" + percent_encode(g.filename) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    ex.feed(req.data(), req.size());
    return ex.take_output();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_upload_owner_purge)

BOOST_AUTO_TEST_CASE(remove_owner_takes_files_ledger_reservations_and_slots) {
    test::TempDir dir;
    auto store = FileStore::open(dir.sub("upload"), 1000).value();
    const int64_t now = 1000;
    const SlotGrant a = grant_for(kJuliet, 1, 5, now), b = grant_for(kJuliet, 2, 7, now),
                    r = grant_for(kRomeo, 3, 4, now);
    store_file(*store, a, now);
    store_file(*store, b, now);
    store_file(*store, r, now);
    // A slot granted and not used yet, and an upload half way.
    const SlotGrant pending = grant_for(kJuliet, 4, 100, now), running = grant_for(kJuliet, 5, 3, now);
    BOOST_REQUIRE(store->reserve(kJuliet, pending.slot_id, pending.size, pending.expires, 0, now));
    auto fd = store->begin(running, 0, now);
    BOOST_REQUIRE(fd);
    BOOST_REQUIRE(::write(fd.value(), "abc", 3) == 3);
    BOOST_TEST(store->used(kJuliet, now) == 112u);

    auto removed = store->remove_owner(kJuliet, (now + 10) * 1000);
    BOOST_REQUIRE_MESSAGE(removed, "upload: remove_owner: " << removed.status().to_string());
    BOOST_TEST(removed.value() == 2u, "upload: juliet's two files");
    for (const auto& g : {a, b}) {
        BOOST_TEST(!store->find(g.slot_id), "upload: a deleted account's file must not be found");
        BOOST_TEST(!on_disk(*store, g.slot_id), "upload: a deleted account's file and record must be gone");
    }
    BOOST_TEST(store->used(kJuliet, now + 10) == 0u, "upload: the ledger forgets the deleted account");
    BOOST_TEST(store->find(r.slot_id).has_value(), "upload: another account's file stays");
    BOOST_TEST(exists(store->data_path(r.slot_id)));
    BOOST_TEST(store->used(kRomeo, now + 10) == 4u);
    BOOST_TEST(store->file_count() == 1u);
    // The upload that was running cannot land; the granted slot cannot start.
    BOOST_TEST(store->commit(running, "text/plain", fd.value(), now + 11).code() == "revoked");
    BOOST_TEST(!store->find(running.slot_id));
    BOOST_TEST(!on_disk(*store, running.slot_id));
    BOOST_TEST(!exists(dir.sub("upload/tmp/" + running.slot_id + ".part")));
    BOOST_TEST(store->begin(pending, 0, now + 11).status().code() == "revoked");
    // A new account of the name, granted a slot after the deletion (in the
    // same second, a millisecond later): served.
    SlotGrant fresh = grant_for(kJuliet, 6, 2, now + 10);
    fresh.issued_ms += 1;
    store_file(*store, fresh, now + 11);
    BOOST_TEST(store->used(kJuliet, now + 11) == 2u);
    // A second removal (the host asks again after an error) is harmless and
    // takes what the new account stored: the host asks only for a deleted one.
    BOOST_TEST(store->remove_owner(kJuliet, (now + 20) * 1000).value() == 1u);
}

BOOST_AUTO_TEST_CASE(a_deleted_accounts_slots_stay_refused_after_a_restart_for_a_day) {
    test::TempDir dir;
    const int64_t now = 5000;
    auto store = FileStore::open(dir.sub("upload"), now).value();
    BOOST_REQUIRE(store->remove_owner(kJuliet, now * 1000));
    BOOST_TEST(exists(dir.sub("upload/revoked")));
    const SlotGrant old = grant_for(kJuliet, 1, 5, now - 1);
    {
        auto again = FileStore::open(dir.sub("upload"), now + 60).value();
        BOOST_TEST(again->revoked(kJuliet, now * 1000), "upload: the deletion must survive a restart");
        BOOST_TEST(!again->revoked(kJuliet, now * 1000 + 1));
        BOOST_TEST(!again->revoked(kRomeo, now * 1000));
        BOOST_TEST(again->begin(old, 0, now + 60).status().code() == "revoked");
    }
    // Past the longest slot lifetime every slot of the account has expired:
    // the record is dropped at open and at the next write.
    auto later = FileStore::open(dir.sub("upload"), now + FileStore::kRevokeForS + 1).value();
    BOOST_TEST(!later->revoked(kJuliet, now * 1000));
    BOOST_REQUIRE(later->save_revoked((now + FileStore::kRevokeForS + 1) * 1000));
    BOOST_TEST(!exists(dir.sub("upload/revoked")), "upload: nothing left to refuse, no file");
}

BOOST_AUTO_TEST_CASE(the_revocation_covers_the_longest_slot_lifetime) {
    // A slot is usable slot_lifetime_s after its grant; the schema's upper
    // bound must not outlast the time a deleted account's slots are refused.
    const config::OptionSpec* spec = nullptr;
    for (size_t i = 0; i < kOptionCount; ++i)
        if (std::string(kOptions[i].name) == "slot_lifetime_s") spec = &kOptions[i];
    BOOST_REQUIRE(spec);
    BOOST_TEST(spec->max <= FileStore::kRevokeForS);
}

BOOST_AUTO_TEST_CASE(files_stored_before_the_owner_index_are_purged) {
    // Records as every earlier version wrote them (owner, name, type, size,
    // time; one line each), put there while parleyd was down.
    test::TempDir dir;
    { auto first = FileStore::open(dir.sub("upload"), 1000).value(); }
    const std::string old_slot = slot_id(77), other_slot = slot_id(78);
    std::ofstream(dir.sub("upload/meta/" + old_slot)) << kJuliet << "\nold.bin\napplication/octet-stream\n3\n900\n";
    std::ofstream(dir.sub("upload/files/" + old_slot)) << "old";
    std::ofstream(dir.sub("upload/meta/" + other_slot)) << kRomeo << "\nkeep.bin\napplication/octet-stream\n4\n900\n";
    std::ofstream(dir.sub("upload/files/" + other_slot)) << "keep";
    auto store = FileStore::open(dir.sub("upload"), 1000).value();
    BOOST_REQUIRE(store->find(old_slot).has_value());
    BOOST_TEST(store->used(kJuliet, 1000) == 3u);
    BOOST_TEST(store->remove_owner(kJuliet, 1000 * 1000).value() == 1u);
    BOOST_TEST(!exists(dir.sub("upload/meta/" + old_slot)));
    BOOST_TEST(!exists(dir.sub("upload/files/" + old_slot)));
    BOOST_TEST(exists(dir.sub("upload/files/" + other_slot)));
}

BOOST_AUTO_TEST_CASE(tokens_signed_before_the_grant_time_was_added_verify_as_granted_at_0) {
    const std::string secret = "0123456789abcdef0123456789abcdef";
    const std::string slot = slot_id(9), name = "photo.jpg";
    const std::string payload = "1\n2000\n1234\n" + kJuliet + "\nimage/jpeg";
    const std::string msg = "parley-upload-token-v1\n" + slot + "\n" + name + "\n" + payload;
    unsigned char mac[32];
    BOOST_REQUIRE(gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret.data(), secret.size(), msg.data(), msg.size(), mac) == 0);
    std::string hex;
    for (unsigned char c : mac) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
    auto g = verify_token(secret, "Bearer " + xmpp::base64_encode(payload) + "." + hex, slot, name, 1000);
    BOOST_REQUIRE_MESSAGE(g, "upload: a version 1 token must still verify: " << g.status().to_string());
    BOOST_TEST(g->issued_ms == 0);
    BOOST_TEST(g->owner == kJuliet);
    BOOST_TEST(g->size == 1234u);
    // New tokens carry the time of the grant.
    SlotGrant t{slot, name, 5, "", 2000, kJuliet, 1700000};
    auto back = verify_token(secret, sign_token(secret, t), slot, name, 1000);
    BOOST_REQUIRE(back);
    BOOST_TEST(back->issued_ms == 1700000);
    // The grant time is signed like every other field.
    SlotGrant later = t;
    later.issued_ms = 1800000;
    const std::string a = sign_token(secret, t), b = sign_token(secret, later);
    const std::string forged = b.substr(0, b.rfind('.')) + a.substr(a.rfind('.'));
    BOOST_TEST(verify_token(secret, forged, slot, name, 1000).status().code() == "forged");
}

BOOST_AUTO_TEST_CASE(a_purge_runs_in_bounded_steps) {
    test::TempDir dir;
    const int64_t now = 1000;
    auto store = FileStore::open(dir.sub("upload"), now).value();
    const unsigned n = static_cast<unsigned>(OwnerPurge::kBatch * 2 + 3);
    for (unsigned i = 0; i < n; ++i) store_file(*store, grant_for(kJuliet, i, 1, now), now);
    OwnerPurge purge(store, kJuliet, now * 1000);
    // The first step forgets: nothing is served any more, files still there.
    BOOST_TEST(!purge.step());
    BOOST_TEST(store->file_count() == 0u);
    BOOST_TEST(exists(store->data_path(slot_id(0))));
    BOOST_TEST(!purge.finished());
    size_t steps = 1;
    while (!purge.step() && steps < 100) ++steps;
    ++steps;
    BOOST_TEST(steps == 1 + 3u, "upload: one step to forget, then " << OwnerPurge::kBatch << " files a step");
    BOOST_TEST(purge.finished());
    BOOST_TEST(purge.status().is_ok());
    BOOST_TEST(purge.removed() == n);
    for (unsigned i = 0; i < n; ++i) BOOST_TEST(!on_disk(*store, slot_id(i)));
    BOOST_TEST(purge.step(), "upload: a finished purge stays finished");
}

BOOST_AUTO_TEST_CASE(an_abandoned_purge_leaves_its_files_to_the_next) {
    test::TempDir dir;
    const int64_t now = 1000;
    auto store = FileStore::open(dir.sub("upload"), now).value();
    const unsigned n = static_cast<unsigned>(OwnerPurge::kBatch + 5);
    for (unsigned i = 0; i < n; ++i) store_file(*store, grant_for(kJuliet, i, 1, now), now);
    {
        OwnerPurge purge(store, kJuliet, now * 1000);
        BOOST_TEST(!purge.step());  // forgotten
        BOOST_TEST(!purge.step());  // kBatch removed
        purge.abandon(Status::error("unavailable", "the thread stopped"));
        BOOST_TEST(purge.finished());
        BOOST_TEST(purge.status().code() == "unavailable");
        BOOST_TEST(on_disk(*store, slot_id(n - 1)), "upload: not yet unlinked");
    }
    auto again = store->remove_owner(kJuliet, (now + 5) * 1000);
    BOOST_REQUIRE(again);
    BOOST_TEST(again.value() == 5u, "upload: the next purge unlinks what the abandoned one forgot");
    for (unsigned i = 0; i < n; ++i) BOOST_TEST(!on_disk(*store, slot_id(i)));
}

BOOST_AUTO_TEST_CASE(a_download_already_started_ends_whole_and_a_new_one_is_404) {
    test::TempDir dir;
    const int64_t now = 1000;
    auto store = FileStore::open(dir.sub("upload"), now).value();
    auto settings = std::make_shared<ServeSettings>();
    SlotGrant g = grant_for(kJuliet, 1, 200000, now);
    store_file(*store, g, now);
    HttpExchange started(store, settings, [] { return int64_t{1000}; });
    BOOST_TEST(get_head(g, started).rfind("HTTP/1.1 200 OK\r\n", 0) == 0u);
    std::string body = started.next_body_chunk(1000);
    BOOST_REQUIRE(body.size() == 1000u);
    // The account goes in the middle of the download.
    BOOST_REQUIRE(store->remove_owner(kJuliet, now * 1000));
    BOOST_TEST(!exists(store->data_path(g.slot_id)), "upload: the name is gone at once");
    for (int guard = 0; started.body_pending() && guard < 1000; ++guard) body += started.next_body_chunk(65536);
    BOOST_TEST(body == std::string(200000, 'x'), "upload: a download already started ends with every byte");
    HttpExchange after(store, settings, [] { return int64_t{1000}; });
    BOOST_TEST(get_head(g, after).rfind("HTTP/1.1 404 ", 0) == 0u);
    BOOST_TEST(after.status() == 404);
}

namespace {

config::Section upload_section(std::map<std::string, config::OptionValue> extra = {}) {
    config::Section s;
    s.file = "/etc/parley/parley.toml";
    s.name = "upload";
    s.values["domain"] = {std::string("upload.example.org"), 1};
    s.values["http_port"] = {int64_t{0}, 2};  // any free port (below the schema's range: tests only)
    for (auto& [k, v] : extra) s.values[k] = v;
    return s;
}

struct Module {
    test::TempDir dir;
    test::FakeHost host;
    Upload upload;
    Module() {
        host.data_directory = dir.path();
        static test::TempDir cert_dir;  // made once per run
        const std::string certs = cert_dir.path();
        std::string cmd = "sh " + std::string(PARLEY_TEST_SRCDIR) + "/tests/support/certs.sh " + certs +
                          " example.org >/dev/null 2>&1";
        BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "upload: certs.sh failed");
        host.virtual_hosts.push_back({"example.org", certs + "/example.org.pem", certs + "/example.org.key"});
        host.section = upload_section();
        BOOST_REQUIRE(upload.configure(host.section));
        host.module_instance = &upload;
        Status s = upload.start(host);
        BOOST_REQUIRE_MESSAGE(s, "upload: start: " << s.to_string());
    }
    ~Module() { upload.stop(); }

    // Waits for the purges running on the HTTP thread, then lets the host's
    // timers run: the completions are called there, on "worker 0".
    void settle() {
        for (auto& p : upload.purges_running())
            BOOST_REQUIRE_MESSAGE(p->wait(std::chrono::seconds(20)), "upload: the purge did not finish");
        host.run_timers();
    }
    xml::Element slot_request(const std::string& from) {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "get");
        iq.set_attr("id", "r1");
        iq.set_attr("from", from);
        iq.set_attr("to", "upload.example.org");
        return iq;
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(deleting_an_account_removes_its_uploads_before_the_host_hears_ok) {
    Module m;
    BOOST_REQUIRE_MESSAGE(m.host.account_deleted.size() == 1u, "upload: a purge handler must be registered");
    auto store = m.upload.store();
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    const SlotGrant a = grant_for(kJuliet, 1, 10, now - 5), r = grant_for(kRomeo, 2, 10, now - 5);
    store_file(*store, a, now - 5);
    store_file(*store, r, now - 5);
    BOOST_REQUIRE(exists(m.dir.sub("upload/files/" + a.slot_id)));

    auto answered = m.host.delete_account(xmpp::Jid::parse(kJuliet).value());
    BOOST_TEST(answered.empty(), "upload: the files go on the HTTP thread, not inside the handler");
    // A slot request that arrives while the purge runs is refused.
    m.upload.grant(m.slot_request(kJuliet + "/balcony"), kJuliet, "late.txt", 3, "");
    BOOST_REQUIRE(!m.host.sent.empty());
    BOOST_TEST(m.host.sent.back().attr_or("type") == "error", "upload: no slot for an account being deleted");
    m.settle();
    BOOST_REQUIRE_MESSAGE(m.host.purge_results->size() == 1u, "upload: done must be called once");
    BOOST_TEST(m.host.purge_results->front().is_ok(), m.host.purge_results->front().to_string());
    BOOST_TEST(!exists(m.dir.sub("upload/files/" + a.slot_id)), "upload: gone from disk when done says ok");
    BOOST_TEST(!exists(m.dir.sub("upload/meta/" + a.slot_id)));
    BOOST_TEST(exists(m.dir.sub("upload/files/" + r.slot_id)), "upload: romeo's file stays");
    BOOST_TEST(m.upload.purges_running().empty());
    BOOST_TEST(m.host.timer_fns.empty(), "upload: no polling once nothing runs");
    // After the purge a new account of the name gets slots again.
    const size_t before = m.host.sent.size();
    m.upload.grant(m.slot_request(kJuliet + "/balcony"), kJuliet, "new.txt", 3, "");
    BOOST_REQUIRE(m.host.sent.size() == before + 1);
    BOOST_TEST(m.host.sent.back().attr_or("type") == "result");
}

BOOST_AUTO_TEST_CASE(a_purge_survives_a_reload_that_restarts_the_listener) {
    Module m;
    auto store = m.upload.store();
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    const unsigned n = static_cast<unsigned>(OwnerPurge::kBatch * 3);
    for (unsigned i = 0; i < n; ++i) store_file(*store, grant_for(kJuliet, i, 1, now - 5), now - 5);
    m.host.delete_account(xmpp::Jid::parse(kJuliet).value());
    // A new listener: the old HTTP thread is joined wherever the purge was.
    BOOST_REQUIRE(m.upload.reload(upload_section({{"max_connections", {int64_t{3}, 4}}})));
    m.settle();
    BOOST_REQUIRE(m.host.purge_results->size() == 1u);
    BOOST_TEST(m.host.purge_results->front().is_ok(), m.host.purge_results->front().to_string());
    for (unsigned i = 0; i < n; ++i) BOOST_TEST(!exists(store->data_path(slot_id(i))));
}

BOOST_AUTO_TEST_CASE(without_the_http_thread_the_purge_fails_and_is_asked_again) {
    Module m;
    m.upload.stop();
    auto got = m.host.delete_account(xmpp::Jid::parse(kJuliet).value());
    BOOST_REQUIRE(got.size() == 1u);
    BOOST_TEST(!got.front().is_ok(), "upload: no thread to remove files: an error, so the host asks again");
}

BOOST_AUTO_TEST_SUITE_END()
