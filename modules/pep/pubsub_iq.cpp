// The pubsub and pubsub#owner requests to an account (XEP-0060 as profiled
// by XEP-0163), and disco of the account.
#include <gnutls/crypto.h>

#include <chrono>
#include <utility>

#include "element_codec.hpp"
#include "log/log.hpp"
#include "pep.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_pep {

namespace {

using Responder = std::shared_ptr<module::IqResponder>;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

StanzaError forbidden() { return StanzaError::auth("forbidden", "only the account's owner may do that"); }

StanzaError nodeid_required() {
    return pubsub_error(StanzaError::modify("bad-request", "the request names no node"), "nodeid-required");
}

StanzaError unsupported(std::string feature, std::string text) {
    return pubsub_error(StanzaError::cancel("feature-not-implemented", std::move(text)), "unsupported",
                        std::move(feature));
}

// The first element child of `e`, and how many element children it has.
const xml::Element* only_child(const xml::Element& e, size_t& count) {
    const xml::Element* found = nullptr;
    count = 0;
    for (const xml::Element& c : e.children()) {
        ++count;
        if (!found) found = &c;
    }
    return found;
}

xml::Element pubsub_result(std::string_view ns = kNsPubsub) { return xml::Element("pubsub", std::string(ns)); }

// A fresh item id: 16 random hex digits (unique enough per node; a clash
// would overwrite, as republishing with the same id does).
std::string random_id() {
    unsigned char raw[8];
    if (gnutls_rnd(GNUTLS_RND_NONCE, raw, sizeof raw) < 0) {
        static uint64_t fallback = 0;
        uint64_t v = static_cast<uint64_t>(now_ms()) ^ (++fallback << 40);
        for (auto& b : raw) b = static_cast<unsigned char>(v), v >>= 8;
    }
    std::string id;
    for (unsigned char c : raw) id += "0123456789abcdef"[c >> 4], id += "0123456789abcdef"[c & 15];
    return id;
}

xml::Element item_element(std::string_view ns, const StoredItem& it, bool payload) {
    xml::Element item("item", std::string(ns));
    item.set_attr("id", it.id);
    if (payload && !it.payload.empty()) {
        auto p = decode_element(it.payload);
        if (p) item.add_child(std::move(p.value()));
        else log::warn("pep", "an item payload could not be read: {}", p.status().to_string());
    }
    return item;
}

}  // namespace

void Pep::on_pubsub(const module::IqRequest& req, Responder r) {
    if (!ready(r)) return;
    size_t count = 0;
    const xml::Element* action = only_child(req.payload, count);
    const xml::Element* options = nullptr;
    if (action && count == 2) {
        // publish + publish-options, create + configure: the second is the option.
        for (const xml::Element& c : req.payload.children())
            if (&c != action) options = &c;
        if (action->name() == "publish-options" || action->name() == "configure") std::swap(action, options);
        const bool ok = options->ns() == kNsPubsub &&
                        ((action->name() == "publish" && options->name() == "publish-options") ||
                         (action->name() == "create" && options->name() == "configure"));
        if (!ok) {
            r->error(StanzaError::modify("bad-request", "a pubsub request carries one action"));
            return;
        }
    } else if (!action || count != 1) {
        r->error(StanzaError::modify("bad-request", "a pubsub request carries one action"));
        return;
    }
    if (action->ns() != kNsPubsub) {
        r->error(StanzaError::modify("bad-request", "unexpected element in the pubsub request"));
        return;
    }
    const std::string& name = action->name();
    const bool set = req.iq.attr_or("type") == "set";
    if (set && name == "publish") return publish(req, *action, options, r);
    if (set && name == "retract") return retract(req, *action, r);
    if (set && name == "create") return create(req, *action, options, r);
    if (!set && name == "items") return items(req, *action, r);
    if (!set && name == "affiliations") return affiliations(req, *action, false, r);
    if (!set && name == "subscriptions") {
        // Subscriptions here are implicit (presence and caps): there are no
        // explicit ones to list.
        xml::Element result = pubsub_result();
        auto& subs = result.add_child("subscriptions", std::string(kNsPubsub));
        if (const std::string* node = action->attr("node")) subs.set_attr("node", *node);
        return r->result(std::move(result));
    }
    if (set && (name == "subscribe" || name == "unsubscribe" || name == "options"))
        return r->error(unsupported("subscribe",
                                    "PEP subscriptions here are implicit: a presence subscription and +notify caps"));
    if (!set && (name == "options" || name == "default"))
        return r->error(unsupported("subscription-options", "there are no subscription options"));
    r->error(StanzaError::modify("bad-request", "unknown pubsub request <" + name + "/> for an iq " +
                                                    std::string(req.iq.attr_or("type"))));
}

void Pep::on_owner(const module::IqRequest& req, Responder r) {
    if (!ready(r)) return;
    if (req.from.bare() != req.to.bare()) return r->error(forbidden());
    size_t count = 0;
    const xml::Element* action = only_child(req.payload, count);
    if (!action || count != 1 || action->ns() != kNsPubsubOwner)
        return r->error(StanzaError::modify("bad-request", "a pubsub#owner request carries one action"));
    const std::string& name = action->name();
    const bool set = req.iq.attr_or("type") == "set";
    const std::string node(action->attr_or("node"));
    if (name == "default" && !set) {
        xml::Element result = pubsub_result(kNsPubsubOwner);
        result.add_child("default", std::string(kNsPubsubOwner))
            .add_child(config_form(default_config(node, opt_.default_max_items)));
        return r->result(std::move(result));
    }
    if (name == "affiliations") return affiliations(req, *action, true, r);
    if (name == "subscriptions") {
        if (set) return r->error(unsupported("manage-subscriptions", "there are no explicit subscriptions"));
        if (node.empty()) return r->error(nodeid_required());
        xml::Element result = pubsub_result(kNsPubsubOwner);
        result.add_child("subscriptions", std::string(kNsPubsubOwner)).set_attr("node", node);
        return r->result(std::move(result));
    }
    if (node.empty() && (name == "configure" || name == "delete" || name == "purge")) return r->error(nodeid_required());
    if (name == "configure") {
        if (!set) return configure_get(req, node, r);
        const xml::Element* x = action->child("x", kNsData);
        if (!x) return r->error(StanzaError::modify("bad-request", "configure carries a data form"));
        return configure_set(req, node, *x, r);
    }
    if (set && name == "delete") return remove(req, node, false, r);
    if (set && name == "purge") return remove(req, node, true, r);
    r->error(StanzaError::modify("bad-request", "unknown pubsub#owner request <" + name + "/>"));
}

void Pep::publish(const module::IqRequest& req, const xml::Element& publish, const xml::Element* options, Responder r) {
    if (req.from.bare() != req.to.bare()) return r->error(forbidden());
    const std::string node(publish.attr_or("node"));
    if (node.empty()) return r->error(nodeid_required());
    const xml::Element* item = nullptr;
    size_t items = 0;
    for (const xml::Element& c : publish.children()) {
        if (c.name() == "item" && c.ns() == kNsPubsub) item = &c;
        ++items;
    }
    if (items == 0 || !item)
        return r->error(pubsub_error(StanzaError::modify("bad-request", "a PEP node keeps items: publish one"),
                                     "item-required"));
    if (items > 1) return r->error(StanzaError::modify("bad-request", "publish one item per request"));
    size_t payloads = 0;
    const xml::Element* payload = only_child(*item, payloads);
    if (payloads == 0)
        return r->error(pubsub_error(StanzaError::modify("bad-request", "the item has no payload"), "payload-required"));
    if (payloads > 1)
        return r->error(pubsub_error(StanzaError::modify("bad-request", "an item carries exactly one payload element"),
                                     "invalid-payload"));
    std::string id(item->attr_or("id"));
    if (id.empty()) id = random_id();
    if (!keys_fit(max_key_, req.to.bare_str(), node, id))
        return r->error(StanzaError::modify("not-acceptable", "the node name or item id is too long"));
    const size_t size = xml::to_string(*payload, xmpp::kNsClient).size();
    if (size > opt_.max_payload_bytes || !encodable(*payload))
        return r->error(pubsub_error(StanzaError::modify("not-acceptable", "the payload has " + std::to_string(size) +
                                                                               " bytes; the most is " +
                                                                               std::to_string(opt_.max_payload_bytes)),
                                     "payload-too-big"));
    auto request = std::make_shared<PublishRequest>();
    request->owner = req.to.bare_str();
    request->node = node;
    request->id = id;
    request->publisher = req.from.str();
    request->payload = encode_element(*payload);
    request->now_ms = now_ms();
    request->create_config = default_config(node, opt_.default_max_items);
    std::optional<StanzaError> create_error;
    if (options) {
        const xml::Element* x = options->child("x", kNsData);
        if (!x) return r->error(StanzaError::modify("bad-request", "publish-options carries a data form"));
        if (auto e = parse_form(*x, request->preconditions)) return r->error(*e);
        if (!request->preconditions.form_type.empty() && request->preconditions.form_type != kFormPublishOptions)
            return r->error(StanzaError::modify("bad-request", "publish-options has FORM_TYPE " +
                                                                   request->preconditions.form_type));
        // A new node takes the options as its configuration; options it
        // cannot take refuse the publish as unmet preconditions would.
        if (auto e = apply_fields(request->preconditions, request->create_config, opt_.limits.max_items))
            create_error = pubsub_error(StanzaError::cancel("conflict", e->text), "precondition-not-met");
    }
    auto outcome = std::make_shared<PublishOutcome>();
    auto refused = std::make_shared<StanzaError>();
    const Limits limits = opt_.limits;
    Status s = db_->write(
        [request, outcome, refused, limits, create_error](store::Txn& txn, MDB_dbi db) {
            if (create_error) {
                auto n = read_node(txn, db, request->owner, request->node);
                if (!n) return n.status();
                if (!*n) {
                    *refused = *create_error;
                    return Status::error("refused", refused->text);
                }
            }
            return mod_pep::publish(txn, db, *request, limits, *outcome, *refused);
        },
        [this, request, outcome, refused, r, owner = req.to.bare()](Status st) {
            if (!st) return r->error(st.code() == "refused" ? *refused : store_error(st));
            // Durable now: answer, then tell the readers.
            xml::Element result = pubsub_result();
            auto& p = result.add_child("publish", std::string(kNsPubsub));
            p.set_attr("node", request->node);
            p.add_child("item", std::string(kNsPubsub)).set_attr("id", request->id);
            r->result(std::move(result));
            StoredItem it{request->id, request->publisher, 0, request->now_ms, request->payload};
            xml::Element items("items", std::string(kNsPubsubEvent));
            items.set_attr("node", request->node);
            items.add_child(item_element(kNsPubsubEvent, it, outcome->config.deliver_payloads));
            std::vector<xml::Element> events;
            events.push_back(std::move(items));
            notify(owner, request->node, outcome->config, outcome->members, std::move(events));
        });
    if (!s) r->error(store_error(s));
}

void Pep::items(const module::IqRequest& req, const xml::Element& items, Responder r) {
    const std::string node(items.attr_or("node"));
    if (node.empty()) return r->error(nodeid_required());
    size_t newest = 0;
    if (const std::string* m = items.attr("max_items")) {
        try {
            long v = std::stol(*m);
            if (v <= 0 || std::to_string(v) != *m) throw std::invalid_argument("max_items");
            newest = static_cast<size_t>(v);
        } catch (const std::exception&) {
            return r->error(StanzaError::modify("bad-request", "max_items must be a positive integer"));
        }
    }
    std::vector<std::string> ids;
    for (const xml::Element& c : items.children())
        if (c.name() == "item" && c.ns() == kNsPubsub) {
            std::string id(c.attr_or("id"));
            if (id.empty()) return r->error(StanzaError::modify("bad-request", "an <item/> asked for has no id"));
            ids.push_back(std::move(id));
        }
    const std::string owner = req.to.bare_str();
    std::optional<StanzaError> refused;
    xml::Element result = pubsub_result();
    auto& out = result.add_child("items", std::string(kNsPubsub));
    out.set_attr("node", node);
    Status s = read([&](const store::Txn& txn, MDB_dbi db) {
        auto n = read_node(txn, db, owner, node);
        if (!n) return n.status();
        if (!*n) {
            refused = StanzaError::cancel("item-not-found", "no such node");
            return Status::ok();
        }
        if ((refused = may_read(req.to, req.from, (*n)->config, (*n)->members))) return Status::ok();
        std::vector<StoredItem> found;
        if (ids.empty()) {
            if (Status st = read_items(txn, db, owner, node, newest, found); !st) return st;
        } else {
            for (const auto& id : ids) {
                auto it = read_item(txn, db, owner, node, id);
                if (!it) return it.status();
                if (*it) found.push_back(std::move(**it));
            }
        }
        for (const auto& it : found) out.add_child(item_element(kNsPubsub, it, true));
        return Status::ok();
    });
    if (!s) return r->error(store_error(s));
    if (refused) return r->error(*refused);
    r->result(std::move(result));
}

void Pep::retract(const module::IqRequest& req, const xml::Element& retract, Responder r) {
    if (req.from.bare() != req.to.bare()) return r->error(forbidden());
    const std::string node(retract.attr_or("node"));
    if (node.empty()) return r->error(nodeid_required());
    const xml::Element* item = retract.child("item", kNsPubsub);
    if (!item || item->attr_or("id").empty())
        return r->error(pubsub_error(StanzaError::modify("bad-request", "name the item to retract"), "item-required"));
    const std::string id(item->attr_or("id"));
    const std::string_view n = retract.attr_or("notify");
    const bool notify_flag = n == "true" || n == "1";
    const std::string owner = req.to.bare_str();
    auto record = std::make_shared<NodeRecord>();
    auto refused = std::make_shared<StanzaError>();
    Status s = db_->write(
        [owner, node, id, record, refused](store::Txn& txn, MDB_dbi db) {
            return mod_pep::retract(txn, db, owner, node, id, *record, *refused);
        },
        [this, r, record, refused, node, id, notify_flag, owner_jid = req.to.bare()](Status st) {
            if (!st) return r->error(st.code() == "refused" ? *refused : store_error(st));
            r->result(std::nullopt);
            if (!notify_flag && !record->config.notify_retract) return;
            xml::Element items("items", std::string(kNsPubsubEvent));
            items.set_attr("node", node);
            items.add_child("retract", std::string(kNsPubsubEvent)).set_attr("id", id);
            std::vector<xml::Element> events;
            events.push_back(std::move(items));
            notify(owner_jid, node, record->config, record->members, std::move(events));
        });
    if (!s) r->error(store_error(s));
}

void Pep::create(const module::IqRequest& req, const xml::Element& create, const xml::Element* configure, Responder r) {
    if (req.from.bare() != req.to.bare()) return r->error(forbidden());
    const std::string node(create.attr_or("node"));
    if (node.empty())
        return r->error(pubsub_error(StanzaError::modify("not-acceptable", "PEP nodes are named: give a node"),
                                     "nodeid-required"));
    if (!keys_fit(max_key_, req.to.bare_str(), node))
        return r->error(StanzaError::modify("not-acceptable", "the node name is too long"));
    NodeConfig config = default_config(node, opt_.default_max_items);
    if (configure) {
        if (const xml::Element* x = configure->child("x", kNsData)) {
            SubmittedForm form;
            if (auto e = parse_form(*x, form)) return r->error(*e);
            if (auto e = apply_fields(form, config, opt_.limits.max_items)) return r->error(*e);
        }
    }
    auto refused = std::make_shared<StanzaError>();
    const Limits limits = opt_.limits;
    Status s = db_->write(
        [owner = req.to.bare_str(), node, config, limits, refused](store::Txn& txn, MDB_dbi db) {
            return create_node(txn, db, owner, node, config, limits, *refused);
        },
        [this, r, refused](Status st) {
            if (!st) return r->error(st.code() == "refused" ? *refused : store_error(st));
            r->result(std::nullopt);
        });
    if (!s) r->error(store_error(s));
}

void Pep::configure_get(const module::IqRequest& req, const std::string& node, Responder r) {
    std::optional<NodeRecord> record;
    Status s = read([&](const store::Txn& txn, MDB_dbi db) {
        auto n = read_node(txn, db, req.to.bare_str(), node);
        if (!n) return n.status();
        record = std::move(*n);
        return Status::ok();
    });
    if (!s) return r->error(store_error(s));
    if (!record) return r->error(StanzaError::cancel("item-not-found", "no such node"));
    xml::Element result = pubsub_result(kNsPubsubOwner);
    auto& c = result.add_child("configure", std::string(kNsPubsubOwner));
    c.set_attr("node", node);
    c.add_child(config_form(record->config));
    r->result(std::move(result));
}

void Pep::configure_set(const module::IqRequest& req, const std::string& node, const xml::Element& x, Responder r) {
    if (x.attr_or("type") == "cancel") return r->result(std::nullopt);
    auto form = std::make_shared<SubmittedForm>();
    if (auto e = parse_form(x, *form)) return r->error(*e);
    if (!form->form_type.empty() && form->form_type != kFormNodeConfig)
        return r->error(StanzaError::modify("bad-request", "the form's FORM_TYPE is " + form->form_type));
    auto record = std::make_shared<NodeRecord>();
    auto trimmed = std::make_shared<std::vector<std::string>>();
    auto refused = std::make_shared<StanzaError>();
    const Limits limits = opt_.limits;
    Status s = db_->write(
        [owner = req.to.bare_str(), node, form, limits, record, trimmed, refused](store::Txn& txn, MDB_dbi db) {
            return configure_node(txn, db, owner, node, *form, limits, *record, *trimmed, *refused);
        },
        [this, r, refused](Status st) {
            if (!st) return r->error(st.code() == "refused" ? *refused : store_error(st));
            r->result(std::nullopt);
        });
    if (!s) r->error(store_error(s));
}

void Pep::remove(const module::IqRequest& req, const std::string& node, bool purge, Responder r) {
    auto record = std::make_shared<NodeRecord>();
    auto refused = std::make_shared<StanzaError>();
    Status s = db_->write(
        [owner = req.to.bare_str(), node, purge, record, refused](store::Txn& txn, MDB_dbi db) {
            return delete_node(txn, db, owner, node, purge, *record, *refused);
        },
        [this, r, record, refused, node, purge, owner = req.to.bare()](Status st) {
            if (!st) return r->error(st.code() == "refused" ? *refused : store_error(st));
            r->result(std::nullopt);
            if (purge ? !record->config.notify_retract : !record->config.notify_delete) return;
            xml::Element e(purge ? "purge" : "delete", std::string(kNsPubsubEvent));
            e.set_attr("node", node);
            std::vector<xml::Element> events;
            events.push_back(std::move(e));
            notify(owner, node, record->config, record->members, std::move(events));
        });
    if (!s) r->error(store_error(s));
}

void Pep::affiliations(const module::IqRequest& req, const xml::Element& a, bool owner_ns, Responder r) {
    const std::string ns(owner_ns ? kNsPubsubOwner : kNsPubsub);
    const std::string node(a.attr_or("node"));
    const std::string owner = req.to.bare_str();
    const bool is_owner = req.from.bare() == req.to.bare();
    if (owner_ns && req.iq.attr_or("type") == "set") {
        if (node.empty()) return r->error(nodeid_required());
        auto changes = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
        for (const xml::Element& c : a.children()) {
            if (c.name() != "affiliation" || c.ns() != kNsPubsubOwner) continue;
            auto jid = xmpp::Jid::parse(c.attr_or("jid"));
            if (!jid || jid->empty()) return r->error(StanzaError::modify("jid-malformed", "an affiliation's jid is not valid"));
            const std::string_view aff = c.attr_or("affiliation");
            if (jid->bare() == req.to.bare())
                return r->error(StanzaError::modify("not-acceptable", "the owner's affiliation cannot change"));
            if (aff != "member" && aff != "none")
                return r->error(StanzaError::modify("not-acceptable", "affiliations here are member and none"));
            changes->emplace_back(jid->bare_str(), std::string(aff));
        }
        auto refused = std::make_shared<StanzaError>();
        const Limits limits = opt_.limits;
        Status s = db_->write(
            [owner, node, changes, limits, refused](store::Txn& txn, MDB_dbi db) {
                return set_members(txn, db, owner, node, *changes, limits, *refused);
            },
            [this, r, refused](Status st) {
                if (!st) return r->error(st.code() == "refused" ? *refused : store_error(st));
                r->result(std::nullopt);
            });
        if (!s) r->error(store_error(s));
        return;
    }
    if (owner_ns && node.empty()) return r->error(nodeid_required());
    xml::Element result = pubsub_result(ns);
    auto& out = result.add_child("affiliations", ns);
    if (!node.empty()) out.set_attr("node", node);
    std::optional<StanzaError> refused;
    Status s = read([&](const store::Txn& txn, MDB_dbi db) {
        std::vector<std::pair<std::string, NodeRecord>> nodes;
        if (!node.empty()) {
            auto n = read_node(txn, db, owner, node);
            if (!n) return n.status();
            if (*n) nodes.emplace_back(node, std::move(**n));
            else if (owner_ns) refused = StanzaError::cancel("item-not-found", "no such node");
        } else if (Status st = read_nodes(txn, db, owner, nodes); !st) {
            return st;
        }
        for (const auto& [name, rec] : nodes) {
            if (owner_ns) {
                auto& o = out.add_child("affiliation", ns);
                o.set_attr("jid", owner);
                o.set_attr("affiliation", "owner");
                for (const auto& m : rec.members) {
                    auto& e = out.add_child("affiliation", ns);
                    e.set_attr("jid", m);
                    e.set_attr("affiliation", "member");
                }
            } else if (is_owner || std::binary_search(rec.members.begin(), rec.members.end(), req.from.bare_str())) {
                auto& e = out.add_child("affiliation", ns);
                e.set_attr("node", name);
                e.set_attr("affiliation", is_owner ? "owner" : "member");
            }
        }
        return Status::ok();
    });
    if (!s) return r->error(store_error(s));
    if (refused) return r->error(*refused);
    r->result(std::move(result));
}

void Pep::disco_info(const module::IqRequest& req, Responder r) {
    if (!ready(r)) return;
    const std::string node(req.payload.attr_or("node"));
    xml::Element q("query", std::string(xmpp::kNsDiscoInfo));
    if (node.empty()) {
        auto& account = q.add_child("identity", std::string(xmpp::kNsDiscoInfo));
        account.set_attr("category", "account");
        account.set_attr("type", "registered");
        auto& pep = q.add_child("identity", std::string(xmpp::kNsDiscoInfo));
        pep.set_attr("category", "pubsub");
        pep.set_attr("type", "pep");
        for (const auto& f : account_features()) q.add_child("feature", std::string(xmpp::kNsDiscoInfo)).set_attr("var", f);
        return r->result(std::move(q));
    }
    std::optional<NodeRecord> record;
    Status s = read([&](const store::Txn& txn, MDB_dbi db) {
        auto n = read_node(txn, db, req.to.bare_str(), node);
        if (!n) return n.status();
        record = std::move(*n);
        return Status::ok();
    });
    if (!s) return r->error(store_error(s));
    // A node the requester may not read is not shown to exist.
    if (!record || may_read(req.to, req.from, record->config, record->members))
        return r->error(StanzaError::cancel("item-not-found", "no such node"));
    q.set_attr("node", node);
    auto& id = q.add_child("identity", std::string(xmpp::kNsDiscoInfo));
    id.set_attr("category", "pubsub");
    id.set_attr("type", "leaf");
    q.add_child("feature", std::string(xmpp::kNsDiscoInfo)).set_attr("var", std::string(kNsPubsub));
    q.add_child(meta_data_form(record->config, req.to.bare_str()));
    r->result(std::move(q));
}

std::vector<module::DiscoItem> Pep::visible_nodes(const xmpp::Jid& owner, const xmpp::Jid& requester) {
    std::vector<module::DiscoItem> out;
    if (!db_) return out;
    const std::string owner_str = owner.bare_str();
    Status s = read([&](const store::Txn& txn, MDB_dbi db) {
        // XEP-0163 §9.2: only the nodes the requester may read.
        std::vector<std::pair<std::string, NodeRecord>> nodes;
        if (Status st = read_nodes(txn, db, owner_str, nodes); !st) return st;
        for (const auto& [name, rec] : nodes)
            if (!may_read(owner, requester, rec.config, rec.members)) out.push_back({owner_str, name, rec.config.title});
        return Status::ok();
    });
    if (!s) log::error("pep", "listing the nodes of {}: {}", owner_str, s.to_string());
    return out;
}

void Pep::disco_items(const module::IqRequest& req, Responder r) {
    if (!ready(r)) return;
    const std::string node(req.payload.attr_or("node"));
    const std::string owner = req.to.bare_str();
    xml::Element q("query", std::string(xmpp::kNsDiscoItems));
    if (!node.empty()) q.set_attr("node", node);
    bool missing = false;
    Status s = read([&](const store::Txn& txn, MDB_dbi db) {
        if (node.empty()) {
            // XEP-0163 §9.2: only the nodes the requester may read.
            std::vector<std::pair<std::string, NodeRecord>> nodes;
            if (Status st = read_nodes(txn, db, owner, nodes); !st) return st;
            for (const auto& [name, rec] : nodes) {
                if (may_read(req.to, req.from, rec.config, rec.members)) continue;
                auto& i = q.add_child("item", std::string(xmpp::kNsDiscoItems));
                i.set_attr("jid", owner);
                i.set_attr("node", name);
                if (!rec.config.title.empty()) i.set_attr("name", rec.config.title);
            }
            return Status::ok();
        }
        auto n = read_node(txn, db, owner, node);
        if (!n) return n.status();
        if (!*n || may_read(req.to, req.from, (*n)->config, (*n)->members)) {
            missing = true;
            return Status::ok();
        }
        std::vector<StoredItem> items;
        if (Status st = read_items(txn, db, owner, node, 0, items); !st) return st;
        for (const auto& it : items) {
            auto& i = q.add_child("item", std::string(xmpp::kNsDiscoItems));
            i.set_attr("jid", owner);
            i.set_attr("name", it.id);
        }
        return Status::ok();
    });
    if (!s) return r->error(store_error(s));
    if (missing) return r->error(StanzaError::cancel("item-not-found", "no such node"));
    r->result(std::move(q));
}

}  // namespace parley::mod_pep
