// A completion of the writer means the write is committed: a child process
// writes through its writer and reports every completed key on a pipe, is
// killed with SIGKILL in mid-stream, and every key it reported must be in
// the environment when it is opened again. (SIGKILL tests the process
// crash; surviving a power loss rests on the full sync of every commit,
// which LMDB does unless told MDB_NOSYNC, and the writer never tells it.)
#define BOOST_TEST_DYN_LINK
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "store/env.hpp"
#include "store/writer.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using parley::store::Env;
using parley::store::Txn;

namespace {

std::string crash_key(uint32_t i) {
    // 16 bytes, big-endian counter last: the order of submission.
    std::string k = "crash-key-";
    k.resize(16, '\0');
    for (int b = 0; b < 4; ++b) k[12 + b] = static_cast<char>((i >> (24 - 8 * b)) & 0xff);
    return k;
}

// The child: writes keys 0, 1, 2, ... with up to kWindow in flight and
// writes each completed index to fd. Never returns.
[[noreturn]] void child_writes(const std::string& dir, int fd) {
    constexpr uint32_t kWindow = 256;
    constexpr uint32_t kMax = 10000000;  // far more than it can write before the kill
    auto e = Env::open(dir);
    if (!e) ::_exit(11);
    auto d = e.value()->database("crash", 1);
    if (!d) ::_exit(12);
    const MDB_dbi dbi = d.value();
    store::Writer& w = e.value()->writer();
    std::atomic<uint32_t> completed{0};
    const std::string value(100, 'v');
    for (uint32_t i = 0; i < kMax; ++i) {
        for (uint32_t c = completed.load(); i - c >= kWindow; c = completed.load())
            completed.wait(c);
        Status s = w.submit(
            [dbi, i, &value](Txn& t) { return t.put(dbi, crash_key(i), value); },
            [fd, i, &completed](Status st) {
                if (!st) ::_exit(13);
                // Reported only now that the commit returned.
                if (::write(fd, &i, sizeof i) != sizeof i) ::_exit(14);
                completed.fetch_add(1);
                completed.notify_one();
            },
            store::inline_executor());
        if (!s) ::_exit(15);
    }
    ::_exit(0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(store_writer_crash)

BOOST_AUTO_TEST_CASE(every_completed_write_survives_a_sigkill) {
    test::TempDir tmp;
    const std::string dir = tmp.sub("state");
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        child_writes(dir, fds[1]);
    }
    ::close(fds[1]);

    // Read completions until enough arrived, then kill the child while it
    // keeps writing; then read what it reported before it died.
    constexpr size_t kBeforeKill = 20000;
    std::vector<uint32_t> reported;
    std::string partial;
    auto read_some = [&](bool block) -> bool {
        char buf[4096];
        if (!block) {
            pollfd p{fds[0], POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) return false;
        }
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) return false;
        partial.append(buf, static_cast<size_t>(n));
        size_t whole = partial.size() / 4 * 4;
        for (size_t off = 0; off < whole; off += 4) {
            uint32_t i;
            std::memcpy(&i, partial.data() + off, 4);
            reported.push_back(i);
        }
        partial.erase(0, whole);
        return true;
    };
    while (reported.size() < kBeforeKill && read_some(true)) {
    }
    const size_t at_kill = reported.size();
    ::kill(pid, SIGKILL);
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    while (read_some(true)) {  // the child's end is closed: ends at EOF
    }
    ::close(fds[0]);
    BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                          "store: writer crash: the child ended before the kill, status "
                              << status << " (exit code "
                              << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << ")");
    BOOST_REQUIRE_MESSAGE(at_kill >= kBeforeKill,
                          "store: writer crash: the child reported only " << at_kill);
    BOOST_TEST(partial.empty(), "store: writer crash: a torn report on the pipe");

    // Reopened as after a restart: every reported key is there.
    auto e = Env::open(dir);
    BOOST_REQUIRE_MESSAGE(e, "store: writer crash: reopen: " << e.status().to_string());
    auto d = e.value()->database("crash", 1);
    BOOST_REQUIRE(d);
    auto txn = e.value()->begin_read();
    BOOST_REQUIRE(txn);
    size_t missing = 0;
    uint32_t first_missing = 0;
    for (uint32_t i : reported) {
        auto v = txn->get(d.value(), crash_key(i));
        BOOST_REQUIRE(v);
        if (!v.value() || v.value()->size() != 100) {
            if (missing++ == 0) first_missing = i;
        }
    }
    BOOST_TEST(missing == 0u, "store: writer crash: " << missing << " of " << reported.size()
                                                      << " completed keys are missing, the first "
                                                      << first_missing);
    // In submission order: the reports are 0, 1, 2, ... without a gap.
    bool in_order = true;
    for (size_t k = 0; k < reported.size(); ++k) in_order = in_order && reported[k] == k;
    BOOST_TEST(in_order, "store: writer crash: completions out of submission order");
    BOOST_TEST_MESSAGE("store: writer crash: " << reported.size() << " completed before SIGKILL");
}

BOOST_AUTO_TEST_SUITE_END()
