#define BOOST_TEST_DYN_LINK
#include "../tools/parleyctl/archive_command.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include "../tools/parleyctl/json_value.hpp"
#include "archive/journal/journal.hpp"
#include "modules/archive/journal_service.hpp"
#include "store/env.hpp"
#include "support/archive_fixture.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using parley::ctl::JsonValue;
using parley::test::chat;
namespace cli = parley::ctl::archive_cli;

namespace {

constexpr uint64_t kNow = 1'764'700'000'000;  // 2025-12-02T18:26:40Z

// A configuration with the archive module, its key file next to it, and the
// archive environment data_dir/archive written the way mod_archive writes it.
struct CtlArchive {
    test::TempDir tmp;
    std::string config;
    std::string key_file = tmp.sub("archive.key");
    std::optional<archive::Journal> journal;
    std::unique_ptr<store::Env> env;
    MDB_dbi db = 0;

    explicit CtlArchive(bool make_archive = true) {
        auto kek = archive::create_key_file(key_file);
        BOOST_REQUIRE_MESSAGE(kek, "archive cli: create_key_file: " << kek.status().to_string());
        journal.emplace(*kek);
        write_config("archive.key");
        if (!make_archive) return;
        auto e = store::Env::open(tmp.sub("data/archive"), size_t{64} << 20);
        BOOST_REQUIRE_MESSAGE(e, "archive cli: Env::open: " << e.status().to_string());
        env = std::move(e.value());
        auto d = env->database("archive.journal", 1);
        BOOST_REQUIRE(d);
        db = d.value();
    }
    void write_config(const std::string& key) {
        config = tmp.write("parley.toml",
                           "data_dir = \"" + tmp.sub("data") +
                               "\"\n[modules]\nenabled = [\"archive\"]\n[modules.archive]\n"
                               "key_file = \"" +
                               key +
                               "\"\n[[virtual_host]]\ndomain = \"x\"\n"
                               "certificate = \"x.pem\"\nkey = \"x.key\"\n");
    }
    uint64_t append(const archive::Entry& entry, uint64_t now_ms) {
        uint64_t id = 0;
        Status s = env->write([&](store::Txn& t) {
            auto r = journal->append(t.handle(), db, now_ms, entry);
            if (!r) return r.status();
            id = *r;
            return Status::ok();
        });
        BOOST_REQUIRE_MESSAGE(s, "archive cli: append: " << s.to_string());
        return id;
    }
    void edit(const std::function<void(MDB_txn*)>& fn) {
        Status s = env->write([&](store::Txn& t) {
            fn(t.handle());
            return Status::ok();
        });
        BOOST_REQUIRE(s);
    }

    struct Outcome {
        int code;
        std::string out, err;
    };
    Outcome run(std::vector<std::string> args) {
        std::ostringstream out, err;
        int code = ctl::archive_command(config, std::move(args), out, err);
        return {code, out.str(), err.str()};
    }
    // A --json command's answer, parsed.
    JsonValue json(std::vector<std::string> args, int expect_code = 0) {
        args.push_back("--json");
        Outcome o = run(args);
        BOOST_REQUIRE_MESSAGE(o.code == expect_code,
                              "archive cli: exit " << o.code << ": " << o.err);
        auto v = JsonValue::parse(o.out);
        BOOST_REQUIRE_MESSAGE(v && v->is(JsonValue::Kind::object),
                              "archive cli: not a JSON object: " << o.out);
        return *v;
    }
};

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::vector<std::string> result_ids(const JsonValue& v) {
    std::vector<std::string> ids;
    for (const auto& r : v.get("results")->items()) ids.push_back(r.str("id"));
    return ids;
}

std::string hex(uint64_t id) { return archive::stanza_id_text(id); }

// One control-socket answer, as a running parleyd gives it, from a thread
// that gives up after 5 seconds.
class FakeParleyd {
  public:
    explicit FakeParleyd(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        BOOST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        BOOST_REQUIRE(::listen(fd_, 4) == 0);
        thread_ = std::thread([this] {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 5000) != 1) return;
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            char buf[256];
            pollfd q{c, POLLIN, 0};
            if (::poll(&q, 1, 5000) == 1 && ::read(c, buf, sizeof buf) > 0) {
                ++answered;
                const char reply[] =
                    "{\"ok\":true,\"version\":\"test\",\"workers\":2,\"sessions\":0}\n";
                (void)!::write(c, reply, sizeof reply - 1);
            }
            ::close(c);
        });
    }
    ~FakeParleyd() {
        thread_.join();
        ::close(fd_);
    }
    std::atomic<int> answered{0};

  private:
    int fd_ = -1;
    std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(tools_archive_command)

BOOST_AUTO_TEST_CASE(parse_time_reads_iso_8601_with_a_zone_and_refuses_the_rest) {
    BOOST_TEST(cli::parse_time("1970-01-01T00:00:00Z").value() == 0u);
    BOOST_TEST(cli::parse_time("2025-12-02T18:26:40Z").value() == kNow,
               "archive cli: a plain UTC time");
    BOOST_TEST(cli::parse_time("2025-12-02T18:26:40.25Z").value() == kNow + 250,
               "archive cli: a fraction");
    BOOST_TEST(cli::parse_time("2025-12-02T18:26:40.123456Z").value() == kNow + 123,
               "archive cli: past ms is cut");
    BOOST_TEST(cli::parse_time("2025-12-02T19:26:40+01:00").value() == kNow,
               "archive cli: an offset");
    BOOST_TEST(cli::parse_time("2025-12-02T17:56:40-00:30").value() == kNow);
    BOOST_TEST(cli::parse_time("2025-12-02").value() == kNow - (18 * 3600 + 26 * 60 + 40) * 1000u,
               "archive cli: a date is its midnight UTC");
    BOOST_TEST(cli::parse_time("2024-02-29T00:00:00Z").has_value(), "archive cli: a leap day");
    for (const char* bad :
         {"", "2025-12-02T18:26:40", "2023-02-29", "2025-13-01", "2025-12-32",
          "2025-12-02T24:00:00Z", "2025-12-02T18:60:00Z", "2025-12-02 18:26:40Z",
          "2025-12-02T18:26:40.Z", "2025-12-02T18:26:40Zjunk", "1969-12-31T23:59:59Z", "25-12-02",
          "2025-1-02", "2025-12-02T18:26:40+0100", "now"})
        BOOST_TEST(!cli::parse_time(bad).has_value(), "archive cli: must refuse '" << bad << "'");
}

BOOST_AUTO_TEST_CASE(format_time_is_utc_with_milliseconds_and_parses_back) {
    BOOST_TEST(cli::format_time(0) == "1970-01-01T00:00:00.000Z");
    BOOST_TEST(cli::format_time(kNow + 7) == "2025-12-02T18:26:40.007Z");
    for (uint64_t ms : {uint64_t{0}, kNow, kNow + 999, uint64_t{951'782'400'000} /* 2000-02-29 */})
        BOOST_TEST(cli::parse_time(cli::format_time(ms)).value() == ms);
}

BOOST_AUTO_TEST_CASE(stanza_body_reads_the_text_of_the_body_and_refuses_a_damaged_stanza) {
    auto b = cli::stanza_body(
        "<message xmlns='jabber:client' to='b@x'><body xml:lang='de'>hallo</body>"
        "<body>a &amp; b &lt;c&gt;\nline two</body></message>");
    BOOST_REQUIRE(b);
    BOOST_TEST(b->value() == "a & b <c>\nline two",
               "archive cli: the body without xml:lang, unescaped");
    auto only_lang = cli::stanza_body(
        "<message xmlns='jabber:client'><body xml:lang='de'>hallo</body></message>");
    BOOST_REQUIRE(only_lang);
    BOOST_TEST(only_lang->value() == "hallo");
    auto none = cli::stanza_body(
        "<message xmlns='jabber:client'><x xmlns='y'><body>no</body></x></message>");
    BOOST_REQUIRE(none);
    BOOST_TEST(!none->has_value(), "archive cli: a body of another namespace is not the message's");
    for (const char* bad : {"<message xmlns='jabber:client'><body>", "not xml", "<a/><b/>"})
        BOOST_TEST(cli::stanza_body(bad).status().code() == "corrupt", "archive cli: " << bad);
    BOOST_TEST(cli::one_line("a\nb\tc\x01\\") == "a\\nb\\tc\\x01\\\\");
}

BOOST_AUTO_TEST_CASE(ids_in_the_librarys_messages_are_shown_as_stanza_ids) {
    const uint64_t id = archive::first_id_at(kNow) + 3;
    BOOST_TEST(cli::ids_as_stanza_ids("record " + std::to_string(id) + " was altered") ==
               "record " + archive::stanza_id_text(id) + " was altered");
    BOOST_TEST(cli::ids_as_stanza_ids("after " + std::to_string(id) + ", up to " +
                                      std::to_string(id + 1) + ".") ==
               "after " + archive::stanza_id_text(id) + ", up to " +
                   archive::stanza_id_text(id + 1) + ".");
    BOOST_TEST(cli::ids_as_stanza_ids("the head counts 12 records, the chain has 1099511627775") ==
                   "the head counts 12 records, the chain has 1099511627775",
               "archive cli: below 2^40 is a count");
    BOOST_TEST(cli::ids_as_stanza_ids("key 1234567890123456x and x1234567890123456") ==
                   "key 1234567890123456x and x1234567890123456",
               "archive cli: digits inside a word stay");
    BOOST_TEST(cli::ids_as_stanza_ids("99999999999999999999999") == "99999999999999999999999",
               "archive cli: past 64 bits it is no id");
}

BOOST_AUTO_TEST_CASE(search_lists_one_accounts_view_in_id_order_with_bodies) {
    CtlArchive a;
    uint64_t one = a.append(chat("alice@x", "bob@x", "one"), kNow);
    uint64_t two = a.append(chat("carol@x", "bob@x", "two"), kNow + 1000);
    uint64_t three = a.append(chat("alice@x", "bob@x", "three &amp; &lt;four&gt;"), kNow + 2000);
    uint64_t other = a.append(chat("alice@x", "carol@x", "not bob's"), kNow + 3000);

    JsonValue all = a.json({"search", "--user", "Bob@X"});
    BOOST_TEST(all.str("user") == "bob@x", "archive cli: the JID is prepared");
    BOOST_TEST(all.flag("complete"));
    BOOST_TEST(result_ids(all) == (std::vector<std::string>{hex(one), hex(two), hex(three)}),
               boost::test_tools::per_element());
    const auto& rows = all.get("results")->items();
    BOOST_TEST(rows[0].str("body") == "one");
    BOOST_TEST(rows[2].str("body") == "three & <four>");
    BOOST_TEST(rows[1].str("from") == "carol@x/phone");
    BOOST_TEST(rows[1].str("to") == "bob@x");
    BOOST_TEST(rows[1].str("type") == "chat");
    BOOST_TEST(rows[1].str("time") == "2025-12-02T18:26:41.000Z");

    JsonValue with = a.json({"search", "--user", "bob@x", "--with", "alice@x"});
    BOOST_TEST(result_ids(with) == (std::vector<std::string>{hex(one), hex(three)}),
               boost::test_tools::per_element());
    JsonValue sender = a.json({"search", "--user", "alice@x"});
    BOOST_TEST(result_ids(sender) == (std::vector<std::string>{hex(one), hex(three), hex(other)}),
               boost::test_tools::per_element());

    // Both ends inclusive, to the millisecond.
    JsonValue range = a.json({"search", "--user", "bob@x", "--start", "2025-12-02T18:26:41Z",
                              "--end", "2025-12-02T18:26:42Z"});
    BOOST_TEST(result_ids(range) == (std::vector<std::string>{hex(two), hex(three)}),
               boost::test_tools::per_element());
    JsonValue before = a.json({"search", "--user", "bob@x", "--end", "2025-12-02T18:26:40.999Z"});
    BOOST_TEST(result_ids(before) == (std::vector<std::string>{hex(one)}),
               boost::test_tools::per_element());
    JsonValue limited = a.json({"search", "--user", "bob@x", "--limit", "2"});
    BOOST_TEST(result_ids(limited) == (std::vector<std::string>{hex(one), hex(two)}),
               boost::test_tools::per_element());
    BOOST_TEST(!limited.flag("complete"), "archive cli: a cut list says so");

    auto text = a.run({"search", "--user", "bob@x"});
    BOOST_TEST(text.code == 0);
    BOOST_TEST(has(text.out, "ID\tTIME\tFROM\tTO\tTYPE\tBODY\n"));
    BOOST_TEST(has(
        text.out,
        hex(three) + "\t2025-12-02T18:26:42.000Z\talice@x/phone\tbob@x\tchat\tthree & <four>\n"));
    BOOST_TEST(
        has(a.run({"search", "--user", "dave@x"}).out, "no messages in the archive of dave@x"));

    BOOST_TEST(a.run({"search"}).code == 2, "archive cli: --user is required");
    BOOST_TEST(a.run({"search", "--user", "bob@x/res"}).code == 2);
    BOOST_TEST(a.run({"search", "--user", "bob@x", "--start", "yesterday"}).code == 2);
    BOOST_TEST(
        a.run({"search", "--user", "bob@x", "--start", "2025-12-03", "--end", "2025-12-02"}).code ==
        2);
    BOOST_TEST(a.run({"search", "--user", "bob@x", "--limit", "0"}).code == 2);
    BOOST_TEST(a.run({"search", "--user", "bob@x", "--words", "x"}).code == 2);
}

BOOST_AUTO_TEST_CASE(verify_is_ok_then_names_an_altered_record_by_its_stanza_id) {
    CtlArchive a;
    std::vector<uint64_t> ids;
    for (int i = 0; i < 5; ++i)
        ids.push_back(a.append(chat("alice@x", "bob@x", "m" + std::to_string(i)), kNow + i));
    auto ok = a.run({"verify"});
    BOOST_TEST(ok.code == 0, ok.err);
    BOOST_TEST(has(ok.out, "5 records in 1 segment checked"));
    BOOST_TEST(has(ok.out, "ok: nothing was altered"));
    JsonValue okj = a.json({"verify", "--user", "bob@x"});
    BOOST_TEST(okj.flag("ok"));
    BOOST_TEST(okj.str("records") == "5");
    BOOST_TEST(okj.str("user") == "bob@x");

    // An attacker with the file flips a byte of the third record's payload.
    a.edit([&](MDB_txn* t) {
        std::string key = archive::layout::record_key(ids[2]);
        MDB_val k{key.size(), key.data()}, v{};
        BOOST_REQUIRE(mdb_get(t, a.db, &k, &v) == 0);
        std::string value(static_cast<char*>(v.mv_data), v.mv_size);
        value[value.size() - 3] ^= 0x01;
        MDB_val nv{value.size(), value.data()};
        BOOST_REQUIRE(mdb_put(t, a.db, &k, &nv, 0) == 0);
    });
    auto bad = a.run({"verify"});
    BOOST_TEST(bad.code == 1, "archive cli: findings exit 1");
    BOOST_TEST(has(bad.out, "altered"));
    BOOST_TEST(has(bad.out, hex(ids[2])), bad.out);
    BOOST_TEST(has(bad.out, "2025-12-02"), "archive cli: the segment as its day");
    JsonValue j = a.json({"verify"}, 1);
    BOOST_TEST(!j.flag("ok"));
    const auto& findings = j.get("findings")->items();
    BOOST_REQUIRE(!findings.empty());
    BOOST_TEST(findings[0].str("kind") == "altered");
    BOOST_TEST(findings[0].str("first") == hex(ids[2]));
    // What search can still show, it shows, and says what it cannot.
    auto s = a.run({"search", "--user", "bob@x"});
    BOOST_TEST(s.code == 1);
    BOOST_TEST(has(s.err, hex(ids[2]) + " of this archive cannot be read"), s.err);
    BOOST_TEST(has(s.out, hex(ids[3])));
}

BOOST_AUTO_TEST_CASE(a_wrong_or_insecure_key_file_is_an_error_never_an_empty_archive) {
    CtlArchive a;
    a.append(chat("alice@x", "bob@x", "secret"), kNow);
    const std::string sealed_with = archive::read_key_file(a.key_file)->id();
    auto other = archive::create_key_file(a.tmp.sub("other.key"));
    BOOST_REQUIRE(other);
    a.write_config("other.key");
    auto v = a.run({"verify"});
    BOOST_TEST(v.code == 2, "archive cli: verify cannot run: exit 2");
    BOOST_TEST(has(v.err, sealed_with), v.err);
    BOOST_TEST(has(v.err, other->id()), v.err);
    auto s = a.run({"search", "--user", "bob@x"});
    BOOST_TEST(s.code == 1);
    BOOST_TEST(has(s.err, sealed_with));
    BOOST_TEST(s.out.empty(), "archive cli: nothing is listed under a wrong key");

    a.write_config("archive.key");
    BOOST_REQUIRE(::chmod(a.key_file.c_str(), 0644) == 0);
    auto insecure = a.run({"verify"});
    BOOST_TEST(insecure.code == 2);
    BOOST_TEST(has(insecure.err, a.key_file), insecure.err);

    a.write_config("missing.key");
    BOOST_TEST(has(a.run({"verify"}).err, a.tmp.sub("missing.key")));
}

BOOST_AUTO_TEST_CASE(without_an_archive_the_commands_say_so_and_make_none) {
    CtlArchive a(false);
    auto v = a.run({"verify"});
    BOOST_TEST(v.code == 2);
    BOOST_TEST(has(v.err, "there is no archive in " + a.tmp.sub("data/archive")), v.err);
    BOOST_TEST(a.run({"search", "--user", "bob@x"}).code == 1);
    BOOST_TEST(!std::filesystem::exists(a.tmp.sub("data/archive")),
               "archive cli: nothing was created");
    a.config = a.tmp.write("plain.toml",
                           "data_dir = \"" + a.tmp.sub("data") +
                               "\"\n[[virtual_host]]\ndomain = \"x\"\ncertificate = \"x.pem\"\n"
                               "key = \"x.key\"\n");
    BOOST_TEST(has(a.run({"verify"}).err, "no [modules.archive] key_file"));
}

BOOST_AUTO_TEST_CASE(keygen_writes_a_private_key_file_and_prints_only_its_id) {
    CtlArchive a(false);
    const std::string path = a.tmp.sub("new.key");
    auto k = a.run({"keygen", path});
    BOOST_TEST(k.code == 0, k.err);
    auto key = archive::read_key_file(path);
    BOOST_REQUIRE(key);
    BOOST_TEST(k.out == key->id() + "\n");
    const std::string secret = test::TempDir::read(path).substr(0, 64);
    BOOST_TEST(!has(k.out + k.err, secret), "archive cli: the key is never shown");
    struct stat st {};
    BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    auto again = a.run({"keygen", path});
    BOOST_TEST(again.code == 1, "archive cli: an existing key file is never overwritten");
    BOOST_TEST(archive::read_key_file(path)->id() == key->id());
    BOOST_TEST(a.run({"keygen"}).code == 2);
}

BOOST_AUTO_TEST_CASE(rotate_key_rewraps_so_that_only_the_new_key_opens_the_same_history) {
    CtlArchive a;
    std::vector<uint64_t> ids;
    for (int i = 0; i < 3; ++i)
        ids.push_back(a.append(chat("alice@x", "bob@x", "m" + std::to_string(i)), kNow + i));
    const std::string old_id = archive::read_key_file(a.key_file)->id();
    BOOST_REQUIRE(a.run({"keygen", a.tmp.sub("new.key")}).code == 0);
    const std::string new_id = archive::read_key_file(a.tmp.sub("new.key"))->id();

    BOOST_TEST(a.run({"rotate-key"}).code == 2);
    auto same = a.run({"rotate-key", "--new-key", a.key_file});
    BOOST_TEST(same.code == 1, "archive cli: rotating to the same key is refused");
    auto r = a.run({"rotate-key", "--new-key", a.tmp.sub("new.key")});
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(has(r.out, new_id));
    BOOST_TEST(has(r.out, a.tmp.sub("new.key")),
               "archive cli: says which file to name in the config");

    auto old = a.run({"verify"});
    BOOST_TEST(old.code == 2, "archive cli: the old key file no longer opens the archive");
    BOOST_TEST(has(old.err, new_id));
    BOOST_TEST(has(old.err, old_id));
    a.write_config("new.key");
    BOOST_TEST(a.run({"verify"}).code == 0);
    JsonValue s = a.json({"search", "--user", "bob@x"});
    BOOST_TEST(result_ids(s) == (std::vector<std::string>{hex(ids[0]), hex(ids[1]), hex(ids[2])}),
               boost::test_tools::per_element());
    BOOST_TEST(s.get("results")->items()[1].str("body") == "m1",
               "archive cli: history is read as before");
}

BOOST_AUTO_TEST_CASE(rotate_key_refuses_while_parleyd_answers_on_its_control_socket) {
    CtlArchive a;
    a.append(chat("alice@x", "bob@x", "m"), kNow);
    BOOST_REQUIRE(a.run({"keygen", a.tmp.sub("new.key")}).code == 0);
    {
        FakeParleyd parleyd(a.tmp.sub("data/parleyd.sock"));
        auto r = a.run({"rotate-key", "--new-key", a.tmp.sub("new.key")});
        BOOST_TEST(r.code == 1);
        BOOST_TEST(has(r.err, "parleyd is running"), r.err);
        BOOST_TEST(has(r.err, "stop it"));
        BOOST_TEST(parleyd.answered.load() == 1, "archive cli: parleyctl asked the control socket");
    }
    BOOST_TEST(a.run({"verify"}).code == 0,
               "archive cli: the archive still opens with the old key");
}

BOOST_AUTO_TEST_SUITE_END()
