#include "store/writer.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "log/log.hpp"
#include "store/env.hpp"

namespace parley::store {

namespace {

// How often one batch may double the map and run again before a request that
// still does not fit fails alone; Env::write() allows as many.
constexpr int kMaxGrowths = 4;

class InlineExecutor final : public Executor {
  public:
    bool post(std::function<void()> fn) override {
        fn();
        return true;
    }
};

// No exception leaves a request: it becomes that request's error, so the
// writer thread and the rest of the batch go on.
Status run_request(const Writer::Work& work, Txn& txn) noexcept {
    try {
        if (!work) return Status::error("store", "an empty write request");
        return work(txn);
    } catch (const std::exception& e) {
        return Status::error("store", fmt::format("a write request threw: {}", e.what()));
    } catch (...) {
        return Status::error("store", "a write request threw");
    }
}

WriterOptions sane(WriterOptions o) {
    o.max_batch = std::max<size_t>(o.max_batch, 1);
    o.max_queue = std::max<size_t>(o.max_queue, 1);
    if (o.max_wait.count() < 0) o.max_wait = std::chrono::microseconds{0};
    return o;
}

enum class Attempt { done, map_full };

}  // namespace

Executor& inline_executor() {
    static InlineExecutor executor;
    return executor;
}

Writer::Writer(Env& env, WriterOptions options) : env_(env), options_(sane(options)) {
    thread_ = std::thread([this] { run(); });
    thread_id_ = thread_.get_id();
}

Writer::~Writer() { stop(); }

Status Writer::submit(Work work, Completion done, Executor& where) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_)
        return Status::error("stopped", fmt::format("{}: the writer has stopped", env_.dir()));
    if (queue_.size() >= options_.max_queue) {
        ++stats_.busy;
        return Status::error("busy", fmt::format("{}: {} writes are already queued", env_.dir(),
                                                 queue_.size()));
    }
    queue_.push_back(Request{std::move(work), std::move(done), &where, now});
    // Wake the thread only when it can be waiting for this: an empty queue
    // (idle) or a batch that just filled up (gathering). Otherwise it is
    // committing and takes the queue when it is done.
    // Notified under the lock: once it is released, the request may complete
    // and its owner destroy the writer before this thread touches wake_.
    if (queue_.size() == 1 || (gathering_ && queue_.size() == options_.max_batch))
        wake_.notify_one();
    return Status::ok();
}

void Writer::request_stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    wake_.notify_one();
}

void Writer::stop() {
    request_stop();
    // From a completion running on the writer thread: it ends by itself once
    // the queue is empty; the destructor joins it.
    if (std::this_thread::get_id() == thread_id_) return;
    std::lock_guard<std::mutex> lock(join_mutex_);
    if (thread_.joinable()) thread_.join();
}

WriterStats Writer::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
}

void Writer::run() {
    std::vector<Request> batch;
    std::vector<Status> statuses;
    batch.reserve(options_.max_batch);
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return !queue_.empty() || stopping_; });
            if (queue_.empty()) break;  // stopping, and every request is done
            if (options_.max_wait.count() > 0 && !stopping_ &&
                queue_.size() < options_.max_batch) {
                // The oldest request has waited since it was queued (e.g.
                // during the previous commit): the wait counts from then.
                gathering_ = true;
                wake_.wait_until(lock, queue_.front().queued + options_.max_wait, [&] {
                    return stopping_ || queue_.size() >= options_.max_batch;
                });
                gathering_ = false;
            }
            const size_t n = std::min(queue_.size(), options_.max_batch);
            for (size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        statuses.assign(batch.size(), Status::ok());
        commit_batch(batch, statuses);
        // The request functions go before their completions are posted: what
        // they hold (module code, say) may be kept alive only by what the
        // completion holds.
        for (auto& r : batch) r.work = nullptr;
        post_completions(batch, statuses);
        batch.clear();
    }
}

void Writer::commit_batch(std::vector<Request>& batch, std::vector<Status>& statuses) {
    uint64_t commits = 0, replays = 0;
    // One attempt: the batch in one transaction, each request in a nested
    // one. The transactions end when this returns, so the map may grow.
    auto attempt = [&](bool last) -> Attempt {
        auto parent = env_.begin_write();
        if (!parent) {
            std::fill(statuses.begin(), statuses.end(), parent.status());
            return Attempt::done;
        }
        for (size_t i = 0; i < batch.size(); ++i) {
            Status s;
            {
                auto child = parent->begin_nested();
                if (!child) {
                    s = child.status();
                } else {
                    s = run_request(batch[i].work, child.value());
                    if (s) s = child->commit();
                }
            }  // a child not committed aborts here: only this request is undone
            if (s.code() == "map-full" && !last) return Attempt::map_full;
            statuses[i] = std::move(s);
        }
        ++commits;
        Status c = parent->commit();
        if (c.code() == "map-full" && !last) return Attempt::map_full;
        if (!c) {
            // Nothing of the batch is kept: the requests that had succeeded
            // report the commit's error, the others keep their own.
            for (auto& s : statuses)
                if (s) s = c;
        }
        return Attempt::done;
    };
    for (int growths = 0;; ++growths) {
        if (attempt(growths >= kMaxGrowths) == Attempt::done) break;
        Status g = env_.grow_map();
        if (!g) {
            std::fill(statuses.begin(), statuses.end(), g);
            break;
        }
        ++replays;
        std::fill(statuses.begin(), statuses.end(), Status::ok());
    }
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.commits += commits;
    stats_.replays += replays;
}

void Writer::post_completions(std::vector<Request>& batch, std::vector<Status>& statuses) {
    // One post per Executor and batch, in the order of the batch: a worker
    // is woken once per commit, not once per write.
    struct Group {
        Executor* where;
        std::vector<std::pair<Completion, Status>> items;
    };
    std::vector<Group> groups;  // a handful (one per worker): a linear search
    uint64_t failed = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
        if (!statuses[i]) ++failed;
        auto g = std::find_if(groups.begin(), groups.end(),
                              [&](const Group& x) { return x.where == batch[i].where; });
        if (g == groups.end()) g = groups.insert(groups.end(), Group{batch[i].where, {}});
        g->items.emplace_back(std::move(batch[i].done), std::move(statuses[i]));
    }
    {
        // Before the completions run, so that a completion sees its batch
        // counted.
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.requests += batch.size();
        stats_.failed += failed;
        stats_.largest_batch = std::max(stats_.largest_batch, batch.size());
    }
    uint64_t refused = 0;
    for (auto& g : groups) {
        const size_t n = g.items.size();
        bool posted = g.where->post([items = std::move(g.items), dir = env_.dir()]() mutable {
            for (auto& [done, status] : items) {
                if (!done) continue;
                // One completion that throws must not keep the next ones from
                // running.
                try {
                    done(std::move(status));
                } catch (const std::exception& e) {
                    log::error("store", "{}: a write completion threw: {}", dir, e.what());
                } catch (...) {
                    log::error("store", "{}: a write completion threw", dir);
                }
            }
        });
        if (!posted) {
            refused += n;
            log::warn("store", "{}: {} write completion(s) dropped: their executor has stopped",
                      env_.dir(), n);
        }
    }
    if (refused) {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.completions_refused += refused;
    }
}

}  // namespace parley::store
