#include "loop/end_sessions.hpp"

#include "daemon/shared.hpp"
#include "loop/worker.hpp"
#include "sessions/local_session.hpp"

namespace parley::loop {

std::vector<sessions::SessionEntry> sessions_named(const sessions::Registry& registry, const xmpp::Jid& jid,
                                                   const xmpp::Jid& keep) {
    std::vector<sessions::SessionEntry> out;
    if (jid.has_resource()) {
        if (auto e = registry.find(jid); e && !(e->full_jid == keep)) out.push_back(std::move(*e));
        return out;
    }
    for (auto& e : registry.sessions_of(jid.bare()))
        if (!(e.full_jid == keep)) out.push_back(std::move(e));
    return out;
}

size_t end_sessions(const daemon::Shared& shared, const std::vector<sessions::SessionEntry>& which,
                    const std::string& text) {
    size_t asked = 0;
    for (const auto& s : which) {
        if (s.ref.worker >= shared.workers.size()) continue;
        const uint64_t id = s.ref.session_id;
        const bool posted = shared.workers[s.ref.worker]->post([id, text](Worker& w) {
            if (auto* session = w.find_session(id)) session->end_with(xmpp::StreamErrorCondition::not_authorized, text);
        });
        if (posted) ++asked;
    }
    return asked;
}

}  // namespace parley::loop
