#include "archive/journal/entry.hpp"

#include <zstd.h>

#include <algorithm>

namespace parley::archive {

namespace {

// Version 2 added the indexed words; version 1 entries (no words) still decode.
constexpr uint8_t kEncodingVersion = 2;
constexpr uint16_t kMaxWords = 4096;
constexpr uint32_t kMaxField = 64u << 20;  // a stanza is far smaller; anything past this is damage
constexpr uint16_t kMaxViews = 1024;

void put_u32(std::string& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void put_str(std::string& out, std::string_view s) {
    put_u32(out, static_cast<uint32_t>(s.size()));
    out.append(s);
}

class Reader {
public:
    explicit Reader(std::string_view b) : b_(b) {}
    bool u8(uint8_t& v) {
        if (b_.empty()) return false;
        v = static_cast<uint8_t>(b_[0]);
        b_.remove_prefix(1);
        return true;
    }
    bool u16(uint16_t& v) {
        uint8_t hi, lo;
        if (!u8(hi) || !u8(lo)) return false;
        v = static_cast<uint16_t>(hi << 8 | lo);
        return true;
    }
    bool str(std::string& s) {
        if (b_.size() < 4) return false;
        uint32_t n = 0;
        for (int i = 0; i < 4; ++i) n = n << 8 | static_cast<uint8_t>(b_[i]);
        b_.remove_prefix(4);
        if (n > kMaxField || n > b_.size()) return false;
        s.assign(b_.substr(0, n));
        b_.remove_prefix(n);
        return true;
    }
    bool done() const { return b_.empty(); }

private:
    std::string_view b_;
};

}  // namespace

const char* to_string(Origin origin) {
    switch (origin) {
        case Origin::local_client: return "local";
        case Origin::server: return "server";
        case Origin::remote: return "remote";
    }
    return "unknown";
}

std::string encode_entry(const Entry& e) {
    std::string out;
    out.reserve(64 + e.from.size() + e.to.size() + e.stanza.size() + e.views.size() * 48);
    out.push_back(static_cast<char>(kEncodingVersion));
    out.push_back(static_cast<char>(e.origin));
    put_str(out, e.from);
    put_str(out, e.to);
    put_str(out, e.type);
    put_str(out, e.outcome);
    uint16_t n = static_cast<uint16_t>(std::min<size_t>(e.views.size(), kMaxViews));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
    for (uint16_t i = 0; i < n; ++i) {
        put_str(out, e.views[i].owner);
        put_str(out, e.views[i].peer);
    }
    put_str(out, e.stanza);
    uint16_t w = static_cast<uint16_t>(std::min<size_t>(e.words.size(), kMaxWords));
    out.push_back(static_cast<char>(w >> 8));
    out.push_back(static_cast<char>(w & 0xff));
    for (uint16_t i = 0; i < w; ++i) put_str(out, e.words[i]);
    return out;
}

Result<Entry> decode_entry(std::string_view bytes) {
    Reader r(bytes);
    Entry e;
    uint8_t version = 0, origin = 0;
    uint16_t n = 0;
    bool ok = r.u8(version) && (version == 1 || version == kEncodingVersion) && r.u8(origin) && origin <= 2 && r.str(e.from) &&
              r.str(e.to) && r.str(e.type) && r.str(e.outcome) && r.u16(n) && n <= kMaxViews;
    for (uint16_t i = 0; ok && i < n; ++i) {
        View v;
        ok = r.str(v.owner) && r.str(v.peer);
        if (ok) e.views.push_back(std::move(v));
    }
    ok = ok && r.str(e.stanza);
    if (ok && version >= 2) {
        uint16_t w = 0;
        ok = r.u16(w) && w <= kMaxWords;
        for (uint16_t i = 0; ok && i < w; ++i) {
            std::string word;
            ok = r.str(word);
            if (ok) e.words.push_back(std::move(word));
        }
    }
    ok = ok && r.done();
    if (!ok) return Status::error("corrupt", "journal entry does not decode");
    e.origin = static_cast<Origin>(origin);
    return e;
}

std::string compress(std::string_view plain) {
    std::string out(ZSTD_compressBound(plain.size()), '\0');
    size_t n = ZSTD_compress(out.data(), out.size(), plain.data(), plain.size(), 1);
    // ZSTD_compress cannot fail with a bound-sized buffer and a valid level;
    // should it anyway, the caller stores the plaintext (flag unset).
    if (ZSTD_isError(n)) return {};
    out.resize(n);
    return out;
}

std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        if (cur.size() >= 2 && cur.size() <= kMaxWordBytes &&
            std::find(out.begin(), out.end(), cur) == out.end() && out.size() < kMaxWords)
            out.push_back(cur);
        cur.clear();
    };
    for (char ch : text) {
        unsigned char c = static_cast<unsigned char>(ch);
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c >= 0x80) cur.push_back(ch);
        else if (c >= 'A' && c <= 'Z') cur.push_back(static_cast<char>(c - 'A' + 'a'));
        else flush();
    }
    flush();
    return out;
}

Result<std::string> decompress(std::string_view packed, size_t max_bytes) {
    unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_bytes)
        return Status::error("corrupt", "compressed journal entry has no valid size");
    std::string out(static_cast<size_t>(size), '\0');
    size_t n = ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size());
    if (ZSTD_isError(n) || n != out.size()) return Status::error("corrupt", "compressed journal entry is damaged");
    return out;
}

}  // namespace parley::archive
