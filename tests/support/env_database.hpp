// EnvDatabase: a module::Database over a real LMDB environment for unit
// tests of modules against FakeHost. Reads run at once in a read
// transaction; writes wait in a queue until the test calls flush(), which
// commits each one (synchronously, Env::write) and then runs its `done`:
// so a test can check what a module does before and after its write is
// durable. Single-threaded, like FakeHost.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <utility>

#include "module/module_api.hpp"
#include "store/env.hpp"

namespace parley::test {

class EnvDatabase final : public module::Database {
public:
    EnvDatabase(store::Env& env, MDB_dbi dbi) : env_(env), dbi_(dbi) {}

    Status read(const std::function<Status(const store::Txn& txn, MDB_dbi db)>& fn) const override {
        auto txn = env_.begin_read();
        if (!txn) return txn.status();
        return fn(txn.value(), dbi_);
    }
    Status write(std::function<Status(store::Txn& txn, MDB_dbi db)> fn, std::function<void(Status)> done) override {
        if (busy) return Status::error("busy", "the writer's queue is full");
        queue_.emplace_back(std::move(fn), std::move(done));
        return Status::ok();
    }
    // Commits every queued write in order and runs its completion; returns how many.
    size_t flush() {
        size_t n = 0;
        while (!queue_.empty()) {
            auto [fn, done] = std::move(queue_.front());
            queue_.pop_front();
            Status s = env_.write([&](store::Txn& txn) { return fn(txn, dbi_); });
            if (done) done(s);
            ++n;
        }
        return n;
    }
    size_t queued() const { return queue_.size(); }
    // write() refuses with "busy", as the writer does when its queue is full.
    bool busy = false;

private:
    store::Env& env_;
    MDB_dbi dbi_;
    std::deque<std::pair<std::function<Status(store::Txn&, MDB_dbi)>, std::function<void(Status)>>> queue_;
};

}  // namespace parley::test
