// A PEP node's configuration (XEP-0060 §16.4.4 pubsub#node_config, the
// subset PEP needs) and the data forms (XEP-0004) that read and write it:
// the configure form, submitted configurations and publish-options
// preconditions (XEP-0060 §7.1.5, XEP-0223). Value types and pure
// functions: any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors/stanza_error.hpp"
#include "xml/element.hpp"

namespace parley::mod_pep {

inline constexpr std::string_view kNsPubsub = "http://jabber.org/protocol/pubsub";
inline constexpr std::string_view kNsPubsubOwner = "http://jabber.org/protocol/pubsub#owner";
inline constexpr std::string_view kNsPubsubEvent = "http://jabber.org/protocol/pubsub#event";
inline constexpr std::string_view kNsPubsubErrors = "http://jabber.org/protocol/pubsub#errors";
inline constexpr std::string_view kNsData = "jabber:x:data";
inline constexpr std::string_view kFormNodeConfig = "http://jabber.org/protocol/pubsub#node_config";
inline constexpr std::string_view kFormPublishOptions = "http://jabber.org/protocol/pubsub#publish-options";

enum class AccessModel : uint8_t { presence = 0, open = 1, whitelist = 2 };
enum class SendLast : uint8_t { never = 0, on_sub = 1, on_sub_and_presence = 2 };

std::string_view to_string(AccessModel a);
std::string_view to_string(SendLast s);

// max_items == kMaxItemsMax stands for "max": the server's per-node limit.
inline constexpr uint32_t kMaxItemsMax = 0;

struct NodeConfig {
    AccessModel access = AccessModel::presence;
    bool persist_items = true;
    uint32_t max_items = 1;
    SendLast send_last = SendLast::on_sub_and_presence;
    bool deliver_notifications = true;
    bool deliver_payloads = true;
    bool notify_retract = true;
    bool notify_delete = true;
    std::string title;
    friend bool operator==(const NodeConfig&, const NodeConfig&) = default;

    // How many items the node keeps, with the server's limit for "max". A
    // node that does not persist items keeps its last one, which is what
    // "last published item" delivery sends.
    uint32_t effective_max(uint32_t server_max) const {
        if (!persist_items) return 1;
        return max_items == kMaxItemsMax || max_items > server_max ? server_max : max_items;
    }
};

// The defaults of a new node named `node` (XEP-0163 §8 "smart defaults",
// with per-node defaults for the well-known private and public nodes: see
// README "Node defaults"). `default_max_items` is the module's option.
NodeConfig default_config(std::string_view node, uint32_t default_max_items);

// A submitted data form: every field's values by var, FORM_TYPE apart.
struct SubmittedForm {
    std::string form_type;  // empty when the form has none
    std::vector<std::pair<std::string, std::vector<std::string>>> fields;  // in document order, FORM_TYPE excluded
};

// Reads <x xmlns='jabber:x:data' type='submit'/> (type may be absent).
// Errors: a form of another type (bad-request), a field without var.
std::optional<StanzaError> parse_form(const xml::Element& x, SubmittedForm& out);

// Applies the fields of a configuration form or of publish-options to
// `config`. Every field must be known (XEP-0060 §7.1.5: unknown fields are
// refused) and valid: max_items at most `server_max` (or "max"), access
// models presence, open and whitelist, publish_model publishers only,
// notification_type headline only. The error names the field.
std::optional<StanzaError> apply_fields(const SubmittedForm& form, NodeConfig& config, uint32_t server_max);

// XEP-0060 §7.1.5: each field is a precondition compared with `config`;
// the first unmet one gives conflict + <precondition-not-met/> naming it.
std::optional<StanzaError> check_preconditions(const SubmittedForm& form, const NodeConfig& config);

// The configure form of XEP-0060 §8.2 with the current values.
xml::Element config_form(const NodeConfig& config, std::string_view form_type = kFormNodeConfig);

// <x xmlns='jabber:x:data' type='result'> with pubsub#meta-data for disco#info of a node.
xml::Element meta_data_form(const NodeConfig& config, std::string_view owner);

// XEP-0060's pubsub-specific error helpers.
StanzaError pubsub_error(StanzaError base, std::string app, std::string feature = {});

}  // namespace parley::mod_pep
