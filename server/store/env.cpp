#include "store/env.hpp"

#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "log/log.hpp"
#include "store/writer.hpp"

namespace parley::store {

// One per directory and process; counted by the Env handles open on it.
struct EnvCore {
    MDB_env* env = nullptr;
    std::string dir;
    pid_t pid = 0;  // the process that opened it
    size_t opens = 0;
    // Held shared by every transaction, exclusively to change the map size
    // (LMDB requires that no transaction of the process is active then).
    mutable std::shared_mutex resize;
    // Serialises mdb_dbi_open, which LMDB forbids in concurrent transactions.
    std::mutex dbi_mutex;
    std::map<std::string, std::pair<MDB_dbi, uint32_t>> dbis;  // name -> handle, version opened at
    MDB_dbi meta = 0;
    // The writer thread (Env::writer()) and the uncounted Env it writes
    // through; both ended by the last counted Env's destructor.
    std::mutex writer_mutex;
    std::unique_ptr<Env> writer_env;
    std::unique_ptr<Writer> writer;
};

namespace {

constexpr uint32_t kMetaVersion = 1;
constexpr const char* kMetaName = "meta";
constexpr unsigned kMaxDbs = 64;
constexpr unsigned kMaxReaders = 512;

std::mutex g_registry_mutex;
std::map<std::pair<dev_t, ino_t>, std::shared_ptr<EnvCore>> g_registry;

MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view view(const MDB_val& v) {
    return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

std::string encode_u32(uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
    return s;
}

Status make_dirs(const std::string& dir) {
    std::string partial;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = dir.find('/', pos + 1);
        partial = dir.substr(0, pos);
        if (partial.empty()) continue;
        if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
            return Status::error("store",
                                 fmt::format("mkdir {}: {}", partial, std::strerror(errno)));
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return Status::error("store", fmt::format("stat {}: {}", dir, std::strerror(errno)));
    if (!S_ISDIR(st.st_mode))
        return Status::error("store", fmt::format("{} is not a directory", dir));
    return Status::ok();
}

Result<uint32_t> read_version(const Txn& txn, MDB_dbi meta, const std::string& name) {
    auto v = txn.get(meta, name);
    if (!v) return v.status();
    if (!v.value()) return uint32_t{0};
    std::string_view b = *v.value();
    if (b.size() != 4)
        return Status::error(
            "corrupt", fmt::format("schema version of '{}' has {} bytes, not 4", name, b.size()));
    uint32_t n = 0;
    for (unsigned char c : b) n = (n << 8) | c;
    return n;
}

Result<std::shared_ptr<EnvCore>> open_core(const std::string& dir, size_t map_size) {
    auto core = std::make_shared<EnvCore>();
    core->dir = dir;
    core->pid = ::getpid();
    int rc = mdb_env_create(&core->env);
    if (rc) return mdb_status(rc, "mdb_env_create");
    auto fail = [&](int code, std::string_view op) -> Status {
        mdb_env_close(core->env);
        core->env = nullptr;
        return mdb_status(code, fmt::format("{} {}", op, dir));
    };
    if ((rc = mdb_env_set_maxdbs(core->env, kMaxDbs))) return fail(rc, "mdb_env_set_maxdbs");
    if ((rc = mdb_env_set_maxreaders(core->env, kMaxReaders)))
        return fail(rc, "mdb_env_set_maxreaders");
    if ((rc = mdb_env_set_mapsize(core->env, map_size))) return fail(rc, "mdb_env_set_mapsize");
    // MDB_NOTLS: reader slots belong to transactions, not threads.
    if ((rc = mdb_env_open(core->env, dir.c_str(), MDB_NOTLS, 0600)))
        return fail(rc, "mdb_env_open");
    // Reader slots left behind by a process that died (a killed parleyctl).
    int dead = 0;
    mdb_reader_check(core->env, &dead);
    if (dead > 0) log::info("store", "{}: cleared {} stale reader slot(s)", dir, dead);

    MDB_txn* txn = nullptr;
    if ((rc = mdb_txn_begin(core->env, nullptr, 0, &txn))) return fail(rc, "mdb_txn_begin");
    rc = mdb_dbi_open(txn, kMetaName, MDB_CREATE, &core->meta);
    if (rc) {
        mdb_txn_abort(txn);
        return fail(rc, "mdb_dbi_open meta");
    }
    // The meta database's own layout has a version too, kept in itself.
    MDB_val k = val(kMetaName), v{};
    rc = mdb_get(txn, core->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        std::string enc = encode_u32(kMetaVersion);
        MDB_val nv = val(enc);
        rc = mdb_put(txn, core->meta, &k, &nv, 0);
    } else if (rc == 0) {
        uint32_t found = 0;
        for (unsigned char c : view(v)) found = (found << 8) | c;
        if (v.mv_size != 4 || found > kMetaVersion) {
            mdb_txn_abort(txn);
            mdb_env_close(core->env);
            core->env = nullptr;
            return Status::error(
                "schema", fmt::format("{}: the meta database has schema version {}, but this build "
                                      "knows version {}: use a newer Parley",
                                      dir, found, kMetaVersion));
        }
    }
    if (rc) {
        mdb_txn_abort(txn);
        return fail(rc, "meta version");
    }
    if ((rc = mdb_txn_commit(txn))) return fail(rc, "mdb_txn_commit");
    return core;
}

}  // namespace

Status mdb_status(int rc, std::string_view operation) {
    if (rc == 0) return Status::ok();
    std::string msg = fmt::format("{}: {}", operation, mdb_strerror(rc));
    switch (rc) {
        case MDB_NOTFOUND:
            return Status::error("not-found", msg);
        case MDB_KEYEXIST:
            return Status::error("exists", msg);
        case MDB_MAP_FULL:
            return Status::error("map-full", msg);
        case MDB_MAP_RESIZED:
            return Status::error("map-resized", msg);
        default:
            return Status::error("store", msg);
    }
}

// --- Txn ---

Txn::Txn(std::shared_ptr<EnvCore> core, MDB_txn* txn, bool read_only,
         std::shared_lock<std::shared_mutex> lock)
    : core_(std::move(core)), txn_(txn), read_only_(read_only), resize_lock_(std::move(lock)) {}

Txn::Txn(Txn&& o) noexcept
    : core_(std::move(o.core_)),
      txn_(std::exchange(o.txn_, nullptr)),
      read_only_(o.read_only_),
      sticky_(std::move(o.sticky_)),
      resize_lock_(std::move(o.resize_lock_)) {}

Txn::~Txn() {
    if (txn_) mdb_txn_abort(txn_);
}

void Txn::remember(const Status& s) {
    if (sticky_.is_ok() && !s.is_ok()) sticky_ = s;
}

Result<std::optional<std::string_view>> Txn::get(MDB_dbi db, std::string_view key) const {
    if (!txn_) return Status::error("store", "get: the transaction has ended");
    MDB_val k = val(key), v{};
    int rc = mdb_get(txn_, db, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
    if (rc) return mdb_status(rc, "mdb_get");
    return std::optional<std::string_view>(view(v));
}

Status Txn::put(MDB_dbi db, std::string_view key, std::string_view value, unsigned flags) {
    if (!txn_) return Status::error("store", "put: the transaction has ended");
    MDB_val k = val(key), v = val(value);
    int rc = mdb_put(txn_, db, &k, &v, flags);
    // An existing key under MDB_NOOVERWRITE is an answer, not a failure.
    if (rc == MDB_KEYEXIST) return mdb_status(rc, "mdb_put");
    Status s = mdb_status(rc, "mdb_put");
    remember(s);
    return s;
}

Result<bool> Txn::del(MDB_dbi db, std::string_view key) {
    if (!txn_) return Status::error("store", "del: the transaction has ended");
    MDB_val k = val(key);
    int rc = mdb_del(txn_, db, &k, nullptr);
    if (rc == MDB_NOTFOUND) return false;
    if (rc) {
        Status s = mdb_status(rc, "mdb_del");
        remember(s);
        return s;
    }
    return true;
}

Status Txn::scan(MDB_dbi db, std::string_view prefix,
                 const std::function<bool(std::string_view, std::string_view)>& fn) const {
    return scan(db, prefix, prefix, fn);
}

Status Txn::scan(MDB_dbi db, std::string_view prefix, std::string_view from,
                 const std::function<bool(std::string_view, std::string_view)>& fn) const {
    if (!txn_) return Status::error("store", "scan: the transaction has ended");
    if (from.substr(0, prefix.size()) != prefix) from = prefix;
    MDB_cursor* raw = nullptr;
    int rc = mdb_cursor_open(txn_, db, &raw);
    if (rc) return mdb_status(rc, "mdb_cursor_open");
    std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> cursor(raw, mdb_cursor_close);
    MDB_val k = val(from), v{};
    rc = mdb_cursor_get(raw, &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == 0) {
        std::string_view key = view(k);
        if (key.substr(0, prefix.size()) != prefix) break;
        if (!fn(key, view(v))) return Status::ok();
        rc = mdb_cursor_get(raw, &k, &v, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND) return mdb_status(rc, "mdb_cursor_get");
    return Status::ok();
}

Result<Txn> Txn::begin_nested() {
    if (!txn_) return Status::error("store", "begin_nested: the transaction has ended");
    if (read_only_) return Status::error("store", "begin_nested: a read transaction");
    MDB_txn* child = nullptr;
    int rc = mdb_txn_begin(mdb_txn_env(txn_), txn_, 0, &child);
    if (rc) return mdb_status(rc, "mdb_txn_begin (nested)");
    // No resize lock of its own: the parent holds one for both, and a
    // second shared lock on one thread is not allowed.
    return Txn(core_, child, false, std::shared_lock<std::shared_mutex>());
}

Status Txn::commit() {
    if (!txn_) return Status::error("store", "commit: the transaction has ended");
    if (!sticky_.is_ok()) {
        mdb_txn_abort(std::exchange(txn_, nullptr));
        resize_lock_ = {};
        return sticky_;
    }
    int rc = mdb_txn_commit(std::exchange(txn_, nullptr));  // frees the txn even on failure
    resize_lock_ = {};
    return mdb_status(rc, "mdb_txn_commit");
}

// --- Env ---

Result<std::unique_ptr<Env>> Env::open(const std::string& dir, size_t map_size) {
    if (dir.empty()) return Status::error("store", "the store directory is empty");
    Status s = make_dirs(dir);
    if (!s) return s;
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return Status::error("store", fmt::format("stat {}: {}", dir, std::strerror(errno)));
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto& slot = g_registry[{st.st_dev, st.st_ino}];
    // After fork() the child must not use the parent's MDB_env (LMDB forbids
    // it): it opens its own and leaves the inherited one untouched.
    if (slot && slot->pid != ::getpid()) slot.reset();
    if (!slot) {
        auto core = open_core(dir, map_size);
        if (!core) {
            g_registry.erase({st.st_dev, st.st_ino});
            return core.status();
        }
        slot = std::move(core.value());
    }
    ++slot->opens;
    auto env = std::unique_ptr<Env>(new Env());
    env->dir_ = dir;
    env->core_ = slot;
    return env;
}

Env::~Env() {
    if (!counted_) return;
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    if (--core_->opens > 0) return;
    // Still under the registry lock, so that nobody opens the directory
    // again while its MDB_env is open here: the writer commits what it was
    // given and ends before the environment closes.
    std::unique_ptr<Writer> writer;
    std::unique_ptr<Env> writer_env;
    {
        std::lock_guard<std::mutex> w(core_->writer_mutex);
        writer = std::move(core_->writer);
        writer_env = std::move(core_->writer_env);
    }
    writer.reset();
    writer_env.reset();
    for (auto it = g_registry.begin(); it != g_registry.end(); ++it) {
        if (it->second == core_) {
            g_registry.erase(it);
            break;
        }
    }
    // Every transaction must have ended: the exclusive lock waits for them.
    std::unique_lock<std::shared_mutex> no_txn(core_->resize);
    mdb_env_close(core_->env);
    core_->env = nullptr;
}

void Env::start_writer_locked(const WriterOptions& options) {
    auto own = std::unique_ptr<Env>(new Env());
    own->dir_ = dir_;
    own->core_ = core_;
    own->counted_ = false;
    core_->writer.reset(new Writer(*own, options));
    core_->writer_env = std::move(own);
}

Writer& Env::writer() {
    std::lock_guard<std::mutex> lock(core_->writer_mutex);
    if (!core_->writer) start_writer_locked(WriterOptions{});
    return *core_->writer;
}

Status Env::start_writer(const WriterOptions& options) {
    std::lock_guard<std::mutex> lock(core_->writer_mutex);
    if (core_->writer)
        return Status::error("exists", fmt::format("{}: the writer runs already", dir_));
    start_writer_locked(options);
    return Status::ok();
}

size_t Env::max_key_size() const { return static_cast<size_t>(mdb_env_get_maxkeysize(core_->env)); }

Result<Txn> Env::begin(bool read_only) const {
    for (int attempt = 0;; ++attempt) {
        std::shared_lock<std::shared_mutex> lock(core_->resize);
        MDB_txn* txn = nullptr;
        int rc = mdb_txn_begin(core_->env, nullptr, read_only ? MDB_RDONLY : 0, &txn);
        if (rc == MDB_MAP_RESIZED && attempt < 3) {
            // Another process grew the map: adopt its size, then begin again.
            lock.unlock();
            log::debug("store", "{}: adopting the map size another process set", dir_);
            std::unique_lock<std::shared_mutex> resize(core_->resize);
            rc = mdb_env_set_mapsize(core_->env, 0);
            if (rc) return mdb_status(rc, "mdb_env_set_mapsize " + dir_);
            continue;
        }
        if (rc) return mdb_status(rc, fmt::format("mdb_txn_begin {}", dir_));
        return Txn(core_, txn, read_only, std::move(lock));
    }
}

Result<Txn> Env::begin_read() const { return begin(true); }
Result<Txn> Env::begin_write() { return begin(false); }

Status Env::grow_map() {
    std::unique_lock<std::shared_mutex> resize(core_->resize);
    MDB_envinfo info{};
    int rc = mdb_env_info(core_->env, &info);
    if (rc) return mdb_status(rc, "mdb_env_info " + dir_);
    const size_t next = info.me_mapsize * 2;
    rc = mdb_env_set_mapsize(core_->env, next);
    if (rc) return mdb_status(rc, "mdb_env_set_mapsize " + dir_);
    log::info("store", "{}: map grown to {} MiB", dir_, next >> 20);
    return Status::ok();
}

Status Env::write(const std::function<Status(Txn&)>& fn) {
    for (int attempt = 0;; ++attempt) {
        Status s;
        {
            auto txn = begin_write();
            if (!txn) return txn.status();
            s = fn(txn.value());
            if (s) s = txn->commit();
        }
        if (s.code() != "map-full" || attempt >= 4) return s;
        Status g = grow_map();
        if (!g) return g;
    }
}

Result<uint32_t> Env::schema_version(const std::string& name) const {
    auto txn = begin_read();
    if (!txn) return txn.status();
    return read_version(txn.value(), core_->meta, name);
}

Status Env::set_schema_version(Txn& txn, const std::string& name, uint32_t version) {
    return txn.put(core_->meta, name, encode_u32(version));
}

Result<MDB_dbi> Env::database(const std::string& name, uint32_t version, const Migration& migrate) {
    if (name.empty() || name == kMetaName)
        return Status::error("store", fmt::format("'{}' is not a database name", name));
    std::lock_guard<std::mutex> lock(core_->dbi_mutex);
    auto cached = core_->dbis.find(name);
    if (cached != core_->dbis.end()) {
        // One process runs one schema of a database.
        if (cached->second.second != version)
            return Status::error("schema", fmt::format("{}: database '{}' is open at schema version {} in this "
                                                       "process, not {}",
                                                       dir_, name, cached->second.second, version));
        return cached->second.first;
    }
    auto txn = begin_write();
    if (!txn) return txn.status();
    MDB_dbi dbi = 0;
    int rc = mdb_dbi_open(txn->handle(), name.c_str(), MDB_CREATE, &dbi);
    if (rc) return mdb_status(rc, fmt::format("mdb_dbi_open {} in {}", name, dir_));
    auto found = read_version(txn.value(), core_->meta, name);
    if (!found) return found.status();
    const uint32_t have = found.value();
    if (have > version)
        return Status::error(
            "schema", fmt::format("{}: database '{}' has schema version {}, but this build knows "
                                  "version {}: it was written by a newer Parley; run that version "
                                  "or restore a backup",
                                  dir_, name, have, version));
    if (have != 0 && have < version) {
        if (!migrate)
            return Status::error(
                "schema",
                fmt::format("{}: database '{}' has schema version {} and this build has no "
                            "migration to version {}",
                            dir_, name, have, version));
        Status m = migrate(txn.value(), dbi, have);
        if (!m)
            return Status::error(
                m.code(), fmt::format("{}: migrating '{}' from version {} to {}: {}", dir_, name,
                                      have, version, m.message()));
        log::info("store", "{}: migrated database '{}' from schema version {} to {}", dir_, name,
                  have, version);
    }
    if (have != version) {
        Status s = set_schema_version(txn.value(), name, version);
        if (!s) return s;
    }
    Status c = txn->commit();
    if (!c) return c;
    core_->dbis.emplace(name, std::make_pair(dbi, version));
    return dbi;
}

}  // namespace parley::store
