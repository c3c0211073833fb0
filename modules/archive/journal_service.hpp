// The archive service ("archive/1"): the compliance journal (archive/) as
// the other modules see it, e.g. MAM (XEP-0313) reading a user's archive and
// group chat writing a room's.
//
// The module archive provides it; a module that uses it lists "archive"
// among its dependencies and gets it with
// module::service<archive::JournalService>(host) (nullptr when the archive
// module is not loaded: then there is no archive to query, and a feature
// that needs one must not be advertised).
//
// Thread-safety: journal(), compliance(), durable() and the room domains
// (set_room_journal, room_journal) from any thread.
// database(worker) is the handle of that worker's loop (Host::worker_index())
// and is used only there, for reads (Database::read: an MVCC read
// transaction, never waiting for the writer) with journal()'s functions on
// txn.handle(). append() only from a worker's loop thread, with that
// worker's host; `done` runs later on the same worker.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/journal/journal.hpp"
#include "errors/status.hpp"
#include "module/module_api.hpp"

namespace parley::archive {

// A user's archiving preferences (XEP-0441, the preferences XEP-0313 used
// to define): which peers' messages go into the user's own view. They never
// change what the journal keeps in compliance mode.
struct Prefs {
    enum class Default { always, never, roster };
    Default default_mode = Default::always;
    std::vector<std::string> always;  // bare JIDs, always kept
    std::vector<std::string> never;   // bare JIDs, never kept (wins over always)
    bool operator==(const Prefs&) const = default;
};
// Header-only, as they are used by several modules (each its own .so).
inline const char* to_string(Prefs::Default d) {
    switch (d) {
        case Prefs::Default::always: return "always";
        case Prefs::Default::never: return "never";
        case Prefs::Default::roster: return "roster";
    }
    return "always";
}
inline std::optional<Prefs::Default> parse_default(std::string_view s) {
    if (s == "always") return Prefs::Default::always;
    if (s == "never") return Prefs::Default::never;
    if (s == "roster") return Prefs::Default::roster;
    return std::nullopt;
}
// Whether the owner's view keeps a message with `peer` (a bare JID);
// in_roster says whether peer is in the owner's roster.
inline bool keeps(const Prefs& prefs, std::string_view peer, bool in_roster) {
    if (std::find(prefs.never.begin(), prefs.never.end(), peer) != prefs.never.end()) return false;
    if (std::find(prefs.always.begin(), prefs.always.end(), peer) != prefs.always.end()) return true;
    switch (prefs.default_mode) {
        case Prefs::Default::always: return true;
        case Prefs::Default::never: return false;
        case Prefs::Default::roster: return in_roster;
    }
    return true;
}

class JournalService : public module::Service {
public:
    static constexpr const char* kServiceName = "archive/1";

    virtual const Journal& journal() const = 0;
    // Compliance mode: the journal keeps every message whatever users ask
    // (MAM preferences, hints, retractions); views still follow them.
    virtual bool compliance() const = 0;
    // Durable mode: a stanza is delivered (and gets its stanza-id) only once
    // its record is on disk. Otherwise records are written behind delivery.
    virtual bool durable() const = 0;
    // This worker's handle of the journal database (data_dir/archive).
    virtual std::shared_ptr<module::Database> database(unsigned worker) const = 0;
    // Appends an entry. The id is assigned at once, in the order of the
    // environment's write queue, so ids increase in commit order across all
    // workers; `done` runs on this worker when the record is on disk (ok)
    // or failed. Code "busy" when the writer's queue is full (nothing was
    // written and `done` never runs).
    virtual Result<uint64_t> append(module::Host& host, Entry entry, std::function<void(Status)> done) = 0;

    // The archiving preferences of `owner` (a bare JID): the configured
    // default until the user sets theirs. From the worker's loop thread.
    virtual Result<Prefs> prefs(unsigned worker, const std::string& owner) const = 0;
    // Stores them; `done` on this worker once on disk. Code "busy" as for append().
    virtual Status set_prefs(module::Host& host, const std::string& owner, Prefs prefs,
                             std::function<void(Status)> done) = 0;

    // Group chat: the module serving the rooms of `domain` (mod_muc) says
    // that it journals every groupchat message sent to them itself, once,
    // as said in the room (the room's view and stanza-id) or as refused,
    // so the archive's routed hook leaves those alone. `on` false takes
    // that back (the module stops); the calls are counted (one per worker).
    virtual void set_room_journal(const std::string& domain, bool on) = 0;
    virtual bool room_journal(std::string_view domain) const = 0;
    // The highest id given so far (or found on disk at start); every id
    // given later is above it, whatever the clock does. Any thread.
    virtual uint64_t last_id() const = 0;
    // Appends an event to the archive's audit log (archive/audit/audit.hpp:
    // hash-chained, listed and verified by `parleyctl archive audit`), e.g.
    // a content policy's decisions: who decided, the action ("content.block"),
    // the scope ("from A to B") and the result (the rule; never what it
    // matched). Written through this worker's writer with the traffic's
    // group commits; `done` (if any) runs on this worker once it is on disk.
    // Code "busy" as for append(). From a worker's loop thread.
    virtual Status audit(module::Host& host, std::string who, std::string action, std::string scope,
                         std::string result, std::function<void(Status)> done) = 0;
    // Removes record `id` from the journal on purpose (a moderated room
    // message whose service does not keep originals), under a checkpoint of
    // its own so that the rest still verifies (archive::forget_record), and
    // writes "journal.forget" to the audit log with `who`, the record and
    // `why` in the same transaction. Refused in compliance mode (code
    // "compliance": the journal keeps everything). A record a legal hold
    // covers stays, and the audit entry says so. `done(status, removed)`
    // on this worker once on disk. Code "busy" as for append(). From a
    // worker's loop thread.
    virtual Status forget(module::Host& host, uint64_t id, std::string who, std::string why,
                          std::function<void(Status, bool removed)> done) = 0;
};

// The XEP-0359 stanza-id text of a journal id (16 lowercase hex digits, so
// that ids sort as text as they do as numbers), and back (nullopt when the
// text is not one).
// The key file named by key_file in [modules.archive] (`section`), a
// relative path taken against the directory of the file that set it: how
// mod_archive, parleyctl and the bench tools all find it. Code "config"
// when the section names none.
inline Result<std::string> key_file_of(const config::Section& section) {
    const std::string path = section.get_string("key_file", "");
    if (path.empty()) return Status::error("config", section.where("key_file") + ": the archive needs a key file");
    std::filesystem::path p(path);
    if (p.is_relative() && !section.file.empty()) p = std::filesystem::path(section.file).parent_path() / p;
    return p.lexically_normal().string();
}

inline std::string stanza_id_text(uint64_t id) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, id >>= 4) out[static_cast<size_t>(i)] = kDigits[id & 15];
    return out;
}
inline std::optional<uint64_t> parse_stanza_id(std::string_view text) {
    if (text.size() != 16) return std::nullopt;
    uint64_t v = 0;
    for (char c : text) {
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return std::nullopt;
        v = v << 4 | static_cast<uint64_t>(d);
    }
    return v;
}

}  // namespace parley::archive
