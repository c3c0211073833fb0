// component::Directory: which worker holds the connection of each external
// component (XEP-0114), process-wide.
//
// A component connects to one worker and stays there; a stanza to its
// domain may be routed on any worker, which looks up here where to post it.
// At most one connection per domain: claim() refuses a second one while the
// first is registered (the new connection is refused with <conflict/>, the
// old one keeps running, as Prosody does). The entry names the worker and
// the connection's id; only that worker ever dereferences its connection,
// after finding the entry still there (the connection removes its entry on
// its own worker before it is deleted). Thread-safe (one mutex; the
// critical sections are map lookups).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace parley::component {

class Session;

struct Where {
    unsigned worker = 0;
    uint64_t connection = 0;  // unique per process (daemon::Shared::next_session_id)
    // Dereferenced only on `worker`, right after find() returned this entry.
    Session* session = nullptr;
};

class Directory {
  public:
    // Registers the connection for `domain`; false when one is registered already.
    bool claim(const std::string& domain, Where where);
    // Unregisters it, if `connection` is still the one registered.
    void release(const std::string& domain, uint64_t connection);
    std::optional<Where> find(std::string_view domain) const;
    size_t size() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, Where, std::less<>> connected_;
};

}  // namespace parley::component
