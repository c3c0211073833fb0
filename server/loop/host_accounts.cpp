#include "loop/host_accounts.hpp"

#include <uv.h>

#include <fmt/format.h>

#include "log/log.hpp"
#include "loop/account_purge.hpp"
#include "loop/end_sessions.hpp"
#include "loop/worker.hpp"
#include "store/accounts.hpp"

namespace parley::loop {

namespace {

// Jobs are started and finished on the worker's loop thread, so a
// thread-local count is the worker's count without a lock.
thread_local uint32_t t_queued = 0;

}  // namespace

struct HostAccounts::Job {
    uv_work_t req{};
    std::function<Status()> work;
    Status status;
    std::function<void(const Status&)> after;
    // Destroyed in reverse order: done (the module's code) before the library.
    std::shared_ptr<const void> library;
    std::weak_ptr<bool> alive;
    std::function<void(Status)> done;
};

uint32_t HostAccounts::queued() { return t_queued; }

Status HostAccounts::check_account(const xmpp::Jid& bare) const {
    if (!bare.has_node() || bare.has_resource())
        return Status::error("invalid", "an account is a bare JID with a local part");
    if (!worker_.config().find_host(bare.domain()))
        return Status::error("invalid", fmt::format("{} is not a virtual host of this server", bare.domain()));
    if (!worker_.shared().accounts) return Status::error("unavailable", "no account store");
    return Status::ok();
}

Result<bool> HostAccounts::exists(const xmpp::Jid& bare) const {
    Status s = check_account(bare);
    if (!s) return s;
    return worker_.shared().accounts->exists(bare.node(), bare.domain());
}

Status HostAccounts::check_new_password(std::string_view password) const {
    return store::check_new_password(password);
}

void HostAccounts::off_loop(std::function<Status()> work, std::function<void(const Status&)> after,
                            std::function<void(Status)> done) {
    auto* job = new Job();
    job->req.data = job;
    job->work = std::move(work);
    job->after = std::move(after);
    job->library = library_;
    job->alive = alive_;
    job->done = std::move(done);
    const int rc = uv_queue_work(
        worker_.loop(), &job->req,
        [](uv_work_t* r) {
            auto* j = static_cast<Job*>(r->data);
            try {
                j->status = j->work();
            } catch (const std::exception& e) {
                j->status = Status::error("internal", e.what());
            }
        },
        [](uv_work_t* r, int status) {
            std::unique_ptr<Job> j(static_cast<Job*>(r->data));
            --t_queued;
            if (status != 0) j->status = Status::error("stopped", "the server is stopping");
            try {
                if (j->after) j->after(j->status);
                if (!j->alive.expired() && j->done) j->done(j->status);
            } catch (const std::exception& e) {
                log::error("module", "an account completion failed: {}", e.what());
            }
        });
    if (rc != 0) {
        // No callback will run (a failed start means none): the module
        // learns it now, on the loop, before this call returns.
        std::unique_ptr<Job> j(job);
        if (j->done) j->done(Status::error("internal", fmt::format("uv_queue_work: {}", uv_strerror(rc))));
        return;
    }
    ++t_queued;
}

void HostAccounts::create(const xmpp::Jid& bare, std::string password, std::function<void(Status)> done) {
    Status s = check_account(bare);
    if (s) s = store::check_new_password(password);
    if (s && t_queued >= worker_.config().sasl.max_queued_password_checks)
        s = Status::error("busy", "too many account changes are waiting; try again");
    if (!s) {
        done(s);
        return;
    }
    store::AccountStore* accounts = worker_.shared().accounts;
    const uint32_t iterations = worker_.config().sasl.scram_iterations;
    off_loop(
        [accounts, node = bare.node(), domain = bare.domain(), password = std::move(password), iterations]() mutable {
            Status r = accounts->create(node, domain, password, iterations);
            std::fill(password.begin(), password.end(), '\0');
            return r;
        },
        nullptr, std::move(done));
}

void HostAccounts::set_password(const xmpp::Jid& bare, std::string password, const xmpp::Jid& keep,
                                std::function<void(Status)> done) {
    Status s = check_account(bare);
    if (s) s = store::check_new_password(password);
    if (s && t_queued >= worker_.config().sasl.max_queued_password_checks)
        s = Status::error("busy", "too many account changes are waiting; try again");
    if (!s) {
        done(s);
        return;
    }
    store::AccountStore* accounts = worker_.shared().accounts;
    const uint32_t iterations = worker_.config().sasl.scram_iterations;
    Worker* w = &worker_;
    off_loop(
        [accounts, node = bare.node(), domain = bare.domain(), password = std::move(password), iterations]() mutable {
            Status r = accounts->set_password(node, domain, password, iterations);
            std::fill(password.begin(), password.end(), '\0');
            return r;
        },
        [w, bare, keep](const Status& r) {
            if (!r) return;
            // As `parleyctl user passwd` does: nobody stays logged in with the
            // old password, except the session that changed it.
            auto others = sessions_named(*w->shared().registry, bare, keep);
            if (!others.empty()) {
                end_sessions(w->shared(), others, "the account's password was changed");
                log::info("accounts", "password of {} changed; closing {} other session(s)", bare.bare_str(),
                          others.size());
            }
        },
        std::move(done));
}

void HostAccounts::remove(const xmpp::Jid& bare, std::string text, std::function<void(Status)> done) {
    Status s = check_account(bare);
    if (s && t_queued >= worker_.config().sasl.max_queued_password_checks)
        s = Status::error("busy", "too many account changes are waiting; try again");
    if (!s) {
        done(s);
        return;
    }
    store::AccountStore* accounts = worker_.shared().accounts;
    Worker* w = &worker_;
    off_loop([accounts, node = bare.node(), domain = bare.domain()]() { return accounts->remove(node, domain); },
             [w, bare, text = std::move(text)](const Status& r) {
                 if (!r) return;
                 auto all = sessions_named(*w->shared().registry, bare);
                 end_sessions(w->shared(), all, text);
                 log::info("accounts", "{} deleted; closing {} session(s)", bare.bare_str(), all.size());
                 // Worker 0 has the modules remove the account's data.
                 w->shared().workers[0]->post([](Worker& w0) {
                     if (AccountPurge* p = w0.account_purge()) p->kick();
                 });
             },
             std::move(done));
}

}  // namespace parley::loop
