// HostAccounts: the module::Accounts a module reaches through its host
// (WorkerHost::accounts()): the daemon's AccountStore, with the rules and
// the iteration count parleyctl uses.
//
// A write derives SCRAM keys (PBKDF2, milliseconds of CPU) and commits
// synchronously, so it runs on libuv's thread pool, never on the loop
// (DESIGN.md "Threads"). Jobs queued or running per worker are bounded
// ([sasl] max_queued_password_checks, like PLAIN checks); past that a
// request is refused with "busy" at once. A job's completion runs on the
// worker: it ends the sessions the change concerns (end_sessions.hpp) and
// then calls the module's `done`, but only while this object lives (the
// module runs); the job keeps the module's library loaded until its `done`
// has been destroyed. Loop-affine: the owning worker.
#pragma once

#include <memory>

#include "module/module_api.hpp"

namespace parley::loop {

class Worker;

class HostAccounts final : public module::Accounts {
public:
    HostAccounts(Worker& worker, std::shared_ptr<const void> library)
        : worker_(worker), library_(std::move(library)) {}
    ~HostAccounts() override = default;

    Result<bool> exists(const xmpp::Jid& bare) const override;
    Status check_new_password(std::string_view password) const override;
    void create(const xmpp::Jid& bare, std::string password, std::function<void(Status)> done) override;
    void set_password(const xmpp::Jid& bare, std::string password, const xmpp::Jid& keep,
                      std::function<void(Status)> done) override;
    void remove(const xmpp::Jid& bare, std::string text, std::function<void(Status)> done) override;

    // Jobs queued or running on the thread pool for this worker's modules.
    static uint32_t queued();

private:
    struct Job;
    Status check_account(const xmpp::Jid& bare) const;
    // Runs `work` on the thread pool; then, on the loop, `after` (with its
    // status) and the module's `done` (if this object still lives).
    void off_loop(std::function<Status()> work, std::function<void(const Status&)> after,
                  std::function<void(Status)> done);

    Worker& worker_;
    std::shared_ptr<const void> library_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parley::loop
