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
// UNFINISHED (issue 17): see room.hpp for what a room does today; room
// messages are not in the compliance archive yet.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "module/module_api.hpp"
#include "room.hpp"

namespace parley::mod_muc {

extern const config::OptionSpec kOptions[];
extern const size_t kOptionCount;
extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 2;

struct Settings {
    std::string domain;  // conference.example.org
    std::string vhost;   // example.org: its accounts may create rooms
    std::string name = "Chatrooms";
    RoomLimits limits;
    size_t max_rooms_per_worker = 10000;
    size_t max_rooms_per_user = 10;  // rooms one account has made and that still exist, per worker
};

Result<Settings> read_settings(const config::Section& section);

// Which worker owns the room `room_bare` (node@domain, lower case).
unsigned owner_of(const std::string& room_bare, unsigned workers);

class Muc final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

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
    std::unique_ptr<Room> make_room(const xmpp::Jid& jid, const xmpp::Jid& creator);

    module::Host* host_ = nullptr;
    Settings settings_;
    std::map<std::string, std::unique_ptr<Room>> rooms_;  // by room bare JID
    std::vector<xml::Element> outbox_;
    std::shared_ptr<module::Database> db_;
    std::set<std::string> stored_;        // rooms with a record on disk
    unsigned writes_in_flight_ = 0;
    std::vector<xml::Element> held_;      // room output waiting for those writes
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parley::mod_muc
