// The RFC 6121 subscription state machine and the stored form of a roster
// item, as pure functions: what a subscription stanza does to one roster
// item, seen from the user who sends it (outbound, §3.1.2-§3.4) or from the
// contact who receives it (inbound, §3.1.3-§3.3.3), and what the server must
// do besides (push, route, deliver, answer, send presence). modules/roster
// applies the effects; unit tests check every state. Value types; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "errors/status.hpp"
#include "roster_service.hpp"

namespace parley::roster {

// What one subscription stanza did and what must follow.
struct Effect {
    bool changed = false;         // the item changed: store it and push it
    bool forward = false;         // outbound: route the stanza to the contact;
                                  // inbound: deliver it to the user's available resources
    bool reply_subscribed = false;   // inbound subscribe: answer "subscribed" for the user
    bool send_presence = false;      // send the user's current presence to the contact
    bool send_unavailable = false;   // send unavailable presence from the user's resources
    bool remember_request = false;   // inbound subscribe: keep the request to deliver it again
};

// `item` is the user's item for the contact (a new one starts as
// in_roster = false, subscription none). `type` is one of subscribe,
// subscribed, unsubscribe, unsubscribed.
Effect outbound(Item& item, std::string_view type);
Effect inbound(Item& item, std::string_view type);

// Whether the item stays stored after a change: an item that is neither in
// the roster nor carries a pending request or an approval is deleted.
bool worth_keeping(const Item& item);

// The stored value of an item, and back. `request_status` is the <status/>
// text of an unanswered inbound request (delivered again with it).
std::string encode(const Item& item, std::string_view request_status);
// code "corrupt" on a value that is not one encode() wrote.
Result<Item> decode(std::string_view contact, std::string_view value, std::string* request_status = nullptr);

bool is_subscription_type(std::string_view type);

}  // namespace parley::roster
