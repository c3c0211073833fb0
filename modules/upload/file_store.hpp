// The uploaded files on disk, their owners' quotas, and the module's secret.
//
// Layout under `dir` (data_dir/upload): `secret` (0600: the HMAC key of the
// slot tokens, made on first open), `tmp/SLOT.part` (an upload in
// progress), `meta/SLOT` (owner, file name, content type, size, time of
// upload), `files/SLOT` (the bytes) and `revoked` (the accounts deleted in
// the last kRevokeForS seconds, with the time of their removal). An upload
// is committed by fsync of the data, writing the meta record (fsync,
// rename), then link()ing the data into files/ (which refuses a second file
// for a slot) and fsyncing the directories: a crash leaves either no file or
// a complete one; open() removes what an interrupted upload left (tmp/, meta
// without data, data without meta).
//
// In memory, rebuilt from meta/ at open (so files stored before the owner
// index existed are indexed like new ones): the files by slot, and per owner
// the ledger (bytes of committed files; slots granted and not yet used nor
// expired count too) and the owner's slots.
//
// A deleted account (forget_owner, then remove_files and sync_dirs; or
// remove_owner for all three) loses its files, its reservations and its
// ledger, and every slot granted to it until then is refused (begin and
// commit answer "revoked"), also after a restart: slot tokens outlive the
// account (up to slot_lifetime_s), and a new account of the same name must
// neither find nor be charged for the old one's files.
//
// Thread-safe: one mutex guards the index and the ledger; the XMPP worker
// reserves and the HTTP thread uploads, serves and purges. File I/O is
// blocking: only the HTTP thread does it after open().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "errors/status.hpp"
#include "slot_token.hpp"

namespace parley::mod_upload {

struct StoredFile {
    std::string owner, filename, content_type;
    uint64_t size = 0;
    int64_t created = 0;  // Unix time of the upload
};

class FileStore {
public:
    // How long a deleted account's slots are refused: the longest
    // slot_lifetime_s the schema allows, so every slot granted before the
    // deletion has expired by then.
    static constexpr int64_t kRevokeForS = 86400;

    // Opens (creating) dir and its subdirectories, tidies what interrupted
    // uploads left and reads the index and the deleted accounts (those
    // deleted before now - kRevokeForS are dropped; `now` in seconds).
    static Result<std::shared_ptr<FileStore>> open(const std::string& dir);
    static Result<std::shared_ptr<FileStore>> open(const std::string& dir, int64_t now);

    const std::string& secret() const { return secret_; }
    const std::string& dir() const { return dir_; }

    // Reserves `size` bytes of owner's quota for a slot until `expires`;
    // code "quota" when the owner's files and live slots plus size would
    // pass `quota` (0: no quota).
    Status reserve(const std::string& owner, const std::string& slot_id, uint64_t size, int64_t expires,
                   uint64_t quota, int64_t now);
    // Bytes counted against owner: files plus live reservations.
    uint64_t used(const std::string& owner, int64_t now) const;

    // Starts the upload of a granted slot: a file descriptor of its temp
    // file, or code "exists" (the slot has a file, or an upload of it runs),
    // "revoked" (its account was deleted after the slot was granted),
    // "quota" (a slot granted before a restart that no longer fits) or "io".
    Result<int> begin(const SlotGrant& grant, uint64_t quota, int64_t now);
    // Removes the temp file of an upload that did not finish (closes fd).
    void abort(const std::string& slot_id, int fd);
    // Makes the upload durable and visible (closes fd); code "exists" when
    // another upload of the slot won, "revoked" when its account was deleted
    // meanwhile (nothing stays), "io" on a write error.
    Status commit(const SlotGrant& grant, const std::string& content_type, int fd, int64_t now);

    std::optional<StoredFile> find(const std::string& slot_id) const;
    std::string data_path(const std::string& slot_id) const { return dir_ + "/files/" + slot_id; }

    // Deletes the files uploaded `max_age_s` or more seconds before now (0:
    // none) and forgets expired reservations; the number of files deleted.
    size_t purge(int64_t now, int64_t max_age_s);
    size_t file_count() const;

    // --- A deleted account ---
    // Times here are Unix milliseconds, as SlotGrant::issued_ms: a new
    // account of the name may be granted a slot within the same second as
    // the old one's removal (parleyctl user del; user add), never within
    // the same millisecond (a login takes longer).
    //
    // In memory and at once: the owner's files are no longer found (GET
    // answers 404), its ledger and reservations go, and its slots granted at
    // or before `now_ms` are refused from now on. The slots whose files are
    // to be unlinked (with those an earlier removal could not unlink).
    std::vector<std::string> forget_owner(const std::string& owner, int64_t now_ms);
    // Writes the deleted accounts to `revoked` (tmp file, fsync, rename,
    // fsync of the directory), dropping those older than kRevokeForS.
    Status save_revoked(int64_t now_ms);
    // Unlinks the meta record and data of each slot (a missing one is not an
    // error) and adds the number unlinked to *removed. A slot that could not
    // be unlinked is kept for the owner's next forget_owner; code "io" then.
    Status remove_files(const std::string& owner, const std::vector<std::string>& slots, size_t* removed = nullptr);
    // Slots forgotten but not unlinked (a purge that could not finish): the
    // owner's next forget_owner returns them.
    void keep_for_next_purge(const std::string& owner, std::vector<std::string> slots);
    // fsyncs meta/ and files/: the unlinks are durable.
    Status sync_dirs();
    // All of the above in one call; the number of files removed.
    Result<size_t> remove_owner(const std::string& owner, int64_t now_ms);
    // Whether a slot granted to owner at `issued_ms` is refused.
    bool revoked(const std::string& owner, int64_t issued_ms) const;

private:
    struct Reservation {
        std::string owner;
        uint64_t size = 0;
        int64_t expires = 0;
    };
    struct Owned {
        uint64_t bytes = 0;            // of committed files
        std::set<std::string> slots;   // of committed files
    };
    uint64_t used_locked(const std::string& owner, int64_t now, const std::string& except_slot) const;
    bool revoked_locked(const std::string& owner, int64_t issued_ms) const;
    void index_locked(const std::string& slot, StoredFile f);
    void unindex_locked(const std::string& slot, const StoredFile& f);

    std::string dir_;
    std::string secret_;
    mutable std::mutex mutex_;
    std::map<std::string, StoredFile> files_;  // by slot id
    std::map<std::string, Owned> owners_;      // by owner
    std::map<std::string, Reservation> reserved_;  // by slot id
    std::map<std::string, int64_t> revoked_;   // deleted owner -> time of the removal (ms)
    std::map<std::string, std::vector<std::string>> unremoved_;  // owner -> slots whose unlink failed
    std::mutex save_mutex_;  // one writer of `revoked` at a time
};

}  // namespace parley::mod_upload
