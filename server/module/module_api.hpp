// The module API: what a loadable module (mod_NAME.so) sees of parleyd.
//
// A module exports one C symbol, `parley_module_descriptor`, returning its
// Descriptor (PARLEY_MODULE below). The loader refuses a descriptor whose
// abi_version differs from kAbiVersion, naming both versions and the file.
// Bump kAbiVersion whenever this header (or a type it exposes) changes.
//
// Lifecycle: configure (validate the section; start nothing) -> start(Host&)
// (register hooks, iq handlers, disco entries, timers) -> reload(section)
// (only with a section that validated) -> stop. One Module instance runs per
// worker: every call on it, and every callback it registered, happens on that
// worker's loop thread (loop-affine), so hooks take no lock. The Host owns
// every registration and drops them all when the module stops; a module keeps
// no registration alive past stop().
//
// No exception may leave a module entry point or callback: the host catches
// and logs, but the stanza in flight is then bounced with internal-server-error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "errors/stanza_error.hpp"
#include "errors/status.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::module {

// 2: config::OptionSpec and config::Section gained nested tables and lists
// (module options as tables and lists of tables).
inline constexpr uint32_t kAbiVersion = 2;

// A XEP the module implements, listed for docs and `parleyctl`.
struct XepInfo {
    const char* number;   // "0199"
    const char* version;  // version of the XEP implemented, "2.0.1"
    const char* status;   // "complete" or "partial: what is missing"
};

// What a stanza hook decided.
struct HookResult {
    enum class Verdict { pass, handled, reject };
    Verdict verdict = Verdict::pass;
    StanzaError error;  // only for reject: bounced to the sender

    static HookResult pass() { return {}; }
    static HookResult handled() { return {Verdict::handled, {}}; }
    static HookResult reject(StanzaError e) { return {Verdict::reject, std::move(e)}; }
};

// Points in the path of a stanza (DESIGN.md "The path of a stanza").
enum class HookPoint {
    stanza_in,   // after stamping and validation, before routing
    stanza_out,  // after routing chose a local recipient session, before delivery
};

// A stanza as hooks see it. `stanza` may be modified by a hook (e.g. to add
// a stanza-id) but its addressing must not change.
struct StanzaContext {
    xml::Element& stanza;
    const xmpp::Jid& from;
    const xmpp::Jid& to;        // empty when the stanza had no 'to'
    bool from_local_client;     // sent by one of our c2s sessions
};
using StanzaHook = std::function<HookResult(StanzaContext&)>;

// Where an iq request is addressed.
enum class IqTarget {
    server,   // a served domain (e.g. disco#info to "example.org")
    account,  // a local account's bare JID, answered by the server on its behalf
};

// Answers one iq request; call exactly one of result() or error(), now or
// later on the same worker (a handler that waits on something keeps the
// responder). Dropping it unanswered makes the host reply
// internal-server-error, so a request is never left hanging.
class IqResponder {
public:
    virtual ~IqResponder() = default;
    // `payload` is the child of the result iq; nullopt for an empty result.
    virtual void result(std::optional<xml::Element> payload) = 0;
    virtual void error(const StanzaError& e) = 0;
};

struct IqRequest {
    const xml::Element& iq;       // the whole <iq/>
    const xml::Element& payload;  // its single child element
    const xmpp::Jid& from;
    const xmpp::Jid& to;          // never empty: the server domain or the account's bare JID
};
using IqHandler = std::function<void(const IqRequest&, std::shared_ptr<IqResponder>)>;

enum class SessionEvent {
    bound,   // a c2s session bound a resource
    closed,  // a bound session ended
};
using SessionEventHandler = std::function<void(const xmpp::Jid& full_jid)>;

struct DiscoIdentity {
    std::string category;  // "server"
    std::string type;      // "im"
    std::string name;      // "Parley"
    friend bool operator==(const DiscoIdentity&, const DiscoIdentity&) = default;
};

using TimerId = uint64_t;

// The host side, one per (module, worker). Loop-affine.
class Host {
public:
    virtual ~Host() = default;

    virtual unsigned worker_index() const = 0;
    virtual const config::Section& config() const = 0;  // this module's [modules.NAME]
    virtual std::string_view server_version() const = 0; // "0.1.0"

    // Registrations; all are dropped by the host when the module stops.
    virtual void hook(HookPoint point, int priority, StanzaHook fn) = 0;  // higher priority runs first
    // Keyed by (target, type "get"/"set", payload namespace, payload element name).
    // A second registration of the same key is refused with a Status.
    virtual Status iq_handler(IqTarget target, std::string_view type, std::string_view ns,
                              std::string_view element, IqHandler fn) = 0;
    virtual void on_session(SessionEvent event, SessionEventHandler fn) = 0;
    virtual void disco_feature(std::string feature) = 0;
    virtual void disco_identity(DiscoIdentity identity) = 0;

    // What disco advertises: every feature and identity registered by the
    // modules now running, sorted and without duplicates.
    virtual std::vector<std::string> disco_features() const = 0;
    virtual std::vector<DiscoIdentity> disco_identities() const = 0;

    virtual bool is_local_domain(std::string_view domain) const = 0;
    // Routes a stanza originated by the server; 'from' must be set.
    virtual void send(xml::Element stanza) = 0;

    virtual TimerId add_timer(uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) = 0;
    virtual void cancel_timer(TimerId id) = 0;
};

// One instance per worker.
class Module {
public:
    virtual ~Module() = default;
    // Checks beyond the schema (which the host has already checked). Starts nothing.
    virtual Status configure(const config::Section& section) { (void)section; return Status::ok(); }
    virtual Status start(Host& host) = 0;
    // Called with a section that validated; on error the old settings stay.
    virtual Status reload(const config::Section& section) { (void)section; return Status::ok(); }
    virtual void stop() {}
};

struct Descriptor {
    uint32_t abi_version;
    const char* name;     // "ping": the file is mod_ping.so, the config section [modules.ping]
    const char* version;
    const char* summary;  // one line
    const char* const* dependencies;  // nullptr-terminated module names, or nullptr
    const XepInfo* xeps;
    size_t xep_count;
    const config::OptionSpec* options;  // the config schema
    size_t option_count;
    Module* (*create)();
    void (*destroy)(Module*);
};

}  // namespace parley::module

#define PARLEY_MODULE_EXPORT extern "C" __attribute__((visibility("default")))

// Defines the exported descriptor symbol of a module.
#define PARLEY_MODULE(descriptor_object)                                          \
    PARLEY_MODULE_EXPORT const ::parley::module::Descriptor* parley_module_descriptor() { \
        return &(descriptor_object);                                              \
    }
