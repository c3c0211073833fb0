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
#include "module/tls.hpp"
#include "store/env.hpp"
#include "sessions/registry.hpp"
#include "xml/element.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/jid.hpp"

namespace parley::module {

// 2: config::OptionSpec and config::Section gained nested tables and lists
// (module options as tables and lists of tables); the host gained the stanza
// path's seams (routed hook, holds, unavailable point, domain handlers),
// sessions, slots, services, stream features and nonzas, databases.
// 3: SessionEvent gained available and unavailable; the host gained an
// account's disco (account_disco_*), control commands, the server's uptime
// and accounts(), and pre-authentication iqs see their stream
// (IqRequest::stream, StreamInfo::remote_ip) (everyday IM, XEP-0077);
// stream management's seams: session output observers, the sending and
// receiving session's id in StanzaContext and RoutedContext,
// Host::end_session, SessionEvent::resumed, StreamControl::close and the
// stream in resume's completion; Host::on_account_deleted (a deleted
// account's data purged by each module); Host::data_dir and
// Host::virtual_host (HTTP file upload); Accounts::check_new_password and
// Host::invitations (XEP-0077 without store internals in the module).
// 4: Host::tls_server and module/tls.hpp (TLS for a module's own listener).
// 5: SessionInfo::ending (a session whose `closed` event runs), left out of
// Host::sessions_of and all_sessions on every worker.
inline constexpr uint32_t kAbiVersion = 7;

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
    // stanza_in: the session that sent it; stanza_out: the session it is
    // delivered to (on this worker). 0 when there is none.
    uint64_t session_id = 0;
    // stanza_in: it came over an s2s stream from another server's domain
    // (from.domain() is that domain, proven on the stream).
    bool from_remote_server = false;
};
using StanzaHook = std::function<HookResult(StanzaContext&)>;

// Where a stanza entered the router.
enum class Origin {
    local_client,   // one of our c2s sessions
    server,         // the server itself or a module (replies, bounces, pushes)
    remote_server,  // an s2s stream: a stanza from another server's domain
};

// A bound session as modules see it: plain data, valid on any worker.
using SessionInfo = sessions::SessionEntry;

// What the router decided for one stanza; routed hooks see it exactly once.
struct RouteOutcome {
    enum class Kind {
        delivered,    // to `recipients`, local sessions (each then runs stanza_out)
        unavailable,  // to an existing local account that has no session taking it;
                      // the default rule bounced (`error`) or dropped it
        taken_over,   // the same situation, but the unavailable handler of module
                      // `owner` took it (offline storage, subscriptions)
        no_account,   // to a local account that does not exist: bounced with the
                      // same error as `unavailable` (no enumeration)
        server,       // for the server: an iq answered by a module for a domain or
                      // an account, a reply to a server-sent iq, presence to the server
        domain,       // handed to the domain handler of `owner` (a domain, e.g. a MUC service)
        remote,       // for another server's domain: handed to its s2s link (queued
                      // until the link is up; a link that fails bounces it later)
        bounced,      // refused; `error` went back to the sender
        dropped,      // dropped without a reply (errors, results, presence to nowhere)
        consumed,     // handled by the stanza_in hook of module `owner` before routing
    };
    Kind kind = Kind::dropped;
    std::vector<SessionInfo> recipients;
    StanzaError error;
    std::string owner;
};
const char* to_string(RouteOutcome::Kind kind);

// A stanza held by a hook (DESIGN.md "The path of a stanza"): the router
// carries out its outcome only once every hold on it is released; a rejected
// hold bounces it to its sender with the given error instead, and nothing is
// delivered. Later stanzas from the same sender wait behind a held one, so a
// sender's order is kept. Call release() or reject() once, on the worker that
// holds it (from a completion posted back there); a hold dropped without
// either rejects with internal-server-error, so nothing a module failed to
// finish (e.g. archive) is ever delivered. Loop-affine.
class Hold {
public:
    virtual ~Hold() = default;
    virtual void release() = 0;
    virtual void reject(const StanzaError& error) = 0;
};

// A stanza after the router's decision. `stanza` may be annotated (a
// stanza-id) but not readdressed.
class RoutedContext {
public:
    RoutedContext(xml::Element& s, const xmpp::Jid& f, const xmpp::Jid& t, Origin o, const RouteOutcome& out)
        : stanza(s), from(f), to(t), origin(o), outcome(out) {}
    virtual ~RoutedContext() = default;
    xml::Element& stanza;
    const xmpp::Jid& from;
    const xmpp::Jid& to;  // never empty: a missing 'to' is the sender's bare JID
    Origin origin;
    const RouteOutcome& outcome;
    // The local client session that sent it (origin local_client, on this
    // worker); 0 for every other stanza, including what the server sends on
    // a session's behalf (its unavailable presence when it ends).
    uint64_t session_id = 0;
    // Holds the stanza until the returned Hold is released or rejected.
    virtual std::shared_ptr<Hold> hold() = 0;
    // fn runs on this worker once the router has carried the outcome out
    // (after every hold was released), with nullptr, or once it bounced the
    // stanza instead because a hold was rejected, with that error. What
    // XEP-0198 acknowledgements wait for: a stanza counts as handled only
    // when, e.g., its archive record is durable. Never run if the worker
    // stops first.
    virtual void when_done(std::function<void(const StanzaError* rejected)> fn) = 0;
};
// Runs once per stanza, after the decision, for every origin; observes and
// may hold. Every routed hook runs (there is no "handled").
using RoutedHook = std::function<void(RoutedContext&)>;

// The router's "no available resource" decision point: a message, presence
// or iq to an existing local account that no session takes (RFC 6121 §8.5:
// offline, probes, subscription requests). handled: the module took the
// stanza (outcome taken_over); reject: bounced with that error; pass: the
// next handler, then the default rule (the same bounce as for a missing
// account, or a silent drop). The context's hold() holds the stanza as above.
using UnavailableHandler = std::function<HookResult(RoutedContext&)>;

// A stanza for a domain a module owns (e.g. conference.example.org), from
// any origin and any worker; the handler runs on the worker that routed it.
struct DomainStanza {
    xml::Element stanza;
    xmpp::Jid from;
    xmpp::Jid to;
    Origin origin;
};
using DomainHandler = std::function<void(DomainStanza&)>;

// The phases of a client stream a module may add to (RFC 6120 §4.3).
enum class StreamStage {
    before_auth,  // features offered with SASL; nonzas before authentication
    after_auth,   // features offered with bind; nonzas before bind (XEP-0198 resume)
    bound,        // nonzas of an established session (XEP-0198 <r/>, XEP-0352 <active/>)
};

// The stream a feature or nonza is for, as it is at that moment.
struct StreamInfo {
    std::string_view domain;     // the virtual host
    std::string_view stream_id;
    bool secure = false;         // TLS is on
    uint64_t session_id = 0;     // 0 before bind
    const xmpp::Jid& jid;        // empty before authentication; the bare JID
                                 // after it, the full JID once bound
    std::string_view remote_ip = {};  // the client's address ("192.0.2.7", "2001:db8::1");
                                      // empty for a stream without a socket (tests)
};

class StreamControl;
// How a resumption ended (StreamControl::resume): ok with the session as it
// is now, or an error; `stream` is the stream that asked, valid during the
// call only.
using ResumeDone = std::function<void(Status status, const SessionInfo* now, StreamControl& stream)>;

// The stream a nonza arrived on; valid only during the handler call. A
// module that answers later uses send_to_session() (Delivery::direct) once
// the session is bound.
class StreamControl {
public:
    virtual ~StreamControl() = default;
    // Writes an element to the stream as it is. Output observers do not see
    // what is written here (a stream management retransmission is not new
    // output).
    virtual void send(const xml::Element& element) = 0;
    // Ends the stream with a stream error (RFC 6120 §4.9).
    virtual void stream_error(xmpp::StreamErrorCondition condition, std::string_view text) = 0;
    // Ends the stream (</stream:stream>) once what was sent is written: after
    // a <stream:error/> of the module's own making, e.g. with an
    // application-specific condition.
    virtual void close() = 0;
    // After authentication, before bind (XEP-0198 <resume/>): this stream
    // takes over `old`, a session of the same account kept after its
    // connection dropped (Host::keep_session) or still connected (its old
    // connection is closed), wherever it runs. The session moves to this
    // worker with its JID, presence and module slots. `done` runs on this
    // worker: ok with the session as it is now, bound to this stream (what
    // the module writes now comes first: its answer, its retransmissions),
    // after which the host writes the stanzas queued for the session while
    // it had no connection, in order, and fires SessionEvent::resumed; or an
    // error (no such session, another account, being resumed already): the
    // stream stays authenticated and may bind. Not run if this stream closed
    // meanwhile (a session on its way here then stays kept, without a
    // connection, as it was).
    virtual void resume(const SessionInfo& old, ResumeDone done) = 0;
};

// An element to add to <stream:features>, or nullopt to add nothing here.
using FeatureProvider = std::function<std::optional<xml::Element>(const StreamInfo&)>;
using NonzaHandler = std::function<void(const StreamInfo&, const xml::Element&, StreamControl&)>;

// Data a module keeps per session (e.g. stream management counters), freed
// with the session or when the module stops. memory_bytes() is counted in
// the session's memory figures. A slot moves with its session to another
// worker when a connection there resumes it: it must hold plain data, no
// handle of a worker's loop.
class SessionSlot {
public:
    virtual ~SessionSlot() = default;
    virtual size_t memory_bytes() const { return 0; }
};

// How send_to_session() hands a stanza over.
enum class Delivery {
    with_hooks,  // as a routed stanza: stanza_out hooks run
    direct,      // written as is (a stream management queue flush)
};

// A module's own LMDB database (Host::open_database).
struct DatabaseSpec {
    std::string name;       // [a-z0-9_]+; stored as "MODULE.name", so modules never collide
    uint32_t version = 1;   // its schema version (doc/storage.md)
    // Migrates from an older version, inside the write transaction that
    // records the new one; without it an older database is refused.
    store::Env::Migration migrate;
    // Empty: the shared live state (data_dir/state). Otherwise the name
    // ([a-z0-9_]+) of an environment of its own, data_dir/NAME, e.g. the
    // archive's, so it can live on its own volume.
    std::string environment;
};

// An open database. Reads run on the calling thread in an MVCC read
// transaction (they never wait for a writer). Writes go to the
// environment's writer thread, which group-commits the writes of every
// worker; `done` runs later on the worker that asked, once the write is on
// disk (ok) or has failed. `fn` runs on the writer thread, must only touch
// the transaction (it may run more than once, if the map grows), and must
// not capture anything that is not safe to read from another thread. After
// the handle is destroyed (the module stopped) pending writes still commit,
// but their `done` is not called. Loop-affine: the worker that opened it.
class Database {
public:
    virtual ~Database() = default;
    virtual Status read(const std::function<Status(const store::Txn& txn, MDB_dbi db)>& fn) const = 0;
    // Code "busy" when the writer's queue is full (nothing runs then; back
    // off or refuse the stanza), "stopped" at shutdown.
    virtual Status write(std::function<Status(store::Txn& txn, MDB_dbi db)> fn, std::function<void(Status)> done) = 0;
};

// The reply to an iq the server sent (send_iq): the result or error iq, or
// nullptr when none came before the timeout.
using IqReplyHandler = std::function<void(const xml::Element* reply)>;

// Where an iq request is addressed.
enum class IqTarget {
    server,    // a served domain (e.g. disco#info to "example.org")
    account,   // a local account's bare JID, answered by the server on its behalf
    pre_auth,  // a client stream before authentication (XEP-0077 registration);
               // answered on that stream only, 'from' and 'to' are empty
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
    const xmpp::Jid& to;          // the server domain or the account's bare JID; empty for pre_auth
    // pre_auth only: the stream the request came on (its virtual host, TLS,
    // the client's address), valid during the handler call; nullptr otherwise.
    const StreamInfo* stream = nullptr;
};
using IqHandler = std::function<void(const IqRequest&, std::shared_ptr<IqResponder>)>;
// A disco#info or disco#items query to a node of an account (XEP-0030 §3.2,
// e.g. a PEP node's meta-data): false when the node is not this module's
// (the next one is asked; at the end, item-not-found), true when it took the
// query and answers through the responder.
using AccountNodeDisco = std::function<bool(const IqRequest&, std::shared_ptr<IqResponder>)>;

enum class SessionEvent {
    bound,        // a c2s session bound a resource
    resumed,      // a new stream took a kept session over (on the new stream's
                  // worker, once the stanzas queued meanwhile were written):
                  // what is per stream (XEP-0352 client state) starts afresh
    available,    // its first available presence (RFC 6121 §4.2), after the
                  // registry marked it available and its own resources heard it
    unavailable,  // it sent unavailable presence and stays bound (§4.5)
    closed,       // a bound session ended (`available`: whether it was).
                  // While the handlers run it is still bound but takes no
                  // stanza: sessions_of() leaves it out (on every worker:
                  // SessionInfo::ending) and what is routed to it goes on as
                  // if it were gone, ahead of anything another worker routes
                  // once it is unbound. Then its own resources are told it
                  // went away and its slots are freed.
};
using SessionEventHandler = std::function<void(const SessionInfo& session)>;

// An account was deleted (parleyctl user del, in-band removal, or
// Host::accounts().remove), and its sessions were ended: the module removes
// everything it keeps about `bare` (its own records, and the account in
// other accounts' records where the module keeps such) and calls `done`
// exactly once, on this worker: ok once that removal is durable, or an
// error, and then it is asked again later (every minute, and at parleyd's
// next start). The account's name stays unusable until every module has
// answered ok (store/accounts.hpp: the tombstone). Runs on worker 0's
// instance only, one account at a time.
using AccountDeletedHandler = std::function<void(const xmpp::Jid& bare, std::function<void(Status)> done)>;

// Sees every stanza (message, presence or iq in jabber:client) written to a
// client session of this worker, right after it is written, in order: routed
// deliveries after their stanza_out hooks, Delivery::direct, the server's own
// answers on the stream. What XEP-0198 counts and keeps until acknowledged.
// Elements that are not stanzas (nonzas) and StreamControl::send are not
// observed. A session without a connection (kept for resumption) writes
// nothing: what is routed to it waits in its queue and is observed when
// written to the stream that resumes it, or, if it ends unresumed, just
// before its `closed` event, like stanzas written to a connection that
// died. Stanzas for a stream that is closing are observed too (they may
// never arrive). An observer may send nonzas to the session (they follow
// the stanza) but must not end it.
using OutputObserver = std::function<void(uint64_t session_id, const xml::Element& stanza)>;

struct DiscoIdentity {
    std::string category;  // "server"
    std::string type;      // "im"
    std::string name;      // "Parley"
    friend bool operator==(const DiscoIdentity&, const DiscoIdentity&) = default;
};

// An entry of an account's disco#items (XEP-0030 §4), e.g. a PEP node.
struct DiscoItem {
    std::string jid;
    std::string node;  // "" when none
    std::string name;  // "" when none
    friend bool operator==(const DiscoItem&, const DiscoItem&) = default;
};
// The items a module lists for `account` (a bare JID) to `requester`
// (whose access the module checks). Runs on the worker that answers.
using AccountItemsProvider =
    std::function<std::vector<DiscoItem>(const xmpp::Jid& account, const xmpp::Jid& requester)>;

// The answer to a parleyctl command a module serves: a JSON object (its
// text; "ok":true is added), or an error parleyctl prints.
// Federation: a remote server's domain about to be accepted on a stream
// (incoming: it proved `remote` to us; outgoing: our link to `remote` is
// up to TLS and about to authenticate). See Host::s2s_gate.
struct S2sAuth {
    std::string_view local;   // our domain on the stream
    std::string_view remote;  // the other server's domain
    bool incoming = false;    // the peer connected to us
    bool certificate_valid = false;  // its certificate proves `remote` (PKIX, RFC 6125)
    bool dialback = false;    // the domain is (to be) proven by dialback, not by that certificate
    std::string_view address; // the peer's IP address
};
// nullopt: allowed; a text: refused (the stream is closed, or the link
// fails, with policy-violation and this text).
using S2sGate = std::function<std::optional<std::string>(const S2sAuth&)>;

using ControlReply = std::function<void(Result<std::string> json_fields)>;
// `args`: the words after the command's name. Call reply once, now or later
// on the same worker; a reply dropped unanswered answers with an error.
using ControlHandler = std::function<void(const std::vector<std::string>& args, ControlReply reply)>;

using TimerId = uint64_t;

// The local accounts, the same store and rules as parleyctl's `user`
// commands (XEP-0077 registration, password change, cancellation). A node
// is nodeprep-normalised by the caller (xmpp::Jid::make) and the domain is
// a virtual host. A password must pass check_new_password() (the rules
// parleyctl applies); it is used to derive SCRAM keys ([sasl]
// scram_iterations) on libuv's thread pool, never stored or logged. Every
// `done` runs on the calling worker, only while the module runs (at once,
// inside the call, for a request refused before any work), with ok or: "exists" (create), "not-found" (set_password, remove), "invalid"
// (a bad name or password), "busy" (too many account writes queued on this
// worker: refuse with resource-constraint), or a store error. Loop-affine.
class Accounts {
public:
    virtual ~Accounts() = default;
    // A direct read (no thread pool): whether the account exists.
    virtual Result<bool> exists(const xmpp::Jid& bare) const = 0;
    // The rules a new password must pass wherever it is set (parleyctl's
    // `user add` and `user passwd`, in-band registration and password
    // change): ok, or code "invalid" with a message naming the rule broken
    // (never the password). create() and set_password() check them again;
    // a module checks first to refuse before anything else is done (e.g.
    // before an invitation is used up). Pure: no store access.
    virtual Status check_new_password(std::string_view password) const = 0;
    virtual void create(const xmpp::Jid& bare, std::string password, std::function<void(Status)> done) = 0;
    // New credentials; then every session of the account but `keep` (the
    // full JID of the session that asked, or empty) is ended with a
    // <not-authorized/> stream error, as `parleyctl user passwd` does.
    virtual void set_password(const xmpp::Jid& bare, std::string password, const xmpp::Jid& keep,
                              std::function<void(Status)> done) = 0;
    // Deletes the account as `parleyctl user del` does, then ends every
    // session of it with a <not-authorized/> stream error carrying `text`.
    virtual void remove(const xmpp::Jid& bare, std::string text, std::function<void(Status)> done) = 0;
};

// What Invitations::use() found for a token.
struct InvitationUse {
    enum class Kind {
        ok,       // one use taken; the invitation is gone once none is left
        unknown,  // no such invitation, a wrong secret, or not a token at all
        expired,  // past its expiry (the invitation is deleted)
    };
    Kind kind = Kind::unknown;
    // ok and expired: the invitation's public id (what `parleyctl invite
    // list` shows), for logs; never the token.
    std::string id;
    // ok: what give_back() needs to return this use. Opaque to the module.
    std::string receipt;
};

// The invitations `parleyctl invite create` makes for in-band registration
// (XEP-0077 with require_invite, mod_register): tokens kept hashed in the
// state environment, shared with parleyctl whether parleyd runs or not
// (doc/storage.md, `register.invites`). Each call is one write through the
// environment's writer thread (group commit). Every `done` runs on the
// calling worker, only while the module runs: later, or at once, inside the
// call, for a request refused before any work: "busy" (the writer's queue
// is full: refuse with resource-constraint), "stopped", "invalid" (a
// give_back() of what was not a use). Loop-affine.
class Invitations {
public:
    virtual ~Invitations() = default;
    // Takes one use of `token` (as the person typed it) now: checks it,
    // counts it down, all in one write, so two registrations racing for its
    // last use on any workers cannot both have it. The Result is an error
    // only for the store itself; an unknown or expired token is an outcome.
    virtual void use(std::string token, std::function<void(Result<InvitationUse>)> done) = 0;
    // Gives back the use `used` (kind ok) took, when the account could not be
    // made after all: one more use left, or the invitation as it was if that
    // use was its last. Never more than it was made for.
    virtual void give_back(const InvitationUse& used, std::function<void(Status)> done) = 0;
};

class Module;
class Service;

// The host side, one per (module, worker). Loop-affine.
class Host {
public:
    virtual ~Host() = default;

    virtual unsigned worker_index() const = 0;
    virtual const config::Section& config() const = 0;  // this module's [modules.NAME]
    virtual std::string_view server_version() const = 0; // "0.1.0"
    // Whole seconds since parleyd started (what the admin socket reports as
    // uptime_s), whenever the module itself was loaded: XEP-0012's uptime.
    virtual uint64_t uptime_seconds() const = 0;

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
    // The same for every account's bare JID (XEP-0030 queries to
    // user@domain, which the disco module answers): features and identities
    // a module serves on behalf of accounts (e.g. PEP's pubsub/pep), and
    // items per account.
    virtual void account_disco_feature(std::string feature) = 0;
    virtual void account_disco_identity(DiscoIdentity identity) = 0;
    virtual void account_disco_items(AccountItemsProvider fn) = 0;
    virtual void account_disco_nodes(AccountNodeDisco fn) = 0;
    // Offers a node query to the modules' AccountNodeDisco (the disco module
    // calls it); false when none took it.
    virtual bool account_disco_node(const IqRequest& req, std::shared_ptr<IqResponder> r) = 0;
    virtual std::vector<std::string> account_disco_features() const = 0;
    virtual std::vector<DiscoIdentity> account_disco_identities() const = 0;
    virtual std::vector<DiscoItem> account_disco_item_list(const xmpp::Jid& account,
                                                           const xmpp::Jid& requester) const = 0;

    virtual bool is_local_domain(std::string_view domain) const = 0;
    // Routes a stanza originated by the server; 'from' must be set.
    virtual void send(xml::Element stanza) = 0;

    virtual TimerId add_timer(uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) = 0;
    virtual void cancel_timer(TimerId id) = 0;

    // --- The stanza path (DESIGN.md "The path of a stanza") ---
    // Higher priority runs first.
    virtual void on_routed(int priority, RoutedHook fn) = 0;
    virtual void on_unavailable(int priority, UnavailableHandler fn) = 0;
    // Owns `domain` for the virtual host `vhost` (listed in its disco#items):
    // every stanza to that domain or a JID at it reaches fn. Refused if the
    // domain is a virtual host, is not a valid domain, or is owned already.
    virtual Status domain_handler(std::string_view vhost, std::string_view domain, DomainHandler fn) = 0;
    // The domains modules own under `vhost`, sorted.
    virtual std::vector<std::string> domains_of(std::string_view vhost) const = 0;

    // --- Federation (s2s) ---
    // Consulted (every gate, in registration order, until one refuses)
    // before a remote domain is accepted on an incoming stream and before
    // an outgoing link authenticates. Incoming stanzas from remote servers
    // reach the stanza_in hooks (StanzaContext::from_remote_server) and
    // outgoing ones the routed hooks (RouteOutcome::Kind::remote), where a
    // module may refuse them.
    virtual void s2s_gate(S2sGate fn) = 0;
    // Ends this worker's s2s streams and links that `which` picks, with
    // <policy-violation/> and `text` (stanzas waiting for such a link
    // bounce with policy-violation); returns how many it ended. `which`
    // sees each link as the gate saw it: one call per (local, remote)
    // pair authenticated on an incoming stream, one per outgoing link
    // (certificate_valid and dialback say how the remote domain was
    // proven; both false for a link not yet authenticated). Post it to
    // every worker to end them all.
    virtual size_t s2s_close(std::function<bool(const S2sAuth& link)> which, std::string_view text) = 0;

    // --- Streams (client streams) ---
    // Adds an element to the stream features offered at `stage`.
    virtual void stream_feature(StreamStage stage, FeatureProvider fn) = 0;
    // Handles the top-level element {ns}name (not a stanza) at `stage`. One
    // handler per (stage, ns, name); a second is refused. Elements nobody
    // handles end the stream with <unsupported-stanza-type/>.
    virtual Status nonza(StreamStage stage, std::string_view ns, std::string_view name, NonzaHandler fn) = 0;

    // --- Sessions ---
    virtual std::vector<SessionInfo> sessions_of(const xmpp::Jid& bare_jid) const = 0;
    virtual std::vector<SessionInfo> all_sessions() const = 0;
    // Hands `stanza` to that session wherever it runs; dropped if it is gone.
    virtual void send_to_session(const SessionInfo& session, xml::Element stanza, Delivery how) = 0;
    // When the connection of session_id (on this worker) is lost, the
    // session stays bound for keep_ms, queuing up to max_queued stanzas for a
    // connection that resumes it (StreamControl::resume); past max_queued,
    // or after keep_ms, it ends. A stream that either side ended (the
    // client's </stream:stream>, a stream error) ends its session as
    // always. 0 turns this off. false: no such session here.
    virtual bool keep_session(uint64_t session_id, uint64_t keep_ms, size_t max_queued) = 0;
    // This module's slot of a session of this worker (also during that
    // session's `closed` event); nullptr if none is set or the session is not
    // here. set_slot() replaces it; false (and the slot is destroyed) when
    // the session is not on this worker.
    virtual SessionSlot* slot(uint64_t session_id) = 0;
    virtual bool set_slot(uint64_t session_id, std::unique_ptr<SessionSlot> slot) = 0;
    // Observes what the client sessions of this worker are written (see
    // OutputObserver). Dropped when the module stops.
    virtual void on_session_output(OutputObserver fn) = 0;
    // Ends session_id (on this worker) with a stream error, as the server
    // ends a session (not kept for resumption); false: no such session here.
    // Not from inside an output observer.
    virtual bool end_session(uint64_t session_id, xmpp::StreamErrorCondition condition, std::string_view text) = 0;

    // --- Storage ---
    // Opens (creating) a database of this module; code "schema" when it was
    // written by a newer Parley or cannot be migrated, "invalid" for a bad name.
    virtual Result<std::shared_ptr<Database>> open_database(const DatabaseSpec& spec) = 0;

    // --- Workers ---
    virtual unsigned worker_count() const = 0;
    // Runs fn on worker `worker` with this module's Host there; false when
    // that worker no longer runs (then fn is not run). Any worker may post to
    // any worker, itself included.
    virtual bool post(unsigned worker, std::function<void(Host&)> fn) = 0;
    // This module's instance on this worker (for a posted fn to reach it).
    virtual Module& instance() = 0;

    // The process-wide service registered under `name` (see Service), or
    // nullptr. Use module::service<T>(host) for the typed interface.
    virtual Service* service(std::string_view name) const = 0;

    // Serves the control socket's request "NAME args..." (`parleyctl NAME
    // ...`), for admin tools. Served on worker 0 only: a module registers
    // from its instance there (a registration on another worker, or a
    // second one of a name, is refused). NAME: [a-z][a-z0-9-]*, not a
    // request of the core (status, kick, reload, session, purge).
    virtual Status control_command(std::string name, ControlHandler fn) = 0;

    // Sends an iq request ('from' set by the module: a served domain or an
    // account's bare JID; 'id' is replaced by the host's) and calls fn once,
    // on this worker, with the reply from the addressee or nullptr after
    // timeout_ms (or when the worker stops). fn keeps the module's library
    // loaded, but may run after the module stopped: it checks that its
    // module is still there (e.g. a weak_ptr the module drops in stop()).
    virtual void send_iq(xml::Element iq, uint64_t timeout_ms, IqReplyHandler fn) = 0;

    // The local accounts (see Accounts), for this module on this worker.
    virtual Accounts& accounts() = 0;
    // The server's invitations (see Invitations), for this module on this
    // worker: opened (created) at the first call, valid until the module
    // stops. Code "schema" when they were written by a newer Parley.
    virtual Result<Invitations*> invitations() = 0;
    // Removal of a deleted account's data (AccountDeletedHandler); kept on
    // every worker, called on worker 0 only.
    virtual void on_account_deleted(AccountDeletedHandler fn) = 0;

    // The running configuration's data_dir (an absolute path), for a module
    // that keeps files rather than database records (mod_upload keeps them
    // in data_dir/MODULE/), and the virtual host `domain` as configured (its
    // certificate and key files, for a module serving TLS of its own), or
    // nullopt when it is not one. Read from the running configuration at
    // each call (a reload may change them).
    virtual std::string data_dir() const = 0;
    virtual std::optional<config::VirtualHost> virtual_host(std::string_view domain) const = 0;
    // TLS for a listener of the module's own (module/tls.hpp): the
    // identity's certificate and key loaded with the server's TLS policy.
    // The error names the files when they do not load. Any thread may use
    // the result.
    virtual Result<std::shared_ptr<const TlsServer>> tls_server(const TlsIdentity& identity) const = 0;
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

// What a service sees of parleyd. Any thread.
class ServiceHost {
public:
    virtual ~ServiceHost() = default;
    virtual const config::Section& config() const = 0;  // its module's [modules.NAME]
    virtual unsigned worker_count() const = 0;
    // The services of the modules this one depends on (started before it).
    virtual Service* service(std::string_view name) const = 0;
};

// A process-wide service a module provides to other modules (e.g. the
// archive's journal used by MAM and group chat), one per process, unlike the
// per-worker Module instances. The typed interface is a class deriving from
// Service with `static constexpr const char* kServiceName` ("name/version"),
// declared in a header both modules include; the provider derives from it and
// states in that header which methods are safe from any thread (a service is
// called from every worker). Lifecycle, driven by the daemon: start() in
// dependency order before any worker starts a module; reload() with a
// section that validated; stop() in reverse order after every worker has
// stopped its modules, so no module uses a stopped service.
class Service {
public:
    virtual ~Service() = default;
    virtual Status start(ServiceHost& host) = 0;
    virtual Status reload(const config::Section& section) { (void)section; return Status::ok(); }
    virtual void stop() {}
};

// The typed service T (see Service), or nullptr when no module provides it.
template <class T>
T* service(const Host& host) {
    return static_cast<T*>(host.service(T::kServiceName));
}
template <class T>
T* service(const ServiceHost& host) {
    return static_cast<T*>(host.service(T::kServiceName));
}

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
    // A process-wide service, or all three nullptr: the name it is found by
    // (T::kServiceName of its interface), its factory and its deleter.
    const char* service_name;
    Service* (*create_service)();
    void (*destroy_service)(Service*);
};

}  // namespace parley::module

#define PARLEY_MODULE_EXPORT extern "C" __attribute__((visibility("default")))

// Defines the exported descriptor symbol of a module.
#define PARLEY_MODULE(descriptor_object)                                          \
    PARLEY_MODULE_EXPORT const ::parley::module::Descriptor* parley_module_descriptor() { \
        return &(descriptor_object);                                              \
    }
