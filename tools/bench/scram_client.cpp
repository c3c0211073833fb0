#include "scram_client.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <cstdlib>

namespace parley::bench {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string hmac(std::string_view key, std::string_view data) {
    std::string out(32, '\0');
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.data(), key.size(), data.data(), data.size(), out.data());
    return out;
}

std::string sha256(std::string_view data) {
    std::string out(32, '\0');
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data(), data.size(), out.data());
    return out;
}

// The value of attribute `key` ("r", "s", "i") of a SCRAM message.
std::string_view field(std::string_view msg, char key) {
    size_t pos = 0;
    while (pos < msg.size()) {
        size_t end = msg.find(',', pos);
        if (end == std::string_view::npos) end = msg.size();
        if (end - pos >= 2 && msg[pos] == key && msg[pos + 1] == '=') return msg.substr(pos + 2, end - pos - 2);
        pos = end + 1;
    }
    return {};
}

}  // namespace

std::string base64_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (i < in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

bool base64_decode(std::string_view in, std::string& out) {
    out.clear();
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        size_t v = kAlphabet.find(c);
        if (v == std::string_view::npos) return false;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return true;
}

std::string ScramClient::first(std::string_view user) {
    unsigned char raw[18];
    gnutls_rnd(GNUTLS_RND_NONCE, raw, sizeof raw);
    nonce_ = base64_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
    client_first_bare_ = "n=" + std::string(user) + ",r=" + nonce_;
    return "n,," + client_first_bare_;
}

bool ScramClient::final(std::string_view server_first, std::string_view password, std::string& out,
                        std::string& err) {
    const std::string_view r = field(server_first, 'r');
    const std::string_view s = field(server_first, 's');
    const std::string_view i = field(server_first, 'i');
    if (r.substr(0, nonce_.size()) != nonce_ || r.size() <= nonce_.size()) return err = "bad server nonce", false;
    std::string salt;
    if (s.empty() || !base64_decode(s, salt)) return err = "bad salt", false;
    const long iterations = std::strtol(std::string(i).c_str(), nullptr, 10);
    if (iterations < 1 || iterations > 1000000) return err = "bad iteration count", false;
    std::string salted(32, '\0');
    gnutls_datum_t key{reinterpret_cast<unsigned char*>(const_cast<char*>(password.data())),
                       static_cast<unsigned>(password.size())};
    gnutls_datum_t salt_d{reinterpret_cast<unsigned char*>(salt.data()), static_cast<unsigned>(salt.size())};
    if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &salt_d, static_cast<unsigned>(iterations), salted.data(), 32) != 0)
        return err = "PBKDF2 failed", false;
    const std::string client_key = hmac(salted, "Client Key");
    const std::string stored_key = sha256(client_key);
    const std::string without_proof = "c=biws,r=" + std::string(r);
    const std::string auth_message = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
    std::string proof = client_key;
    const std::string signature = hmac(stored_key, auth_message);
    for (size_t k = 0; k < proof.size(); ++k) proof[k] = static_cast<char>(proof[k] ^ signature[k]);
    expected_v_ = "v=" + base64_encode(hmac(hmac(salted, "Server Key"), auth_message));
    out = without_proof + ",p=" + base64_encode(proof);
    return true;
}

bool ScramClient::verify(std::string_view server_final) const { return server_final == expected_v_; }

}  // namespace parley::bench
