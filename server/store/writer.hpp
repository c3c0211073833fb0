// Writer: the one writer thread of an LMDB environment, which gathers the
// write requests of every thread into group commits.
//
// A durable LMDB commit costs two fsyncs (~0.25-0.35 ms here), so one commit
// per write caps an environment at a few thousand writes per second and stops
// whichever thread commits. Instead any thread submits a request (a function
// that only touches a transaction, a completion, and the Executor that runs
// the completion), and returns at once. The writer thread takes what is
// queued (at most WriterOptions::max_batch requests, waiting at most
// max_wait for a batch to fill), runs the batch in ONE write transaction,
// commits it with a full sync, then posts every completion with its request's
// Status. A completion that says ok means the write is on disk: it survives a
// crash of the process or the machine.
//
// Each request runs in a nested transaction of the batch's transaction, so a
// request that fails (its function returns an error, or throws) is rolled
// back alone and completes with its own error while the others commit. When
// the map fills up, the batch is dropped, the map doubled and the whole batch
// run again: a request function may run more than once and must therefore do
// nothing but touch the transaction (no counters, no I/O), and must neither
// commit nor abort the transaction it is given. It is destroyed on the
// writer thread before its completion is posted.
//
// Order: requests run and commit in submission order (one FIFO queue), so
// the requests of one submitting thread complete in the order it submitted
// them; the completions of one batch are posted in that order, grouped by
// Executor (one post() per Executor and batch), and batches are posted one
// after the other, so every Executor receives its completions in submission
// order.
//
// Back-pressure: submit() refuses with code "busy" once max_queue requests
// wait in the queue (the batch being committed does not count); "stopped"
// after stop() began. A refused submit never runs its completion; an
// accepted one runs it exactly once (unless its Executor refuses the post:
// then it is dropped, logged and counted in WriterStats::completions_refused).
//
// Shutdown: stop() lets the thread commit every request already accepted
// (without waiting to gather), post their completions, and joins it. No
// accepted request is dropped. Executors must therefore stay alive until
// stop() returned (a worker loop keeps taking posts until its writes
// completed, or is known to refuse them).
//
// One Writer per environment and process: Env::writer() starts it lazily,
// the last Env of the directory stops it (see env.hpp). Reads never go
// through it: Env::begin_read() on any thread.
//
// Thread affinity: submit(), stop() and stats() from any thread (stop()
// from a completion running on the writer thread only asks the thread to
// end; the join happens later). A submitting thread must not wait for a
// completion while it holds a transaction of the same environment: growing
// the map waits for every transaction of the process to end.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "errors/status.hpp"

namespace parley::store {

class Env;
class Txn;

// Where a completion runs. post() is called on the writer thread; it must
// queue fn (not run it in place, unless running on the writer thread is
// what the caller wants) and not block for long. false: fn was not queued
// and never will run (the destination has stopped).
class Executor {
  public:
    virtual ~Executor() = default;
    virtual bool post(std::function<void()> fn) = 0;
};

// Adapts a function, e.g. a worker's inbox:
//   FunctionExecutor to_worker([&w](std::function<void()> fn) {
//       return w.post([fn = std::move(fn)](loop::Worker&) { fn(); });
//   });
class FunctionExecutor : public Executor {
  public:
    explicit FunctionExecutor(std::function<bool(std::function<void()>)> post)
        : post_(std::move(post)) {}
    bool post(std::function<void()> fn) override { return post_(std::move(fn)); }

  private:
    std::function<bool(std::function<void()>)> post_;
};

// Runs completions on the writer thread itself, at once (tools, tests, and
// completions that only signal another thread). A completion run there must
// be short and must not wait for the writer.
Executor& inline_executor();

struct WriterOptions {
    // At most this many requests per commit. 1,000 keeps a commit's dirty
    // pages (and the time a failure or a replay costs) small while reaching
    // the measured plateau of LMDB group commits (doc/storage.md).
    size_t max_batch = 1000;
    // After the first request of a batch arrived, wait at most this long for
    // more before committing. 0 (the default) takes what is queued: while a
    // commit syncs, new requests queue up, so batches grow with the load by
    // themselves and a lone write pays no added latency (doc/bench.md has
    // the measurements behind this choice).
    std::chrono::microseconds max_wait{0};
    // submit() refuses with "busy" when this many requests wait. 100,000
    // requests are ~2 s of the design's 40-50k durable writes/s.
    size_t max_queue = 100000;
};

// Counters since the writer started; a consistent snapshot.
struct WriterStats {
    uint64_t commits = 0;          // write transactions committed (or failed to)
    uint64_t requests = 0;         // requests completed, ok or not
    uint64_t failed = 0;           // requests completed with an error
    uint64_t replays = 0;          // batches run again after the map grew
    uint64_t busy = 0;             // submits refused with "busy"
    uint64_t completions_refused = 0;  // completions an Executor did not take
    size_t largest_batch = 0;
};

class Writer {
  public:
    using Work = std::function<Status(Txn&)>;
    using Completion = std::function<void(Status)>;

    ~Writer();  // stop()
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // Queues a request. Ok: done will be posted to `where` exactly once,
    // with work's Status or the batch's commit error. Code "busy" (the queue
    // holds max_queue requests) or "stopped": nothing runs. `where` must
    // outlive the completion.
    Status submit(Work work, Completion done, Executor& where);

    // Commits every accepted request, posts their completions and joins the
    // thread; later submits are refused with "stopped". Idempotent.
    void stop();
    // Only asks: submits are refused from now on, the thread commits what
    // is queued and ends; stop() (or the destructor) joins it.
    void request_stop();

    WriterStats stats() const;
    const WriterOptions& options() const { return options_; }

  private:
    friend class Env;
    struct Request {
        Work work;
        Completion done;
        Executor* where;
        std::chrono::steady_clock::time_point queued;
    };

    // Env::writer() makes it; env must outlive it.
    Writer(Env& env, WriterOptions options);
    void run();
    // Runs one batch to its commit and fills statuses.
    void commit_batch(std::vector<Request>& batch, std::vector<Status>& statuses);
    void post_completions(std::vector<Request>& batch, std::vector<Status>& statuses);

    Env& env_;
    const WriterOptions options_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;  // the writer: a first request, a full batch, stop
    std::deque<Request> queue_;     // guarded by mutex_
    bool stopping_ = false;         // guarded by mutex_
    bool gathering_ = false;        // guarded by mutex_: waiting for a batch to fill
    WriterStats stats_;             // guarded by mutex_

    std::mutex join_mutex_;  // one stop() joins
    std::thread thread_;
    std::thread::id thread_id_;  // set before any submit, then only read
};

}  // namespace parley::store
