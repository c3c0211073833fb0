#define BOOST_TEST_DYN_LINK
#include "store/writer.hpp"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "store/env.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using parley::store::Env;
using parley::store::Executor;
using parley::store::Txn;
using parley::store::Writer;
using parley::store::WriterOptions;

namespace {

// Long enough for a loaded 2-core machine; only reached when the writer
// loses a completion (then the test fails instead of hanging).
constexpr auto kPatience = std::chrono::seconds(60);

// Records every completion (any thread); the test thread waits for a count.
class Completions {
  public:
    Writer::Completion make(int id) {
        return [this, id](Status s) {
            std::lock_guard<std::mutex> lock(mutex_);
            by_id_[id].push_back(std::move(s));
            order_.push_back(id);
            changed_.notify_all();
        };
    }
    bool wait_for(size_t n) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, kPatience, [&] { return order_.size() >= n; });
    }
    size_t count() {
        std::lock_guard<std::mutex> lock(mutex_);
        return order_.size();
    }
    // How many times id completed.
    size_t times(int id) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = by_id_.find(id);
        return it == by_id_.end() ? 0 : it->second.size();
    }
    Status status(int id) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = by_id_.find(id);
        if (it == by_id_.end() || it->second.empty())
            return Status::error("test", "no completion for " + std::to_string(id));
        return it->second.front();
    }
    std::vector<int> order() {
        std::lock_guard<std::mutex> lock(mutex_);
        return order_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<int, std::vector<Status>> by_id_;
    std::vector<int> order_;
};

// A worker's inbox stand-in: completions are queued and run by the thread
// that owns it, like loop::Worker::post. Counts the posts it took.
class Inbox : public Executor {
  public:
    bool post(std::function<void()> fn) override {
        std::lock_guard<std::mutex> lock(mutex_);
        if (refuse_) return false;
        ++posts_;
        queue_.push_back(std::move(fn));
        ready_.notify_all();
        return true;
    }
    // Runs queued functions until stop() says enough or kPatience passes.
    bool run_until(const std::function<bool()>& enough) {
        const auto deadline = std::chrono::steady_clock::now() + kPatience;
        while (!enough()) {
            std::deque<std::function<void()>> ready;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                if (!ready_.wait_until(lock, deadline, [&] { return !queue_.empty(); }))
                    return false;
                ready.swap(queue_);
            }
            for (auto& fn : ready) fn();
        }
        return true;
    }
    void refuse() {
        std::lock_guard<std::mutex> lock(mutex_);
        refuse_ = true;
    }
    size_t posts() {
        std::lock_guard<std::mutex> lock(mutex_);
        return posts_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> queue_;
    size_t posts_ = 0;
    bool refuse_ = false;
};

// Runs completions at once on the writer thread, counting the posts.
class CountingExecutor : public Executor {
  public:
    bool post(std::function<void()> fn) override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++posts_;
        }
        fn();
        return true;
    }
    size_t posts() {
        std::lock_guard<std::mutex> lock(mutex_);
        return posts_;
    }

  private:
    std::mutex mutex_;
    size_t posts_ = 0;
};

// Holds the writer thread inside a request, so that the test can queue
// requests that it knows will wait for the next batch. Released at the
// latest when it is destroyed (declare it after the Env's owner, so that a
// failed test does not leave the writer waiting forever).
class Gate {
  public:
    Gate() : released_(release_.get_future().share()) {}
    ~Gate() { open(); }
    Writer::Work work() {
        return [this](Txn&) -> Status {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (!entered_set_) {
                    entered_set_ = true;
                    entered_.set_value();
                }
            }
            released_.wait();
            return Status::ok();
        };
    }
    // Waits until the writer thread is inside work().
    bool wait_entered() {
        return entered_.get_future().wait_for(kPatience) == std::future_status::ready;
    }
    void open() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (open_) return;
        open_ = true;
        release_.set_value();
    }

  private:
    std::mutex mutex_;
    std::promise<void> entered_, release_;
    std::shared_future<void> released_;
    bool entered_set_ = false, open_ = false;
};

struct WriterFixture {
    test::TempDir tmp;
    std::string dir = tmp.sub("state");
    // Before the Env: completions may run until the Env's writer has ended.
    Completions done;
    Inbox inboxes[2];
    std::unique_ptr<Env> env;
    MDB_dbi dbi = 0;

    Writer& open(WriterOptions options = {}, size_t map = size_t{64} << 20) {
        auto e = Env::open(dir, map);
        BOOST_REQUIRE_MESSAGE(e, "store: Env::open: " << e.status().to_string());
        env = std::move(e.value());
        auto d = env->database("things", 1);
        BOOST_REQUIRE_MESSAGE(d, "store: database: " << d.status().to_string());
        dbi = d.value();
        Status s = env->start_writer(options);
        BOOST_REQUIRE_MESSAGE(s, "store: start_writer: " << s.to_string());
        return env->writer();
    }

    Writer::Work put(std::string key, std::string value) {
        return [this, key = std::move(key), value = std::move(value)](Txn& t) {
            return t.put(dbi, key, value);
        };
    }

    std::optional<std::string> read(const std::string& key) {
        auto txn = env->begin_read();
        BOOST_REQUIRE_MESSAGE(txn, "store: begin_read: " << txn.status().to_string());
        auto v = txn->get(dbi, key);
        BOOST_REQUIRE(v);
        if (!v.value()) return std::nullopt;
        return std::string(*v.value());
    }
};

std::string key_of(int thread, int i) {
    return "t" + std::to_string(thread) + "-" + std::to_string(1000000 + i);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(store_writer, WriterFixture)

BOOST_AUTO_TEST_CASE(two_submitters_complete_in_their_order_and_everything_is_kept) {
    Writer& w = open();
    constexpr int kEach = 3000;
    std::vector<int> seen[2];
    std::vector<Status> refused[2];
    bool finished[2] = {false, false};
    auto submitter = [&](int t) {
        // Like a worker: submit, and run the completions its inbox receives.
        Inbox& inbox = inboxes[t];
        for (int i = 0; i < kEach; ++i) {
            Status s = w.submit(
                put(key_of(t, i), std::to_string(i)),
                [&, t, i](Status st) {
                    seen[t].push_back(st ? i : -1 - i);
                },
                inbox);
            if (!s) refused[t].push_back(s);
        }
        finished[t] = inbox.run_until([&] { return seen[t].size() + refused[t].size() == kEach; });
    };
    std::thread a(submitter, 0), b(submitter, 1);
    a.join();
    b.join();
    for (int t = 0; t < 2; ++t) {
        BOOST_TEST_REQUIRE(refused[t].empty(),
                           "store: writer refused a submit: "
                               << (refused[t].empty() ? "" : refused[t].front().to_string()));
        BOOST_TEST_REQUIRE(finished[t], "store: writer: submitter " << t << " lacks completions");
        std::vector<int> expected(kEach);
        for (int i = 0; i < kEach; ++i) expected[i] = i;
        BOOST_TEST((seen[t] == expected),
                   "store: writer: submitter " << t << " saw its completions out of order or failed");
        BOOST_TEST(inboxes[t].posts() < static_cast<size_t>(kEach),
                   "store: writer: completions are posted once per batch and executor");
    }
    for (int t = 0; t < 2; ++t)
        for (int i = 0; i < kEach; ++i)
            BOOST_TEST_REQUIRE(read(key_of(t, i)).value_or("") == std::to_string(i),
                               "store: writer: " << key_of(t, i) << " is missing");
    auto st = w.stats();
    BOOST_TEST(st.requests == 2u * kEach);
    BOOST_TEST(st.failed == 0u);
    BOOST_TEST(st.commits < st.requests, "store: writer: two busy submitters share commits");
}

BOOST_AUTO_TEST_CASE(a_failing_request_fails_alone_and_its_batch_commits) {
    Writer& w = open();
    Gate gate;
    BOOST_REQUIRE(w.submit(gate.work(), done.make(0), store::inline_executor()));
    BOOST_REQUIRE(gate.wait_entered());
    // One batch, queued while the writer is held.
    BOOST_REQUIRE(w.submit(put("a", "1"), done.make(1), store::inline_executor()));
    BOOST_REQUIRE(w.submit(
        [&](Txn& t) -> Status {
            Status s = t.put(dbi, "b", "written, then refused");
            if (!s) return s;
            return Status::error("test", "refused by the request");
        },
        done.make(2), store::inline_executor()));
    BOOST_REQUIRE(w.submit(put("c", "3"), done.make(3), store::inline_executor()));
    BOOST_REQUIRE(w.submit(put("", "LMDB refuses an empty key"), done.make(4),
                           store::inline_executor()));
    BOOST_REQUIRE(w.submit(
        [&](Txn& t) -> Status {
            (void)t.put(dbi, "thrown", "x");
            throw std::runtime_error("boom");
        },
        done.make(5), store::inline_executor()));
    BOOST_REQUIRE(w.submit(put("d", "6"), done.make(6), store::inline_executor()));
    gate.open();
    BOOST_REQUIRE_MESSAGE(done.wait_for(7), "store: writer: completions missing");

    BOOST_TEST(done.status(0).is_ok());
    BOOST_TEST(done.status(1).is_ok());
    BOOST_TEST(done.status(2).code() == "test", done.status(2).to_string());
    BOOST_TEST(done.status(3).is_ok());
    BOOST_TEST(!done.status(4).is_ok(), "store: writer: an LMDB error is the request's own");
    BOOST_TEST(done.status(4).message().find("mdb_put") != std::string::npos,
               done.status(4).to_string());
    BOOST_TEST(done.status(5).message().find("boom") != std::string::npos,
               "store: writer: a throwing request reports it: " << done.status(5).to_string());
    BOOST_TEST(done.status(6).is_ok());
    BOOST_TEST(read("a").value_or("") == "1");
    BOOST_TEST(read("c").value_or("") == "3");
    BOOST_TEST(read("d").value_or("") == "6");
    BOOST_TEST(!read("b").has_value(), "store: writer: a failed request is rolled back");
    BOOST_TEST(!read("thrown").has_value(), "store: writer: a thrown request is rolled back");
    auto st = w.stats();
    BOOST_TEST(st.commits == 2u, "store: writer: the held request, then one batch of six");
    BOOST_TEST(st.failed == 3u);
    BOOST_TEST(st.largest_batch == 6u);
}

BOOST_AUTO_TEST_CASE(queued_requests_share_commits_of_at_most_max_batch) {
    WriterOptions o;
    o.max_batch = 100;
    Writer& w = open(o);
    Gate gate;
    BOOST_REQUIRE(w.submit(gate.work(), done.make(-1), store::inline_executor()));
    BOOST_REQUIRE(gate.wait_entered());
    for (int i = 0; i < 1000; ++i)
        BOOST_REQUIRE(w.submit(put(key_of(0, i), "v"), done.make(i), store::inline_executor()));
    gate.open();
    BOOST_REQUIRE(done.wait_for(1001));
    auto st = w.stats();
    BOOST_TEST(st.requests == 1001u);
    BOOST_TEST(st.commits == 11u, "store: writer: 1 + 1000 requests in batches of 100");
    BOOST_TEST(st.largest_batch == 100u);
    for (int i = 0; i < 1000; ++i) BOOST_TEST_REQUIRE(read(key_of(0, i)).has_value());
}

BOOST_AUTO_TEST_CASE(the_writer_waits_up_to_max_wait_for_a_batch_to_fill) {
    WriterOptions o;
    o.max_batch = 200;
    // Far longer than submitting 200 requests takes: the batch fills first.
    o.max_wait = std::chrono::seconds(30);
    Writer& w = open(o);
    for (int i = 0; i < 200; ++i)
        BOOST_REQUIRE(w.submit(put(key_of(0, i), "v"), done.make(i), store::inline_executor()));
    BOOST_REQUIRE(done.wait_for(200));
    auto st = w.stats();
    BOOST_TEST(st.commits == 1u, "store: writer: requests arriving one by one share one commit");
    BOOST_TEST(st.largest_batch == 200u);
    // A lone request while gathering: stop() does not wait for max_wait.
    BOOST_REQUIRE(w.submit(put("lone", "v"), done.make(1000), store::inline_executor()));
    w.stop();
    BOOST_TEST(done.times(1000) == 1u);
    BOOST_TEST(done.status(1000).is_ok());
    BOOST_TEST(read("lone").has_value());
}

BOOST_AUTO_TEST_CASE(a_full_map_grows_and_the_batch_runs_again) {
    Writer& w = open({}, size_t{1} << 20);
    Gate gate;
    BOOST_REQUIRE(w.submit(gate.work(), done.make(-1), store::inline_executor()));
    BOOST_REQUIRE(gate.wait_entered());
    const std::string chunk(64 * 1024, 'x');
    std::atomic<int> first_runs{0};
    BOOST_REQUIRE(w.submit(
        [&](Txn& t) {
            ++first_runs;
            return t.put(dbi, "big0", chunk);
        },
        done.make(0), store::inline_executor()));
    for (int i = 1; i < 48; ++i) {
        if (i == 20) {
            BOOST_REQUIRE(w.submit([](Txn&) { return Status::error("test", "no"); }, done.make(i),
                                   store::inline_executor()));
            continue;
        }
        BOOST_REQUIRE(w.submit(put("big" + std::to_string(i), chunk), done.make(i),
                               store::inline_executor()));
    }
    gate.open();
    BOOST_REQUIRE(done.wait_for(49));
    for (int i = 0; i < 48; ++i) {
        if (i == 20) {
            BOOST_TEST(done.status(i).code() == "test");
            continue;
        }
        BOOST_TEST_REQUIRE(done.status(i).is_ok(),
                           "store: writer: big" << i << ": " << done.status(i).to_string());
        BOOST_TEST_REQUIRE(read("big" + std::to_string(i)).value_or("").size() == chunk.size());
    }
    auto st = w.stats();
    BOOST_TEST(st.replays >= 1u, "store: writer: 3 MiB in a 1 MiB map needs the map to grow");
    BOOST_TEST(first_runs.load() == static_cast<int>(st.replays) + 1,
               "store: writer: the batch ran once more per growth");
}

BOOST_AUTO_TEST_CASE(past_the_queue_limit_a_submit_is_refused_busy) {
    WriterOptions o;
    o.max_queue = 10;
    Writer& w = open(o);
    Gate gate;
    BOOST_REQUIRE(w.submit(gate.work(), done.make(-1), store::inline_executor()));
    BOOST_REQUIRE(gate.wait_entered());
    for (int i = 0; i < 10; ++i)
        BOOST_REQUIRE(w.submit(put(key_of(0, i), "v"), done.make(i), store::inline_executor()));
    Status busy = w.submit(put("refused", "v"), done.make(99), store::inline_executor());
    BOOST_TEST(busy.code() == "busy", "store: writer: " << busy.to_string());
    gate.open();
    BOOST_REQUIRE(done.wait_for(11));
    BOOST_TEST(done.times(99) == 0u, "store: writer: a refused submit never completes");
    BOOST_TEST(!read("refused").has_value());
    BOOST_TEST(w.stats().busy == 1u);
    // Once the queue drained, submits are taken again.
    BOOST_REQUIRE(w.submit(put("later", "v"), done.make(100), store::inline_executor()));
    BOOST_REQUIRE(done.wait_for(12));
    BOOST_TEST(done.status(100).is_ok());
    BOOST_TEST(done.times(99) == 0u);
}

BOOST_AUTO_TEST_CASE(stop_completes_every_queued_request_exactly_once) {
    Writer& w = open();
    Gate gate;
    BOOST_REQUIRE(w.submit(gate.work(), done.make(-1), store::inline_executor()));
    BOOST_REQUIRE(gate.wait_entered());
    for (int i = 0; i < 500; ++i)
        BOOST_REQUIRE(w.submit(put(key_of(0, i), "v"), done.make(i), inboxes[0]));
    w.request_stop();
    Status late = w.submit(put("late", "v"), done.make(1000), store::inline_executor());
    BOOST_TEST(late.code() == "stopped", "store: writer: " << late.to_string());
    gate.open();
    w.stop();  // joins: every completion has been posted
    w.stop();  // idempotent
    BOOST_REQUIRE(inboxes[0].run_until([&] { return done.count() >= 501; }));
    for (int i = -1; i < 500; ++i)
        BOOST_TEST_REQUIRE(done.times(i) == 1u, "store: writer: request " << i << " completed "
                                                                          << done.times(i)
                                                                          << " times");
    for (int i = 0; i < 500; ++i) BOOST_TEST_REQUIRE(done.status(i).is_ok());
    BOOST_TEST(done.times(1000) == 0u);
    BOOST_TEST(env->writer().submit(put("x", "v"), done.make(1001), store::inline_executor())
                   .code() == "stopped",
               "store: writer: a stopped writer stays stopped");
    for (int i = 0; i < 500; ++i) BOOST_TEST_REQUIRE(read(key_of(0, i)).has_value());
    BOOST_TEST(!read("late").has_value());
}

BOOST_AUTO_TEST_CASE(closing_the_last_env_commits_what_was_queued) {
    Writer& w = open();
    Gate gate;
    BOOST_REQUIRE(w.submit(gate.work(), done.make(-1), store::inline_executor()));
    BOOST_REQUIRE(gate.wait_entered());
    for (int i = 0; i < 300; ++i)
        BOOST_REQUIRE(w.submit(put(key_of(0, i), "v"), done.make(i), store::inline_executor()));
    gate.open();
    env.reset();  // the last Env of the directory: stops (and drains) the writer
    BOOST_TEST(done.count() == 301u, "store: writer: closing drains the queue");
    auto e = Env::open(dir);
    BOOST_REQUIRE(e);
    env = std::move(e.value());
    BOOST_REQUIRE(env->database("things", 1));
    for (int i = 0; i < 300; ++i) BOOST_TEST_REQUIRE(read(key_of(0, i)).has_value());
}

BOOST_AUTO_TEST_CASE(stop_from_a_completion_on_the_writer_thread) {
    Writer& w = open();
    bool ran = false;
    BOOST_REQUIRE(w.submit(
        put("k", "v"),
        [&](Status) {
            ran = true;
            env->writer().stop();  // must not join itself
        },
        store::inline_executor()));
    w.stop();
    BOOST_TEST(ran);
    BOOST_TEST(w.submit(put("k2", "v"), {}, store::inline_executor()).code() == "stopped");
}

BOOST_AUTO_TEST_CASE(every_executor_gets_each_of_its_completions_once_in_order) {
    Writer& w = open();
    BOOST_TEST(env->start_writer({}).code() == "exists");
    CountingExecutor a, b;
    std::mutex m;
    std::vector<int> got_a, got_b;
    constexpr int kN = 2000;
    for (int i = 0; i < kN; ++i) {
        const bool to_a = (i % 3) != 0;
        Executor& where = to_a ? static_cast<Executor&>(a) : static_cast<Executor&>(b);
        BOOST_REQUIRE(w.submit(
            put(key_of(0, i), "v"),
            [&, i, to_a](Status s) {
                std::lock_guard<std::mutex> lock(m);
                (to_a ? got_a : got_b).push_back(s ? i : -1);
            },
            where));
    }
    w.stop();
    std::vector<int> want_a, want_b;
    for (int i = 0; i < kN; ++i) ((i % 3) != 0 ? want_a : want_b).push_back(i);
    BOOST_TEST((got_a == want_a), "store: writer: executor a: each once, in order, ok");
    BOOST_TEST((got_b == want_b), "store: writer: executor b: each once, in order, ok");
    auto st = w.stats();
    BOOST_TEST(a.posts() <= st.commits, "store: writer: at most one post per batch");
    BOOST_TEST(b.posts() <= st.commits);

    // An executor that refuses: its completions are counted as dropped.
    Writer& w2 = [&]() -> Writer& {
        env.reset();
        return open();
    }();
    inboxes[1].refuse();
    for (int i = 0; i < 10; ++i)
        BOOST_REQUIRE(w2.submit(put(key_of(1, i), "v"), done.make(i), inboxes[1]));
    w2.stop();
    BOOST_TEST(w2.stats().completions_refused == 10u);
    BOOST_TEST(done.count() == 0u);
    BOOST_TEST(read(key_of(1, 9)).has_value(), "store: writer: the writes themselves commit");
}

BOOST_AUTO_TEST_CASE(a_request_function_is_gone_before_its_completion_runs) {
    Writer& w = open();
    // What the function holds (e.g. a module's code) may be released by the
    // completion: the function must not outlive it.
    auto token = std::make_shared<int>(1);
    std::weak_ptr<int> watch = token;
    std::atomic<bool> released_first{false};
    auto record = done.make(0);
    // Run inline, the completion runs while the writer still holds its batch.
    BOOST_REQUIRE(w.submit([this, token = std::move(token)](Txn& t) { return t.put(dbi, "k", "v"); },
                           [&, record](Status s) {
                               released_first = watch.expired();
                               record(std::move(s));
                           },
                           store::inline_executor()));
    BOOST_REQUIRE(done.wait_for(1));
    BOOST_TEST(released_first.load(), "store: writer: the request function outlived its completion");
}

BOOST_AUTO_TEST_SUITE_END()
