#include "sasl/scram_server.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "log/log.hpp"
#include "sasl/auxprop.hpp"

namespace parley::sasl {

namespace {

struct Hash {
    const char* mechanism;
    gnutls_mac_algorithm_t mac;
    gnutls_digest_algorithm_t digest;
    size_t size;
};

// SCRAM-SHA-512 would be one more line here, but the account store holds
// only these two credentials (store/scram.hpp), so it is not offered.
constexpr Hash kHashes[] = {
    {"SCRAM-SHA-1", GNUTLS_MAC_SHA1, GNUTLS_DIG_SHA1, 20},
    {"SCRAM-SHA-256", GNUTLS_MAC_SHA256, GNUTLS_DIG_SHA256, 32},
};

constexpr std::string_view kPlus = "-PLUS";
// 18 random bytes: 24 base64 characters, no padding.
constexpr size_t kServerNonceBytes = 18;

bool strip_plus(std::string_view& mech) {
    if (mech.size() > kPlus.size() && mech.substr(mech.size() - kPlus.size()) == kPlus) {
        mech.remove_suffix(kPlus.size());
        return true;
    }
    return false;
}

const Hash* hash_of(std::string_view mech) {
    strip_plus(mech);
    for (const Hash& h : kHashes)
        if (mech == h.mechanism) return &h;
    return nullptr;
}

std::string hmac(const Hash& h, std::string_view key, std::string_view msg) {
    std::string out(h.size, '\0');
    if (gnutls_hmac_fast(h.mac, key.data(), key.size(), msg.data(), msg.size(), out.data()) < 0) return {};
    return out;
}

std::string digest(const Hash& h, std::string_view msg) {
    std::string out(h.size, '\0');
    if (gnutls_hash_fast(h.digest, msg.data(), msg.size(), out.data()) < 0) return {};
    return out;
}

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
// past U+10FFFF.
bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

// RFC 5802 saslname: 1*(value-safe-char / "=2C" / "=3D"), UTF-8, no NUL,
// no ',' and no '=' but in those two escapes.
bool decode_saslname(std::string_view in, std::string& out) {
    out.clear();
    if (in.empty() || !valid_utf8(in)) return false;
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '\0' || c == ',') return false;
        if (c != '=') {
            out += c;
            continue;
        }
        if (in.substr(i, 3) == "=2C") out += ',';
        else if (in.substr(i, 3) == "=3D") out += '=';
        else return false;
        i += 2;
    }
    return true;
}

// c-nonce: 1*printable, printable = %x21-2B / %x2D-7E.
bool valid_nonce(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7E && c != ','; });
}

// cb-name = 1*(ALPHA / DIGIT / "." / "-") (RFC 5056).
bool valid_cb_name(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    });
}

std::vector<std::string_view> split_commas(std::string_view s) {
    std::vector<std::string_view> out;
    while (true) {
        const size_t comma = s.find(',');
        out.push_back(s.substr(0, comma));
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

// "X=" + value, with name X; false (value untouched) otherwise.
bool attribute(std::string_view part, char name, std::string_view& value) {
    if (part.size() < 2 || part[0] != name || part[1] != '=') return false;
    value = part.substr(2);
    return true;
}

enum class Extension { ok, malformed, mandatory };

// An optional attribute after the ones RFC 5802 defines for the message:
// ALPHA "=" 1*value-char. "m" (mandatory extension) must fail the exchange
// (RFC 5802 §5.1); a letter RFC 5802 already defines is no extension but a
// repeated or misplaced attribute.
Extension check_extension(std::string_view part) {
    if (part.size() < 3 || part[1] != '=') return Extension::malformed;
    const char name = part[0];
    if (!((name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z'))) return Extension::malformed;
    if (name == 'm') return Extension::mandatory;
    if (std::strchr("acehinprsv", name)) return Extension::malformed;
    return valid_utf8(part.substr(2)) ? Extension::ok : Extension::malformed;
}

// Decoy keys for a name without an account: stable per (mechanism, domain,
// name) for the life of the process, from a key that lives only in it.
std::string decoy_bytes(std::string_view label, std::string_view domain, std::string_view name, size_t n) {
    static const std::string key = [] {
        std::string k(32, '\0');
        if (gnutls_rnd(GNUTLS_RND_KEY, k.data(), k.size()) < 0) std::abort();  // no randomness: an impossible state
        return k;
    }();
    std::string msg;
    msg.reserve(label.size() + domain.size() + name.size() + 2);
    msg.append(label).append(1, '\0').append(domain).append(1, '\0').append(name);
    std::string out(32, '\0');
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.data(), key.size(), msg.data(), msg.size(), out.data());
    out.resize(n);
    return out;
}

store::scram::ScramCredential decoy(const Hash& h, std::string_view domain, std::string_view name,
                                    uint32_t iterations) {
    store::scram::ScramCredential c;
    c.mechanism = h.mechanism;
    c.iterations = iterations;
    const std::string m(h.mechanism);
    c.salt = decoy_bytes("salt " + m, domain, name, store::scram::kSaltBytes);
    c.stored_key = decoy_bytes("stored " + m, domain, name, h.size);
    c.server_key = decoy_bytes("server " + m, domain, name, h.size);
    return c;
}

const char* text_of(std::string_view condition) {
    if (condition == "malformed-request") return "the authentication exchange is malformed";
    if (condition == "invalid-authzid") return "the authorization identity must be your own account";
    if (condition == "temporary-auth-failure") return "authentication is not available now";
    return "authentication failed";
}

}  // namespace

bool ScramServer::supports(std::string_view mechanism) { return hash_of(mechanism) != nullptr; }

ScramServer::ScramServer(ScramServerOptions options, ScramCredentials& credentials)
    : options_(std::move(options)), credentials_(credentials) {
    std::string_view m = options_.mechanism;
    plus_ = strip_plus(m);
    hash_mech_ = std::string(m);
    if (!hash_of(hash_mech_)) state_ = State::done;  // every message fails
}

ScramServer::~ScramServer() {
    gnutls_memset(cred_.stored_key.data(), 0, cred_.stored_key.size());
    gnutls_memset(cred_.server_key.data(), 0, cred_.server_key.size());
}

Outcome ScramServer::fail(const char* condition, const char* server_error, std::string_view why) {
    state_ = State::done;
    log::debug("sasl", "{} for '{}' failed: {}", options_.mechanism, node_, why);
    Outcome o;
    o.kind = Outcome::Kind::failure;
    o.condition = condition;
    o.text = text_of(condition);
    o.data = std::string("e=") + server_error;
    return o;
}

Outcome ScramServer::step(std::string_view message) {
    switch (state_) {
        case State::first: return on_client_first(message);
        case State::final: return on_client_final(message);
        case State::done: break;
    }
    return fail("malformed-request", "other-error", "no exchange in progress");
}

Outcome ScramServer::on_client_first(std::string_view msg) {
    if (state_ != State::first) return fail("malformed-request", "other-error", "client-first out of order");
    if (msg.find('\0') != std::string_view::npos) return fail("malformed-request", "invalid-encoding", "NUL in client-first");

    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    char flag = 0;
    std::string cb_name;
    size_t pos = 0;
    if (msg.substr(0, 2) == "n," || msg.substr(0, 2) == "y,") {
        flag = msg[0];
        pos = 2;
    } else if (msg.substr(0, 2) == "p=") {
        const size_t comma = msg.find(',');
        if (comma == std::string_view::npos || !valid_cb_name(msg.substr(2, comma - 2)))
            return fail("malformed-request", "invalid-encoding", "bad channel binding name in the gs2 header");
        flag = 'p';
        cb_name = std::string(msg.substr(2, comma - 2));
        pos = comma + 1;
    } else {
        // Also RFC 5801's "F," (non-standard GS2 framing), which SCRAM never uses.
        return fail("malformed-request", "invalid-encoding", "bad gs2 flag");
    }
    if (msg.substr(pos, 2) == "a=") {
        const size_t comma = msg.find(',', pos);
        if (comma == std::string_view::npos || !decode_saslname(msg.substr(pos + 2, comma - pos - 2), authzid_))
            return fail("malformed-request", "invalid-username-encoding", "bad authzid");
        pos = comma;
    }
    if (msg.substr(pos, 1) != ",") return fail("malformed-request", "invalid-encoding", "bad gs2 header");
    ++pos;
    gs2_header_ = std::string(msg.substr(0, pos));
    client_first_bare_ = std::string(msg.substr(pos));

    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    const auto parts = split_commas(client_first_bare_);
    std::string_view value;
    if (attribute(parts[0], 'm', value))
        return fail("malformed-request", "extensions-not-supported", "mandatory extension in client-first");
    std::string name;
    if (!attribute(parts[0], 'n', value)) return fail("malformed-request", "invalid-encoding", "no username");
    if (!decode_saslname(value, name))
        return fail("malformed-request", "invalid-username-encoding", "bad username encoding");
    std::string_view client_nonce;
    if (parts.size() < 2 || !attribute(parts[1], 'r', client_nonce) || !valid_nonce(client_nonce))
        return fail("malformed-request", "invalid-encoding", "no or bad nonce");
    for (size_t i = 2; i < parts.size(); ++i) {
        const Extension e = check_extension(parts[i]);
        if (e == Extension::mandatory)
            return fail("malformed-request", "extensions-not-supported", "mandatory extension in client-first");
        if (e != Extension::ok) return fail("malformed-request", "invalid-encoding", "bad attribute in client-first");
    }
    std::string node;
    if (detail::local_node(name, options_.domain, node)) node_ = node;

    // Channel binding (RFC 5802 §6): -PLUS binds, plain SCRAM does not, and
    // a client that could bind must not be led to skip it.
    if (flag == 'p') {
        if (!plus_) return fail("not-authorized", "other-error", "channel binding without -PLUS");
        if (!options_.channel_binding || options_.channel_binding->name != cb_name)
            return fail("not-authorized", "unsupported-channel-binding-type", "channel binding type not offered");
    } else if (plus_) {
        return fail("not-authorized", "other-error", "-PLUS without channel binding");
    } else if (flag == 'y' && options_.binding_advertised) {
        return fail("not-authorized", "server-does-support-channel-binding",
                    "gs2 flag 'y' while channel binding is offered");
    }

    const Hash& h = *hash_of(hash_mech_);
    real_ = false;
    if (!node_.empty()) {
        auto found = credentials_.find(node_, options_.domain, hash_mech_);
        if (!found) {
            log::error("sasl", "cannot read the {} credential of {}@{}: {}", hash_mech_, node_, options_.domain,
                       found.status().message());
            return fail("temporary-auth-failure", "other-error", "credential store failed");
        }
        if (found.value() && found.value()->stored_key.size() == h.size && found.value()->server_key.size() == h.size &&
            !found.value()->salt.empty() && found.value()->iterations > 0) {
            cred_ = std::move(*found.value());
            real_ = true;
        }
    }
    if (!real_)
        cred_ = decoy(h, options_.domain, node_.empty() ? std::string_view(name) : std::string_view(node_),
                      credentials_.decoy_iterations(options_.domain));

    std::string server_nonce = options_.fixed_server_nonce;
    if (server_nonce.empty()) {
        std::string raw(kServerNonceBytes, '\0');
        if (gnutls_rnd(GNUTLS_RND_NONCE, raw.data(), raw.size()) < 0)
            return fail("temporary-auth-failure", "no-resources", "gnutls_rnd failed");
        server_nonce = store::scram::base64_encode(raw);
    }
    nonce_ = std::string(client_nonce) + server_nonce;
    server_first_ = "r=" + nonce_ + ",s=" + store::scram::base64_encode(cred_.salt) + ",i=" + std::to_string(cred_.iterations);
    // XEP-0474: the hash of what was advertised, signed by both proofs as
    // part of AuthMessage.
    if (!options_.downgrade_hash.empty()) server_first_ += ",h=" + options_.downgrade_hash;
    state_ = State::final;
    Outcome o;
    o.kind = Outcome::Kind::challenge;
    o.data = server_first_;
    return o;
}

Outcome ScramServer::on_client_final(std::string_view msg) {
    if (state_ != State::final) return fail("malformed-request", "other-error", "client-final out of order");
    if (msg.find('\0') != std::string_view::npos) return fail("malformed-request", "invalid-encoding", "NUL in client-final");
    const Hash& h = *hash_of(hash_mech_);

    // client-final-message = channel-binding "," nonce ["," extensions] "," proof
    const size_t p = msg.rfind(",p=");
    if (p == std::string_view::npos) return fail("malformed-request", "invalid-encoding", "no proof");
    const std::string_view without_proof = msg.substr(0, p);
    const auto parts = split_commas(without_proof);
    std::string_view cb_b64, nonce;
    if (parts.size() < 2 || !attribute(parts[0], 'c', cb_b64) || !attribute(parts[1], 'r', nonce))
        return fail("malformed-request", "invalid-encoding", "no channel binding or nonce");
    for (size_t i = 2; i < parts.size(); ++i) {
        const Extension e = check_extension(parts[i]);
        if (e == Extension::mandatory)
            return fail("malformed-request", "extensions-not-supported", "mandatory extension in client-final");
        if (e != Extension::ok) return fail("malformed-request", "invalid-encoding", "bad attribute in client-final");
    }
    std::string cbind, proof;
    if (!store::scram::base64_decode(cb_b64, cbind) || cbind.empty())
        return fail("malformed-request", "invalid-encoding", "channel binding is not base64");
    if (!store::scram::base64_decode(msg.substr(p + 3), proof) || proof.size() != h.size)
        return fail("malformed-request", "invalid-encoding", "proof is not base64 of the hash size");

    // c= is base64(gs2-header + channel binding data): the same header as in
    // client-first (so "n"/"y"/"p" and the authzid cannot change on the way)
    // and, for -PLUS, this stream's binding.
    const std::string expected = plus_ ? gs2_header_ + options_.channel_binding->data : gs2_header_;
    if (!store::scram::constant_time_equal(cbind, expected))
        return fail("not-authorized", "channel-bindings-dont-match", "channel binding does not match");
    if (nonce != nonce_) return fail("not-authorized", "other-error", "nonce is not the one of this exchange");

    // RFC 5802 §3: AuthMessage = client-first-message-bare + "," +
    // server-first-message + "," + client-final-message-without-proof;
    // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), which must
    // hash to StoredKey. Done the same way for decoy keys.
    std::string auth_message;
    auth_message.reserve(client_first_bare_.size() + server_first_.size() + without_proof.size() + 2);
    auth_message.append(client_first_bare_).append(1, ',').append(server_first_).append(1, ',').append(without_proof);
    std::string client_key = hmac(h, cred_.stored_key, auth_message);
    const std::string server_signature = hmac(h, cred_.server_key, auth_message);
    if (client_key.size() != h.size || server_signature.size() != h.size)
        return fail("temporary-auth-failure", "other-error", "HMAC failed");
    for (size_t i = 0; i < h.size; ++i) client_key[i] = static_cast<char>(client_key[i] ^ proof[i]);
    const bool match = store::scram::constant_time_equal(digest(h, client_key), cred_.stored_key);
    gnutls_memset(client_key.data(), 0, client_key.size());  // a password equivalent
    if (!match || !real_) return fail("not-authorized", "invalid-proof", "wrong proof");

    // Checked only once the proof holds, so that it tells nothing about an
    // account to whoever does not know its password. No proxy
    // authorization: the authzid, when given, is the account itself.
    if (!authzid_.empty()) {
        std::string authz;
        if (!detail::local_node(authzid_, options_.domain, authz) || authz != node_)
            return fail("invalid-authzid", "other-error", "authzid is not the authcid");
    }
    state_ = State::done;
    Outcome o;
    o.kind = Outcome::Kind::success;
    o.node = node_;
    o.data = "v=" + store::scram::base64_encode(server_signature);
    return o;
}

std::string downgrade_protection_hash(std::string_view mechanism, std::vector<std::string> mechanisms,
                                      std::vector<std::string> channel_binding_types) {
    const Hash* h = hash_of(mechanism);
    if (!h) return {};
    // "i;octet" collation (RFC 4790 §9.3) is std::string's byte order.
    std::sort(mechanisms.begin(), mechanisms.end());
    std::sort(channel_binding_types.begin(), channel_binding_types.end());
    std::string s;
    for (size_t i = 0; i < mechanisms.size(); ++i) s += (i ? "\x1e" : "") + mechanisms[i];
    if (!channel_binding_types.empty()) {
        s += '\x1f';
        for (size_t i = 0; i < channel_binding_types.size(); ++i) s += (i ? "\x1e" : "") + channel_binding_types[i];
    }
    const std::string d = digest(*h, s);
    return d.empty() ? std::string() : store::scram::base64_encode(d);
}

}  // namespace parley::sasl
