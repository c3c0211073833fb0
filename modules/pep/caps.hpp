// XEP-0115 Entity Capabilities as a PEP service needs them: the <c/> of a
// client's presence, the verification string of a disco#info result (§5.1)
// with the checks of §5.4, and a bounded cache of verified 'ver' values,
// each mapped to the nodes the client wants notifications of (its
// NODE+notify features, XEP-0163 §4).
//
// CapsCache is loop-affine (one per worker, in the module instance); the
// functions are pure (any thread).
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xml/element.hpp"

namespace parley::mod_pep {

inline constexpr std::string_view kNsCaps = "http://jabber.org/protocol/caps";

struct Caps {
    std::string hash;  // e.g. "sha-1"; empty for the legacy format
    std::string node;
    std::string ver;
    // The cache key: hash and ver.
    std::string key() const { return hash + ' ' + ver; }
};

// The <c xmlns='http://jabber.org/protocol/caps'/> of a presence, or nullopt.
std::optional<Caps> parse_caps(const xml::Element& presence);

// Whether this server can compute `hash` (IANA names: sha-1, sha-224,
// sha-256, sha-384, sha-512).
bool hash_supported(std::string_view hash);

// The verification string of a disco#info <query/> (XEP-0115 §5.1), or
// nullopt when the query is ill-formed by §5.4 (duplicate identities,
// features or FORM_TYPEs, a FORM_TYPE with differing values) or the hash is
// not supported. Forms without a hidden FORM_TYPE are left out.
std::optional<std::string> verification_string(const xml::Element& query, std::string_view hash);

// The nodes a disco#info result asks notifications of: every feature
// "NODE+notify", as NODE, sorted, without duplicates.
using NotifySet = std::vector<std::string>;
NotifySet notify_set(const xml::Element& query);
bool wants(const NotifySet& set, std::string_view node);

// A bounded LRU cache of verified caps (hash + ver -> NotifySet). Loop-affine.
class CapsCache {
public:
    explicit CapsCache(size_t capacity) : capacity_(capacity) {}
    void set_capacity(size_t capacity);
    std::shared_ptr<const NotifySet> find(const std::string& key);
    void insert(const std::string& key, std::shared_ptr<const NotifySet> set);
    size_t size() const { return map_.size(); }

private:
    using Entry = std::pair<std::string, std::shared_ptr<const NotifySet>>;
    size_t capacity_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> map_;
};

}  // namespace parley::mod_pep
