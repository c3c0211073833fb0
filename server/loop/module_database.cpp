#include "loop/module_database.hpp"

#include <fmt/core.h>

#include "loop/worker.hpp"
#include "store/writer.hpp"

namespace parley::loop {

namespace {

bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

}  // namespace

Result<std::shared_ptr<module::Database>> ModuleDatabase::open(Worker& worker, const std::string& module,
                                                               const module::DatabaseSpec& spec,
                                                               std::shared_ptr<const void> library) {
    if (!valid_name(spec.name))
        return Status::error("invalid", fmt::format("module {}: '{}' is not a database name ([a-z0-9_]+)", module,
                                                    spec.name));
    if (!spec.environment.empty() && (!valid_name(spec.environment) || spec.environment == "state"))
        return Status::error("invalid", fmt::format("module {}: '{}' is not an environment name ([a-z0-9_]+, not "
                                                    "'state')",
                                                    module, spec.environment));
    const std::string& data_dir = worker.config().data_dir;
    if (data_dir.empty()) return Status::error("invalid", "no data_dir");
    const std::string dir = data_dir + "/" + (spec.environment.empty() ? std::string("state") : spec.environment);
    auto env = store::Env::open(dir);
    if (!env) return env.status();
    auto db = env.value()->database(module + "." + spec.name, spec.version, spec.migrate);
    if (!db) return db.status();
    return std::shared_ptr<module::Database>(
        new ModuleDatabase(worker, std::move(env.value()), db.value(), std::move(library)));
}

Status ModuleDatabase::read(const std::function<Status(const store::Txn&, MDB_dbi)>& fn) const {
    auto txn = env_->begin_read();
    if (!txn) return txn.status();
    return fn(txn.value(), db_);
}

Status ModuleDatabase::write(std::function<Status(store::Txn&, MDB_dbi)> fn, std::function<void(Status)> done) {
    // Destroyed in reverse order: done (module code) before the library.
    struct Completion {
        std::shared_ptr<const void> library;
        std::weak_ptr<bool> alive;
        std::function<void(Status)> done;
    };
    auto c = std::make_shared<Completion>(Completion{library_, alive_, std::move(done)});
    const MDB_dbi db = db_;
    return env_->writer().submit([fn = std::move(fn), db](store::Txn& txn) { return fn(txn, db); },
                                 [c](Status s) {
                                     if (c->alive.expired() || !c->done) return;
                                     c->done(std::move(s));
                                 },
                                 worker_.store_executor());
}

}  // namespace parley::loop
