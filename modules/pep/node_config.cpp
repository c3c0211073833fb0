#include "node_config.hpp"

#include <charconv>

namespace parley::mod_pep {

namespace {

using FieldValues = std::vector<std::string>;

std::optional<bool> parse_bool(std::string_view v) {
    if (v == "1" || v == "true") return true;
    if (v == "0" || v == "false") return false;
    return std::nullopt;
}

std::optional<AccessModel> parse_access(std::string_view v) {
    if (v == "presence") return AccessModel::presence;
    if (v == "open") return AccessModel::open;
    if (v == "whitelist") return AccessModel::whitelist;
    return std::nullopt;
}

std::optional<SendLast> parse_send_last(std::string_view v) {
    if (v == "never") return SendLast::never;
    if (v == "on_sub") return SendLast::on_sub;
    if (v == "on_sub_and_presence") return SendLast::on_sub_and_presence;
    return std::nullopt;
}

// "max" -> kMaxItemsMax; a decimal 1..2^32-1 -> itself.
std::optional<uint32_t> parse_max_items(std::string_view v) {
    if (v == "max") return kMaxItemsMax;
    uint32_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n == 0) return std::nullopt;
    return n;
}

std::string max_items_string(uint32_t n) { return n == kMaxItemsMax ? "max" : std::to_string(n); }

StanzaError bad_value(const std::string& var, std::string_view why) {
    return StanzaError::modify("not-acceptable", "field " + var + ": " + std::string(why));
}

std::string_view single(const FieldValues& v) { return v.empty() ? std::string_view() : std::string_view(v.front()); }

xml::Element& add_field(xml::Element& x, const std::string& var, const std::string& type, const std::string& label) {
    auto& f = x.add_child("field", std::string(kNsData));
    f.set_attr("var", var);
    if (!type.empty()) f.set_attr("type", type);
    if (!label.empty()) f.set_attr("label", label);
    return f;
}

void add_value(xml::Element& f, std::string v) { f.add_child("value", std::string(kNsData)).add_text(std::move(v)); }

void add_option(xml::Element& f, const std::string& v) {
    f.add_child("option", std::string(kNsData)).add_child("value", std::string(kNsData)).add_text(v);
}

const char* bool_string(bool b) { return b ? "true" : "false"; }

}  // namespace

std::string_view to_string(AccessModel a) {
    switch (a) {
        case AccessModel::presence: return "presence";
        case AccessModel::open: return "open";
        case AccessModel::whitelist: return "whitelist";
    }
    return "presence";
}

std::string_view to_string(SendLast s) {
    switch (s) {
        case SendLast::never: return "never";
        case SendLast::on_sub: return "on_sub";
        case SendLast::on_sub_and_presence: return "on_sub_and_presence";
    }
    return "never";
}

NodeConfig default_config(std::string_view node, uint32_t default_max_items) {
    NodeConfig c;
    c.max_items = default_max_items;
    // Private data (XEP-0223 stores: bookmarks of XEP-0402 and XEP-0048,
    // XEP-0292 contact vCards) is never shown to contacts unless the owner
    // configures it so: a client that publishes without publish-options
    // must not leak it.
    if (node == "urn:xmpp:bookmarks:1" || node == "storage:bookmarks" || node == "urn:xmpp:contacts") {
        c.access = AccessModel::whitelist;
        c.max_items = kMaxItemsMax;
        c.send_last = SendLast::never;
    } else if (node == "urn:xmpp:vcard4") {
        // XEP-0292 §3: the vCard is world-readable (XEP-0222 public data).
        c.access = AccessModel::open;
    }
    return c;
}

std::optional<StanzaError> parse_form(const xml::Element& x, SubmittedForm& out) {
    const std::string_view type = x.attr_or("type");
    if (!type.empty() && type != "submit")
        return StanzaError::modify("bad-request", "the data form must be of type submit");
    for (const xml::Element& f : x.children()) {
        if (f.name() != "field" || f.ns() != kNsData) continue;
        const std::string* var = f.attr("var");
        if (!var || var->empty()) return StanzaError::modify("bad-request", "a data form field has no var");
        FieldValues values;
        for (const xml::Element& v : f.children())
            if (v.name() == "value" && v.ns() == kNsData) values.push_back(v.text());
        if (*var == "FORM_TYPE") out.form_type = single(values);
        else out.fields.emplace_back(*var, std::move(values));
    }
    return std::nullopt;
}

std::optional<StanzaError> apply_fields(const SubmittedForm& form, NodeConfig& config, uint32_t server_max) {
    NodeConfig c = config;
    for (const auto& [var, values] : form.fields) {
        const std::string_view v = single(values);
        if (var == "pubsub#title") {
            c.title = std::string(v);
        } else if (var == "pubsub#deliver_notifications" || var == "pubsub#deliver_payloads" ||
                   var == "pubsub#notify_retract" || var == "pubsub#notify_delete" || var == "pubsub#persist_items") {
            auto b = parse_bool(v);
            if (!b) return bad_value(var, "expected a boolean");
            if (var == "pubsub#deliver_notifications") c.deliver_notifications = *b;
            else if (var == "pubsub#deliver_payloads") c.deliver_payloads = *b;
            else if (var == "pubsub#notify_retract") c.notify_retract = *b;
            else if (var == "pubsub#notify_delete") c.notify_delete = *b;
            else c.persist_items = *b;
        } else if (var == "pubsub#max_items") {
            auto n = parse_max_items(v);
            if (!n) return bad_value(var, "expected 'max' or a positive integer");
            if (*n != kMaxItemsMax && *n > server_max)
                return bad_value(var, "this server keeps at most " + std::to_string(server_max) + " items per node");
            c.max_items = *n;
        } else if (var == "pubsub#access_model") {
            auto a = parse_access(v);
            if (!a) return bad_value(var, "supported access models are presence, open and whitelist");
            c.access = *a;
        } else if (var == "pubsub#send_last_published_item") {
            auto s = parse_send_last(v);
            if (!s) return bad_value(var, "expected never, on_sub or on_sub_and_presence");
            c.send_last = *s;
        } else if (var == "pubsub#publish_model") {
            if (v != "publishers") return bad_value(var, "only the owner publishes to a PEP node (publishers)");
        } else if (var == "pubsub#notification_type") {
            if (v != "headline") return bad_value(var, "notifications are headline messages");
        } else {
            return bad_value(var, "this option is not supported");
        }
    }
    config = std::move(c);
    return std::nullopt;
}

std::optional<StanzaError> check_preconditions(const SubmittedForm& form, const NodeConfig& config) {
    auto unmet = [](const std::string& var, std::string_view have, std::string_view want) {
        return pubsub_error(StanzaError::cancel("conflict", "precondition " + var + " is '" + std::string(want) +
                                                                "' but the node has '" + std::string(have) + "'"),
                            "precondition-not-met");
    };
    for (const auto& [var, values] : form.fields) {
        const std::string_view v = single(values);
        std::string have;
        bool met = false;
        if (var == "pubsub#title") {
            have = config.title;
            met = v == have;
        } else if (var == "pubsub#deliver_notifications" || var == "pubsub#deliver_payloads" ||
                   var == "pubsub#notify_retract" || var == "pubsub#notify_delete" || var == "pubsub#persist_items") {
            const bool h = var == "pubsub#deliver_notifications" ? config.deliver_notifications
                           : var == "pubsub#deliver_payloads"    ? config.deliver_payloads
                           : var == "pubsub#notify_retract"      ? config.notify_retract
                           : var == "pubsub#notify_delete"       ? config.notify_delete
                                                                 : config.persist_items;
            have = bool_string(h);
            auto b = parse_bool(v);
            met = b && *b == h;
        } else if (var == "pubsub#max_items") {
            have = max_items_string(config.max_items);
            auto n = parse_max_items(v);
            met = n && *n == config.max_items;
        } else if (var == "pubsub#access_model") {
            have = std::string(to_string(config.access));
            met = v == have;
        } else if (var == "pubsub#send_last_published_item") {
            have = std::string(to_string(config.send_last));
            met = v == have;
        } else if (var == "pubsub#publish_model") {
            have = "publishers";
            met = v == have;
        } else if (var == "pubsub#notification_type") {
            have = "headline";
            met = v == have;
        } else {
            return pubsub_error(StanzaError::cancel("conflict", "unknown publish option " + var), "precondition-not-met");
        }
        if (!met) return unmet(var, have, v);
    }
    return std::nullopt;
}

xml::Element config_form(const NodeConfig& c, std::string_view form_type) {
    xml::Element x("x", std::string(kNsData));
    x.set_attr("type", "form");
    add_value(add_field(x, "FORM_TYPE", "hidden", ""), std::string(form_type));
    add_value(add_field(x, "pubsub#title", "text-single", "A friendly name for the node"), c.title);
    add_value(add_field(x, "pubsub#deliver_notifications", "boolean", "Whether to deliver event notifications"),
              bool_string(c.deliver_notifications));
    add_value(add_field(x, "pubsub#deliver_payloads", "boolean", "Whether to deliver payloads with event notifications"),
              bool_string(c.deliver_payloads));
    add_value(add_field(x, "pubsub#notify_retract", "boolean", "Notify subscribers when items are removed from the node"),
              bool_string(c.notify_retract));
    add_value(add_field(x, "pubsub#notify_delete", "boolean", "Notify subscribers when the node is deleted"),
              bool_string(c.notify_delete));
    add_value(add_field(x, "pubsub#persist_items", "boolean", "Persist items to storage"), bool_string(c.persist_items));
    add_value(add_field(x, "pubsub#max_items", "text-single",
                        "Max # of items to persist. `max` for no specific limit other than a server imposed maximum."),
              max_items_string(c.max_items));
    auto& access = add_field(x, "pubsub#access_model", "list-single", "Specify the subscriber model");
    for (const char* a : {"open", "presence", "whitelist"}) add_option(access, a);
    add_value(access, std::string(to_string(c.access)));
    auto& publish = add_field(x, "pubsub#publish_model", "list-single", "Specify the publisher model");
    add_option(publish, "publishers");
    add_value(publish, "publishers");
    auto& last = add_field(x, "pubsub#send_last_published_item", "list-single", "When to send the last published item");
    for (const char* s : {"never", "on_sub", "on_sub_and_presence"}) add_option(last, s);
    add_value(last, std::string(to_string(c.send_last)));
    auto& type = add_field(x, "pubsub#notification_type", "list-single", "Specify the delivery style for event notifications");
    add_option(type, "headline");
    add_value(type, "headline");
    return x;
}

xml::Element meta_data_form(const NodeConfig& c, std::string_view owner) {
    xml::Element x("x", std::string(kNsData));
    x.set_attr("type", "result");
    add_value(add_field(x, "FORM_TYPE", "hidden", ""), "http://jabber.org/protocol/pubsub#meta-data");
    if (!c.title.empty()) add_value(add_field(x, "pubsub#title", "", ""), c.title);
    add_value(add_field(x, "pubsub#owner", "jid-single", ""), std::string(owner));
    add_value(add_field(x, "pubsub#access_model", "", ""), std::string(to_string(c.access)));
    add_value(add_field(x, "pubsub#publish_model", "", ""), "publishers");
    return x;
}

StanzaError pubsub_error(StanzaError base, std::string app, std::string feature) {
    return std::move(base).with_app(std::move(app), std::string(kNsPubsubErrors), std::move(feature));
}

}  // namespace parley::mod_pep
