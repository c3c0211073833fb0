#include "loop/host_invitations.hpp"

#include <ctime>

#include "loop/module_database.hpp"
#include "store/invites.hpp"

namespace parley::loop {

namespace {

namespace inv = store::invites;

// The module the database belongs to by name: "register" + "." +
// inv::kModuleDatabase is inv::kDatabase, the name parleyctl opens.
constexpr const char* kOwner = "register";

module::InvitationUse to_use(const inv::Consumed& c) {
    module::InvitationUse u;
    switch (c.kind) {
        case inv::Consumed::Kind::ok:
            u.kind = module::InvitationUse::Kind::ok;
            u.id = c.before.id;
            // The record as it was, so that give_back() can restore it even
            // if the use took its last one and the record is gone.
            u.receipt = inv::detail::encode(c.before);
            break;
        case inv::Consumed::Kind::expired:
            u.kind = module::InvitationUse::Kind::expired;
            u.id = c.before.id;
            break;
        case inv::Consumed::Kind::unknown:
            u.kind = module::InvitationUse::Kind::unknown;
            break;
    }
    return u;
}

}  // namespace

HostInvitations::HostInvitations(std::shared_ptr<module::Database> db)
    : db_(std::move(db)), now_([] { return static_cast<int64_t>(std::time(nullptr)); }) {}

Result<std::unique_ptr<HostInvitations>> HostInvitations::open(Worker& worker, std::shared_ptr<const void> library) {
    auto db = ModuleDatabase::open(worker, kOwner, module::DatabaseSpec{inv::kModuleDatabase, inv::kSchemaVersion, {}, ""},
                                   std::move(library));
    if (!db) return db.status();
    return std::unique_ptr<HostInvitations>(new HostInvitations(std::move(db.value())));
}

void HostInvitations::use(std::string token, std::function<void(Result<module::InvitationUse>)> done) {
    // Shared by the write (which may run twice, if the map grows: the last
    // run is the one committed) and its completion.
    auto consumed = std::make_shared<inv::Consumed>();
    auto finish = std::make_shared<std::function<void(Result<module::InvitationUse>)>>(std::move(done));
    const int64_t now = now_();
    Status s = db_->write(
        [consumed, token = std::move(token), now](store::Txn& txn, MDB_dbi db) -> Status {
            auto c = inv::consume(txn, db, token, now);
            if (!c) return c.status();
            *consumed = std::move(c.value());
            return Status::ok();
        },
        [consumed, finish](Status st) {
            if (!st) (*finish)(std::move(st));
            else (*finish)(to_use(*consumed));
        });
    // Refused before any work ("busy", "stopped"): the completion will not run.
    if (!s) (*finish)(std::move(s));
}

void HostInvitations::give_back(const module::InvitationUse& used, std::function<void(Status)> done) {
    inv::Invite before;
    if (used.kind != module::InvitationUse::Kind::ok || !inv::detail::decode(used.id, used.receipt, before)) {
        done(Status::error("invalid", "not a use of an invitation"));
        return;
    }
    auto finish = std::make_shared<std::function<void(Status)>>(std::move(done));
    Status s = db_->write([before](store::Txn& txn, MDB_dbi db) { return inv::refund(txn, db, before); },
                          [finish](Status st) { (*finish)(std::move(st)); });
    if (!s) (*finish)(std::move(s));
}

}  // namespace parley::loop
