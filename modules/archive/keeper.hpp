// The archive's keeper, on worker 0 only: retention, legal holds, the
// background purge and the audit log, driven by the config, a timer and the
// admin commands that parleyctl sends through the control socket.
//
// Commands (each change and each purge is appended to the audit log in the
// same transaction as the change itself):
//   retention list
//   retention set SCOPE TARGET TYPE DAYS WHO     (TARGET, TYPE "-" for none; DAYS 0 = forever)
//   retention del SCOPE TARGET TYPE WHO
//   retention explain JID
//   hold add CASE SCOPE TARGET WHO REASON...
//   hold list
//   hold release CASE WHO
//   archive purge WHO                            (a purge pass now; answers when it is done)
//   archive audit WHO ACTION SCOPE RESULT...     (parleyctl records its own searches, exports, verifications)
// Replies are JSON objects with a "text" field for people.
//
// The purge runs every purge_interval seconds in batches of purge_batch
// records, each batch one write through the journal's writer (group commit
// with the traffic's appends, never holding the writer long), the next
// batch queued only when the previous one committed.
//
// Loop-affine: worker 0's loop.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/journal/journal.hpp"
#include "archive/retention/policy.hpp"
#include "archive/retention/purge.hpp"
#include "config/config.hpp"
#include "module/module_api.hpp"

namespace parley::mod_archive {

struct KeeperSettings {
    std::vector<archive::Rule> rules;  // configured: the default first
    uint64_t purge_interval_s = 3600;
    size_t purge_batch = 1000;
};
Result<KeeperSettings> read_keeper_settings(const config::Section& section);

class Keeper {
public:
    Keeper(module::Host& host, std::shared_ptr<module::Database> journal_db, const archive::Journal& journal,
           KeeperSettings settings);
    ~Keeper();
    Status start();

    // Starts a purge pass unless one runs; done(summary) when it ended.
    // Returns the number of the pass (the one started, or the one running).
    uint64_t purge(std::string who, std::function<void(Result<std::string>)> done);

    // A deleted account (Host::on_account_deleted, worker 0): outside
    // compliance mode its archive goes (archive::forget_owner_batch, in
    // batches of purge_batch through the writer); in compliance mode the
    // journal keeps it. Either way the audit log says so (action
    // "account.forget"). done(ok) once that is on disk.
    void forget(const std::string& owner, bool compliance, std::function<void(Status)> done);

private:
    void retention(const std::vector<std::string>& args, module::ControlReply reply);
    void hold(const std::vector<std::string>& args, module::ControlReply reply);
    void archive_cmd(const std::vector<std::string>& args, module::ControlReply reply);
    void next_batch();
    void forget_batch(std::string owner, uint64_t from, std::shared_ptr<archive::PurgeResult> total,
                      std::function<void(Status)> done);

    module::Host& host_;
    std::shared_ptr<module::Database> db_;
    const archive::Journal& journal_;
    KeeperSettings settings_;
    module::TimerId timer_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    struct Pass;
    std::unique_ptr<Pass> pass_;  // the purge pass running, if any
    // What the last whole pass proved: under the rules and holds of
    // `basis`, nothing before record `from` can be due before `until_ms`.
    // The next pass starts at `from` when both still hold (in memory only:
    // the first pass after a start walks everything).
    struct Resume {
        std::string basis;
        uint64_t from = 0;
        uint64_t until_ms = 0;
    };
    std::optional<Resume> resume_;
    uint64_t pass_seq_ = 0;
    // How the latest passes ended (by pass number), for `archive purge-status`.
    static constexpr size_t kPassesKept = 16;
    std::vector<std::pair<uint64_t, Result<std::string>>> ended_;
};

}  // namespace parley::mod_archive
