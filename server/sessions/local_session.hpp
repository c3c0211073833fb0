// LocalSession: a bound session of this process as the router and the module
// host see it, whatever carries it (a c2s stream today; WebSocket and a
// resumable stream-management session next; an in-memory session in tests).
//
// The router hands it routed stanzas (after the stanza_out hooks) with
// send_stanza(); modules reach it through the host by session id. Each
// running module may keep one SessionSlot per session, keyed by an owner
// token (the module's host on this worker); slots are destroyed with the
// session or when their module stops. Loop-affine: only the owning worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "module/module_api.hpp"
#include "xmpp/errors.hpp"

namespace parley::sessions {

// What an administrator sees of a session (parleyctl session list).
struct SessionDetails {
    std::string address;     // the client's IP address; empty when not connected
    bool connected = false;  // false: kept without a connection, waiting to be resumed
    bool tls = false;
    int64_t since_unix = 0;  // when it bound its resource; 0 when unknown
};

class LocalSession {
public:
    virtual ~LocalSession() = default;
    virtual uint64_t session_id() const = 0;
    virtual const xmpp::Jid& full_jid() const = 0;
    // Writes a stanza to the client as it is (no hooks run here).
    virtual void send_stanza(const xml::Element& stanza) = 0;
    // Ends the session with a stream error (resource conflict, account deleted).
    virtual void end_with(xmpp::StreamErrorCondition condition, std::string_view text) = 0;
    virtual SessionDetails details() const { return {}; }
    // True while the session is going (its `closed` event runs): still in
    // the registry, so that what modules re-route then is handed on before
    // other workers see the address free, but it takes no stanza; this
    // worker routes as if it were gone.
    virtual bool ending() const { return false; }
    // Keep the session when its connection drops (module::Host::keep_session);
    // false when this kind of session cannot be kept.
    virtual bool keep(uint64_t keep_ms, size_t max_queued) {
        (void)keep_ms;
        (void)max_queued;
        return false;
    }

    module::SessionSlot* slot(const void* owner) const {
        for (const auto& [o, s] : slots_)
            if (o == owner) return s.get();
        return nullptr;
    }
    void set_slot(const void* owner, std::unique_ptr<module::SessionSlot> slot) {
        for (auto& [o, s] : slots_) {
            if (o == owner) {
                s = std::move(slot);
                return;
            }
        }
        slots_.emplace_back(owner, std::move(slot));
    }
    void drop_slot(const void* owner) {
        std::erase_if(slots_, [owner](const auto& p) { return p.first == owner; });
    }
    // Every slot with its owner, taken out (a session moving to another worker).
    std::vector<std::pair<const void*, std::unique_ptr<module::SessionSlot>>> take_slots() {
        return std::move(slots_);
    }
    // Frees every slot: the session ends (after its `closed` event).
    void clear_slots() { slots_.clear(); }
    size_t slots_memory() const {
        size_t n = 0;
        for (const auto& [o, s] : slots_) n += s->memory_bytes() + sizeof(std::pair<const void*, void*>);
        return n;
    }

private:
    std::vector<std::pair<const void*, std::unique_ptr<module::SessionSlot>>> slots_;
};

}  // namespace parley::sessions
