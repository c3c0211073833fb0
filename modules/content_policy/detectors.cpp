#include "detectors.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>

#include "xmpp/base64.hpp"

namespace parley::mod_content_policy {

// One pattern, and what confirms a candidate it found: appends the matches
// it holds (none, one, or several for a run of numbers) to `out`.
using Confirm = void (*)(std::string_view text, Match candidate, std::vector<Match>& out);
struct Detector::Pattern {
    std::unique_ptr<re2::RE2> re;  // its pattern() is the source
    Confirm confirm;
    // A candidate that holds nothing is searched again from its second
    // character (bounded candidates only: an IBAN may start inside a longer
    // word-run). Otherwise the search goes on after it, which keeps every
    // search linear in the text.
    bool retry_inside = false;
    // The match is submatch 1 (a custom word between its edges), not 0.
    bool inner = false;
};

namespace {

std::string digits_of(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c >= '0' && c <= '9') out.push_back(c);
    return out;
}

// IBAN lengths by country (the SWIFT IBAN registry).
const std::map<std::string, size_t, std::less<>>& iban_lengths() {
    static const std::map<std::string, size_t, std::less<>> m = {
        {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
        {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28},
        {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
        {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
        {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
        {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18},
        {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
        {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24},
        {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}};
    return m;
}

std::unique_ptr<re2::RE2> compile(const std::string& pattern) {
    re2::RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(8 << 20);  // a pattern from the config cannot take more
    return std::make_unique<re2::RE2>(pattern, o);
}

void keep(std::string_view, Match m, std::vector<Match>& out) { out.push_back(m); }

void confirm_card(std::string_view text, Match m, std::vector<Match>& out) {
    // The candidate is a whole run of digit groups with single separators;
    // the cards in it may sit next to other numbers ("card 4111 1111 1111
    // 1111 12/27"): from each group, the longest card starting there, and
    // the scan goes on after it. A card spans at most 5 groups (or one), so
    // this is linear in the run.
    const std::string_view s = text.substr(m.at, m.size);
    std::vector<std::pair<size_t, size_t>> groups;  // [begin, end) in s
    for (size_t i = 0; i < s.size();) {
        size_t j = i;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
        groups.emplace_back(i, j);
        i = j + 1;  // one separator
    }
    // How cards are written: all digits at once, in fours (the last group
    // shorter for 13 and 19 digits), or 4-6-5 and 4-6-4 (Amex, Diners).
    auto written_as_card = [&](size_t i, size_t len) {
        if (len == 1) return true;
        std::vector<size_t> sizes;
        for (size_t k = i; k < i + len; ++k) sizes.push_back(groups[k].second - groups[k].first);
        if (sizes == std::vector<size_t>{4, 6, 5} || sizes == std::vector<size_t>{4, 6, 4}) return true;
        for (size_t k = 0; k + 1 < sizes.size(); ++k)
            if (sizes[k] != 4) return false;
        return sizes.back() >= 1 && sizes.back() <= 4;
    };
    for (size_t i = 0; i < groups.size();) {
        size_t found = 0;
        for (size_t len = std::min<size_t>(5, groups.size() - i); len > 0 && !found; --len) {
            const size_t b = groups[i].first, e = groups[i + len - 1].second;
            if (e - b > 19 + 4) continue;  // more than 19 digits with their separators
            const std::string d = digits_of(s.substr(b, e - b));
            if (d.size() >= 13 && d.size() <= 19 && written_as_card(i, len) && card_prefix_known(d) && luhn_valid(d)) {
                out.push_back({m.at + b, e - b});
                found = len;
            }
        }
        i += found ? found : 1;
    }
}

void confirm_iban(std::string_view text, Match m, std::vector<Match>& out) {
    // The candidate may run on into following words: keep exactly as many
    // characters as the country's IBAN has.
    const std::string_view s = text.substr(m.at, m.size);
    std::string compact;
    size_t used = 0;
    auto it = iban_lengths().end();
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == ' ') continue;
        compact.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(s[i]))));
        if (compact.size() == 2) {
            it = iban_lengths().find(compact);
            if (it == iban_lengths().end()) return;
        }
        if (it != iban_lengths().end() && compact.size() == it->second) {
            used = i + 1;
            break;
        }
    }
    if (!used || !iban_valid(compact)) return;
    // Not the start of a longer word.
    if (m.at + used < text.size() && std::isalnum(static_cast<unsigned char>(text[m.at + used]))) return;
    out.push_back({m.at, used});
}

void confirm_ssn(std::string_view text, Match m, std::vector<Match>& out) {
    const std::string_view s = text.substr(m.at, m.size);
    if (s.size() == 11 && us_ssn_issuable(s.substr(0, 3), s.substr(4, 2), s.substr(7, 4))) out.push_back(m);
}

void confirm_jwt(std::string_view text, Match m, std::vector<Match>& out) {
    const std::string_view s = text.substr(m.at, m.size);
    if (jwt_header_valid(s.substr(0, s.find('.')))) out.push_back(m);
}

struct Builtin {
    const char* name;
    std::vector<std::string> patterns;
    Confirm confirm;
    bool retry_inside = false;
};

const std::vector<Builtin>& builtins() {
    static const std::vector<Builtin> b = {
        // A whole run of digit groups (the cards in it are found by confirm_card).
        {"card", {R"(\b\d+(?:[ -]\d+)*\b)"}, confirm_card},
        {"iban", {R"((?i)\b[a-z]{2}\d{2}(?: ?[a-z0-9]){11,34})"}, confirm_iban, true},
        {"us_ssn", {R"(\b\d{3}-\d{2}-\d{4}\b)"}, confirm_ssn, true},
        {"private_key",
         {R"((?s)-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\z))"},
         keep},
        {"api_token",
         {R"(\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b)",
          R"(\bgh[pousr]_[A-Za-z0-9]{36,255}\b)",
          R"(\bgithub_pat_[A-Za-z0-9_]{82}\b)",
          R"(\bglpat-[0-9A-Za-z_-]{20,})",
          R"(\bxox[abposr]-[0-9A-Za-z-]{10,})",
          R"(https://hooks\.slack\.com/services/T[0-9A-Za-z]+/B[0-9A-Za-z]+/[0-9A-Za-z]+)",
          R"(\bAIza[0-9A-Za-z_-]{35})",
          R"(\b[rs]k_live_[0-9A-Za-z]{24,})",
          R"(\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,})"},
         keep},
        {"jwt", {R"(\beyJ[A-Za-z0-9_-]{5,1000}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)"}, confirm_jwt},
    };
    return b;
}

}  // namespace

bool luhn_valid(std::string_view digits) {
    if (digits.empty()) return false;
    int sum = 0;
    bool twice = false;
    for (size_t i = digits.size(); i-- > 0;) {
        if (digits[i] < '0' || digits[i] > '9') return false;
        int d = digits[i] - '0';
        if (twice) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

bool card_prefix_known(std::string_view d) {
    // Issuer prefixes with the lengths that issuer uses.
    auto p = [&](size_t n) { return d.size() >= n ? std::stoi(std::string(d.substr(0, n))) : -1; };
    const int p1 = p(1), p2 = p(2), p3 = p(3), p4 = p(4);
    const size_t n = d.size();
    const bool n16to19 = n >= 16 && n <= 19;
    return (p1 == 4 && (n == 13 || n == 16 || n == 19))                                  // Visa
           || (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16)         // Mastercard
           || ((p2 == 34 || p2 == 37) && n == 15)                                         // American Express
           || ((p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) && n16to19)           // Discover
           || (p4 >= 3528 && p4 <= 3589 && n16to19)                                       // JCB
           || (((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) && n >= 14)  // Diners
           || (p2 == 62 && n16to19)                                                       // UnionPay
           || ((p2 == 50 || (p2 >= 56 && p2 <= 69)) && n >= 13);                          // Maestro
}

bool iban_valid(std::string_view s) {
    if (s.size() < 15 || s.size() > 34) return false;
    auto it = iban_lengths().find(s.substr(0, 2));
    if (it == iban_lengths().end() || it->second != s.size()) return false;
    if (s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9') return false;
    // ISO 7064 mod 97-10: the first four characters moved to the end,
    // letters as 10..35, the number mod 97 is 1.
    unsigned rem = 0;
    for (size_t k = 0; k < s.size(); ++k) {
        const char c = s[(k + 4) % s.size()];
        if (c >= '0' && c <= '9') {
            rem = (rem * 10 + static_cast<unsigned>(c - '0')) % 97;
        } else if (c >= 'A' && c <= 'Z') {
            rem = (rem * 100 + static_cast<unsigned>(c - 'A' + 10)) % 97;
        } else {
            return false;
        }
    }
    return rem == 1;
}

bool us_ssn_issuable(std::string_view area, std::string_view group, std::string_view serial) {
    return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000";
}

bool jwt_header_valid(std::string_view part) {
    if (part.empty() || part.size() > 4096) return false;
    std::string b64(part);
    for (char& c : b64) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
    }
    while (b64.size() % 4) b64.push_back('=');
    auto json = xmpp::base64_decode(b64);
    if (!json) return false;
    const std::string& j = *json;
    const size_t first = j.find_first_not_of(" \t\r\n");
    return first != std::string::npos && j[first] == '{' && j.find("\"alg\"") != std::string::npos;
}

Detector::Detector(std::string name, std::vector<Pattern> patterns)
    : name_(std::move(name)), patterns_(std::move(patterns)) {}

Detector::~Detector() = default;

const std::vector<std::string>& Detector::builtin_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        for (const auto& b : builtins()) n.emplace_back(b.name);
        return n;
    }();
    return names;
}

Result<std::shared_ptr<const Detector>> Detector::builtin(std::string_view name) {
    for (const auto& b : builtins()) {
        if (name != b.name) continue;
        std::vector<Pattern> ps;
        for (const auto& p : b.patterns) {
            auto re = compile(p);
            if (!re->ok()) return Status::error("invalid", "built-in detector " + std::string(name) + ": " + re->error());
            ps.push_back({std::move(re), b.confirm, b.retry_inside});
        }
        return std::shared_ptr<const Detector>(new Detector(std::string(name), std::move(ps)));
    }
    return Status::error("invalid", "no built-in detector '" + std::string(name) + "'");
}

Result<std::shared_ptr<const Detector>> Detector::custom(std::string name, const std::vector<std::string>& patterns,
                                                         const std::vector<std::string>& words) {
    std::vector<Pattern> ps;
    for (const auto& p : patterns) {
        auto re = compile(p);
        if (!re->ok()) return Status::error("invalid", "pattern '" + p + "': " + re->error());
        ps.push_back({std::move(re), keep});
    }
    if (!words.empty()) {
        std::string alt;
        for (const auto& w : words) {
            if (w.empty()) return Status::error("invalid", "an empty word");
            alt += (alt.empty() ? "" : "|") + re2::RE2::QuoteMeta(w);
        }
        // Whole words in any script: RE2's \b knows only ASCII word
        // characters, so the edges are "not a letter, digit or _" (or the
        // text's ends) and the word itself is submatch 1.
        auto re = compile("(?i)(?:^|[^\\pL\\pN_])(" + alt + ")(?:$|[^\\pL\\pN_])");
        if (!re->ok()) return Status::error("invalid", "words: " + re->error());
        ps.push_back({std::move(re), keep, false, true});
    }
    if (ps.empty()) return Status::error("invalid", "detector '" + name + "' has no pattern and no word");
    return std::shared_ptr<const Detector>(new Detector(std::move(name), std::move(ps)));
}

std::vector<std::string> Detector::patterns() const {
    std::vector<std::string> out;
    for (const Pattern& p : patterns_) out.push_back(p.re->pattern());
    return out;
}

std::vector<Match> Detector::find(std::string_view text) const {
    std::vector<Match> all, got;
    const re2::StringPiece input(text.data(), text.size());
    for (const Pattern& p : patterns_) {
        size_t pos = 0;
        re2::StringPiece m[2];
        const int groups = p.inner ? 2 : 1;
        // The text before `pos` stays the context of \b and ^.
        while (pos <= text.size() && p.re->Match(input, pos, text.size(), re2::RE2::UNANCHORED, m, groups)) {
            const re2::StringPiece& hit = m[groups - 1];
            const size_t at = static_cast<size_t>(hit.data() - text.data());
            const size_t whole_end = static_cast<size_t>(m[0].data() - text.data()) + m[0].size();
            got.clear();
            p.confirm(text, {at, hit.size()}, got);
            all.insert(all.end(), got.begin(), got.end());
            if (p.inner) pos = at + std::max<size_t>(hit.size(), 1);  // the next word may share this one's edge
            else if (got.empty() && p.retry_inside) pos = at + 1;     // bounded candidates only
            else pos = std::max(whole_end, at + 1);
        }
    }
    std::sort(all.begin(), all.end(), [](const Match& a, const Match& b) { return a.at < b.at || (a.at == b.at && a.size > b.size); });
    std::vector<Match> out;
    for (const Match& m : all)
        if (out.empty() || m.at >= out.back().at + out.back().size) out.push_back(m);
    return out;
}

}  // namespace parley::mod_content_policy
