#include "archive_access.hpp"

#include <fmt/format.h>

#include <ctime>
#include <filesystem>
#include <ostream>

#include "archive/audit/audit.hpp"
#include "archive/crypto/keys.hpp"
#include "archive_command.hpp"
#include "control_client.hpp"
#include "modules/archive/journal_service.hpp"
#include "xmpp/jid.hpp"

namespace parley::ctl::archive_access {

namespace {

// The key file of [modules.archive] (archive::key_file_of, as mod_archive
// finds it).
Result<std::string> configured_key_file(const config::Config& cfg) {
    auto it = cfg.module_sections.find("archive");
    if (it == cfg.module_sections.end())
        return Status::error("config", cfg.path +
                                           " has no [modules.archive] key_file: the archive is not configured "
                                           "(modules/archive/README.md)");
    return archive::key_file_of(it->second);
}

}  // namespace

int fail(std::ostream& err, const Status& s, int code) {
    err << "parleyctl: " << s.message() << "\n";
    return code;
}

int usage(std::ostream& err, const std::string& why) {
    if (!why.empty()) err << "parleyctl: " << why << "\n";
    err << "usage: parleyctl [--config FILE] archive COMMAND\n" << kArchiveUsage;
    return kUsage;
}

Result<Archive> open_archive(const std::string& config_path) {
    auto cfg = config::load(config_path);
    if (!cfg) return cfg.status();
    Archive a;
    a.cfg = std::move(cfg.value());
    auto key_file = configured_key_file(a.cfg);
    if (!key_file) return key_file.status();
    a.key_file = *key_file;
    auto kek = archive::read_key_file(a.key_file);
    if (!kek) return kek.status();
    a.key_id = kek->id();
    a.journal.emplace(*kek);
    a.dir = a.cfg.data_dir + "/archive";
    std::error_code ec;
    if (!std::filesystem::exists(a.dir + "/data.mdb", ec))
        return Status::error("not-found",
                             "there is no archive in " + a.dir +
                                 " (parleyd makes it when it starts with the archive module)");
    auto env = store::Env::open(a.dir);
    if (!env) return env.status();
    a.env = std::move(env.value());
    auto db = a.env->database(kDatabase, kSchemaVersion);
    if (!db) return db.status();
    a.db = db.value();
    return a;
}

Status check_key(const Archive& a) {
    auto txn = a.env->begin_read();
    if (!txn) return txn.status();
    Status s = a.journal->check_key(txn->handle(), a.db);
    if (!s)
        return Status::error(
            s.code(), "archive " + a.dir + ": " + s.message() + " (key_file " + a.key_file + ")");
    return s;
}

Result<std::string> account(const std::string& text, const char* option) {
    auto jid = xmpp::Jid::parse(text);
    if (!jid || !jid->has_node() || jid->has_resource())
        return Status::error(
            "invalid",
            fmt::format("{} takes a bare JID like alice@example.org, not '{}'", option, text));
    return jid->bare_str();
}

void record_use(const std::string& config_path, const std::string& action, const std::string& scope,
                const std::string& result, std::ostream& err) {
    auto arch = open_archive(config_path);
    if (!arch) return;  // no archive: nothing was read either
    const std::string who = who_runs();
    std::string line = "archive audit " + control_arg(who) + " " + control_arg(action) + " " + control_arg(scope) +
                       " " + control_arg(result);
    auto r = control_request(arch->cfg.control_socket, line, 15000);
    if (r && r->find("\"ok\":true") != std::string::npos) return;
    if (!r && r.status().code() == "not-running") {
        Status s = arch->env->write([&](store::Txn& t) {
            auto a = archive::append_audit(*arch->journal, t.handle(), arch->db,
                                           {0, static_cast<uint64_t>(::time(nullptr)) * 1000, who, action, scope, result});
            return a ? Status::ok() : a.status();
        });
        if (s) return;
        err << "parleyctl: this " << action << " could not be recorded in the audit log: " << s.to_string() << "\n";
        return;
    }
    err << "parleyctl: this " << action << " could not be recorded in the audit log"
        << (r ? std::string() : ": " + r.status().to_string()) << "\n";
}


}  // namespace parley::ctl::archive_access
