// AccountPurge: finishes the deletion of accounts by having every running
// module remove what it keeps about them (module::Host::on_account_deleted).
//
// Deleting an account (store::AccountStore::remove, from parleyctl or a
// module) leaves a tombstone in the state environment. Worker 0 owns one
// AccountPurge, which reads the tombstones and, one account at a time, calls
// each module's purge; once all of them answered ok it forgets the
// tombstone (a synchronous LMDB commit, run on libuv's thread pool, never on
// the loop). A module that fails, or does not answer within kAnswerWithin,
// leaves the tombstone for the next round. Rounds run at start, every
// kInterval, and soon after kick() (a deletion through parleyd, or
// parleyctl's `purge` request). A module that is not running when an
// account is purged never hears of it: stated in doc/modules.md.
//
// Loop-affine: worker 0's loop thread only (others reach it through
// Worker::post).
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "errors/status.hpp"

namespace parley::loop {

class Worker;

class AccountPurge {
public:
    static constexpr uint64_t kIntervalMs = 60'000;
    static constexpr uint64_t kAnswerWithinMs = 120'000;
    static constexpr size_t kBatch = 32;

    explicit AccountPurge(Worker& worker);
    ~AccountPurge();
    AccountPurge(const AccountPurge&) = delete;
    AccountPurge& operator=(const AccountPurge&) = delete;

    // Starts the timer: a first round at once, then every kIntervalMs.
    void start();
    // A round soon (after the current one, if one runs).
    void kick();
    // Stops the timer (worker shutdown); a round in flight is abandoned:
    // its tombstones stay for the next start.
    void close();

    // Accounts fully purged so far (for tests and logs).
    uint64_t purged() const { return purged_; }

private:
    struct Round;
    void tick();
    void next(std::shared_ptr<Round> round);
    void finish(std::shared_ptr<Round> round);

    static void on_timer(uv_timer_t* t);

    Worker& worker_;
    uv_timer_t* timer_ = nullptr;   // freed in its close callback
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::shared_ptr<Round> running_;
    bool again_ = false;
    uint64_t purged_ = 0;
};

}  // namespace parley::loop
