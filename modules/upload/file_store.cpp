#include "file_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <vector>

namespace parley::mod_upload {

namespace {

Status io_error(const std::string& what, const std::string& path) {
    return Status::error("io", what + " " + path + ": " + std::strerror(errno));
}

Status make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return Status::ok();
    return io_error("cannot create", path);
}

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(std::move(n));
    }
    ::closedir(d);
    return out;
}

Result<std::string> read_small_file(const std::string& path, size_t max) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open", path);
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            Status s = io_error("cannot read", path);
            ::close(fd);
            return s;
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max) break;
    }
    ::close(fd);
    return out;
}

bool write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

Status sync_dir(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open", path);
    Status s = ::fsync(fd) == 0 ? Status::ok() : io_error("cannot sync", path);
    ::close(fd);
    return s;
}

bool unlink_gone(const std::string& path) { return ::unlink(path.c_str()) == 0 || errno == ENOENT; }

// `revoked`: one line per deleted owner, "MILLISECONDS OWNER" (a bare JID
// holds no space nor newline).
std::map<std::string, int64_t> parse_revoked(const std::string& text, int64_t now_ms) {
    std::map<std::string, int64_t> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) break;  // a cut line: not written by us (the file is renamed into place)
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        const size_t sp = line.find(' ');
        int64_t t = 0;
        if (sp == std::string::npos || sp + 1 >= line.size()) continue;
        auto [p, ec] = std::from_chars(line.data(), line.data() + sp, t);
        if (ec != std::errc() || p != line.data() + sp) continue;
        if (t + FileStore::kRevokeForS * 1000 < now_ms) continue;
        int64_t& latest = out[line.substr(sp + 1)];
        latest = std::max(latest, t);
    }
    return out;
}

std::optional<StoredFile> parse_meta(const std::string& text) {
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n') {
            f.push_back(text.substr(start, i - start));
            start = i + 1;
        }
    if (f.size() != 5) return std::nullopt;
    StoredFile s{f[0], f[1], f[2], 0, 0};
    auto num = [](const std::string& t, auto& out) {
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
        return !t.empty() && ec == std::errc() && p == t.data() + t.size();
    };
    if (!num(f[3], s.size) || !num(f[4], s.created)) return std::nullopt;
    return s;
}

}  // namespace

Result<std::shared_ptr<FileStore>> FileStore::open(const std::string& dir) {
    return open(dir, static_cast<int64_t>(std::time(nullptr)));
}

Result<std::shared_ptr<FileStore>> FileStore::open(const std::string& dir, int64_t now) {
    for (const std::string& d : {dir, dir + "/tmp", dir + "/meta", dir + "/files"})
        if (Status s = make_dir(d); !s) return s;
    auto store = std::shared_ptr<FileStore>(new FileStore());
    store->dir_ = dir;

    // The secret: made once, readable by parleyd's user only.
    const std::string secret_path = dir + "/secret";
    int fd = ::open(secret_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        std::string secret = new_secret();
        bool ok = !secret.empty() && write_all(fd, secret.data(), secret.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) {
            ::unlink(secret_path.c_str());
            return io_error("cannot write", secret_path);
        }
        (void)sync_dir(dir);
    } else if (errno != EEXIST) {
        return io_error("cannot create", secret_path);
    }
    auto secret = read_small_file(secret_path, 1024);
    if (!secret) return secret.status();
    if (secret->size() < 32) return Status::error("io", secret_path + " is too short to be a secret");
    store->secret_ = std::move(secret.value());

    // The accounts deleted lately: their slots stay refused across a restart.
    if (::access((dir + "/revoked").c_str(), F_OK) == 0) {
        auto revoked = read_small_file(dir + "/revoked", size_t{64} << 20);
        if (!revoked) return revoked.status();
        store->revoked_ = parse_revoked(*revoked, now * 1000);
    }

    // Interrupted uploads leave temp files, or a meta record whose data was
    // never linked in.
    for (const auto& n : list_dir(dir + "/tmp")) ::unlink((dir + "/tmp/" + n).c_str());
    for (const auto& slot : list_dir(dir + "/meta")) {
        auto text = read_small_file(dir + "/meta/" + slot, 4096);
        std::optional<StoredFile> f;
        if (text) f = parse_meta(*text);
        struct stat st{};
        if (!valid_slot_id(slot) || !f || ::stat(store->data_path(slot).c_str(), &st) != 0) {
            ::unlink((dir + "/meta/" + slot).c_str());
            ::unlink(store->data_path(slot).c_str());
            continue;
        }
        store->index_locked(slot, std::move(*f));
    }
    for (const auto& slot : list_dir(dir + "/files"))
        if (!store->files_.count(slot)) ::unlink(store->data_path(slot).c_str());
    return store;
}

// With mutex_ held, or in open() before the store is shared.
void FileStore::index_locked(const std::string& slot, StoredFile f) {
    Owned& o = owners_[f.owner];
    o.bytes += f.size;
    o.slots.insert(slot);
    files_.insert_or_assign(slot, std::move(f));
}

void FileStore::unindex_locked(const std::string& slot, const StoredFile& f) {
    auto it = owners_.find(f.owner);
    if (it == owners_.end()) return;
    it->second.bytes -= std::min(it->second.bytes, f.size);
    it->second.slots.erase(slot);
    if (it->second.slots.empty()) owners_.erase(it);
}

bool FileStore::revoked_locked(const std::string& owner, int64_t issued_ms) const {
    auto it = revoked_.find(owner);
    return it != revoked_.end() && issued_ms <= it->second;
}

bool FileStore::revoked(const std::string& owner, int64_t issued_ms) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return revoked_locked(owner, issued_ms);
}

uint64_t FileStore::used_locked(const std::string& owner, int64_t now, const std::string& except_slot) const {
    uint64_t total = 0;
    if (auto it = owners_.find(owner); it != owners_.end()) total = it->second.bytes;
    for (const auto& [slot, r] : reserved_)
        if (r.owner == owner && r.expires >= now && slot != except_slot) total += r.size;
    return total;
}

uint64_t FileStore::used(const std::string& owner, int64_t now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return used_locked(owner, now, {});
}

Status FileStore::reserve(const std::string& owner, const std::string& slot_id, uint64_t size, int64_t expires,
                          uint64_t quota, int64_t now) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = reserved_.begin(); it != reserved_.end();)
        it = it->second.expires < now ? reserved_.erase(it) : std::next(it);
    if (quota != 0 && used_locked(owner, now, {}) + size > quota)
        return Status::error("quota", "the quota of " + std::to_string(quota) + " bytes is reached");
    reserved_[slot_id] = Reservation{owner, size, expires};
    return Status::ok();
}

Result<int> FileStore::begin(const SlotGrant& g, uint64_t quota, int64_t now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (files_.count(g.slot_id)) return Status::error("exists", "the slot has a file already");
    if (revoked_locked(g.owner, g.issued_ms)) return Status::error("revoked", "the slot's account was deleted");
    // A slot granted before a restart has no reservation: it must still fit.
    if (!reserved_.count(g.slot_id) && quota != 0 && used_locked(g.owner, now, g.slot_id) + g.size > quota)
        return Status::error("quota", "the owner's quota is reached");
    const std::string path = dir_ + "/tmp/" + g.slot_id + ".part";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) return Status::error("exists", "an upload of the slot is running");
    if (fd < 0) return io_error("cannot create", path);
    return fd;
}

void FileStore::abort(const std::string& slot_id, int fd) {
    if (fd >= 0) ::close(fd);
    ::unlink((dir_ + "/tmp/" + slot_id + ".part").c_str());
}

Status FileStore::commit(const SlotGrant& g, const std::string& content_type, int fd, int64_t now) {
    const std::string part = dir_ + "/tmp/" + g.slot_id + ".part";
    const std::string meta_tmp = dir_ + "/tmp/" + g.slot_id + ".meta";
    const std::string meta = dir_ + "/meta/" + g.slot_id;
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced) {
        Status s = io_error("cannot sync", part);
        ::unlink(part.c_str());
        return s;
    }
    StoredFile f{g.owner, g.filename, content_type, g.size, now};
    const std::string text = f.owner + "\n" + f.filename + "\n" + f.content_type + "\n" + std::to_string(f.size) +
                             "\n" + std::to_string(f.created) + "\n";
    int mfd = ::open(meta_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = mfd >= 0 && write_all(mfd, text.data(), text.size()) && ::fsync(mfd) == 0;
    if (mfd >= 0) ::close(mfd);
    Status refused = Status::ok();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (files_.count(g.slot_id)) refused = Status::error("exists", "the slot has a file already");
        else if (revoked_locked(g.owner, g.issued_ms))
            refused = Status::error("revoked", "the slot's account was deleted");
    }
    if (!refused || !ok || ::rename(meta_tmp.c_str(), meta.c_str()) != 0) {
        Status s = !refused ? refused : io_error("cannot write", meta);
        ::unlink(meta_tmp.c_str());
        ::unlink(part.c_str());
        return s;
    }
    // link() refuses to replace a file: a slot holds one file, ever.
    if (::link(part.c_str(), data_path(g.slot_id).c_str()) != 0) {
        Status s = errno == EEXIST ? Status::error("exists", "the slot has a file already")
                                   : io_error("cannot link", data_path(g.slot_id));
        ::unlink(part.c_str());
        if (s.code() != "exists") ::unlink(meta.c_str());
        return s;
    }
    ::unlink(part.c_str());
    (void)sync_dir(dir_ + "/meta");
    (void)sync_dir(dir_ + "/files");
    {
        std::lock_guard<std::mutex> lock(mutex_);
        reserved_.erase(g.slot_id);
        // Checked again under the lock that forget_owner takes: an account
        // deleted (on another thread) since the check above gets no file.
        if (!revoked_locked(g.owner, g.issued_ms)) {
            index_locked(g.slot_id, std::move(f));
            return Status::ok();
        }
    }
    ::unlink(meta.c_str());
    ::unlink(data_path(g.slot_id).c_str());
    (void)sync_dir(dir_ + "/meta");
    (void)sync_dir(dir_ + "/files");
    return Status::error("revoked", "the slot's account was deleted");
}

std::optional<StoredFile> FileStore::find(const std::string& slot_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = files_.find(slot_id);
    if (it == files_.end()) return std::nullopt;
    return it->second;
}

size_t FileStore::purge(int64_t now, int64_t max_age_s) {
    std::vector<std::string> doomed;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = reserved_.begin(); it != reserved_.end();)
            it = it->second.expires < now ? reserved_.erase(it) : std::next(it);
        if (max_age_s <= 0) return 0;
        for (auto it = files_.begin(); it != files_.end();) {
            if (it->second.created + max_age_s <= now) {
                unindex_locked(it->first, it->second);
                doomed.push_back(it->first);
                it = files_.erase(it);
            } else {
                ++it;
            }
        }
    }
    // The meta record goes first: without it the data is unreachable, and
    // open() removes data without a record.
    for (const auto& slot : doomed) {
        ::unlink((dir_ + "/meta/" + slot).c_str());
        ::unlink(data_path(slot).c_str());
    }
    return doomed.size();
}

size_t FileStore::file_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return files_.size();
}

std::vector<std::string> FileStore::forget_owner(const std::string& owner, int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    int64_t& when = revoked_[owner];
    when = std::max(when, now_ms);
    for (auto it = reserved_.begin(); it != reserved_.end();)
        it = it->second.owner == owner ? reserved_.erase(it) : std::next(it);
    std::vector<std::string> doomed;
    if (auto u = unremoved_.find(owner); u != unremoved_.end()) {
        doomed = std::move(u->second);
        unremoved_.erase(u);
    }
    if (auto o = owners_.find(owner); o != owners_.end()) {
        for (const auto& slot : o->second.slots) {
            files_.erase(slot);
            doomed.push_back(slot);
        }
        owners_.erase(o);
    }
    return doomed;
}

Status FileStore::save_revoked(int64_t now_ms) {
    std::lock_guard<std::mutex> saving(save_mutex_);
    std::string text;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = revoked_.begin(); it != revoked_.end();) {
            if (it->second + kRevokeForS * 1000 < now_ms) {
                it = revoked_.erase(it);
                continue;
            }
            text += std::to_string(it->second) + " " + it->first + "\n";
            ++it;
        }
    }
    const std::string path = dir_ + "/revoked", tmp = dir_ + "/tmp/revoked";
    if (text.empty()) {
        if (!unlink_gone(path)) return io_error("cannot remove", path);
        return sync_dir(dir_);
    }
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot create", tmp);
    const bool ok = write_all(fd, text.data(), text.size()) && ::fsync(fd) == 0;
    Status s = ok ? Status::ok() : io_error("cannot write", tmp);
    ::close(fd);
    if (s && ::rename(tmp.c_str(), path.c_str()) != 0) s = io_error("cannot rename", tmp);
    if (!s) {
        ::unlink(tmp.c_str());
        return s;
    }
    return sync_dir(dir_);
}

Status FileStore::remove_files(const std::string& owner, const std::vector<std::string>& slots, size_t* removed) {
    std::vector<std::string> failed;
    Status first = Status::ok();
    for (const auto& slot : slots) {
        // The meta record first, as purge() does: data without a record is
        // unreachable, and open() removes it.
        const std::string meta = dir_ + "/meta/" + slot;
        Status s = unlink_gone(meta) ? Status::ok() : io_error("cannot remove", meta);
        if (s && !unlink_gone(data_path(slot))) s = io_error("cannot remove", data_path(slot));
        if (!s) {
            if (first) first = s;
            failed.push_back(slot);
        } else if (removed) {
            ++*removed;
        }
    }
    if (!failed.empty()) keep_for_next_purge(owner, std::move(failed));
    return first;
}

void FileStore::keep_for_next_purge(const std::string& owner, std::vector<std::string> slots) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& keep = unremoved_[owner];
    keep.insert(keep.end(), std::make_move_iterator(slots.begin()), std::make_move_iterator(slots.end()));
}

Status FileStore::sync_dirs() {
    Status s = sync_dir(dir_ + "/meta");
    Status f = sync_dir(dir_ + "/files");
    return s ? f : s;
}

Result<size_t> FileStore::remove_owner(const std::string& owner, int64_t now_ms) {
    const std::vector<std::string> slots = forget_owner(owner, now_ms);
    Status saved = save_revoked(now_ms);
    size_t count = 0;
    Status removed = remove_files(owner, slots, &count);
    Status synced = sync_dirs();
    if (!saved) return saved;
    if (!removed) return removed;
    if (!synced) return synced;
    return count;
}

}  // namespace parley::mod_upload
