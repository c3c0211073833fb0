// XEP-0049 private XML storage, and the XEP-0048 bookmarks view of the
// XEP-0402 node (bookmarks.hpp).
#include "bookmarks.hpp"

#include <chrono>
#include <set>

#include "element_codec.hpp"
#include "log/log.hpp"
#include "pep.hpp"
#include "xml/serializer.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_pep {

namespace {

using Responder = std::shared_ptr<module::IqResponder>;

bool truthy(std::string_view v) { return v == "true" || v == "1"; }

}  // namespace

LegacyBookmarks from_legacy(const xml::Element& storage) {
    LegacyBookmarks out;
    const std::string ns(kNsBookmarks);
    std::set<std::string> seen;
    std::vector<std::pair<std::string, xml::Element>> rooms;
    for (const xml::Element& c : storage.children()) {
        if (c.name() != "conference" || c.ns() != kNsLegacyBookmarks) {
            out.rest.add_child(c);
            continue;
        }
        auto jid = xmpp::Jid::parse(c.attr_or("jid"));
        if (!jid || jid->empty() || !jid->is_bare()) continue;
        xml::Element conf("conference", ns);
        if (!c.attr_or("name").empty()) conf.set_attr("name", std::string(c.attr_or("name")));
        if (truthy(c.attr_or("autojoin"))) conf.set_attr("autojoin", "true");
        xml::Element extensions("extensions", ns);
        for (const xml::Element& child : c.children()) {
            if (child.ns() == kNsLegacyBookmarks && (child.name() == "nick" || child.name() == "password")) {
                conf.add_child(child.name(), ns).add_text(child.text());
            } else if (child.ns() != kNsLegacyBookmarks) {
                // Another client's data on the bookmark: XEP-0402 keeps it in <extensions/>.
                extensions.add_child(child);
            }
        }
        if (extensions.child_count() > 0) conf.add_child(std::move(extensions));
        // The last of several conferences with the same room wins, at the place of the first.
        const std::string id = jid->str();
        if (seen.insert(id).second) {
            rooms.emplace_back(id, std::move(conf));
        } else {
            for (auto& r : rooms)
                if (r.first == id) r.second = std::move(conf);
        }
    }
    out.rooms = std::move(rooms);
    return out;
}

xml::Element to_legacy(const std::vector<StoredItem>& items, const xml::Element* rest) {
    const std::string ns(kNsLegacyBookmarks);
    xml::Element storage("storage", ns);
    for (const auto& it : items) {
        if (it.payload.empty()) continue;
        auto p = decode_element(it.payload);
        if (!p || p->name() != "conference" || p->ns() != kNsBookmarks) continue;
        auto& conf = storage.add_child("conference", ns);
        conf.set_attr("jid", it.id);
        if (const std::string* name = p->attr("name")) conf.set_attr("name", *name);
        conf.set_attr("autojoin", truthy(p->attr_or("autojoin")) ? "true" : "false");
        for (const xml::Element& c : p->children()) {
            if (c.ns() != kNsBookmarks) continue;
            if (c.name() == "nick" || c.name() == "password") {
                conf.add_child(c.name(), ns).add_text(c.text());
            } else if (c.name() == "extensions") {
                for (const xml::Element& e : c.children()) conf.add_child(e);
            }
        }
    }
    if (rest)
        for (const xml::Element& c : rest->children()) storage.add_child(c);
    return storage;
}

void Pep::on_private(const module::IqRequest& req, Responder r) {
    if (!ready(r)) return;
    // XEP-0049 §3: only the account itself.
    if (req.from.bare() != req.to.bare())
        return r->error(StanzaError::cancel("forbidden", "private storage belongs to its own account"));
    const bool set = req.iq.attr_or("type") == "set";
    std::vector<const xml::Element*> children;
    for (const xml::Element& c : req.payload.children()) children.push_back(&c);
    if (children.empty())
        return r->error(StanzaError::modify("bad-request", "name the private data by a child element"));
    for (const xml::Element* c : children)
        if (c->ns().empty() || c->ns() == xmpp::kNsClient || c->ns() == kNsPrivate)
            return r->error(StanzaError::modify("not-acceptable", "private data is qualified by its own namespace"));
    const std::string owner = req.to.bare_str();
    const std::string bookmarks_node(kNsBookmarks);
    auto is_legacy = [](const xml::Element* c) { return c->name() == "storage" && c->ns() == kNsLegacyBookmarks; };

    if (!set) {
        if (children.size() != 1)
            return r->error(StanzaError::modify("bad-request", "ask for one namespace at a time"));
        const xml::Element& asked = *children.front();
        xml::Element result("query", std::string(kNsPrivate));
        Status s = read([&](const store::Txn& txn, MDB_dbi db) {
            auto stored = read_private(txn, db, owner, asked.ns(), asked.name());
            if (!stored) return stored.status();
            std::optional<xml::Element> kept;
            if (*stored) {
                auto e = decode_element(**stored);
                if (!e) return e.status();
                kept = std::move(e.value());
            }
            if (is_legacy(&asked)) {
                std::vector<StoredItem> items;
                auto n = read_node(txn, db, owner, bookmarks_node);
                if (!n) return n.status();
                if (*n)
                    if (Status st = read_items(txn, db, owner, bookmarks_node, 0, items); !st) return st;
                result.add_child(to_legacy(items, kept ? &*kept : nullptr));
            } else {
                result.add_child(kept ? std::move(*kept) : xml::Element(asked.name(), asked.ns()));
            }
            return Status::ok();
        });
        if (!s) return r->error(store_error(s));
        return r->result(std::move(result));
    }

    // set: every element stored, the bookmarks converted, in one transaction.
    auto elements = std::make_shared<std::vector<std::tuple<std::string, std::string, std::string>>>();
    std::optional<LegacyBookmarks> legacy;
    for (const xml::Element* c : children) {
        const size_t size = xml::to_string(*c, xmpp::kNsClient).size();
        if (size > opt_.max_payload_bytes || !encodable(*c))
            return r->error(StanzaError::modify("not-acceptable", "<" + c->name() + "/> has " + std::to_string(size) +
                                                                      " bytes; the most is " +
                                                                      std::to_string(opt_.max_payload_bytes)));
        if (is_legacy(c)) {
            legacy = from_legacy(*c);
            if (legacy->rooms.size() > opt_.limits.max_items)
                return r->error(StanzaError::modify("not-acceptable", "at most " + std::to_string(opt_.limits.max_items) +
                                                                          " bookmarked rooms"));
            for (const auto& [id, conf] : legacy->rooms)
                if (!keys_fit(max_key_, owner, bookmarks_node, id))
                    return r->error(StanzaError::modify("not-acceptable", "a room's address is too long: " + id));
            elements->emplace_back(c->ns(), c->name(), encode_element(legacy->rest));
        } else {
            if (!keys_fit(max_key_, owner, c->ns(), c->name()))
                return r->error(StanzaError::modify("not-acceptable", "the namespace is too long"));
            elements->emplace_back(c->ns(), c->name(), encode_element(*c));
        }
    }
    struct Outcome {
        std::vector<std::pair<std::string, std::string>> published;  // id, encoded payload
        std::vector<std::string> retracted;
        NodeConfig config;
        std::vector<std::string> members;
    };
    auto outcome = std::make_shared<Outcome>();
    auto refused = std::make_shared<StanzaError>();
    std::shared_ptr<const std::vector<std::pair<std::string, std::string>>> rooms;
    if (legacy) {
        auto encoded = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
        for (const auto& [id, conf] : legacy->rooms) encoded->emplace_back(id, encode_element(conf));
        rooms = std::move(encoded);
    }
    const Limits limits = opt_.limits;
    const NodeConfig create_config = default_config(bookmarks_node, opt_.default_max_items);
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    Status s = db_->write(
        [owner, bookmarks_node, elements, rooms, outcome, refused, limits, create_config, now,
         publisher = req.from.str()](store::Txn& txn, MDB_dbi db) {
            *outcome = Outcome{};
            if (rooms) {
                std::vector<StoredItem> existing;
                auto n = read_node(txn, db, owner, bookmarks_node);
                if (!n) return n.status();
                if (*n) {
                    if (Status st = read_items(txn, db, owner, bookmarks_node, 0, existing); !st) return st;
                    outcome->config = (*n)->config;
                    outcome->members = (*n)->members;
                }
                std::map<std::string, std::string> before;
                for (auto& it : existing) before.emplace(it.id, std::move(it.payload));
                std::set<std::string> now_ids;
                for (const auto& [id, payload] : *rooms) {
                    now_ids.insert(id);
                    auto b = before.find(id);
                    // XEP-0402 §5.3.2: no notification for an unchanged room.
                    if (b != before.end() && b->second == payload) continue;
                    PublishRequest p{owner, bookmarks_node, id, publisher, payload, now, create_config, {}};
                    PublishOutcome po;
                    if (Status st = mod_pep::publish(txn, db, p, limits, po, *refused); !st) return st;
                    outcome->config = po.config;
                    outcome->members = po.members;
                    outcome->published.emplace_back(id, payload);
                }
                for (const auto& [id, payload] : before) {
                    if (now_ids.count(id)) continue;
                    NodeRecord rec;
                    if (Status st = mod_pep::retract(txn, db, owner, bookmarks_node, id, rec, *refused); !st) return st;
                    outcome->config = rec.config;
                    outcome->members = rec.members;
                    outcome->retracted.push_back(id);
                }
            }
            return write_private(txn, db, owner, *elements, limits, *refused);
        },
        [this, r, outcome, refused, bookmarks_node, owner_jid = req.to.bare()](Status st) {
            if (!st) return r->error(st.code() == "refused" ? *refused : store_error(st));
            r->result(std::nullopt);
            std::vector<xml::Element> events;
            for (const auto& [id, payload] : outcome->published) {
                xml::Element items("items", std::string(kNsPubsubEvent));
                items.set_attr("node", bookmarks_node);
                auto& item = items.add_child("item", std::string(kNsPubsubEvent));
                item.set_attr("id", id);
                if (outcome->config.deliver_payloads)
                    if (auto p = decode_element(payload); p) item.add_child(std::move(p.value()));
                events.push_back(std::move(items));
            }
            if (outcome->config.notify_retract)
                for (const auto& id : outcome->retracted) {
                    xml::Element items("items", std::string(kNsPubsubEvent));
                    items.set_attr("node", bookmarks_node);
                    items.add_child("retract", std::string(kNsPubsubEvent)).set_attr("id", id);
                    events.push_back(std::move(items));
                }
            // One message per change, as a publish or retract of its own would send.
            for (auto& e : events) {
                std::vector<xml::Element> one;
                one.push_back(std::move(e));
                notify(owner_jid, bookmarks_node, outcome->config, outcome->members, std::move(one));
            }
        });
    if (!s) r->error(store_error(s));
}

}  // namespace parley::mod_pep
