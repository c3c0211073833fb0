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
// Thread-safety: journal(), compliance() and durable() from any thread.
// database(worker) is the handle of that worker's loop (Host::worker_index())
// and is used only there, for reads (Database::read: an MVCC read
// transaction, never waiting for the writer) with journal()'s functions on
// txn.handle(). append() only from a worker's loop thread, with that
// worker's host; `done` runs later on the same worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "archive/journal/journal.hpp"
#include "errors/status.hpp"
#include "module/module_api.hpp"

namespace parley::archive {

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
};

// The XEP-0359 stanza-id text of a journal id (16 lowercase hex digits, so
// that ids sort as text as they do as numbers), and back (nullopt when the
// text is not one).
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
