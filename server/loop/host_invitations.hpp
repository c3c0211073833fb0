// HostInvitations: the module::Invitations a module reaches through its host
// (WorkerHost::invitations()): the invitation records of store/invites.hpp,
// which `parleyctl invite` writes too, in the database `register.invites` of
// the state environment.
//
// The database keeps the name and layout it had when mod_register opened it
// itself (doc/storage.md): it is opened as a ModuleDatabase of "register", so
// existing invitations stay valid and parleyctl finds them where it always
// did. Using a token and giving a use back are each one write on the
// environment's writer thread (group commit), so two registrations racing
// for the last use on different workers cannot both have it; completions
// come back on the worker, and only while this object lives (the module
// runs). The clock is the system's (Unix seconds) unless a test sets one.
// Loop-affine: the owning worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "module/module_api.hpp"

namespace parley::loop {

class Worker;

class HostInvitations final : public module::Invitations {
public:
    // Opens (creating) the database on `worker`; code "schema" when it was
    // written by a newer Parley. `library` is the asking module's, kept
    // loaded by each completion until it has been destroyed.
    static Result<std::unique_ptr<HostInvitations>> open(Worker& worker, std::shared_ptr<const void> library);

    void use(std::string token, std::function<void(Result<module::InvitationUse>)> done) override;
    void give_back(const module::InvitationUse& used, std::function<void(Status)> done) override;

    // For tests: the Unix time invitations expire against.
    void set_clock(std::function<int64_t()> now) { now_ = std::move(now); }

private:
    explicit HostInvitations(std::shared_ptr<module::Database> db);
    std::shared_ptr<module::Database> db_;
    std::function<int64_t()> now_;
};

}  // namespace parley::loop
