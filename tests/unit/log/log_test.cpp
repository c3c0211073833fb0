#define BOOST_TEST_DYN_LINK
#include "log/log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "support/temp_dir.hpp"

using namespace parley;

namespace {

size_t count(const std::string& s, const std::string& needle) {
    size_t n = 0;
    for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
    return n;
}

// Puts the sink back on stderr when a test ends, even a failed one.
struct StderrAfter {
    ~StderrAfter() {
        log::stop_thread();
        std::string err;
        log::set_file("", err);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(log_sink)

BOOST_AUTO_TEST_CASE(escape_keeps_plain_text_and_escapes_what_could_split_a_line) {
    BOOST_TEST(log::escape("alice@example.org/phone logged in") == "alice@example.org/phone logged in");
    BOOST_TEST(log::escape("caf\xc3\xa9 \xe2\x9c\x93") == "caf\xc3\xa9 \xe2\x9c\x93", "log: valid UTF-8 stays");
    BOOST_TEST(log::escape("a\nb\rc\td") == "a\\nb\\rc\\td");
    BOOST_TEST(log::escape(std::string_view("x\0y\x1b[31m\x7f", 9)) == "x\\x00y\\x1b[31m\\x7f");
    BOOST_TEST(log::escape("back\\slash") == "back\\\\slash", "log: a backslash is escaped so escapes are unambiguous");
    // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong form, a surrogate.
    BOOST_TEST(log::escape("\x80 \xe2\x9c \xc0\xaf \xed\xa0\x80") == "\\x80 \\xe2\\x9c \\xc0\\xaf \\xed\\xa0\\x80");
    // NEL (U+0085), LINE SEPARATOR, PARAGRAPH SEPARATOR, RIGHT-TO-LEFT OVERRIDE.
    BOOST_TEST(log::escape("a\xc2\x85" "b\xe2\x80\xa8" "c\xe2\x80\xa9" "d\xe2\x80\xae" "e") ==
               "a\\u{0085}b\\u{2028}c\\u{2029}d\\u{202e}e");
}

BOOST_AUTO_TEST_CASE(a_client_supplied_newline_cannot_forge_a_line) {
    StderrAfter restore;
    test::TempDir dir;
    const std::string path = dir.sub("parleyd.log");
    std::string err;
    BOOST_REQUIRE_MESSAGE(log::set_file(path, err), err);
    const std::string resource = "phone\n2026-01-01T00:00:00.000Z error [parleyd] admin@example.org granted root\r";
    log::write(log::Level::info, "c2s", "alice@example.org/" + resource + " bound on worker 0");
    log::write(log::Level::info, "c2s\nx", "second");
    log::set_file("", err);
    const std::string text = test::TempDir::read(path);
    BOOST_TEST(count(text, "\n") == 2u, "log: two writes must give exactly two lines:\n" << text);
    BOOST_TEST(text.find("alice@example.org/phone\\n2026-01-01T00:00:00.000Z error [parleyd] admin@example.org "
                         "granted root\\r bound on worker 0\n") != std::string::npos,
               text);
    BOOST_TEST(text.find("[c2s\\nx] second\n") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_blocked_sink_drops_and_counts_lines_and_never_blocks_the_writer) {
    StderrAfter restore;
    test::TempDir dir;
    const std::string fifo = dir.sub("log.fifo");
    BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // Our end of the pipe, opened first so that the sink's open does not
    // wait. Nothing reads it until the writes are done: the logging thread
    // blocks in write(2) once the pipe (64 KiB) is full.
    int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    BOOST_REQUIRE(reader >= 0);
    std::string err;
    BOOST_REQUIRE_MESSAGE(log::set_file(fifo, err), err);
    constexpr size_t kQueue = 64;
    constexpr int kLines = 2000;
    log::start_thread(kQueue, size_t{1} << 20);
    const uint64_t dropped_before = log::dropped();
    const std::string filler(1000, 'x');

    auto writer = std::async(std::launch::async, [&] {
        for (int i = 0; i < kLines; ++i) log::write(log::Level::info, "test", fmt::format("queued line {} {}", i, filler));
    });
    // A liveness bound, not a speed figure: with a blocking log the writer
    // would wait here until the pipe is read.
    const bool finished = writer.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
    BOOST_TEST(finished, "log: write() blocked on a full sink");
    const uint64_t dropped = log::dropped() - dropped_before;
    BOOST_TEST(dropped > 0u, "log: a full queue must drop lines");
    // At most the queue, the batch in flight and what fits in the pipe got through.
    BOOST_TEST(dropped >= static_cast<uint64_t>(kLines) - kQueue * 3 - 70, "dropped only " << dropped);

    // Now read everything: stop_thread() writes what is queued and the total.
    std::string got;
    std::thread drain([&] {
        char buf[65536];
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{reader, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            ssize_t n = ::read(reader, buf, sizeof buf);
            if (n == 0) break;  // the sink was closed: everything is in
            if (n > 0) got.append(buf, static_cast<size_t>(n));
        }
    });
    if (!finished) writer.wait();
    log::stop_thread();
    log::set_file("", err);  // closes the pipe's write end: EOF for the reader
    drain.join();
    ::close(reader);

    const size_t written = count(got, "queued line ");
    BOOST_TEST(written + dropped == static_cast<uint64_t>(kLines),
               "log: every line is either written or counted as dropped (" << written << " + " << dropped << ")");
    BOOST_TEST(count(got, "log line(s) dropped: the log could not keep up") >= 1u,
               "log: the drop is reported once the thread catches up");
    BOOST_TEST(got.find(fmt::format("{} log line(s) were dropped in all since start", log::dropped())) !=
                   std::string::npos,
               "log: the total is reported at stop");
    // Whole lines only, in order.
    BOOST_TEST(got.empty() == false);
    BOOST_TEST(got.back() == '\n');
}

BOOST_AUTO_TEST_CASE(stop_thread_writes_everything_queued) {
    StderrAfter restore;
    test::TempDir dir;
    const std::string path = dir.sub("parleyd.log");
    std::string err;
    BOOST_REQUIRE_MESSAGE(log::set_file(path, err), err);
    log::start_thread();
    const uint64_t dropped_before = log::dropped();
    for (int i = 0; i < 500; ++i) log::write(log::Level::info, "test", fmt::format("line {}", i));
    log::stop_thread();
    log::set_file("", err);
    const std::string text = test::TempDir::read(path);
    BOOST_TEST(log::dropped() == dropped_before);
    BOOST_TEST(count(text, "[test] line ") == 500u, "log: a normal stop loses nothing");
    BOOST_TEST(text.find("[test] line 499\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stop_gives_up_on_a_sink_that_takes_nothing) {
    StderrAfter restore;
    test::TempDir dir;
    const std::string fifo = dir.sub("log.fifo");
    BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // Opened and never read while parleyd "exits": a stopped reader of stderr.
    int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    BOOST_REQUIRE(reader >= 0);
    std::string err;
    BOOST_REQUIRE_MESSAGE(log::set_file(fifo, err), err);
    log::start_thread();
    const uint64_t dropped_before = log::dropped();
    // More than the pipe holds: the logging thread cannot finish it.
    log::write(log::Level::info, "test", std::string(256 * 1024, 'y'));
    log::write(log::Level::info, "test", "after the big one");
    auto stopping = std::async(std::launch::async, [] { log::stop_thread(std::chrono::milliseconds(300)); });
    const bool stopped = stopping.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    BOOST_TEST(stopped, "log: stop_thread() must not wait for ever on a sink that takes nothing");
    if (!stopped) {
        // Unblock the thread so the test can end.
        char buf[65536];
        for (int i = 0; i < 100 && stopping.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready; ++i)
            while (::read(reader, buf, sizeof buf) > 0) {
            }
        stopping.wait();
    }
    BOOST_TEST(log::dropped() - dropped_before >= 2u, "log: what the sink did not take counts as dropped");
    log::set_file("", err);
    ::close(reader);
    // The thread is gone and the queue is clean: it starts again.
    log::start_thread();
    log::stop_thread();
}

BOOST_AUTO_TEST_SUITE_END()
