// FakeStorage: module databases for test::FakeHost (its database_factory)
// over a real LMDB environment in a temporary directory, so that a module's
// storage is tested without parleyd and without a writer thread.
//
// Reads run at once in a read transaction, as the real ones do. A write is
// only queued: complete() commits the queued writes in order and runs each
// `done` after it, the way the environment's writer does later on the real
// worker. So a test sees what a module does before its write is durable
// (nothing answered, nothing stored) and after. `busy` makes write() refuse
// as a full writer queue does; `fail_writes` makes the next N queued writes
// fail (nothing stored, `done` gets the error). A second module instance
// opening the same database name sees what the first stored (a restart).
// Single-threaded: one test at a time.
#pragma once

#include <boost/test/unit_test.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "module/module_api.hpp"
#include "store/env.hpp"
#include "support/temp_dir.hpp"

namespace parley::test {

class FakeStorage {
public:
    FakeStorage() {
        auto e = store::Env::open(dir_.sub("state"), size_t{16} << 20);
        BOOST_REQUIRE_MESSAGE(e, "fake storage: Env::open: " << e.status().to_string());
        env_ = std::move(e.value());
    }

    // For FakeHost::database_factory: opens "test.NAME" at the spec's version.
    std::function<Result<std::shared_ptr<module::Database>>(const module::DatabaseSpec&)> factory() {
        return [this](const module::DatabaseSpec& spec) -> Result<std::shared_ptr<module::Database>> {
            auto dbi = env_->database("test." + spec.name, spec.version, spec.migrate);
            if (!dbi) return dbi.status();
            return std::shared_ptr<module::Database>(std::make_shared<Db>(*this, dbi.value()));
        };
    }

    size_t pending() const { return queue_.size(); }

    // Commits every queued write in order, each followed by its `done`
    // (which may queue more: those run too). Returns how many ran.
    size_t complete() {
        size_t n = 0;
        while (!queue_.empty()) {
            Queued q = std::move(queue_.front());
            queue_.pop_front();
            Status s = Status::ok();
            if (fail_writes > 0) {
                --fail_writes;
                s = Status::error("store", "fake storage: the write failed (injected)");
            } else {
                s = env_->write([&](store::Txn& txn) { return q.fn(txn, q.dbi); });
            }
            if (q.done) q.done(s);
            ++n;
        }
        return n;
    }

    store::Env& env() { return *env_; }

    bool busy = false;
    int fail_writes = 0;

private:
    struct Queued {
        MDB_dbi dbi;
        std::function<Status(store::Txn&, MDB_dbi)> fn;
        std::function<void(Status)> done;
    };

    class Db final : public module::Database {
    public:
        Db(FakeStorage& owner, MDB_dbi dbi) : owner_(owner), dbi_(dbi) {}
        Status read(const std::function<Status(const store::Txn& txn, MDB_dbi db)>& fn) const override {
            auto txn = owner_.env_->begin_read();
            if (!txn) return txn.status();
            return fn(txn.value(), dbi_);
        }
        Status write(std::function<Status(store::Txn& txn, MDB_dbi db)> fn,
                     std::function<void(Status)> done) override {
            if (owner_.busy) return Status::error("busy", "fake storage: the writer's queue is full");
            owner_.queue_.push_back(Queued{dbi_, std::move(fn), std::move(done)});
            return Status::ok();
        }

    private:
        FakeStorage& owner_;
        MDB_dbi dbi_;
    };

    TempDir dir_;
    std::unique_ptr<store::Env> env_;
    std::deque<Queued> queue_;
};

}  // namespace parley::test
