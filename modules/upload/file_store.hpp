// The uploaded files on disk, their owners' quotas, and the module's secret.
//
// Layout under `dir` (data_dir/upload): `secret` (0600: the HMAC key of the
// slot tokens, made on first open), `tmp/SLOT.part` (an upload in
// progress), `meta/SLOT` (owner, file name, content type, size, time of
// upload) and `files/SLOT` (the bytes). An upload is committed by fsync of
// the data, writing the meta record (fsync, rename), then link()ing the data
// into files/ (which refuses a second file for a slot) and fsyncing the
// directories: a crash leaves either no file or a complete one; open()
// removes what an interrupted upload left (tmp/, meta without data, data
// without meta).
//
// The ledger (bytes per owner: committed files plus slots granted and not
// yet used nor expired) lives in memory, rebuilt from meta/ at open.
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
#include <string>

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
    // Opens (creating) dir and its subdirectories, tidies what interrupted
    // uploads left and reads the index.
    static Result<std::shared_ptr<FileStore>> open(const std::string& dir);

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
    // "quota" (a slot granted before a restart that no longer fits) or "io".
    Result<int> begin(const SlotGrant& grant, uint64_t quota, int64_t now);
    // Removes the temp file of an upload that did not finish (closes fd).
    void abort(const std::string& slot_id, int fd);
    // Makes the upload durable and visible (closes fd); code "exists" when
    // another upload of the slot won, "io" on a write error.
    Status commit(const SlotGrant& grant, const std::string& content_type, int fd, int64_t now);

    std::optional<StoredFile> find(const std::string& slot_id) const;
    std::string data_path(const std::string& slot_id) const { return dir_ + "/files/" + slot_id; }

    // Deletes the files uploaded `max_age_s` or more seconds before now (0:
    // none) and forgets expired reservations; the number of files deleted.
    size_t purge(int64_t now, int64_t max_age_s);
    size_t file_count() const;

private:
    struct Reservation {
        std::string owner;
        uint64_t size = 0;
        int64_t expires = 0;
    };
    uint64_t used_locked(const std::string& owner, int64_t now, const std::string& except_slot) const;

    std::string dir_;
    std::string secret_;
    mutable std::mutex mutex_;
    std::map<std::string, StoredFile> files_;  // by slot id
    std::map<std::string, uint64_t> committed_;  // bytes of files by owner
    std::map<std::string, Reservation> reserved_;  // by slot id
};

}  // namespace parley::mod_upload
