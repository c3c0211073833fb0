// FakeDatabase: a module::Database over a real LMDB environment (a test's
// temporary directory) for modules tested against FakeHost. Reads are
// direct; a write commits at once with Env::write, and its `done` waits in
// `pending` until the test runs it, as a real completion comes later on
// the worker. Single-threaded: one test at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "module/module_api.hpp"
#include "store/env.hpp"

namespace parley::test {

class FakeDatabase final : public module::Database {
public:
    // Opens `name` (the module's database name, stored as "MODULE.name") in env.
    static Result<std::shared_ptr<FakeDatabase>> open(store::Env& env, const std::string& full_name,
                                                      uint32_t version) {
        auto db = env.database(full_name, version);
        if (!db) return db.status();
        return std::shared_ptr<FakeDatabase>(new FakeDatabase(env, db.value()));
    }
    Status read(const std::function<Status(const store::Txn&, MDB_dbi)>& fn) const override {
        auto txn = env_.begin_read();
        if (!txn) return txn.status();
        return fn(txn.value(), db_);
    }
    Status write(std::function<Status(store::Txn&, MDB_dbi)> fn, std::function<void(Status)> done) override {
        if (busy) return Status::error("busy", "the writer's queue is full");
        Status s = env_.write([&](store::Txn& txn) { return fn(txn, db_); });
        pending.push_back([done, s] {
            if (done) done(s);
        });
        return Status::ok();
    }
    size_t run_pending() {
        size_t n = 0;
        for (int round = 0; round < 100 && !pending.empty(); ++round) {
            auto now = std::move(pending);
            pending.clear();
            for (auto& fn : now) fn(), ++n;
        }
        return n;
    }
    MDB_dbi dbi() const { return db_; }
    std::vector<std::function<void()>> pending;
    bool busy = false;  // write() refuses with "busy"

private:
    FakeDatabase(store::Env& env, MDB_dbi db) : env_(env), db_(db) {}
    store::Env& env_;
    MDB_dbi db_;
};

}  // namespace parley::test
