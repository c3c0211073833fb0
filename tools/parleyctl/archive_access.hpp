// What parleyctl's archive commands share: their argument parser, the
// opened archive of a configuration (data_dir/archive and the key file of
// [modules.archive]) and the audit record of a use of it.
//
// Thread affinity: parleyctl's main thread (one command per process).
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "archive/journal/journal.hpp"
#include "config/config.hpp"
#include "errors/status.hpp"
#include "store/env.hpp"

namespace parley::ctl::archive_access {

// The exit status of the archive commands: done; failed (or found a
// problem); bad usage, or nothing to work on.
constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

// Says s on err ("parleyctl: ...") and returns code.
int fail(std::ostream& err, const Status& s, int code = kFailure);
// Says why (when not empty) and the archive commands' usage; kUsage.
int usage(std::ostream& err, const std::string& why);

// The journal's database in data_dir/archive, as mod_archive opens it
// (Host::open_database({"journal", 1, {}, "archive"})).
constexpr const char* kDatabase = "archive.journal";
constexpr uint32_t kSchemaVersion = 1;

// A command's arguments: positional ones, `--json`, flags (options
// without a value) and options with a value.
struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;
    std::set<std::string> flags;
    bool json = false;
    std::string error;  // empty: parsed

    Args(const std::vector<std::string>& args, size_t from, std::initializer_list<const char*> with_value,
         std::initializer_list<const char*> flag_names = {}) {
        for (size_t i = from; i < args.size(); ++i) {
            const std::string& a = args[i];
            if (a == "--json") {
                json = true;
                continue;
            }
            bool is_flag = false;
            for (const char* f : flag_names) is_flag = is_flag || a == f;
            if (is_flag) {
                flags.insert(a);
                continue;
            }
            if (a.rfind("--", 0) != 0) {
                positional.push_back(a);
                continue;
            }
            bool known = false;
            for (const char* o : with_value) known = known || a == o;
            if (!known) {
                error = "unknown option " + a;
                return;
            }
            if (i + 1 >= args.size()) {
                error = a + " needs a value";
                return;
            }
            if (options.count(a)) {
                error = a + " given twice";
                return;
            }
            options[a] = args[++i];
        }
    }
    bool flag(const std::string& name) const { return flags.count(name) != 0; }
    const std::string* get(const std::string& name) const {
        auto it = options.find(name);
        return it == options.end() ? nullptr : &it->second;
    }
};

// The opened archive of one configuration.
struct Archive {
    config::Config cfg;
    std::string key_file;
    std::string dir;  // data_dir/archive
    std::unique_ptr<store::Env> env;
    MDB_dbi db = 0;
    std::optional<archive::Journal> journal;
    std::string key_id;
};

// Opens the archive: the configuration, its key file, the environment and
// the journal's database. The archive must exist already ("not-found").
Result<Archive> open_archive(const std::string& config_path);

// The key check every reading command makes first: a wrong key file is an
// error naming both key ids, never an empty result.
Status check_key(const Archive& a);

// A bare account JID given to option, or code "invalid" saying what is wanted.
Result<std::string> account(const std::string& text, const char* option);

// Appends a use of the archive (a search, a verification, an export) to its
// audit log: through parleyd when it runs (its writer owns the
// environment's writes), else directly. A failure to record is said on
// err, never hidden.
void record_use(const std::string& config_path, const std::string& action, const std::string& scope,
                const std::string& result, std::ostream& err);

}  // namespace parley::ctl::archive_access
