// archive-fill: seeds a compliance archive with synthetic 1:1 chat messages,
// for benchmarks (archive-bench) and for tests that need old messages (a
// running parleyd only ever writes today's).
//
//   archive-fill (--config parley.toml | --data-dir DIR --key-file FILE [--create-key])
//                --messages N [--users U [--prefix user] | --names a,b,c] [--domain D]
//                [--days-ago FROM TO] [--contacts C] [--batch B] [--seed S] [--quiet]
//
// The archive is the one parleyd uses: the LMDB environment DATA_DIR/archive,
// database "archive.journal" (schema 1), sealed under the key file's key
// (with --config: data_dir and [modules.archive] key_file of that file, the
// key file relative to it, as mod_archive reads them). N messages are
// appended with Journal::append_at, B (10,000) per write transaction, at
// times spread evenly from FROM days ago to TO days ago (default 365 to 1),
// in increasing order. Each is what mod_archive journals for a chat message
// delivered between two local users: the stanza as parleyd serialises it
// (<message type='chat' from='SENDER/desk' to='RECIPIENT' id=..><body>..
// </body><origin-id xmlns='urn:xmpp:sid:0' id=../></message>), origin
// "local", outcome "delivered", two views (the sender's archive with the
// recipient as peer, the recipient's with the sender), and the words of its
// body. Users are U numbered accounts PREFIX0..PREFIX(U-1)@D or the named
// ones; a sender writes to one of its C nearest neighbours (ring order, so
// each user has a circle of about 2C correspondents; 0: anyone). Bodies are a
// few words of the fixed vocabulary of archive_fill_words.hpp (Zipf
// weights; some rare words), deterministic for a seed.
//
// It writes the environment directly, so parleyd must be stopped: a running
// parleyd gives out ids in its own write queue and would find ours in the
// way. archive-fill refuses when parleyd's control socket answers, and when
// the archive already holds an id at or above the first one it would write
// (run it with older --days-ago first, or on an empty archive).
//
// Prints records per second. A tool for benchmarks and tests, not
// installed. Single-threaded.
#include <fmt/core.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "archive/crypto/keys.hpp"
#include "archive/journal/entry.hpp"
#include "archive/journal/journal.hpp"
#include "modules/archive/journal_service.hpp"
#include "config/config.hpp"
#include "store/env.hpp"
#include "tools/bench/archive_fill_words.hpp"
#include "xml/element.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;
namespace words = parley::bench::archive_fill;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kDatabase =
    "archive.journal";  // Host::open_database({"journal", 1, {}, "archive"})
constexpr uint32_t kSchemaVersion = 1;
constexpr uint64_t kDayMs = 86'400'000;

struct Options {
    std::string config;
    std::string data_dir;
    std::string key_file;
    bool create_key = false;
    uint64_t messages = 0;
    size_t users = 100;
    std::string prefix = "user";
    std::vector<std::string> names;
    std::string domain;
    double from_days = 365, to_days = 1;
    size_t contacts = 20;
    size_t batch = 10000;
    uint64_t seed = 1;
    bool quiet = false;
};

void usage() {
    std::fputs(
        "usage: archive-fill (--config FILE | --data-dir DIR --key-file FILE [--create-key])\n"
        "                    --messages N [--users U [--prefix P] | --names a,b,c] [--domain D]\n"
        "                    [--days-ago FROM TO] [--contacts C] [--batch B] [--seed S] [--quiet]\n"
        "Appends N synthetic chat messages to DATA_DIR/archive (parleyd must be stopped).\n",
        stderr);
}

bool number(const char* s, uint64_t& out) {
    std::string t(s);
    if (t.empty() || t.size() > 19 || t.find_first_not_of("0123456789") != std::string::npos)
        return false;
    out = std::stoull(t);
    return true;
}

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        uint64_t n = 0;
        const char* v = nullptr;
        if (a == "--create-key") {
            o.create_key = true;
        } else if (a == "--quiet") {
            o.quiet = true;
        } else if (a == "--days-ago") {
            const char* from = next();
            const char* to = next();
            if (!from || !to) return false;
            try {
                o.from_days = std::stod(from);
                o.to_days = std::stod(to);
            } catch (const std::exception&) {
                return false;
            }
        } else if (!(v = next())) {
            return false;
        } else if (a == "--config") {
            o.config = v;
        } else if (a == "--data-dir") {
            o.data_dir = v;
        } else if (a == "--key-file") {
            o.key_file = v;
        } else if (a == "--domain") {
            o.domain = v;
        } else if (a == "--prefix") {
            o.prefix = v;
        } else if (a == "--names") {
            std::string s = v;
            for (size_t at = 0; at <= s.size();) {
                size_t comma = s.find(',', at);
                if (comma == std::string::npos) comma = s.size();
                if (comma > at) o.names.push_back(s.substr(at, comma - at));
                at = comma + 1;
            }
        } else if (!number(v, n)) {
            return false;
        } else if (a == "--messages") {
            o.messages = n;
        } else if (a == "--users") {
            o.users = n;
        } else if (a == "--contacts") {
            o.contacts = n;
        } else if (a == "--batch") {
            o.batch = n;
        } else if (a == "--seed") {
            o.seed = n;
        } else {
            return false;
        }
    }
    return true;
}

// True when something accepts connections on the unix socket at path.
bool socket_answers(const std::string& path) {
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return up;
}

// Makes dir (and its parents) if missing; one made here is private, as
// parleyd's data directory (Env::open makes the archive's 0700 itself).
void make_private_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::exists(dir, ec) &&
        std::filesystem::create_directories(dir, ec))
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
}

int fail(const std::string& what) {
    std::fprintf(stderr, "archive-fill: %s\n", what.c_str());
    return 1;
}

// Bodies: a few words of the vocabulary, Zipf-weighted.
class Bodies {
  public:
    Bodies() {
        double total = 0;
        for (size_t r = 0; r < words::kVocabularySize; ++r)
            cdf_.push_back(total += 1.0 / static_cast<double>(r + 1));
    }
    std::string make(std::mt19937_64& rng) const {
        const size_t n = 2 + rng() % 9;  // 2 to 10 words
        const size_t rare_at = rng() % words::kRareEvery == 0 ? rng() % n : n;
        std::string body;
        for (size_t i = 0; i < n; ++i) {
            if (i) body += rng() % 12 == 0 ? ", " : " ";
            std::string w =
                i == rare_at ? words::kRareWords[rng() % words::kRareWordCount] : pick(rng);
            if (i == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
            body += w;
        }
        body += rng() % 4 == 0 ? "?" : ".";
        return body;
    }

  private:
    const char* pick(std::mt19937_64& rng) const {
        const double u = std::uniform_real_distribution<double>(0, cdf_.back())(rng);
        size_t r =
            static_cast<size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
        return words::kVocabulary[std::min(r, words::kVocabularySize - 1)];
    }
    std::vector<double> cdf_;
};

archive::Entry chat_entry(const std::string& sender, const std::string& recipient,
                          const std::string& body, uint64_t n) {
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("type", "chat");
    m.set_attr("from", sender + "/desk");
    m.set_attr("to", recipient);
    m.set_attr("id", fmt::format("fill-{}", n));
    m.add_child("body", std::string(xmpp::kNsClient)).add_text(body);
    m.add_child("origin-id", "urn:xmpp:sid:0").set_attr("id", fmt::format("fill-{:016x}", n));
    archive::Entry e;
    e.from = sender + "/desk";
    e.to = recipient;
    e.type = "chat";
    e.origin = archive::Origin::local_client;
    e.outcome = "delivered";
    e.views = {{sender, recipient}, {recipient, sender}};
    e.stanza = xml::to_string(m, xmpp::kNsClient);
    e.words = archive::words_of(body + "\n");
    return e;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o) || o.messages == 0 || o.batch == 0 ||
        (o.config.empty() == o.data_dir.empty()) || (!o.data_dir.empty() && o.key_file.empty()) ||
        !(o.from_days > o.to_days) || o.to_days < 0) {
        usage();
        return 2;
    }
    std::string control_socket;
    if (!o.config.empty()) {
        auto cfg = config::load(o.config);
        if (!cfg) return fail(cfg.status().to_string());
        o.data_dir = cfg->data_dir;
        control_socket = cfg->control_socket;
        auto it = cfg->module_sections.find("archive");
        if (it == cfg->module_sections.end()) return fail(o.config + " has no [modules.archive] key_file");
        auto key = archive::key_file_of(it->second);
        if (!key) return fail(key.status().to_string());
        o.key_file = *key;
        if (o.domain.empty() && !cfg->hosts.empty()) o.domain = cfg->hosts.front().domain;
    } else {
        control_socket = o.data_dir + "/parleyd.sock";
    }
    if (o.domain.empty()) o.domain = "example.org";
    if (socket_answers(control_socket))
        return fail("parleyd is running (its control socket " + control_socket +
                    " answers): stop it first; archive-fill writes the archive directly");

    const std::vector<std::string> users = words::users_of(o.names, o.users, o.prefix, o.domain);
    if (users.size() < 2) return fail("at least two users are needed");

    auto kek = archive::read_key_file(o.key_file);
    if (!kek && kek.status().code() == "not-found" && o.create_key) {
        make_private_dir(std::filesystem::path(o.key_file).parent_path());
        kek = archive::create_key_file(o.key_file);
    }
    if (!kek) return fail(kek.status().to_string());
    archive::Journal journal(*kek);

    const std::string dir = o.data_dir + "/archive";
    make_private_dir(o.data_dir);
    // Room for the whole fill up front (1.4-1.6 KB a message on disk;
    // Env::write doubles the map should that be short).
    const size_t map = std::max<size_t>(size_t{1} << 30, static_cast<size_t>(o.messages) * 2048);
    auto env = store::Env::open(dir, map);
    if (!env) return fail(env.status().to_string());
    auto db = (*env)->database(kDatabase, kSchemaVersion);
    if (!db) return fail(db.status().to_string());

    const auto now_ms =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    const uint64_t start_ms = now_ms - static_cast<uint64_t>(o.from_days * kDayMs);
    const uint64_t end_ms = now_ms - static_cast<uint64_t>(o.to_days * kDayMs);
    const uint64_t span = end_ms - start_ms;
    uint64_t last = 0;
    {
        auto txn = (*env)->begin_read();
        if (!txn) return fail(txn.status().to_string());
        if (Status s = journal.check_key(txn->handle(), *db); !s)
            return fail("archive " + dir + ": " + s.message() + " (key file " + o.key_file + ")");
        auto l = journal.last_id(txn->handle(), *db);
        if (!l) return fail(l.status().to_string());
        last = *l;
    }
    if (last >= archive::first_id_at(start_ms))
        return fail(fmt::format(
            "the archive in {} already holds ids up to {:016x} ({:.1f} days ago), at or above "
            "the first id this fill would write ({:016x}, {:.1f} days ago): ids must increase, "
            "so fill older times first, or an empty archive",
            dir, last,
            static_cast<double>(now_ms - std::min(now_ms, archive::id_time_ms(last))) / kDayMs,
            archive::first_id_at(start_ms), o.from_days));

    std::mt19937_64 rng(o.seed);
    Bodies bodies;
    const size_t u = users.size();
    const size_t circle = o.contacts == 0 || o.contacts >= u - 1 ? u - 1 : o.contacts;
    const auto t0 = Clock::now();
    auto last_report = t0;
    const uint64_t first_written = last;
    std::vector<std::pair<uint64_t, archive::Entry>> batch;
    for (uint64_t done = 0; done < o.messages;) {
        batch.clear();
        const uint64_t n = std::min<uint64_t>(o.batch, o.messages - done);
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t k = done + i;
            const uint64_t at = start_ms + static_cast<uint64_t>(static_cast<unsigned __int128>(k) *
                                                                 span / o.messages);
            last = archive::next_id(last, at);
            const size_t from = rng() % u;
            size_t to = circle == u - 1 ? (from + 1 + rng() % (u - 1)) % u
                                        : (from + u - circle + rng() % (2 * circle + 1)) % u;
            if (to == from) to = (from + 1) % u;
            batch.emplace_back(last, chat_entry(users[from], users[to], bodies.make(rng), k));
        }
        Status s = (*env)->write([&](store::Txn& t) {
            for (const auto& [id, e] : batch)
                if (auto r = journal.append_at(t.handle(), *db, id, e); !r) return r.status();
            return Status::ok();
        });
        if (!s) return fail(fmt::format("after {} records: {}", done, s.to_string()));
        done += n;
        const auto now = Clock::now();
        if (!o.quiet && (now - last_report > std::chrono::seconds(10) || done == o.messages)) {
            last_report = now;
            const double secs = std::chrono::duration<double>(now - t0).count();
            std::fprintf(stderr, "archive-fill: %llu / %llu records, %.0f records/s\n",
                         static_cast<unsigned long long>(done),
                         static_cast<unsigned long long>(o.messages),
                         static_cast<double>(done) / secs);
        }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    struct stat st {};
    const uint64_t bytes =
        ::stat((dir + "/data.mdb").c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    std::printf(
        "records=%llu users=%zu seconds=%.1f records_per_s=%.0f first_id=%016llx last_id=%016llx "
        "data_mdb_bytes=%llu\n",
        static_cast<unsigned long long>(o.messages), u, secs,
        static_cast<double>(o.messages) / secs,
        static_cast<unsigned long long>(archive::next_id(first_written, start_ms)),
        static_cast<unsigned long long>(last), static_cast<unsigned long long>(bytes));
    return 0;
}
