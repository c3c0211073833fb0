// StanzaError: an RFC 6120 §8.3 stanza error as a value, and the one error
// every refusal on an account's behalf uses (recipient_unavailable()).
//
// Any stage of the stanza path may return one; the core turns it into an
// error reply to the sender (never in reply to an error, never for an iq
// result or error). Part of the module interface. Value type: any thread.
#pragma once

#include <string>

namespace parley {

struct StanzaError {
    // "auth", "cancel", "continue", "modify" or "wait".
    std::string type;
    // Defined condition element name, e.g. "service-unavailable".
    std::string condition;
    // Human-readable text (English), may be empty.
    std::string text;
    // An application-specific condition (RFC 6120 §8.3.2), e.g. XEP-0060's
    // <precondition-not-met xmlns='http://jabber.org/protocol/pubsub#errors'/>:
    // its element name and namespace; empty for none. `app_feature` is the
    // 'feature' attribute some of them carry (XEP-0060's <unsupported/>).
    std::string app_condition = {};
    std::string app_ns = {};
    std::string app_feature = {};

    // The same error with an application-specific condition added.
    StanzaError with_app(std::string condition, std::string ns, std::string feature = {}) && {
        app_condition = std::move(condition);
        app_ns = std::move(ns);
        app_feature = std::move(feature);
        return std::move(*this);
    }

    static StanzaError cancel(std::string condition, std::string text = {}) {
        return {"cancel", std::move(condition), std::move(text)};
    }
    static StanzaError modify(std::string condition, std::string text = {}) {
        return {"modify", std::move(condition), std::move(text)};
    }
    static StanzaError auth(std::string condition, std::string text = {}) {
        return {"auth", std::move(condition), std::move(text)};
    }
    static StanzaError wait(std::string condition, std::string text = {}) {
        return {"wait", std::move(condition), std::move(text)};
    }
};

// The one error for a stanza to an account that is neither delivered nor
// answered: the same condition and text whether the account does not exist
// or exists with no available resource (RFC 6121 §8.5.1, §8.5.2.2), so that
// nobody learns from a bounce which accounts exist. Every refusal of a
// stanza addressed to an account (bare or full JID) uses it: the router's
// (router/rules.hpp, and an iq on behalf of an account that no handler
// serves), and a module's that answers for an account and refuses someone
// (disco, vCard, last activity: a stranger gets what a missing account gets).
inline StanzaError recipient_unavailable() {
    return StanzaError::cancel("service-unavailable", "the recipient is not available");
}

}  // namespace parley
