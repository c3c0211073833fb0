// mod_upload: slot tokens, file names, the file store's quota and commits,
// and the XMPP side against the fake host (disco, slots, refusals).
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>

#include "modules/upload/slot_token.hpp"
#include "modules/upload/upload.hpp"
#include "support/fake_host.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::mod_upload;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";

SlotGrant sample(int64_t expires = 2000) {
    return SlotGrant{"00112233445566778899aabbccddeeff", "photo.jpg", 1234, "image/jpeg", expires,
                     "juliet@example.org"};
}

config::Section section(std::map<std::string, config::OptionValue> extra = {}) {
    config::Section s;
    s.file = "/etc/parley/parley.toml";
    s.name = "upload";
    s.values["domain"] = {std::string("upload.example.org"), 1};
    s.values["http_port"] = {int64_t{0}, 2};  // any free port (below the schema's range: tests only)
    for (auto& [k, v] : extra) s.values[k] = v;
    return s;
}

struct Fixture {
    test::TempDir dir;
    test::FakeHost host;
    Upload upload;
    Fixture(std::map<std::string, config::OptionValue> extra = {}) {
        host.data_directory = dir.path();
        // The certificate comes from the virtual host: made by certs.sh.
        static test::TempDir cert_dir;  // made once per run
        const std::string certs = cert_dir.path();
        std::string cmd = "sh " + std::string(PARLEY_TEST_SRCDIR) + "/tests/support/certs.sh " + certs +
                          " example.org >/dev/null 2>&1";
        BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "upload: certs.sh failed");
        host.virtual_hosts.push_back({"example.org", certs + "/example.org.pem", certs + "/example.org.key"});
        host.section = section(std::move(extra));
        BOOST_REQUIRE_MESSAGE(upload.configure(host.section), "upload: configure");
        host.module_instance = &upload;
        Status s = upload.start(host);
        BOOST_REQUIRE_MESSAGE(s, "upload: start: " << s.to_string());
    }
    ~Fixture() { upload.stop(); }

    xml::Element request(const std::string& filename, const std::string& size, const std::string& from,
                         const std::string& type = "") {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "get");
        iq.set_attr("id", "r1");
        iq.set_attr("from", from);
        iq.set_attr("to", "upload.example.org");
        auto& r = iq.add_child("request", kNsUpload);
        r.set_attr("filename", filename);
        r.set_attr("size", size);
        if (!type.empty()) r.set_attr("content-type", type);
        return iq;
    }
    // Hands a stanza to the domain handler; the reply the module sent.
    xml::Element ask(xml::Element stanza, module::Origin origin = module::Origin::local_client) {
        auto it = host.domains.find("upload.example.org");
        BOOST_REQUIRE_MESSAGE(it != host.domains.end(), "upload: no domain handler");
        module::DomainStanza d{stanza, xmpp::Jid::parse(stanza.attr_or("from")).value(),
                               xmpp::Jid::parse(stanza.attr_or("to")).value(), origin};
        size_t before = host.sent.size();
        it->second(d);
        BOOST_REQUIRE_MESSAGE(host.sent.size() == before + 1, "upload: one reply expected");
        return host.sent.back();
    }
    static std::string condition(const xml::Element& reply) {
        const xml::Element* e = reply.child("error", std::string(xmpp::kNsClient));
        if (!e) return "";
        for (const auto& c : e->children())
            if (c.ns() == "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name() != "text") return c.name();
        return "";
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_upload)

BOOST_AUTO_TEST_CASE(token_round_trip) {
    const SlotGrant g = sample();
    const std::string auth = sign_token(kSecret, g);
    BOOST_TEST(auth.rfind("Bearer ", 0) == 0u);
    auto back = verify_token(kSecret, auth, g.slot_id, g.filename, 1000);
    BOOST_REQUIRE_MESSAGE(back, "upload: a fresh token must verify: " << back.status().to_string());
    BOOST_TEST((back.value() == g), "upload: the token must give back what was granted");
}

BOOST_AUTO_TEST_CASE(token_refuses_every_tampered_field) {
    const SlotGrant g = sample();
    const std::string auth = sign_token(kSecret, g);
    // Another slot or another name in the URL.
    BOOST_TEST(verify_token(kSecret, auth, "ffffffffffffffffffffffffffffffff", g.filename, 1000).status().code() ==
               "forged");
    BOOST_TEST(verify_token(kSecret, auth, g.slot_id, "photo.png", 1000).status().code() == "forged");
    // Another secret.
    BOOST_TEST(verify_token("another-secret-another-secret-xx", auth, g.slot_id, g.filename, 1000).status().code() ==
               "forged");
    // Each field of the payload changed, signed as before.
    for (int field = 0; field < 4; ++field) {
        SlotGrant t = g;
        if (field == 0) t.size = 999999;
        if (field == 1) t.content_type = "text/html";
        if (field == 2) t.expires = 999999;
        if (field == 3) t.owner = "romeo@example.org";
        std::string other = sign_token(kSecret, t);
        // The payload of t with the mac of g.
        std::string forged = other.substr(0, other.rfind('.')) + auth.substr(auth.rfind('.'));
        BOOST_TEST(verify_token(kSecret, forged, g.slot_id, g.filename, 1000).status().code() == "forged",
                   "upload: a changed field " << field << " must be refused");
    }
    // A flipped mac digit, garbage, no Bearer.
    std::string flipped = auth;
    flipped.back() = flipped.back() == '0' ? '1' : '0';
    BOOST_TEST(verify_token(kSecret, flipped, g.slot_id, g.filename, 1000).status().code() == "forged");
    BOOST_TEST(!verify_token(kSecret, "Bearer nonsense", g.slot_id, g.filename, 1000));
    BOOST_TEST(!verify_token(kSecret, auth.substr(7), g.slot_id, g.filename, 1000));
}

BOOST_AUTO_TEST_CASE(token_expires) {
    const SlotGrant g = sample(2000);
    const std::string auth = sign_token(kSecret, g);
    BOOST_TEST(verify_token(kSecret, auth, g.slot_id, g.filename, 2000).is_ok());
    BOOST_TEST(verify_token(kSecret, auth, g.slot_id, g.filename, 2001).status().code() == "expired");
}

BOOST_AUTO_TEST_CASE(constant_time_equal_compares) {
    BOOST_TEST(constant_time_equal("abc", "abc"));
    BOOST_TEST(!constant_time_equal("abc", "abd"));
    BOOST_TEST(!constant_time_equal("abc", "abcd"));
}

BOOST_AUTO_TEST_CASE(filenames) {
    BOOST_TEST(check_filename("photo.jpg").is_ok());
    BOOST_TEST(check_filename("Übersicht 2026 (v2).pdf").is_ok());
    BOOST_TEST(check_filename(std::string(255, 'a')).is_ok());
    for (const std::string& bad : {std::string(), std::string(256, 'a'), std::string("a/b"), std::string("..\\x"),
                                  std::string(".."), std::string("."), std::string("a..b"), std::string("../etc"),
                                  std::string("nul\0x", 5), std::string("line\nbreak"), std::string("bad\xff utf8")})
        BOOST_TEST(!check_filename(bad), "upload: '" << bad << "' must be refused");
}

BOOST_AUTO_TEST_CASE(percent_coding_round_trips) {
    const std::string name = "a b/ü%.txt";
    const std::string enc = percent_encode(name);
    BOOST_TEST(enc == "a%20b%2F%C3%BC%25.txt");
    BOOST_TEST(percent_decode(enc).value() == name);
    BOOST_TEST(!percent_decode("bad%2"));
    BOOST_TEST(!percent_decode("bad%zz"));
}

BOOST_AUTO_TEST_CASE(store_counts_quota_commits_once_and_purges) {
    test::TempDir dir;
    auto st = FileStore::open(dir.sub("upload"));
    BOOST_REQUIRE(st);
    auto store = st.value();
    struct stat sb{};
    BOOST_REQUIRE(::stat(dir.sub("upload/secret").c_str(), &sb) == 0);
    BOOST_TEST((sb.st_mode & 0777) == 0600u, "upload: the secret must be 0600");
    const int64_t now = 1000;
    SlotGrant g = sample(now + 300);
    g.size = 5;
    BOOST_TEST(store->reserve(g.owner, g.slot_id, 5, g.expires, 8, now).is_ok());
    BOOST_TEST(store->reserve(g.owner, "another", 4, g.expires, 8, now).code() == "quota",
               "upload: 5 reserved + 4 must pass a quota of 8");
    auto fd = store->begin(g, 8, now);
    BOOST_REQUIRE(fd);
    BOOST_TEST(store->begin(g, 8, now).status().code() == "exists", "upload: one upload of a slot at a time");
    BOOST_REQUIRE(::write(fd.value(), "hello", 5) == 5);
    BOOST_REQUIRE(store->commit(g, "text/plain", fd.value(), now).is_ok());
    BOOST_TEST(store->begin(g, 8, now).status().code() == "exists", "upload: a slot holds one file, ever");
    BOOST_TEST(store->used(g.owner, now) == 5u);
    auto f = store->find(g.slot_id);
    BOOST_REQUIRE(f);
    BOOST_TEST(f->filename == g.filename);
    BOOST_TEST(f->content_type == "text/plain");
    // A second open (a restart) finds the file and its owner's usage.
    auto again = FileStore::open(dir.sub("upload"));
    BOOST_REQUIRE(again);
    BOOST_TEST(again.value()->used(g.owner, now) == 5u);
    BOOST_TEST(again.value()->secret() == store->secret(), "upload: the secret must survive a restart");
    // Purge: not yet, then past its age.
    BOOST_TEST(store->purge(now + 10, 100) == 0u);
    BOOST_TEST(store->purge(now + 100, 100) == 1u);
    BOOST_TEST(!store->find(g.slot_id));
    BOOST_TEST(store->used(g.owner, now + 100) == 0u);
    BOOST_TEST(::access(store->data_path(g.slot_id).c_str(), F_OK) != 0, "upload: a purged file must be gone");
}

BOOST_AUTO_TEST_CASE(store_drops_interrupted_uploads_at_open) {
    test::TempDir dir;
    auto store = FileStore::open(dir.sub("upload")).value();
    SlotGrant g = sample(2000);
    auto fd = store->begin(g, 0, 1000);
    BOOST_REQUIRE(fd);
    ::close(fd.value());  // parleyd died mid-upload
    std::ofstream(dir.sub("upload/meta/ffffffffffffffffffffffffffffffff")) << "x\n";  // a record without data
    auto again = FileStore::open(dir.sub("upload")).value();
    BOOST_TEST(::access(dir.sub("upload/tmp/" + g.slot_id + ".part").c_str(), F_OK) != 0);
    BOOST_TEST(::access(dir.sub("upload/meta/ffffffffffffffffffffffffffffffff").c_str(), F_OK) != 0);
    BOOST_TEST(again->file_count() == 0u);
    BOOST_TEST(again->begin(g, 0, 1000).is_ok(), "upload: the slot may be uploaded after the crash");
}

BOOST_AUTO_TEST_CASE(settings_are_checked) {
    auto s = read_settings(section());
    BOOST_REQUIRE(s);
    BOOST_TEST(s->vhost == "example.org");
    BOOST_TEST(s->external_url == "https://upload.example.org:0");
    auto bad = section({{"domain", {std::string("localhost"), 3}}});
    BOOST_TEST(!read_settings(bad), "upload: a domain with no parent cannot be a service's");
    auto url = section({{"external_url", {std::string("http://x.example/"), 4}}});
    BOOST_TEST(!read_settings(url), "upload: slots are https only");
    auto proxied = section({{"external_url", {std::string("https://files.example.org/up/"), 4}}});
    BOOST_TEST(read_settings(proxied).value().external_url == "https://files.example.org/up");
    auto half = section({{"certificate", {std::string("c.pem"), 5}}});
    BOOST_TEST(!read_settings(half), "upload: a certificate needs its key");
}

BOOST_AUTO_TEST_CASE(disco_shows_identity_feature_and_max_size) {
    Fixture f({{"max_file_size", {int64_t{5000}, 3}}});
    xml::Element iq("iq", std::string(xmpp::kNsClient));
    iq.set_attr("type", "get");
    iq.set_attr("id", "d1");
    iq.set_attr("from", "juliet@example.org/balcony");
    iq.set_attr("to", "upload.example.org");
    iq.add_child("query", "http://jabber.org/protocol/disco#info");
    xml::Element reply = f.ask(iq);
    BOOST_TEST(reply.attr_or("type") == "result");
    const xml::Element* q = reply.child("query", "http://jabber.org/protocol/disco#info");
    BOOST_REQUIRE(q);
    const xml::Element* id = q->child("identity", "http://jabber.org/protocol/disco#info");
    BOOST_REQUIRE(id);
    BOOST_TEST(id->attr_or("category") == "store");
    BOOST_TEST(id->attr_or("type") == "file");
    bool feature = false, size = false;
    for (const auto& c : q->children()) {
        if (c.name() == "feature" && c.attr_or("var") == kNsUpload) feature = true;
        if (c.name() == "x")
            for (const auto& field : c.children())
                if (field.attr_or("var") == "max-file-size")
                    size = field.child("value", "jabber:x:data")->text() == "5000";
    }
    BOOST_TEST(feature, "upload: disco must show " << kNsUpload);
    BOOST_TEST(size, "upload: disco must show max-file-size 5000");
    BOOST_TEST(f.upload.http_port() != 0u, "upload: worker 0 runs the HTTPS listener");
}

BOOST_AUTO_TEST_CASE(slot_for_a_local_account) {
    Fixture f;
    xml::Element reply = f.ask(f.request("a b.txt", "10", "juliet@example.org/balcony", "text/plain"));
    BOOST_TEST(reply.attr_or("type") == "result");
    BOOST_TEST(reply.attr_or("to") == "juliet@example.org/balcony");
    const xml::Element* slot = reply.child("slot", kNsUpload);
    BOOST_REQUIRE(slot);
    const xml::Element* put = slot->child("put", kNsUpload);
    const xml::Element* get = slot->child("get", kNsUpload);
    BOOST_REQUIRE(put);
    BOOST_REQUIRE(get);
    const std::string url(put->attr_or("url"));
    BOOST_TEST(url.rfind("https://upload.example.org:0/", 0) == 0u);
    BOOST_TEST(url.substr(url.size() - 10) == "/a%20b.txt");
    BOOST_TEST(get->attr_or("url") == url);
    const xml::Element* h = put->child("header", kNsUpload);
    BOOST_REQUIRE(h);
    BOOST_TEST(h->attr_or("name") == "Authorization");
    const std::string slot_id = url.substr(std::string("https://upload.example.org:0/").size(), 32);
    auto g = verify_token(f.upload.store()->secret(), h->text(), slot_id, "a b.txt", std::time(nullptr));
    BOOST_REQUIRE_MESSAGE(g, "upload: the slot's header must verify: " << g.status().to_string());
    BOOST_TEST(g->size == 10u);
    BOOST_TEST(g->owner == "juliet@example.org");
    BOOST_TEST(g->content_type == "text/plain");
}

BOOST_AUTO_TEST_CASE(slot_refusals) {
    Fixture f({{"max_file_size", {int64_t{1000}, 3}}, {"quota_bytes", {int64_t{1500}, 4}}});
    // Too large: not-acceptable with file-too-large and max-file-size.
    xml::Element big = f.ask(f.request("big.bin", "1001", "juliet@example.org/balcony"));
    BOOST_TEST(Fixture::condition(big) == "not-acceptable");
    const xml::Element* app = big.child("error", std::string(xmpp::kNsClient))->child("file-too-large", kNsUpload);
    BOOST_REQUIRE_MESSAGE(app, "upload: file-too-large must be there");
    BOOST_TEST(app->child("max-file-size", kNsUpload)->text() == "1000");
    // Bad names and sizes.
    BOOST_TEST(Fixture::condition(f.ask(f.request("../x", "10", "juliet@example.org/b"))) == "bad-request");
    BOOST_TEST(Fixture::condition(f.ask(f.request("x", "-1", "juliet@example.org/b"))) == "bad-request");
    BOOST_TEST(Fixture::condition(f.ask(f.request("x", "0", "juliet@example.org/b"))) == "bad-request");
    BOOST_TEST(Fixture::condition(f.ask(f.request("x", "12abc", "juliet@example.org/b"))) == "bad-request");
    BOOST_TEST(Fixture::condition(f.ask(f.request("x", "1", "juliet@example.org/b", "nonsense"))) == "bad-request");
    // Not a local account: another domain, a remote server, the domain itself.
    BOOST_TEST(Fixture::condition(f.ask(f.request("x", "10", "romeo@other.example/b"))) == "not-allowed");
    BOOST_TEST(Fixture::condition(f.ask(f.request("x", "10", "juliet@example.org/b"), module::Origin::remote_server)) ==
               "not-allowed");
    BOOST_TEST(Fixture::condition(f.ask(f.request("x", "10", "example.org"))) == "not-allowed");
    // Quota: 1000 granted, then 600 more passes 1500.
    BOOST_TEST(f.ask(f.request("one", "1000", "juliet@example.org/b")).attr_or("type") == "result");
    xml::Element over = f.ask(f.request("two", "600", "juliet@example.org/b"));
    BOOST_TEST(Fixture::condition(over) == "resource-constraint");
    BOOST_TEST(over.child("error", std::string(xmpp::kNsClient))->attr_or("type") == "wait");
    // Another account has its own quota.
    BOOST_TEST(f.ask(f.request("two", "600", "romeo@example.org/b")).attr_or("type") == "result");
}

BOOST_AUTO_TEST_CASE(reload_keeps_or_restarts_the_listener_without_leaking) {
    Fixture f;
    const uint16_t port = f.upload.http_port();
    // The same listener: kept, settings swapped.
    auto same = section({{"quota_bytes", {int64_t{10}, 4}}});
    BOOST_REQUIRE(f.upload.reload(same));
    BOOST_TEST(f.upload.http_port() == port);
    BOOST_TEST(Fixture::condition(f.ask(f.request("x", "11", "juliet@example.org/b"))) == "resource-constraint");
    // Another connection limit: a new listener (thread joined first).
    auto other = section({{"max_connections", {int64_t{3}, 4}}});
    BOOST_REQUIRE(f.upload.reload(other));
    BOOST_TEST(f.upload.http_port() != 0u);
    // The domain is fixed until a restart.
    BOOST_TEST(!f.upload.reload(section({{"domain", {std::string("files.example.org"), 1}}})));
}

BOOST_AUTO_TEST_CASE(stop_closes_open_connections_and_joins) {
    auto f = std::make_unique<Fixture>();
    const uint16_t port = f->upload.http_port();
    BOOST_REQUIRE(port != 0u);
    // A client in the middle of its TLS handshake (a ClientHello's first
    // bytes): stop must not wait for it.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE_MESSAGE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "upload: connect");
    BOOST_REQUIRE(::write(fd, "\x16\x03\x01\x00", 4) == 4);
    f->upload.stop();  // joins the HTTP thread
    BOOST_TEST(f->upload.http_port() == 0u);
    // The listener is gone: the connection was closed by the server.
    char c;
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    BOOST_TEST(::read(fd, &c, 1) <= 0, "upload: a stopped server must close its connections");
    ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
