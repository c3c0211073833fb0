// archive-query-bench: how long the archive's reads take on a filled
// archive (tools/bench/archive-bench fills one with archive-fill and runs
// this; doc/bench.md, "The compliance archive at scale").
//
//   archive-query-bench (--config FILE | --data-dir DIR --key-file FILE)
//                       [--users U [--prefix user] | --names a,b,c] [--domain D]
//                       [--samples 2000] [--page 50] [--seed S]
//                       [--common WORD] [--rare WORD] [--search-reps 3]
//
// On SAMPLES users drawn at random (distinct when there are enough) of the
// archive's users (named as archive-fill names them):
//  (a) newest page: what mod_mam does for a query with an empty RSM
//      <before/> (the PAGE newest messages): a read transaction, the owner's
//      view backward for PAGE + 1 ids, then Journal::get of each of the PAGE
//      (read, decrypt, decode) and xml::parse_element of its stanza (mod_mam
//      parses it to forward it); the wall time of all that per query;
//  (b) date-range page: the same forward from a start time drawn evenly
//      between the user's first and last message (the MAM form's start);
//      the first and last ids are read beforehand, not timed;
// and (c) archive::search across everyone's archives for one common word
// and one rare word (default: the most frequent word of archive-fill's
// vocabulary and its first rare word), SEARCH_REPS times each: the time per
// search and the candidates the word index gave.
// 100 other users' newest pages are read first, not counted (the B-tree's
// upper pages). The page cache is whatever it is: right after a fill the
// archive is usually all in memory; the figures then are CPU, not disk.
//
// For the pages it prints p50, p99, max and the mean time spent in each step
// (view, get, parse), then the size of data.mdb and the database's LMDB
// statistics. A benchmark, not a test: it asserts nothing. Not installed.
// Single-threaded; opens the archive read-only in effect (read transactions
// only), so parleyd may run meanwhile (its load then shows in the figures).
#include <fmt/core.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "archive/crypto/keys.hpp"
#include "archive/journal/journal.hpp"
#include "modules/archive/journal_service.hpp"
#include "archive/search/search.hpp"
#include "config/config.hpp"
#include "store/env.hpp"
#include "tools/bench/archive_fill_words.hpp"
#include "xml/parse_element.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;
namespace words = parley::bench::archive_fill;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kDatabase = "archive.journal";
constexpr uint32_t kSchemaVersion = 1;
constexpr size_t kStanzaDepth = 64;  // as mod_mam
constexpr size_t kWarmup = 100;

struct Options {
    std::string config, data_dir, key_file, domain;
    size_t users = 100;
    std::string prefix = "user";
    std::vector<std::string> names;
    size_t samples = 2000;
    size_t page = 50;
    uint64_t seed = 7;
    std::string common = words::kVocabulary[0];
    std::string rare = words::kRareWords[0];
    size_t search_reps = 3;
};

void usage() {
    std::fputs(
        "usage: archive-query-bench (--config FILE | --data-dir DIR --key-file FILE)\n"
        "                           [--users U [--prefix P] | --names a,b,c] [--domain D]\n"
        "                           [--samples N] [--page N] [--seed S] [--common WORD] [--rare "
        "WORD]\n"
        "                           [--search-reps N]\n",
        stderr);
}

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return false;
        const std::string v = argv[++i];
        auto num = [&](auto& out) {
            if (v.empty() || v.size() > 12 ||
                v.find_first_not_of("0123456789") != std::string::npos)
                return false;
            out = static_cast<std::remove_reference_t<decltype(out)>>(std::stoull(v));
            return true;
        };
        if (a == "--config")
            o.config = v;
        else if (a == "--data-dir")
            o.data_dir = v;
        else if (a == "--key-file")
            o.key_file = v;
        else if (a == "--domain")
            o.domain = v;
        else if (a == "--prefix")
            o.prefix = v;
        else if (a == "--common")
            o.common = v;
        else if (a == "--rare")
            o.rare = v;
        else if (a == "--names") {
            for (size_t at = 0; at <= v.size();) {
                size_t comma = v.find(',', at);
                if (comma == std::string::npos) comma = v.size();
                if (comma > at) o.names.push_back(v.substr(at, comma - at));
                at = comma + 1;
            }
        } else if (a == "--users") {
            if (!num(o.users)) return false;
        } else if (a == "--samples") {
            if (!num(o.samples)) return false;
        } else if (a == "--page") {
            if (!num(o.page)) return false;
        } else if (a == "--seed") {
            if (!num(o.seed)) return false;
        } else if (a == "--search-reps") {
            if (!num(o.search_reps)) return false;
        } else {
            return false;
        }
    }
    return true;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "archive-query-bench: %s\n", what.c_str());
    return 1;
}

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// One page query's times (milliseconds).
struct PageTimes {
    double total = 0, view = 0, get = 0, parse = 0;
    size_t messages = 0;
    long minor_faults = 0, major_faults = 0;  // of the process during the query (the map's pages)
    double cpu = 0;                           // this thread's CPU time
    long preempted = 0;                       // involuntary context switches during the query
};

double thread_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

rusage usage_now() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u;
}

struct Reader {
    store::Env& env;
    MDB_dbi db;
    const archive::Journal& journal;
    size_t page;

    // A page as mod_mam reads it: the view in the given direction for
    // page + 1 ids, then get + parse of the first `page`.
    Result<PageTimes> read_page(const std::string& owner, uint64_t after, bool backward) const {
        PageTimes t;
        const rusage u0 = usage_now();
        const double c0 = thread_cpu_ms();
        const auto t0 = Clock::now();
        auto txn = env.begin_read();
        if (!txn) return txn.status();
        std::vector<uint64_t> ids;
        Status s = journal.view(txn->handle(), db, {owner, "", after, UINT64_MAX, backward},
                                [&](uint64_t id) {
                                    ids.push_back(id);
                                    return ids.size() < page + 1;
                                });
        if (!s) return s;
        if (ids.size() > page) ids.resize(page);
        const auto t1 = Clock::now();
        std::vector<archive::Record> records;
        records.reserve(ids.size());
        for (uint64_t id : ids) {
            auto rec = journal.get(txn->handle(), db, id);
            if (!rec) return rec.status();
            if (!*rec)
                return Status::error("corrupt",
                                     fmt::format("record {:016x} of {} is missing", id, owner));
            records.push_back(std::move(**rec));
        }
        const auto t2 = Clock::now();
        for (const archive::Record& r : records) {
            auto el = xml::parse_element(r.entry.stanza, xmpp::kNsClient, kStanzaDepth);
            if (!el) return el.status();
        }
        const auto t3 = Clock::now();
        t.cpu = thread_cpu_ms() - c0;
        const rusage u1 = usage_now();
        t.preempted = u1.ru_nivcsw - u0.ru_nivcsw;
        t.minor_faults = u1.ru_minflt - u0.ru_minflt;
        t.major_faults = u1.ru_majflt - u0.ru_majflt;
        using ms = std::chrono::duration<double, std::milli>;
        t.view = ms(t1 - t0).count();
        t.get = ms(t2 - t1).count();
        t.parse = ms(t3 - t2).count();
        t.total = ms(t3 - t0).count();
        t.messages = records.size();
        return t;
    }

    // The owner's first and last ids (0, 0 when the archive has none).
    Result<std::pair<uint64_t, uint64_t>> span(const std::string& owner) const {
        auto txn = env.begin_read();
        if (!txn) return txn.status();
        uint64_t first = 0, last = 0;
        for (bool backward : {false, true}) {
            Status s = journal.view(txn->handle(), db, {owner, "", 0, UINT64_MAX, backward},
                                    [&](uint64_t id) {
                                        (backward ? last : first) = id;
                                        return false;
                                    });
            if (!s) return s;
        }
        return std::pair{first, last};
    }
};

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size()));
    return v[std::min(i, v.size() - 1)];
}

// Sums of a set of page queries.
struct Totals {
    double n = 0, total = 0, view = 0, get = 0, parse = 0, messages = 0, minor = 0, major = 0,
           cpu = 0, preempted = 0;
    explicit Totals(const std::vector<PageTimes>& runs) {
        for (const PageTimes& t : runs) {
            total += t.total;
            view += t.view;
            get += t.get;
            parse += t.parse;
            messages += static_cast<double>(t.messages);
            minor += static_cast<double>(t.minor_faults);
            major += static_cast<double>(t.major_faults);
            cpu += t.cpu;
            preempted += static_cast<double>(t.preempted);
        }
        n = runs.empty() ? 1 : static_cast<double>(runs.size());
    }
};

void report(const char* name, const std::vector<PageTimes>& runs) {
    std::vector<double> times, cpu, alone;  // alone: the queries that kept their CPU throughout
    for (const PageTimes& t : runs) {
        times.push_back(t.total);
        cpu.push_back(t.cpu);
        if (t.preempted == 0) alone.push_back(t.total);
    }
    const Totals all(runs);
    std::printf(
        "%s: queries=%zu messages_per_page=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f "
        "mean_view_ms=%.3f mean_get_ms=%.3f mean_parse_ms=%.3f get_us_per_message=%.2f\n",
        name, runs.size(), all.messages / all.n, percentile(times, 0.50), percentile(times, 0.99),
        percentile(times, 1.0), all.total / all.n, all.view / all.n, all.get / all.n,
        all.parse / all.n, all.messages > 0 ? all.get * 1000 / all.messages : 0.0);
    // On a shared machine the tail is often time spent waiting for a CPU:
    // the thread's own CPU time, and the wall time of the queries that were
    // never preempted, tell it apart from work.
    std::printf(
        "%s: cpu_p50_ms=%.3f cpu_p99_ms=%.3f preempted_queries=%zu not_preempted: p50_ms=%.3f "
        "p99_ms=%.3f\n",
        name, percentile(cpu, 0.50), percentile(cpu, 0.99), runs.size() - alone.size(),
        percentile(alone, 0.50), percentile(alone, 0.99));
    // The slowest 1%, next to the mean: do they fault more (pages of the
    // map this process touches for the first time), were they preempted?
    std::vector<PageTimes> slow = runs;
    std::sort(slow.begin(), slow.end(),
              [](const PageTimes& a, const PageTimes& b) { return a.total > b.total; });
    slow.resize(std::max<size_t>(1, std::min(slow.size(), runs.size() / 100)));
    const Totals worst(slow);
    std::printf(
        "%s: mean_minor_faults=%.1f mean_major_faults=%.2f slowest_1pct: queries=%zu mean_ms=%.3f "
        "view_ms=%.3f "
        "get_ms=%.3f parse_ms=%.3f cpu_ms=%.3f preempted=%.2f minor_faults=%.1f "
        "major_faults=%.2f\n",
        name, all.minor / all.n, all.major / all.n, slow.size(), worst.total / worst.n,
        worst.view / worst.n, worst.get / worst.n, worst.parse / worst.n, worst.cpu / worst.n,
        worst.preempted / worst.n, worst.minor / worst.n, worst.major / worst.n);
}

// Where a newest page's time goes, step by step, on the sample's newest
// pages again (warm now): the view walk, the record's lookup, the archive's
// keys (Journal::keys: the meta read and the unwrap cache), the decryption
// (AES-256-GCM, cipher set up per record as archive::open does), the decoding
// of the entry (with zstd first for a compressed one) and the parse of the
// stanza. Journal::get is lookup + keys + decrypt + decode; the nonce and
// associated data are rebuilt here as journal.cpp makes them (a profile,
// not an API).
Status profile_steps(const Reader& reader, const std::vector<std::string>& owners) {
    // Per page, so that the medians leave out the pages that waited for a CPU.
    std::vector<double> views, lookups, keyss, decrypts, decodes, parses;
    size_t n = 0, compressed = 0;
    using ms = std::chrono::duration<double, std::milli>;
    for (const std::string& owner : owners) {
        double view = 0, lookup = 0, keys_ms = 0, decrypt = 0, decode = 0, parse = 0;
        auto txn = reader.env.begin_read();
        if (!txn) return txn.status();
        std::vector<uint64_t> ids;
        auto t0 = Clock::now();
        Status s = reader.journal.view(txn->handle(), reader.db, {owner, "", 0, UINT64_MAX, true},
                                       [&](uint64_t id) {
                                           ids.push_back(id);
                                           return ids.size() < reader.page + 1;
                                       });
        if (!s) return s;
        view += ms(Clock::now() - t0).count();
        if (ids.size() > reader.page) ids.resize(reader.page);
        for (uint64_t id : ids) {
            const std::string key = archive::layout::record_key(id);
            MDB_val k{key.size(), const_cast<char*>(key.data())}, v{};
            auto a = Clock::now();
            if (mdb_get(txn->handle(), reader.db, &k, &v) != 0)
                return Status::error("corrupt", "record missing");
            auto b = Clock::now();
            auto keys = reader.journal.keys(txn->handle(), reader.db);
            if (!keys) return keys.status();
            auto c = Clock::now();
            auto raw = archive::parse_record(id, {static_cast<const char*>(v.mv_data), v.mv_size});
            if (!raw) return raw.status();
            uint8_t nonce[archive::kNonceBytes];
            const std::string id_be = archive::layout::u64_be(id);
            std::copy(id_be.begin(), id_be.end(), nonce);
            std::copy_n("JRNL", 4, nonce + 8);
            const std::string aad = std::string(1, archive::layout::kRecord) + id_be +
                                    archive::layout::u64_be(raw->prev) +
                                    std::string(1, static_cast<char>(raw->flags));
            auto plain = archive::open(keys->data, nonce, aad, raw->sealed);
            if (!plain) return plain.status();
            auto d = Clock::now();
            if (raw->flags & archive::layout::kFlagCompressed) {
                auto unpacked = archive::decompress(*plain, 128u << 20);
                if (!unpacked) return unpacked.status();
                ++compressed;
                *plain = std::move(*unpacked);
            }
            auto entry = archive::decode_entry(*plain);
            if (!entry) return entry.status();
            auto e = Clock::now();
            auto el = xml::parse_element(entry->stanza, xmpp::kNsClient, kStanzaDepth);
            if (!el) return el.status();
            auto f = Clock::now();
            lookup += ms(b - a).count();
            keys_ms += ms(c - b).count();
            decrypt += ms(d - c).count();
            decode += ms(e - d).count();
            parse += ms(f - e).count();
            ++n;
        }
        views.push_back(view);
        lookups.push_back(lookup);
        keyss.push_back(keys_ms);
        decrypts.push_back(decrypt);
        decodes.push_back(decode);
        parses.push_back(parse);
    }
    const double per = 1000.0 / static_cast<double>(reader.page);
    const double m[] = {percentile(views, 0.5),   percentile(lookups, 0.5),
                        percentile(keyss, 0.5),   percentile(decrypts, 0.5),
                        percentile(decodes, 0.5), percentile(parses, 0.5)};
    std::printf(
        "newest_page_steps: pages=%zu median_ms_per_page: view=%.3f lookup=%.3f keys=%.3f "
        "decrypt=%.3f "
        "decode=%.3f parse=%.3f | us_per_message: lookup=%.2f keys=%.2f decrypt=%.2f decode=%.2f "
        "parse=%.2f "
        "compressed_records=%zu of %zu\n",
        owners.size(), m[0], m[1], m[2], m[3], m[4], m[5], m[1] * per, m[2] * per, m[3] * per,
        m[4] * per, m[5] * per, compressed, n);
    return Status::ok();
}
}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o) || (o.config.empty() == o.data_dir.empty()) ||
        (!o.data_dir.empty() && o.key_file.empty()) || o.page == 0) {
        usage();
        return 2;
    }
    if (!o.config.empty()) {
        auto cfg = config::load(o.config);
        if (!cfg) return fail(cfg.status().to_string());
        o.data_dir = cfg->data_dir;
        auto it = cfg->module_sections.find("archive");
        if (it == cfg->module_sections.end()) return fail(o.config + " has no [modules.archive] key_file");
        auto key = archive::key_file_of(it->second);
        if (!key) return fail(key.status().to_string());
        o.key_file = *key;
        if (o.domain.empty() && !cfg->hosts.empty()) o.domain = cfg->hosts.front().domain;
    }
    if (o.domain.empty()) o.domain = "example.org";
    const std::vector<std::string> users = words::users_of(o.names, o.users, o.prefix, o.domain);
    if (users.empty()) return fail("no users");

    auto kek = archive::read_key_file(o.key_file);
    if (!kek) return fail(kek.status().to_string());
    archive::Journal journal(*kek);
    const std::string dir = o.data_dir + "/archive";
    std::error_code ec;
    if (!std::filesystem::exists(dir + "/data.mdb", ec))
        return fail("there is no archive in " + dir);
    auto env = store::Env::open(dir);
    if (!env) return fail(env.status().to_string());
    auto db = (*env)->database(kDatabase, kSchemaVersion);
    if (!db) return fail(db.status().to_string());
    {
        auto txn = (*env)->begin_read();
        if (!txn) return fail(txn.status().to_string());
        if (Status s = journal.check_key(txn->handle(), *db); !s) return fail(s.to_string());
    }
    Reader reader{**env, *db, journal, o.page};

    // The sample, and distinct warm-up users when there are enough.
    std::mt19937_64 rng(o.seed);
    std::vector<size_t> order(users.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<size_t> warm, sample;
    for (size_t i = 0; i < order.size() && warm.size() < std::min(kWarmup, users.size() / 4); ++i)
        warm.push_back(order[i]);
    for (size_t i = warm.size(); sample.size() < o.samples; ++i)
        sample.push_back(order[i % order.size()]);

    for (size_t u : warm)
        if (auto r = reader.read_page(users[u], 0, true); !r) return fail(r.status().to_string());

    std::vector<PageTimes> newest, ranged;
    size_t empty = 0;
    for (size_t u : sample) {
        auto r = reader.read_page(users[u], 0, true);
        if (!r) return fail(r.status().to_string());
        if (r->messages == 0) ++empty;
        newest.push_back(*r);
    }
    for (size_t u : sample) {
        auto sp = reader.span(users[u]);
        if (!sp) return fail(sp.status().to_string());
        if (sp->first == 0) continue;
        const uint64_t lo = archive::id_time_ms(sp->first), hi = archive::id_time_ms(sp->second);
        const uint64_t start = lo + (hi > lo ? rng() % (hi - lo + 1) : 0);
        auto r = reader.read_page(users[u], start > 0 ? archive::first_id_at(start) - 1 : 0, false);
        if (!r) return fail(r.status().to_string());
        ranged.push_back(*r);
    }
    report("newest_page", newest);
    report("range_page", ranged);
    {
        std::vector<std::string> owners;
        for (size_t u : sample) owners.push_back(users[u]);
        if (Status p = profile_steps(reader, owners); !p) return fail(p.to_string());
    }
    if (empty)
        std::printf("users_with_no_messages=%zu (names as archive-fill made them?)\n", empty);

    for (const std::string& word : {o.common, o.rare}) {
        for (size_t rep = 0; rep < o.search_reps; ++rep) {
            auto txn = (*env)->begin_read();
            if (!txn) return fail(txn.status().to_string());
            const auto t0 = Clock::now();
            archive::SearchQuery q;
            q.words = {word};
            auto r = archive::search(journal, txn->handle(), *db, q);
            const double ms = ms_since(t0);
            if (!r) return fail(r.status().to_string());
            std::printf("search word=%s rep=%zu ms=%.1f candidates=%llu results=%zu truncated=%s\n",
                        word.c_str(), rep + 1, ms, static_cast<unsigned long long>(r->candidates),
                        r->records.size(), r->truncated ? "true" : "false");
        }
    }

    struct stat st {};
    const bool have = ::stat((dir + "/data.mdb").c_str(), &st) == 0;
    MDB_envinfo info{};
    MDB_stat ms{};
    auto txn = (*env)->begin_read();
    if (!txn) return fail(txn.status().to_string());
    mdb_env_info(mdb_txn_env(txn->handle()), &info);
    mdb_stat(txn->handle(), *db, &ms);
    auto last = journal.last_id(txn->handle(), *db);
    std::printf(
        "size: data_mdb_bytes=%llu allocated_bytes=%llu used_pages=%llu page_size=%u map_bytes=%zu "
        "entries=%zu depth=%u branch_pages=%zu leaf_pages=%zu overflow_pages=%zu last_id=%016llx\n",
        have ? static_cast<unsigned long long>(st.st_size) : 0ULL,
        have ? static_cast<unsigned long long>(st.st_blocks) * 512ULL : 0ULL,
        static_cast<unsigned long long>(info.me_last_pgno + 1), ms.ms_psize, info.me_mapsize,
        ms.ms_entries, ms.ms_depth, ms.ms_branch_pages, ms.ms_leaf_pages, ms.ms_overflow_pages,
        static_cast<unsigned long long>(last ? *last : 0));
    return 0;
}
