// ModuleDatabase: the module::Database a module opens through its host
// (WorkerHost::open_database): one named, versioned LMDB database, in the
// shared live state or an environment of the module's own, read on the
// worker and written through the environment's writer thread (group
// commit), with completions posted back to the worker. A completion runs
// only while the handle lives (the module is running): an `alive` token
// the completion checks. Each completion also keeps the module's library
// loaded until it has been destroyed. Loop-affine: the opening worker.
#pragma once

#include <memory>
#include <string>

#include "module/module_api.hpp"
#include "store/env.hpp"

namespace parley::loop {

class Worker;

class ModuleDatabase final : public module::Database {
public:
    // Opens `spec` for module `module` on worker `worker`.
    static Result<std::shared_ptr<module::Database>> open(Worker& worker, const std::string& module,
                                                          const module::DatabaseSpec& spec,
                                                          std::shared_ptr<const void> library);
    Status read(const std::function<Status(const store::Txn& txn, MDB_dbi db)>& fn) const override;
    Status write(std::function<Status(store::Txn& txn, MDB_dbi db)> fn, std::function<void(Status)> done) override;

private:
    ModuleDatabase(Worker& worker, std::unique_ptr<store::Env> env, MDB_dbi db, std::shared_ptr<const void> library)
        : worker_(worker), env_(std::move(env)), db_(db), library_(std::move(library)) {}
    Worker& worker_;
    std::unique_ptr<store::Env> env_;
    MDB_dbi db_;
    std::shared_ptr<const void> library_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parley::loop
