// mod_muc: multi-user chat (XEP-0045) on a subdomain of a virtual host,
// e.g. conference.example.org, through the host's domain handler seam.
//
// Threads: every worker runs an instance; each room belongs to one worker,
// chosen by a hash of its bare JID (owner_of()), and lives in that worker's
// instance only. A stanza for a room, routed on any worker, is posted to the
// room's worker; the room answers from there through the router (Host::send),
// which delivers to each occupant's session wherever it runs. Nothing is
// shared between workers and nothing is locked. The service's own disco#items
// asks every worker for its rooms and answers when all have.
//
// Persistent rooms (configuration, affiliations, subject) are kept in the
// module's database `muc.rooms` (key: the room's bare JID, value: the
// room's snapshot as XML). Each worker loads the rooms it owns at start.
// What a room answers after a change that is kept (a configuration, an
// affiliation, a subject) leaves only once the write is on disk: the
// worker's room output waits behind any write in flight, in order.
//
// Room archives: when the archive module runs, the service tells it that it
// journals the groupchat messages to its domain itself
// (JournalService::set_room_journal) and does so for every room message
// (RoomArchive below): in durable mode the room's copies wait, like the
// room's other output, until the record is on disk; a record that fails
// takes its copies and its history entry back and tells the sender. MAM
// queries to a room are answered here over the room's view (the same page
// reader as mod_mam, modules/mam/page.hpp). Messages a moderator retracted
// are kept in `muc.retracted` and answered as tombstones (and, with
// moderation_keeps_original = false outside compliance mode, the original
// leaves the journal: JournalService::forget).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "../archive/journal_service.hpp"
#include "config/config.hpp"
#include "module/module_api.hpp"
#include "room.hpp"

namespace parley::mod_muc {

extern const config::OptionSpec kOptions[];
extern const size_t kOptionCount;
extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 5;

struct Settings {
    std::string domain;  // conference.example.org
    std::string vhost;   // example.org: its accounts may create rooms
    std::string name = "Chatrooms";
    RoomLimits limits;
    size_t max_rooms_per_worker = 10000;
    size_t max_rooms_per_user = 10;  // rooms one account has made and that still exist, per worker
    bool anyone_creates = true;       // any account of the virtual host, or only `creators`
    std::vector<std::string> creators;  // bare JIDs
    bool keep_moderated = true;       // the journal keeps moderated originals (always, in compliance mode)
};

Result<Settings> read_settings(const config::Section& section);

// Which worker owns the room `room_bare` (node@domain, lower case).
unsigned owner_of(const std::string& room_bare, unsigned workers);

class Muc final : public module::Module, public RoomArchive {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

    // RoomArchive, for the rooms of this worker.
    bool available() const override { return archive() != nullptr; }
    bool forced() const override {
        auto* a = archive();
        return a && a->compliance();
    }
    std::variant<uint64_t, StanzaError> record(const Room& room, const xml::Element& said, const xmpp::Jid& sender,
                                               bool in_view, std::string_view outcome) override;
    void query(const Room& room, const xml::Element& iq, const xmpp::Jid& from, bool sees_real_jids) override;
    bool contains(const Room& room, uint64_t id) override;
    void retracted(const Room& room, uint64_t id, const xml::Element& moderated) override;

private:
    void handle(module::DomainStanza& d);
    void service_stanza(const module::DomainStanza& d);
    // On the room's worker.
    void at_room(const module::DomainStanza& d);
    void reply_error(const xml::Element& stanza, const StanzaError& e);
    xml::Element service_info() const;
    void list_rooms(const xml::Element& iq, const xmpp::Jid& from);

    // Sends what rooms wrote, once the room that wrote it is done: a stanza
    // a room sends may come straight back to a room of this worker. Held
    // while a write of a room is in flight.
    void flush();
    // Keeps the room's snapshot, or removes it (nullopt), through the writer.
    void save(const std::string& key, std::optional<std::string> record);
    Status load_rooms();
    // After a room handled something: keeps or removes its record, forgets
    // a room that is gone, and sends what it wrote.
    void settle(const std::string& key);
    // `parleyctl room ...` (worker 0).
    void control(const std::vector<std::string>& args, module::ControlReply reply);
    std::unique_ptr<Room> make_room(const xmpp::Jid& jid, const xmpp::Jid& creator);
    // What every room of this worker is given: its output (into outbox_),
    // the journal, and the host's answers about domains and sessions.
    Room::Out room_output();
    void wire(Room& room);

    module::Host* host_ = nullptr;
    Settings settings_;
    std::map<std::string, std::unique_ptr<Room>> rooms_;  // by room bare JID
    std::vector<xml::Element> outbox_;
    std::shared_ptr<module::Database> db_;
    // Retracted room messages (XEP-0425): "ROOM ID" -> the <moderated/>
    // that their MAM results show instead of them.
    std::shared_ptr<module::Database> retracted_;
    std::set<std::string> stored_;        // rooms with a record on disk
    std::set<std::string> unreadable_;    // stored rooms this version cannot read: not made again
    // Room output waits for every write issued before it (room records,
    // journal records in durable mode, retractions) to complete, in order;
    // writes are numbered as issued.
    struct Held {
        uint64_t after = 0;              // the writes up to this number must have completed
        std::vector<xml::Element> out;
        std::function<void()> then;      // or something to run then (a parleyctl answer)
        uint64_t for_write = 0;          // the write this request's change waits for (0: none)
    };
    std::deque<Held> held_;
    size_t held_stanzas_ = 0;
    static constexpr size_t kMaxHeld = 200000;  // past that, room messages are refused
    uint64_t issued_ = 0;
    std::set<uint64_t> pending_;
    uint64_t begin_write();
    void end_write(uint64_t n);
    void release();
    // Runs fn once every write issued so far has completed (and what rooms
    // wrote before it was sent).
    void after_writes(std::function<void()> fn);
    std::set<std::string> resave_;       // rooms whose last save failed: saved again at their next change
    bool unsaved_now_ = false;           // a save just failed at once: flush() tells the requester
    uint64_t saving_ = 0;                // the save issued for the request being handled
    // The requests whose change write `n` was to keep (their iq results,
    // held behind it) learn that it was not saved: the results become
    // errors. For a write that failed at once, the outbox (n == 0).
    void tell_unsaved(uint64_t n);
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::map<std::string, bool, std::less<>> own_domains_;  // a domain -> whether it is a virtual host (cache)
    bool own_domain(std::string_view domain);
    // The archive service, looked up at each use: a reload may add or remove it.
    archive::JournalService* archive() const {
        return host_ ? module::service<archive::JournalService>(*host_) : nullptr;
    }
    archive::JournalService* claimed_ = nullptr;  // the service told that this worker journals its rooms
    void claim_room_journal();
    module::Origin current_origin_ = module::Origin::local_client;  // of the stanza a room handles now
    // A room message whose record failed: its held copies and history entry
    // go, and its sender is told.
    void withdraw(const std::string& room, uint64_t id, const xmpp::Jid& sender, const std::string& message_id);
    // Journals a groupchat message of room `key` (record() for a room; also
    // for a room that does not exist, in compliance mode).
    std::variant<uint64_t, StanzaError> journal(const std::string& key, const xml::Element& said,
                                                const xmpp::Jid& sender, bool in_view, std::string_view outcome);
    bool session_gone(const xmpp::Jid& full);
    // Sends `stanza` to `to`: straight to its session when it is a local
    // client's (MAM results, ahead of the stanza_out hooks), else routed.
    void send_to(const xmpp::Jid& to, xml::Element stanza);
    // A MAM result's message `m` (record `id` of `room`) as a tombstone, if
    // a moderator retracted it.
    void tombstone(const std::string& room, uint64_t id, xml::Element& m) const;
};

}  // namespace parley::mod_muc
