#include "loop/account_purge.hpp"

#include <fmt/format.h>

#include <vector>

#include "log/log.hpp"
#include "loop/worker.hpp"
#include "store/accounts.hpp"
#include "xmpp/jid.hpp"

namespace parley::loop {

struct AccountPurge::Round {
    std::vector<store::AccountStore::Deleted> accounts;
    size_t at = 0;              // the account being purged
    size_t waiting = 0;         // modules that have not answered for it
    bool failed = false;
    bool abandoned = false;     // answers arriving later are ignored
    std::chrono::steady_clock::time_point since;
};

namespace {

// One synchronous store call on libuv's thread pool.
struct Work {
    uv_work_t req{};
    std::function<Status()> work;
    Status status;
    std::function<void(Status)> after;
};

void off_loop(uv_loop_t* loop, std::function<Status()> work, std::function<void(Status)> after) {
    auto* w = new Work();
    w->req.data = w;
    w->work = std::move(work);
    w->after = std::move(after);
    const int rc = uv_queue_work(
        loop, &w->req,
        [](uv_work_t* r) {
            auto* j = static_cast<Work*>(r->data);
            try {
                j->status = j->work();
            } catch (const std::exception& e) {
                j->status = Status::error("internal", e.what());
            }
        },
        [](uv_work_t* r, int status) {
            std::unique_ptr<Work> j(static_cast<Work*>(r->data));
            if (status != 0) j->status = Status::error("stopped", "the server is stopping");
            j->after(j->status);
        });
    if (rc != 0) {
        std::unique_ptr<Work> j(w);
        j->after(Status::error("internal", fmt::format("uv_queue_work: {}", uv_strerror(rc))));
    }
}

}  // namespace

AccountPurge::AccountPurge(Worker& worker) : worker_(worker) {}

AccountPurge::~AccountPurge() { *alive_ = false; }

void AccountPurge::start() {
    timer_ = new uv_timer_t;
    uv_timer_init(worker_.loop(), timer_);
    timer_->data = this;
    uv_timer_start(timer_, &AccountPurge::on_timer, 0, kIntervalMs);
}

void AccountPurge::close() {
    if (!timer_) return;
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
    if (running_) running_->abandoned = true;
    running_.reset();
    *alive_ = false;
}

void AccountPurge::on_timer(uv_timer_t* t) { static_cast<AccountPurge*>(t->data)->tick(); }

void AccountPurge::kick() {
    if (!timer_) return;
    if (running_) {
        again_ = true;
        return;
    }
    // From the loop's next turn, not inside the caller's call.
    uv_timer_start(timer_, &AccountPurge::on_timer, 0, kIntervalMs);
}

void AccountPurge::tick() {
    if (running_) {
        if (std::chrono::steady_clock::now() - running_->since < std::chrono::milliseconds(kAnswerWithinMs)) {
            again_ = true;
            return;
        }
        const auto& d = running_->accounts[running_->at];
        log::warn("accounts", "purging the data of deleted account {}@{}: {} module(s) gave no answer; "
                  "trying again later", d.node, d.domain, running_->waiting);
        running_->abandoned = true;
        running_.reset();
    }
    store::AccountStore* store = worker_.shared().accounts;
    if (!store) return;
    auto list = store->deleted(kBatch);
    if (!list) {
        log::error("accounts", "reading deleted accounts: {}", list.status().message());
        return;
    }
    if (list.value().empty()) return;
    auto round = std::make_shared<Round>();
    round->accounts = std::move(list.value());
    running_ = round;
    again_ = false;
    next(round);
}

void AccountPurge::next(std::shared_ptr<Round> round) {
    while (round->at < round->accounts.size()) {
        const auto& d = round->accounts[round->at];
        auto jid = xmpp::Jid::make(d.node, d.domain, "");
        if (!jid) {
            log::error("accounts", "deleted account {}@{} is not a valid JID; its tombstone stays", d.node, d.domain);
            ++round->at;
            continue;
        }
        // A copy: a purge may stop its module (and so change the table).
        auto handlers = worker_.hooks().account_deleted();
        round->waiting = handlers.size() + 1;  // +1: this loop, so that an answer inside the call cannot finish early
        round->failed = false;
        round->since = std::chrono::steady_clock::now();
        std::weak_ptr<bool> alive = alive_;
        for (auto& [owner, fn] : handlers) {
            auto answered = std::make_shared<bool>(false);
            auto done = [this, alive, round, answered, owner = owner, who = jid->bare_str()](Status s) {
                if (alive.expired() || round->abandoned || *answered) return;
                *answered = true;
                if (!s) {
                    round->failed = true;
                    log::warn("accounts", "module {} could not remove the data of deleted account {}: {}", owner,
                              who, s.message());
                }
                if (--round->waiting == 0) finish(round);
            };
            try {
                fn(jid.value(), done);
            } catch (const std::exception& e) {
                done(Status::error("internal", e.what()));
            }
        }
        if (--round->waiting == 0) finish(round);
        return;
    }
    // Every account of the round handled.
    if (running_ == round) running_.reset();
    if (again_ && timer_) {
        again_ = false;
        kick();
    }
}

void AccountPurge::finish(std::shared_ptr<Round> round) {
    const auto d = round->accounts[round->at];
    auto step = [this, round] {
        ++round->at;
        next(round);
    };
    if (round->failed) {
        step();
        return;
    }
    store::AccountStore* store = worker_.shared().accounts;
    std::weak_ptr<bool> alive = alive_;
    off_loop(
        worker_.loop(), [store, d] { return store->forget_deleted(d.node, d.domain); },
        [this, alive, round, d, step](Status s) {
            if (alive.expired() || round->abandoned) return;
            if (s) {
                ++purged_;
                log::info("accounts", "the data of deleted account {}@{} is removed", d.node, d.domain);
            } else {
                log::error("accounts", "forgetting deleted account {}@{}: {}", d.node, d.domain, s.message());
            }
            step();
        });
}

}  // namespace parley::loop
