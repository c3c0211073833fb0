#include "caps.hpp"

#include <gnutls/crypto.h>

#include <algorithm>
#include <set>

#include "xmpp/base64.hpp"

namespace parley::mod_pep {

namespace {

constexpr std::string_view kNsDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr std::string_view kNsDataForms = "jabber:x:data";

std::optional<gnutls_digest_algorithm_t> algorithm(std::string_view hash) {
    if (hash == "sha-1") return GNUTLS_DIG_SHA1;
    if (hash == "sha-224") return GNUTLS_DIG_SHA224;
    if (hash == "sha-256") return GNUTLS_DIG_SHA256;
    if (hash == "sha-384") return GNUTLS_DIG_SHA384;
    if (hash == "sha-512") return GNUTLS_DIG_SHA512;
    return std::nullopt;
}

std::vector<std::string> values_of(const xml::Element& field) {
    std::vector<std::string> v;
    for (const xml::Element& c : field.children())
        if (c.name() == "value" && c.ns() == kNsDataForms) v.push_back(c.text());
    return v;
}

}  // namespace

std::optional<Caps> parse_caps(const xml::Element& presence) {
    const xml::Element* c = presence.child("c", kNsCaps);
    if (!c) return std::nullopt;
    Caps caps{std::string(c->attr_or("hash")), std::string(c->attr_or("node")), std::string(c->attr_or("ver"))};
    if (caps.ver.empty() || caps.ver.size() > 256 || caps.node.size() > 1024) return std::nullopt;
    return caps;
}

bool hash_supported(std::string_view hash) { return algorithm(hash).has_value(); }

std::optional<std::string> verification_string(const xml::Element& query, std::string_view hash) {
    auto alg = algorithm(hash);
    if (!alg) return std::nullopt;
    std::vector<std::string> identities, features;
    struct Form {
        std::string type;
        std::vector<std::pair<std::string, std::vector<std::string>>> fields;
    };
    std::vector<Form> forms;
    for (const xml::Element& e : query.children()) {
        if (e.ns() == kNsDiscoInfo && e.name() == "identity") {
            identities.push_back(std::string(e.attr_or("category")) + '/' + std::string(e.attr_or("type")) + '/' +
                                 std::string(e.attr_or(xml::kXmlNs, "lang")) + '/' + std::string(e.attr_or("name")));
        } else if (e.ns() == kNsDiscoInfo && e.name() == "feature") {
            features.emplace_back(e.attr_or("var"));
        } else if (e.ns() == kNsDataForms && e.name() == "x") {
            Form f;
            bool has_type = false;
            for (const xml::Element& field : e.children()) {
                if (field.ns() != kNsDataForms || field.name() != "field") continue;
                auto vals = values_of(field);
                if (field.attr_or("var") == "FORM_TYPE") {
                    // §5.4: a FORM_TYPE not hidden makes the form ignored; one
                    // with differing values makes the response ill-formed.
                    if (field.attr_or("type") != "hidden") {
                        has_type = false;
                        f.type.clear();
                        break;
                    }
                    for (const auto& v : vals)
                        if (v != vals.front()) return std::nullopt;
                    if (vals.empty()) break;
                    has_type = true;
                    f.type = vals.front();
                } else {
                    std::sort(vals.begin(), vals.end());
                    f.fields.emplace_back(std::string(field.attr_or("var")), std::move(vals));
                }
            }
            if (has_type) forms.push_back(std::move(f));
        }
    }
    std::sort(identities.begin(), identities.end());
    if (std::adjacent_find(identities.begin(), identities.end()) != identities.end()) return std::nullopt;
    std::sort(features.begin(), features.end());
    if (std::adjacent_find(features.begin(), features.end()) != features.end()) return std::nullopt;
    std::sort(forms.begin(), forms.end(), [](const Form& a, const Form& b) { return a.type < b.type; });
    for (size_t i = 1; i < forms.size(); ++i)
        if (forms[i].type == forms[i - 1].type) return std::nullopt;
    std::string s;
    for (const auto& i : identities) s += i + '<';
    for (const auto& f : features) s += f + '<';
    for (auto& form : forms) {
        s += form.type + '<';
        std::sort(form.fields.begin(), form.fields.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [var, vals] : form.fields) {
            s += var + '<';
            for (const auto& v : vals) s += v + '<';
        }
    }
    unsigned char digest[64];
    if (gnutls_hash_fast(*alg, s.data(), s.size(), digest) < 0) return std::nullopt;
    return xmpp::base64_encode(
        std::string_view(reinterpret_cast<const char*>(digest), gnutls_hash_get_len(*alg)));
}

NotifySet notify_set(const xml::Element& query) {
    constexpr std::string_view kSuffix = "+notify";
    std::set<std::string> nodes;
    for (const xml::Element& e : query.children()) {
        if (e.ns() != kNsDiscoInfo || e.name() != "feature") continue;
        std::string_view var = e.attr_or("var");
        if (var.size() > kSuffix.size() && var.substr(var.size() - kSuffix.size()) == kSuffix)
            nodes.emplace(var.substr(0, var.size() - kSuffix.size()));
    }
    return NotifySet(nodes.begin(), nodes.end());
}

bool wants(const NotifySet& set, std::string_view node) {
    return std::binary_search(set.begin(), set.end(), node, std::less<>());
}

void CapsCache::set_capacity(size_t capacity) {
    capacity_ = capacity;
    while (map_.size() > capacity_ && !lru_.empty()) {
        map_.erase(lru_.back().first);
        lru_.pop_back();
    }
}

std::shared_ptr<const NotifySet> CapsCache::find(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
}

void CapsCache::insert(const std::string& key, std::shared_ptr<const NotifySet> set) {
    if (capacity_ == 0) return;
    auto it = map_.find(key);
    if (it != map_.end()) {
        it->second->second = std::move(set);
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    lru_.emplace_front(key, std::move(set));
    map_.emplace(key, lru_.begin());
    while (map_.size() > capacity_) {
        map_.erase(lru_.back().first);
        lru_.pop_back();
    }
}

}  // namespace parley::mod_pep
