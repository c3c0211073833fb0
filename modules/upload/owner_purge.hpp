// OwnerPurge: removing a deleted account's uploads, in bounded steps.
//
// Host::on_account_deleted asks worker 0's instance to remove what an
// account uploaded; unlinking files (and fsyncing the directories) is
// blocking disk I/O, which no worker loop may do, so the work runs as steps
// on the upload service's HTTP thread (HttpServer::run), between the
// requests it serves:
//   1. FileStore::forget_owner: at once the files are no longer found (a
//      GET answers 404), the ledger and reservations go, and every slot
//      granted to the account so far is refused (also after a restart, once
//      step 2 is durable); then FileStore::save_revoked.
//   2. FileStore::remove_files, kBatch slots per step.
//   3. FileStore::sync_dirs: the removal is durable; the purge is finished.
// A download already started keeps its open file descriptor and ends
// normally (the inode outlives its name); a new one answers 404.
//
// The purge reports nothing by itself: the Host is loop-affine, so worker 0
// looks at finished() (Upload polls while a purge runs) and calls the
// host's completion there. wait() is for tests.
//
// Thread affinity: step() on one thread at a time (the HTTP thread, or a
// test's); finished(), status(), wait() and abandon() from any thread;
// abandon() only once no step can run any more (the HTTP thread joined).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "errors/status.hpp"
#include "file_store.hpp"

namespace parley::mod_upload {

class OwnerPurge {
public:
    static constexpr size_t kBatch = 64;  // files unlinked per step

    // now_ms: the time of the deletion in Unix milliseconds (slots granted
    // until then are refused).
    OwnerPurge(std::shared_ptr<FileStore> store, std::string owner, int64_t now_ms);

    // One step; true once the purge is finished (then status() tells).
    bool step();
    // Ends a purge whose steps can no longer run (its HTTP thread stopped):
    // the files not yet unlinked are left to the owner's next purge
    // (FileStore keeps them), and the status is `why`. No effect once
    // finished.
    void abandon(Status why);

    const std::string& owner() const { return owner_; }
    bool finished() const { return finished_.load(std::memory_order_acquire); }
    // Ok, or the first error met; meaningful once finished().
    Status status() const;
    // Files removed so far.
    size_t removed() const;
    // Waits up to `timeout` for the purge to finish; whether it did.
    bool wait(std::chrono::milliseconds timeout) const;

private:
    void finish_locked(Status s);

    const std::shared_ptr<FileStore> store_;
    const std::string owner_;
    const int64_t now_ms_;
    mutable std::mutex mutex_;
    mutable std::condition_variable cv_;
    bool forgotten_ = false;         // step 1 done
    std::vector<std::string> slots_;  // to unlink
    size_t at_ = 0;                   // slots_[0, at_) handled
    size_t removed_ = 0;
    Status status_ = Status::ok();
    std::atomic<bool> finished_{false};
};

}  // namespace parley::mod_upload
