// mod_roster: rosters and presence subscriptions (RFC 6121 §2-§4), with
// roster versioning (RFC 6121 §2.6, XEP-0237's successor text) and
// subscription pre-approval (§3.4).
//
// - Roster get/set/push/remove for the account itself (jabber:iq:roster);
//   pushes reach every session of the account that asked for the roster.
// - Subscription stanzas from local clients are processed for the sender
//   (outbound) in its stanza_in hook, stored durably, then routed; the
//   router's decision point brings every subscription stanza and probe to a
//   local account here (inbound), whatever that account's sessions, where
//   the contact's side is processed, stored, and delivered to its available
//   resources (or kept and delivered again at its next login).
// - Presence: a session's broadcast presence goes to every contact with a
//   subscription from or both, and its unavailable presence (also when its
//   connection ends, for any reason) to them and to everyone it sent
//   directed presence; its first available presence sends probes to every
//   contact it is subscribed to, and to its own account (so it hears its
//   other resources); probes are answered from each available session's last
//   presence, only to subscribers (no answer otherwise: nobody learns from a
//   probe whether an account exists).
//
// Storage: one database "roster.items" in data_dir/state, keyed by
// "user\0contact" (bare JIDs), the account's roster version under
// "user\0". Every write goes through the environment's writer; a roster set
// is answered, and a subscription stanza forwarded, only once the change is
// on disk.
//
// Federation is a later capability: presence and subscriptions to remote
// contacts are stored and routed (and bounce for now), but broadcasts and
// probes skip remote contacts (UNFINISHED: s2s).
//
// Admins: `parleyctl roster show USER`, `roster add USER CONTACT [--name N]
// [--group G]...`, `roster del USER CONTACT` (control commands on worker 0),
// which act as the user's own roster set would (pushes included).
//
// One Module instance per worker; loop-affine. The roster service
// (roster_service.hpp) is one per process; see there for its threading.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "module/module_api.hpp"
#include "roster_service.hpp"
#include "subscription.hpp"

namespace parley::mod_roster {

inline constexpr const char* kNsRoster = "jabber:iq:roster";
inline constexpr const char* kNsRosterVer = "urn:xmpp:features:rosterver";
inline constexpr const char* kNsPreApproval = "urn:xmpp:features:pre-approval";

// The database key of an item, and the prefix of an account's items.
std::string item_key(const xmpp::Jid& user, const xmpp::Jid& contact);
std::string user_prefix(const xmpp::Jid& user);

// The process-wide service. Each worker's module instance attaches its
// database handle at start and detaches it at stop; reads from worker w use
// handle w (each slot is written and read only by its own worker, so no lock).
class Service final : public roster::RosterService {
public:
    Status start(module::ServiceHost& host) override;
    void attach(unsigned worker, std::shared_ptr<module::Database> db);
    void detach(unsigned worker);

    Result<std::optional<roster::Item>> item(unsigned worker, const xmpp::Jid& user,
                                             const xmpp::Jid& contact) const override;
    Result<std::vector<roster::Item>> items(unsigned worker, const xmpp::Jid& user) const override;
    bool presence_visible_to(unsigned worker, const xmpp::Jid& user, const xmpp::Jid& contact) const override;

private:
    std::vector<std::shared_ptr<module::Database>> dbs_;
};

// Reads through one database handle (the module and the service share them).
Result<std::optional<roster::Item>> load_item(const module::Database& db, const xmpp::Jid& user,
                                              const xmpp::Jid& contact, std::string* request_status = nullptr);
// Every item of the account, with the status of each unanswered request
// (empty when none), and its roster version (0 before the first change).
struct Listing {
    std::vector<roster::Item> items;
    std::vector<std::string> request_status;
    uint64_t version = 0;
};
Result<Listing> load_roster(const module::Database& db, const xmpp::Jid& user);

// The <item/> of a roster result or push (RFC 6121 §2.1.2).
xml::Element item_element(const roster::Item& item);
// Validates a roster set's payload (RFC 6121 §2.3.3): exactly one item, a
// bare JID, no subscription other than "remove", no 'ask', each group once
// and not empty, lengths bounded. Fills `out` (and `remove`).
Status parse_set(const xml::Element& query, roster::Item& out, bool& remove);

class Roster final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    void stop() override;

private:
    struct Update;
    // Runs `change` on the writer for user's item for contact (a new item
    // when there is none), stores the result (deleting what is no longer
    // worth keeping), bumps the roster version when it changed, and calls
    // `done` on this worker once it is on disk.
    using Change = std::function<roster::Effect(roster::Item& item, std::string& request_status, bool& remove)>;
    void update(const xmpp::Jid& user, const xmpp::Jid& contact, Change change,
                std::function<void(Status, const Update&)> done);

    void roster_get(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void roster_set(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    module::HookResult client_presence(module::StanzaContext& ctx);
    void outbound_subscription(const xml::Element& stanza, const xmpp::Jid& user, const xmpp::Jid& contact);
    module::HookResult decision_point(module::RoutedContext& ctx);
    void inbound_subscription(const xml::Element& stanza, const xmpp::Jid& from, const xmpp::Jid& user);
    void answer_probe(const xmpp::Jid& prober, const xmpp::Jid& user);
    void session_available(const module::SessionInfo& s);
    void session_closed(const module::SessionInfo& s);
    // A deleted account (worker 0): its contacts hear that the
    // subscriptions ended, as if it had removed every item (RFC 6121
    // §2.5.2), and every record of its roster goes.
    void account_deleted(const xmpp::Jid& user, std::function<void(Status)> done);
    // `parleyctl roster show|add|del` (worker 0).
    void control(const std::vector<std::string>& args, module::ControlReply reply);
    // A roster set or remove for `user` (from the client or parleyctl):
    // stored, pushed, subscriptions cancelled on remove; `done` gets the
    // stanza error's condition and text, or nothing.
    void set_item(const xmpp::Jid& user, const roster::Item& wanted, bool remove,
                  std::function<void(std::optional<StanzaError>)> done);

    // user's current presence (each available session's last) to `to`.
    void send_presence_of(const xmpp::Jid& user, const xmpp::Jid& to, bool unavailable_when_none);
    void send_unavailable_of(const xmpp::Jid& user, const xmpp::Jid& to);
    // Presence from `from` (a session's full JID) to every local contact
    // with a subscription from or both, and to `extra`.
    void broadcast(const xml::Element& presence, const xmpp::Jid& from, const std::vector<xmpp::Jid>& extra);
    void push(const xmpp::Jid& user, const roster::Item& item, bool removed, uint64_t version);
    std::optional<uint64_t> session_id_of(const xmpp::Jid& full) const;

    module::Host* host_ = nullptr;
    std::shared_ptr<module::Database> db_;
    Service* service_ = nullptr;
    size_t max_items_ = 2000;
    size_t max_directed_ = 100;
    uint64_t next_push_ = 0;
};

extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;
extern const config::OptionSpec kOptions[];
inline constexpr size_t kOptionCount = 2;

}  // namespace parley::mod_roster
