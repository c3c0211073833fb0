#include "room_client.hpp"

#include <uv.h>

#include <optional>

#include "client_session.hpp"
#include "runner.hpp"
#include "xml_scanner.hpp"

namespace parley::bench {

namespace {

bool has(std::string_view el, std::string_view what) {
    return el.find(what) != std::string_view::npos;
}

// A <status code='N'/> of muc#user, in either quoting.
bool has_status(std::string_view el, std::string_view code) {
    return has(el, "code='" + std::string(code) + "'") ||
           has(el, "code=\"" + std::string(code) + "\"");
}

bool is(const std::optional<std::string_view>& v, std::string_view what) { return v && *v == what; }

}  // namespace

RoomClient::RoomClient(ClientSession& session, Runner& runner, const std::string& room, int index,
                       bool owner, bool sender)
    : session_(session),
      runner_(runner),
      room_(room),
      occupant_jid_(room + "/n" + std::to_string(index)),
      owner_(owner),
      sender_(sender) {}

void RoomClient::join() {
    state_ = State::joining;
    subject_seen_ = false;
    presences_seen_ = history_seen_ = 0;
    join_sent_ns_ = uv_hrtime();
    joined_ns_ = 0;
    session_.send("<presence to='" + occupant_jid_ +
                  "'><x xmlns='http://jabber.org/protocol/muc'/></presence>");
}

void RoomClient::say(const std::string& message) { session_.send(message); }

bool RoomClient::handle(std::string_view name, std::string_view el) {
    if (name == "presence")
        on_presence(el);
    else if (name == "message")
        on_message(el);
    else if (name == "iq" && !is(attr(el, "type"), "get") && !is(attr(el, "type"), "set"))
        on_iq(el);
    else
        return false;
    return true;
}

void RoomClient::on_presence(std::string_view el) {
    const auto type = attr(el, "type");
    const auto from = attr(el, "from");
    if (is(type, "error")) return session_.fail("the room refused a presence: " + excerpt(el));
    if (!from || from->substr(0, room_.size() + 1) != room_ + "/") return;  // not an occupant's
    const bool self = *from == occupant_jid_;
    if (is(type, "unavailable")) {
        if (self && state_ != State::out) session_.fail("removed from the room: " + excerpt(el));
        return;
    }
    if (state_ != State::joining) return;  // someone else joining: nothing to do
    if (!self) {
        ++presences_seen_;
        return;
    }
    if (!has_status(el, "110"))
        return session_.fail("our own presence in the room without status 110: " + excerpt(el));
    if (owner_ && has_status(el, "201")) {
        // §10.1.2: accept the default configuration; the room stays locked
        // to everyone else until this is answered.
        awaiting_config_ = true;
        session_.send("<iq type='set' to='" + room_ +
                      "' id='cfg'><query xmlns='http://jabber.org/protocol/muc#owner'>"
                      "<x xmlns='jabber:x:data' type='submit'/></query></iq>");
    }
}

void RoomClient::on_message(std::string_view el) {
    const auto type = attr(el, "type");
    if (is(type, "error")) return session_.fail("a message bounced: " + excerpt(el));
    if (!is(type, "groupchat")) return;
    if (has(el, "<body")) {
        if (has(el, "<delay")) {
            if (state_ == State::joining) ++history_seen_;
            return;
        }
        runner_.on_room_message(session_, is(attr(el, "from"), occupant_jid_));
        return;
    }
    if (state_ == State::joining && has(el, "<subject")) {
        subject_seen_ = true;
        maybe_joined();
    }
}

void RoomClient::on_iq(std::string_view el) {
    if (!is(attr(el, "id"), "cfg")) return;
    if (!awaiting_config_)
        return session_.fail("an answer to a configuration form we did not send: " + excerpt(el));
    if (!is(attr(el, "type"), "result"))
        return session_.fail("the room refused its configuration: " + excerpt(el));
    awaiting_config_ = false;
    maybe_joined();
}

void RoomClient::maybe_joined() {
    if (!subject_seen_ || awaiting_config_ || state_ != State::joining) return;
    state_ = State::in;
    joined_ns_ = uv_hrtime();
    // The room is open to the others once its owner is in (and, if this
    // join made it, configured).
    if (owner_) runner_.shared().room_open.store(true);
    runner_.on_joined(session_);
}

}  // namespace parley::bench
