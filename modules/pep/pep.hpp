// mod_pep: the Personal Eventing Protocol (XEP-0163): every account a
// pubsub service (the subset of XEP-0060 that PEP, XEP-0223 and XEP-0222
// need), with entity capabilities (XEP-0115) for +notify filtering;
// bookmarks (XEP-0402) as plain PEP with their compatibility to XEP-0048 in
// private XML storage (XEP-0049, served here in full); vCard4 (XEP-0292) as
// the PEP node urn:xmpp:vcard4.
//
// What it sees: iqs to an account's bare JID (pubsub, pubsub#owner,
// disco#info/#items, jabber:iq:private); and, through a stanza_in hook, the
// broadcast presence of this worker's own clients: their caps (which nodes
// they want, learnt by disco#info to the client's full JID and verified by
// XEP-0115 §5 before the 'ver' is cached) and when they become available
// (to send them the last published item of each node they may see); and,
// through a stanza_out hook, the roster pushes that tell a session it now
// sees a contact (a new subscriber gets the contact's last items). A
// contact's presence as delivered to the owner's sessions is not needed:
// every local contact's presence passes stanza_in on its own worker, PEP
// works while the owner is offline, and remote contacts wait for s2s.
//
// State: the store (node_store.hpp) is the truth, shared by all workers
// through LMDB; per session a slot (PepSlot: available, caps, NotifySet);
// per worker a cache of verified caps and the pending caps queries.
// Notifications for sessions on other workers are posted there, where
// their slot is read. Contacts come from the roster service (roster/1);
// without it only the owner sees its nodes.
//
// A deleted account's data goes (Host::on_account_deleted): its nodes,
// items and private XML, and its JID on other accounts' whitelists.
//
// One instance per worker; loop-affine.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caps.hpp"
#include "config/config.hpp"
#include "module/module_api.hpp"
#include "node_store.hpp"

namespace parley::roster {
class RosterService;
}

namespace parley::mod_pep {

inline constexpr std::string_view kNsBookmarks = "urn:xmpp:bookmarks:1";
inline constexpr std::string_view kNsLegacyBookmarks = "storage:bookmarks";
inline constexpr std::string_view kNsPrivate = "jabber:iq:private";
inline constexpr std::string_view kNsVcard4 = "urn:ietf:params:xml:ns:vcard-4.0";

// What the module keeps per session: plain data (it moves with a resumed
// session). Host::slot() of this module only ever holds a PepSlot.
struct PepSlot final : module::SessionSlot {
    bool available = false;
    std::string caps_key;                     // hash + ver of the caps now in force; empty: none
    std::shared_ptr<const NotifySet> notify;  // shared with the caps cache
    size_t memory_bytes() const override { return sizeof(*this) + caps_key.capacity(); }
};

struct Options {
    Limits limits;
    uint32_t default_max_items = 1;
    size_t max_payload_bytes = 65536;
    size_t caps_cache_size = 1000;
    uint64_t caps_timeout_ms = 10000;
    bool private_storage = true;
};

class Pep final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

    // The account features of disco#info (also what the tests check).
    std::vector<std::string> account_features() const;
    CapsCache& caps_cache() { return caps_; }
    const Options& options() const { return opt_; }

private:
    struct Waiter {
        uint64_t session_id;
        xmpp::Jid full;
        std::shared_ptr<const NotifySet> old;  // what the session wanted before (for "newly" wanted nodes)
    };
    struct PendingCaps {
        Caps caps;
        std::vector<Waiter> waiters;
        int attempts = 0;
    };

    // --- pubsub_iq.cpp ---
    void on_pubsub(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void on_owner(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void publish(const module::IqRequest& req, const xml::Element& publish, const xml::Element* options,
                 std::shared_ptr<module::IqResponder> r);
    void items(const module::IqRequest& req, const xml::Element& items, std::shared_ptr<module::IqResponder> r);
    void retract(const module::IqRequest& req, const xml::Element& retract, std::shared_ptr<module::IqResponder> r);
    void create(const module::IqRequest& req, const xml::Element& create, const xml::Element* configure,
                std::shared_ptr<module::IqResponder> r);
    void configure_get(const module::IqRequest& req, const std::string& node, std::shared_ptr<module::IqResponder> r);
    void configure_set(const module::IqRequest& req, const std::string& node, const xml::Element& x,
                       std::shared_ptr<module::IqResponder> r);
    void remove(const module::IqRequest& req, const std::string& node, bool purge,
                std::shared_ptr<module::IqResponder> r);
    void affiliations(const module::IqRequest& req, const xml::Element& a, bool owner_ns,
                      std::shared_ptr<module::IqResponder> r);
    void disco_info(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void disco_items(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    // The account's nodes `requester` may read (disco#items of the account).
    std::vector<module::DiscoItem> visible_nodes(const xmpp::Jid& owner, const xmpp::Jid& requester);

    // --- bookmarks.cpp: XEP-0049 private storage and the XEP-0048 view ---
    void on_private(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);

    // --- pep.cpp ---
    // Whether `requester` may read `owner`'s node: the error if not.
    std::optional<StanzaError> may_read(const xmpp::Jid& owner, const xmpp::Jid& requester, const NodeConfig& config,
                                        const std::vector<std::string>& members) const;
    // Sends `event` (a child of <event xmlns=pubsub#event>) to every
    // available session of the owner and of the contacts allowed to read the
    // node whose caps ask for `node`+notify.
    void notify(const xmpp::Jid& owner, const std::string& node, const NodeConfig& config,
                const std::vector<std::string>& members, std::vector<xml::Element> events);
    // The last published item of each node in `nodes` of every account the
    // session may see (its own and its contacts'), to that session: on its
    // initial presence (send_last_published_item on_sub_and_presence). With
    // `owner` set, only that account's, for a new subscription (on_sub too).
    void send_last_items(const xmpp::Jid& full, const NotifySet& nodes, const xmpp::Jid* owner = nullptr);
    module::HookResult on_presence(module::StanzaContext& c);
    // A roster push to one of this worker's sessions showing that it now
    // sees a contact's presence: that contact's last items (XEP-0163 §4.3.4,
    // "new subscribers").
    module::HookResult on_roster_push(module::StanzaContext& c);
    void learn_caps(uint64_t session_id, const xmpp::Jid& full, const Caps& caps,
                    std::shared_ptr<const NotifySet> old);
    void query_caps(const std::string& pending_key);
    void caps_answered(const std::string& pending_key, const xml::Element* reply);
    void apply_notify(const Waiter& w, const std::string& caps_key, std::shared_ptr<const NotifySet> set);
    xml::Element event_message(const xmpp::Jid& owner, const xmpp::Jid& to, std::vector<xml::Element> events);
    std::string next_id();
    // A deleted account (worker 0): every record it owns (nodes, items,
    // private XML, counters) and its JID on other accounts' whitelists go,
    // durably, before `done`.
    void purge(const xmpp::Jid& user, std::function<void(Status)> done);
    StanzaError store_error(const Status& s) const;
    bool ready(const std::shared_ptr<module::IqResponder>& r) const;  // false (and answered) without a database
    Status read(const std::function<Status(const store::Txn&, MDB_dbi)>& fn) const;

    module::Host* host_ = nullptr;
    std::shared_ptr<char> alive_;  // dropped in stop(): late iq replies find it gone
    std::shared_ptr<module::Database> db_;
    const roster::RosterService* roster_ = nullptr;
    Options opt_;
    CapsCache caps_{1000};
    std::map<std::string, PendingCaps> pending_;
    uint64_t ids_ = 0;
    std::string id_prefix_;
    size_t max_key_ = 511;
};

extern const config::OptionSpec kOptions[];
extern const size_t kOptionCount;
extern const module::XepInfo kXeps[];
extern const size_t kXepCount;

// Builds a Pep's options from a section (the schema's defaults filled in).
Result<Options> read_options(const config::Section& section);

}  // namespace parley::mod_pep
