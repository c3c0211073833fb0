// Env: one LMDB environment (a directory holding data.mdb and lock.mdb).
//
// Opened with MDB_NOTLS, so a read transaction may be used on any thread,
// and shared through LMDB's own multi-process locking, so parleyctl may open
// the same directory read-write while parleyd runs (both see each other's
// commits). Within one process every Env opened on the same directory shares
// one MDB_env: LMDB forbids opening an environment twice in one process
// (closing the second copy would drop the first one's POSIX locks). A child
// after fork() opens its own Env and must neither use nor destroy one it
// inherited.
//
// Named databases are opened through database(), which checks the schema
// version recorded for them in the `meta` database: a database written by an
// older layout is migrated, one written by a newer binary is refused. See
// doc/storage.md for every database, key and value.
//
// Errors: LMDB return codes become a Status naming the operation
// (mdb_strerror); MDB_NOTFOUND is an ordinary result (an empty optional or
// false). When another process grew the map, the next transaction adopts the
// new size; when a write fills the map, write() grows it and runs again.
//
// Writes from a worker loop go through the environment's writer thread
// (writer(), store/writer.hpp): it group-commits the requests of every
// thread and posts each completion back, so no loop waits for an fsync.
// write() commits synchronously on the calling thread: for tools
// (parleyctl), startup and tests. Both may be used together; LMDB
// serialises the writers.
//
// Thread affinity: Env is any thread. A Txn belongs to whoever holds it: a
// read Txn may move between threads, a write Txn must stay on the thread that
// began it. A thread must not hold two transactions of the same Env at once
// (the map resize needs every transaction of the process to end first).
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "errors/status.hpp"

namespace parley::store {

struct EnvCore;  // the process-wide shared MDB_env of one directory
class Writer;
struct WriterOptions;

// Converts an LMDB return code: code "not-found", "exists", "map-full",
// "map-resized" or "store"; the message names the operation.
Status mdb_status(int rc, std::string_view operation);

// A transaction; aborts in its destructor unless committed. Movable.
class Txn {
  public:
    Txn(Txn&& other) noexcept;
    Txn& operator=(Txn&&) = delete;
    Txn(const Txn&) = delete;
    ~Txn();

    bool read_only() const { return read_only_; }
    MDB_txn* handle() const { return txn_; }

    // The value of key, or nullopt. The view lives until the transaction
    // ends or the same transaction writes.
    Result<std::optional<std::string_view>> get(MDB_dbi db, std::string_view key) const;
    // flags: 0 or MDB_NOOVERWRITE (then an existing key gives code "exists").
    Status put(MDB_dbi db, std::string_view key, std::string_view value, unsigned flags = 0);
    // false when the key was not there.
    Result<bool> del(MDB_dbi db, std::string_view key);
    // Calls fn for each key starting with prefix, in key order, until fn
    // returns false.
    Status scan(MDB_dbi db, std::string_view prefix,
                const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
    // The same, starting at the first key >= from (from starts with prefix).
    Status scan(MDB_dbi db, std::string_view prefix, std::string_view from,
                const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
    // A transaction nested in this write transaction (LMDB's child
    // transaction): its commit merges its changes into this one, its abort
    // (or destruction uncommitted) undoes only them. This transaction must
    // not be used while the child lives, and outlives it.
    Result<Txn> begin_nested();
    // Commits. A write that failed earlier in this transaction is sticky:
    // commit then aborts and returns that first error.
    Status commit();

  private:
    friend class Env;
    Txn(std::shared_ptr<EnvCore> core, MDB_txn* txn, bool read_only,
        std::shared_lock<std::shared_mutex> lock);
    void remember(const Status& s);

    std::shared_ptr<EnvCore> core_;
    MDB_txn* txn_ = nullptr;
    bool read_only_ = true;
    Status sticky_;
    std::shared_lock<std::shared_mutex> resize_lock_;
};

class Env {
  public:
    // Migrates a database from schema version `from` to the version passed
    // to database(), inside the write transaction that records the new one.
    using Migration = std::function<Status(Txn& txn, MDB_dbi db, uint32_t from)>;

    // Opens (creating it mode 0700 if missing) the environment in dir. map_size
    // is the initial map; a larger size already set by another user wins.
    static Result<std::unique_ptr<Env>> open(const std::string& dir,
                                             size_t map_size = size_t{1} << 30);
    ~Env();
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;

    const std::string& dir() const { return dir_; }

    // Opens or creates the named database and checks its schema version:
    // absent -> created and recorded as `version`; equal -> ok; older ->
    // migrate() (code "schema" if there is none); newer -> code "schema", the
    // message naming both versions. The handle stays valid while any Env of
    // this directory is open in the process.
    Result<MDB_dbi> database(const std::string& name, uint32_t version,
                             const Migration& migrate = {});

    // The schema version recorded for a database, 0 when none.
    Result<uint32_t> schema_version(const std::string& name) const;
    // Records a schema version (used by database(); tests use it to stand in
    // for a newer binary).
    Status set_schema_version(Txn& txn, const std::string& name, uint32_t version);

    Result<Txn> begin_read() const;
    Result<Txn> begin_write();
    // Runs fn in a write transaction and commits it. If the map is full, the
    // transaction is dropped, the map doubled and fn run again (fn must
    // therefore only touch the transaction). fn's error aborts.
    Status write(const std::function<Status(Txn&)>& fn);

    // The environment's writer thread, one per directory and process,
    // started at the first call (with WriterOptions' defaults unless
    // start_writer() came first). It lives until the last Env of the
    // directory is destroyed, which stops it: every accepted request is
    // committed and its completion posted first (a completion run by
    // inline_executor() then must not open or destroy an Env). Once stopped
    // (Writer::stop()) it refuses submits with "stopped" for good.
    Writer& writer();
    // Starts the writer with these options; code "exists" if it runs already.
    Status start_writer(const WriterOptions& options);

    size_t max_key_size() const;

  private:
    friend class Writer;
    Env() = default;
    Result<Txn> begin(bool read_only) const;
    Status grow_map();
    void start_writer_locked(const WriterOptions& options);

    std::string dir_;
    std::shared_ptr<EnvCore> core_;
    // false for the writer's own handle, which does not keep the directory
    // open (the last Env the caller holds stops the writer).
    bool counted_ = true;
};

}  // namespace parley::store
