// Content detectors of the data-loss prevention module (issue 18): what in a
// message body looks like a secret or personal data, found with RE2 (linear
// time in the text, so no pattern and no input can make a check slow) and,
// where the kind has one, confirmed by its checksum or structure, so that a
// random run of digits is not a card number.
//
// Built in:
//   card         payment card numbers: 13-19 digits, spaces or dashes
//                between groups allowed, a known issuer prefix (Visa,
//                Mastercard, American Express, Discover, JCB, Diners,
//                UnionPay, Maestro) and the Luhn check;
//   iban         IBANs: country code, the length of that country's IBAN,
//                and the ISO 7064 mod-97 check (spaces between groups
//                allowed);
//   us_ssn       US social security numbers written NNN-NN-NNNN, with the
//                numbers the SSA never issues (area 000, 666 or 9xx, group
//                00, serial 0000) left out;
//   private_key  PEM private keys (PKCS#1, PKCS#8, encrypted, EC, DSA,
//                OpenSSH) and PGP private key blocks, from BEGIN to END;
//   api_token    cloud and chat API credentials by their documented forms:
//                AWS access key ids, GitHub and GitLab tokens, Slack tokens
//                and webhooks, Google API keys, Stripe live secret keys,
//                OpenAI keys;
//   jwt          JSON web tokens: three base64url parts whose first decodes
//                to a JSON header naming an "alg".
// A custom detector is a list of patterns (RE2 syntax) and of words (whole
// words, ignoring case).
//
// A Detector is immutable once made and may be used from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"

namespace re2 {
class RE2;
}

namespace parley::mod_content_policy {

// Where a match is in the text: byte offset and length.
struct Match {
    size_t at = 0;
    size_t size = 0;
    friend bool operator==(const Match&, const Match&) = default;
};

class Detector {
public:
    // A built-in detector by name (above); code "invalid" for another name.
    static Result<std::shared_ptr<const Detector>> builtin(std::string_view name);
    // A custom one; code "invalid" naming the pattern RE2 refuses.
    static Result<std::shared_ptr<const Detector>> custom(std::string name, const std::vector<std::string>& patterns,
                                                          const std::vector<std::string>& words);
    ~Detector();

    const std::string& name() const { return name_; }
    // Every match in `text`, in order, not overlapping.
    std::vector<Match> find(std::string_view text) const;
    bool found(std::string_view text) const { return !find(text).empty(); }

    // The names of the built-in detectors.
    static const std::vector<std::string>& builtin_names();
    // The RE2 patterns it searches with (what finds candidates), for a
    // caller that first asks one RE2::Set which detectors can match at all.
    std::vector<std::string> patterns() const;

private:
    struct Pattern;
    Detector(std::string name, std::vector<Pattern> patterns);
    std::string name_;
    std::vector<Pattern> patterns_;
};

// The checks the built-in detectors use, for tests and for other callers.
// digits: only '0'-'9'.
bool luhn_valid(std::string_view digits);
bool card_prefix_known(std::string_view digits);
// compact: an IBAN without spaces, upper case.
bool iban_valid(std::string_view compact);
bool us_ssn_issuable(std::string_view area, std::string_view group, std::string_view serial);
// A JWT's first part (base64url, unpadded) decodes to a JSON object with "alg".
bool jwt_header_valid(std::string_view part);

}  // namespace parley::mod_content_policy
