// RoomClient: one parley-bench session's part in a group chat (XEP-0045),
// for --mode room.
//
// When the Runner says so, the session joins ROOM/n<index> and follows the
// join sequence the room sends (§7.2.3): the other occupants' presence, its
// own (status 110; 201 when this join created the room), the history (each
// message with a <delay/>), then the subject, which ends the join
// (§7.2.16). The owner (session 0) creates the room and unlocks it with an
// empty configuration form, an instant room (§10.1.2), before anyone else
// may join; its join ends when both the subject and the form's result are
// in. Once in, every groupchat message with a body and no delay is a
// delivery; a sender's own copy coming back from the room is how the
// Runner knows one of its messages is out of flight. Anything the room
// refuses (a presence or message error, the form refused, being removed)
// fails the session with what the room sent.
//
// Owned by its ClientSession and destroyed with it. Loop-affine: only the
// Runner's thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

class ClientSession;
class Runner;

class RoomClient {
  public:
    enum class State { out, joining, in };

    // `room`: room@service; the nickname is n<index>.
    RoomClient(ClientSession& session, Runner& runner, const std::string& room, int index,
               bool owner, bool sender);
    RoomClient(const RoomClient&) = delete;
    RoomClient& operator=(const RoomClient&) = delete;

    State state() const { return state_; }
    bool owner() const { return owner_; }
    bool sender() const { return sender_; }

    // Sends the join presence (without <history/>: the room's default).
    void join();
    // Says `message` (a prebuilt groupchat stanza) in the room.
    void say(const std::string& message);
    // A top-level element the session received once bound. False when it
    // is none of the room's business (an iq request: the session answers).
    bool handle(std::string_view name, std::string_view el);

    // The last join: when the presence went, when the subject came (0 until
    // then), and what came between.
    uint64_t join_sent_ns() const { return join_sent_ns_; }
    uint64_t joined_ns() const { return joined_ns_; }
    int presences_seen() const { return presences_seen_; }
    int history_seen() const { return history_seen_; }

  private:
    void on_presence(std::string_view el);
    void on_message(std::string_view el);
    void on_iq(std::string_view el);
    void maybe_joined();

    ClientSession& session_;
    Runner& runner_;
    const std::string room_;
    const std::string occupant_jid_;  // room@service/nick
    const bool owner_;
    const bool sender_;
    State state_ = State::out;
    bool subject_seen_ = false;
    bool awaiting_config_ = false;  // the owner sent the form; no result yet
    uint64_t join_sent_ns_ = 0;
    uint64_t joined_ns_ = 0;
    int presences_seen_ = 0;
    int history_seen_ = 0;
};

}  // namespace parley::bench
