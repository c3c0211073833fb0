#include "owner_purge.hpp"

#include <algorithm>

namespace parley::mod_upload {

OwnerPurge::OwnerPurge(std::shared_ptr<FileStore> store, std::string owner, int64_t now_ms)
    : store_(std::move(store)), owner_(std::move(owner)), now_ms_(now_ms) {}

bool OwnerPurge::step() {
    // The mutex is held through the step's disk work: abandon() and
    // removed() wait for at most one step, and only tests and a stopping
    // module call them.
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished()) return true;
    try {
        if (!forgotten_) {
            forgotten_ = true;
            slots_ = store_->forget_owner(owner_, now_ms_);
            // Persisted before any file goes: a restart in the middle still
            // refuses the account's slots, and the purge is asked again.
            if (Status s = store_->save_revoked(now_ms_); !s && status_) status_ = s;
            return false;
        }
        if (at_ < slots_.size()) {
            const size_t end = std::min(slots_.size(), at_ + kBatch);
            std::vector<std::string> batch(slots_.begin() + static_cast<std::ptrdiff_t>(at_),
                                           slots_.begin() + static_cast<std::ptrdiff_t>(end));
            at_ = end;
            // remove_files keeps those it could not unlink for the next purge.
            Status s = store_->remove_files(owner_, batch, &removed_);
            if (!s && status_) status_ = s;
            if (at_ < slots_.size()) return false;
        }
        Status synced = store_->sync_dirs();
        finish_locked(status_ ? synced : status_);
    } catch (const std::exception& e) {
        finish_locked(Status::error("internal", e.what()));
    }
    return true;
}

void OwnerPurge::abandon(Status why) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished()) return;
    if (at_ < slots_.size()) {
        // Forgotten by the index but still on disk: the owner's next purge
        // (the host asks again after an error) unlinks them.
        std::vector<std::string> rest(slots_.begin() + static_cast<std::ptrdiff_t>(at_), slots_.end());
        at_ = slots_.size();
        store_->keep_for_next_purge(owner_, std::move(rest));
    }
    finish_locked(std::move(why));
}

void OwnerPurge::finish_locked(Status s) {
    status_ = std::move(s);
    finished_.store(true, std::memory_order_release);
    cv_.notify_all();
}

Status OwnerPurge::status() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return status_;
}

size_t OwnerPurge::removed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return removed_;
}

bool OwnerPurge::wait(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return finished(); });
}

}  // namespace parley::mod_upload
