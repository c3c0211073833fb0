#include "subscription.hpp"

#include <cstdint>

namespace parley::roster {

namespace {

bool has_to(const Item& i) { return i.subscription == Subscription::to || i.subscription == Subscription::both; }
bool has_from(const Item& i) { return i.subscription == Subscription::from || i.subscription == Subscription::both; }

void set(Item& i, bool to, bool from) {
    i.subscription = to ? (from ? Subscription::both : Subscription::to) : (from ? Subscription::from : Subscription::none);
}

void put_u16(std::string& out, size_t v) {
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
}

bool get_u16(std::string_view& in, size_t& v) {
    if (in.size() < 2) return false;
    v = (static_cast<size_t>(static_cast<unsigned char>(in[0])) << 8) | static_cast<unsigned char>(in[1]);
    in.remove_prefix(2);
    return true;
}

bool get_str(std::string_view& in, std::string& s) {
    size_t n = 0;
    if (!get_u16(in, n) || in.size() < n) return false;
    s.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
}

constexpr char kFormat = 1;

}  // namespace

const char* to_string(Subscription s) {
    switch (s) {
        case Subscription::none: return "none";
        case Subscription::to: return "to";
        case Subscription::from: return "from";
        case Subscription::both: return "both";
    }
    return "none";
}

bool is_subscription_type(std::string_view t) {
    return t == "subscribe" || t == "subscribed" || t == "unsubscribe" || t == "unsubscribed";
}

Effect outbound(Item& item, std::string_view type) {
    Effect e;
    const bool to = has_to(item), from = has_from(item);
    if (type == "subscribe") {
        // §3.1.2: the user asks; routed whatever the state (the contact's
        // server answers at once when the subscription exists already).
        e.forward = true;
        if (!item.in_roster) {
            item.in_roster = true;  // the contact joins the roster (§3.1.2)
            e.changed = true;
        }
        if (!to && !item.ask) {
            item.ask = true;
            e.changed = true;
        }
    } else if (type == "unsubscribe") {
        // §3.3.2: the user no longer wants the contact's presence.
        e.forward = true;
        if (to || item.ask) {
            item.ask = false;
            set(item, false, from);
            e.changed = true;
        }
    } else if (type == "subscribed") {
        // §3.1.5: the user approves a request; without one it is a
        // pre-approval (§3.4), which is never routed.
        if (item.pending_in) {
            item.pending_in = false;
            item.approved = false;
            item.in_roster = true;
            set(item, to, true);
            e.changed = e.forward = e.send_presence = true;
        } else if (!from && !item.approved) {
            item.approved = true;
            item.in_roster = true;
            e.changed = true;
        }
    } else if (type == "unsubscribed") {
        // §3.2.2: the user cancels the contact's subscription or denies its
        // request; a pre-approval is withdrawn.
        if (from || item.pending_in) {
            e.send_unavailable = from;
            item.pending_in = false;
            item.approved = false;
            set(item, to, false);
            e.changed = e.forward = true;
        } else if (item.approved) {
            item.approved = false;
            e.changed = true;
        }
    }
    return e;
}

Effect inbound(Item& item, std::string_view type) {
    Effect e;
    const bool to = has_to(item), from = has_from(item);
    if (type == "subscribe") {
        // §3.1.3
        if (from) {
            e.reply_subscribed = e.send_presence = true;  // already subscribed: answer for the user
        } else if (item.approved) {
            item.approved = false;
            item.pending_in = false;
            set(item, to, true);
            e.changed = e.reply_subscribed = e.send_presence = true;
        } else if (!item.pending_in) {
            item.pending_in = true;
            e.changed = e.forward = e.remember_request = true;
        }
    } else if (type == "subscribed") {
        // §3.1.6: only an answer to a request the user made counts.
        if (item.ask) {
            item.ask = false;
            set(item, true, from);
            e.changed = e.forward = true;
        }
    } else if (type == "unsubscribe") {
        // §3.3.3
        if (from || item.pending_in) {
            item.pending_in = false;
            item.approved = false;
            set(item, to, false);
            e.changed = e.forward = true;
        }
    } else if (type == "unsubscribed") {
        // §3.2.3
        if (to || item.ask) {
            item.ask = false;
            set(item, false, from);
            e.changed = e.forward = true;
        }
    }
    return e;
}

bool worth_keeping(const Item& item) {
    return item.in_roster || item.pending_in || item.approved || item.ask || item.subscription != Subscription::none;
}

std::string encode(const Item& item, std::string_view request_status) {
    std::string out;
    out.push_back(kFormat);
    unsigned flags = static_cast<unsigned>(item.subscription) | (item.ask ? 4u : 0u) | (item.pending_in ? 8u : 0u) |
                     (item.approved ? 16u : 0u) | (item.in_roster ? 32u : 0u);
    out.push_back(static_cast<char>(flags));
    put_u16(out, item.name.size());
    out += item.name;
    put_u16(out, item.groups.size());
    for (const auto& g : item.groups) {
        put_u16(out, g.size());
        out += g;
    }
    put_u16(out, request_status.size());
    out += request_status;
    return out;
}

Result<Item> decode(std::string_view contact, std::string_view value, std::string* request_status) {
    auto corrupt = [&] { return Status::error("corrupt", "roster item for " + std::string(contact) + " is corrupt"); };
    if (value.size() < 2 || value[0] != kFormat) return corrupt();
    Item item;
    auto jid = xmpp::Jid::parse(contact);
    if (!jid || !jid->is_bare()) return corrupt();
    item.jid = std::move(jid).value();
    const unsigned flags = static_cast<unsigned char>(value[1]);
    if (flags & ~63u) return corrupt();
    item.subscription = static_cast<Subscription>(flags & 3u);
    item.ask = flags & 4u;
    item.pending_in = flags & 8u;
    item.approved = flags & 16u;
    item.in_roster = flags & 32u;
    value.remove_prefix(2);
    size_t groups = 0;
    if (!get_str(value, item.name) || !get_u16(value, groups)) return corrupt();
    for (size_t i = 0; i < groups; ++i) {
        std::string g;
        if (!get_str(value, g)) return corrupt();
        item.groups.push_back(std::move(g));
    }
    std::string status;
    if (!get_str(value, status) || !value.empty()) return corrupt();
    if (request_status) *request_status = std::move(status);
    return item;
}

}  // namespace parley::roster
