#include "router/rules.hpp"

#include <algorithm>

namespace parley::router {

namespace {

Decision unavailable() {
    Decision d;
    d.action = Decision::Action::bounce;
    d.error = recipient_unavailable();
    return d;
}

Decision act(Decision::Action a) {
    Decision d;
    d.action = a;
    return d;
}

// The decision point; `bounce` is the default when no module takes it.
Decision nobody(bool bounce) {
    Decision d = act(Decision::Action::unavailable);
    if (bounce) d.error = recipient_unavailable();
    return d;
}

bool is_account_presence(std::string_view type) {
    return type == "probe" || type == "subscribe" || type == "subscribed" || type == "unsubscribe" ||
           type == "unsubscribed";
}

}  // namespace

Decision decide_full(std::string_view kind, std::string_view type, const sessions::SessionEntry* found) {
    // Subscription stanzas and probes are for the account, not a resource:
    // the server handles them for the bare JID (RFC 6121 §3.1.3, §4.3).
    if (kind == "presence" && is_account_presence(type)) return act(Decision::Action::to_bare);
    if (found) {
        Decision d = act(Decision::Action::deliver);
        d.targets.push_back(*found);
        return d;
    }
    // RFC 6121 §8.5.3.2: no session is bound to that full JID.
    if (kind == "message") {
        if (type.empty() || type == "normal" || type == "chat") return act(Decision::Action::to_bare);
        if (type == "groupchat") return unavailable();
        return act(Decision::Action::drop);  // headline, error
    }
    if (kind == "iq") {
        if (type == "get" || type == "set") return unavailable();
        return act(Decision::Action::drop);
    }
    return act(Decision::Action::drop);  // presence to an offline resource
}

Decision decide_bare(std::string_view kind, std::string_view type, const std::vector<sessions::SessionEntry>& sessions,
                     bool account_exists) {
    if (kind == "iq") {
        // RFC 6121 §8.5.1 / RFC 6120 §10.5.4: the server answers for the account.
        if (type != "get" && type != "set") return act(Decision::Action::drop);
        if (!account_exists) return unavailable();
        return act(Decision::Action::handle_iq);
    }
    if (kind == "message") {
        if (type == "error") return act(Decision::Action::drop);
        if (type == "groupchat") return unavailable();
        Decision d = act(Decision::Action::deliver);
        if (type == "headline") {
            // Every available resource with non-negative priority (§8.5.2.1.1).
            for (const auto& s : sessions)
                if (s.available && s.priority >= 0) d.targets.push_back(s);
            if (d.targets.empty()) return act(Decision::Action::drop);
            return d;
        }
        // normal and chat: the available resources of highest non-negative priority.
        int best = -1;
        for (const auto& s : sessions)
            if (s.available && s.priority >= 0) best = std::max(best, s.priority);
        if (best < 0) {
            // Offline storage (a module) may take it; by default the same
            // bounce whether the account exists or not (no enumeration).
            if (!account_exists) return unavailable();
            return nobody(true);
        }
        for (const auto& s : sessions)
            if (s.available && s.priority == best) d.targets.push_back(s);
        return d;
    }
    // Presence to a bare JID reaches the available resources (§8.5.2.1.3).
    // Probes and subscription stanzas are the server's to handle for the
    // account (§3, §4.3), so they always go to the decision point, where the
    // roster module answers probes and runs the subscription state machine;
    // so do presence stanzas to an account with nobody available. Without a
    // module they are dropped.
    if (type == "error" || !account_exists) return act(Decision::Action::drop);
    if (is_account_presence(type)) return nobody(false);
    Decision d = act(Decision::Action::deliver);
    for (const auto& s : sessions)
        if (s.available) d.targets.push_back(s);
    if (d.targets.empty()) return nobody(false);
    return d;
}

}  // namespace parley::router
