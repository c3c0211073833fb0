#include "element_codec.hpp"

#include <stdexcept>

namespace parley::mod_pep {

namespace {

constexpr int kMaxDepth = 64;

void put_str32(std::string& out, std::string_view s) {
    put_u32(out, static_cast<uint32_t>(s.size()));
    out.append(s);
}

Result<xml::Element> decode_one(Reader& r, int depth) {
    if (depth > kMaxDepth) return Status::error("corrupt", "element nested too deep");
    std::string_view name, ns;
    uint16_t attrs = 0;
    if (!r.str16(name) || !r.str16(ns) || !r.u16(attrs)) return Status::error("corrupt", "truncated element");
    try {
        xml::Element e{std::string(name), std::string(ns)};
        for (uint16_t i = 0; i < attrs; ++i) {
            std::string_view ans, local, value;
            if (!r.str16(ans) || !r.str16(local) || !r.str32(value)) return Status::error("corrupt", "truncated attribute");
            if (ans.empty()) e.set_attr(std::string(local), std::string(value));
            else e.set_attr(xml::QName{std::string(ans), std::string(local)}, std::string(value));
        }
        uint32_t nodes = 0;
        if (!r.u32(nodes)) return Status::error("corrupt", "truncated element");
        for (uint32_t i = 0; i < nodes; ++i) {
            uint8_t kind = 0;
            if (!r.u8(kind)) return Status::error("corrupt", "truncated node");
            if (kind == 1) {
                auto child = decode_one(r, depth + 1);
                if (!child) return child.status();
                e.add_child(std::move(child.value()));
            } else if (kind == 2) {
                std::string_view text;
                if (!r.str32(text)) return Status::error("corrupt", "truncated text");
                e.add_text(std::string(text));
            } else {
                return Status::error("corrupt", "unknown node kind");
            }
        }
        return e;
    } catch (const std::invalid_argument& ex) {
        return Status::error("corrupt", std::string("bad name: ") + ex.what());
    }
}

}  // namespace

void put_u16(std::string& out, uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

void put_u32(std::string& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
}

void put_u64(std::string& out, uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
}

void put_str16(std::string& out, std::string_view s) {
    put_u16(out, static_cast<uint16_t>(s.size()));
    out.append(s);
}

bool Reader::bytes(size_t n, std::string_view& s) {
    if (in_.size() < n) return false;
    s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
}

bool Reader::u8(uint8_t& v) {
    std::string_view b;
    if (!bytes(1, b)) return false;
    v = static_cast<uint8_t>(b[0]);
    return true;
}

bool Reader::u16(uint16_t& v) {
    std::string_view b;
    if (!bytes(2, b)) return false;
    v = static_cast<uint16_t>((static_cast<uint8_t>(b[0]) << 8) | static_cast<uint8_t>(b[1]));
    return true;
}

bool Reader::u32(uint32_t& v) {
    std::string_view b;
    if (!bytes(4, b)) return false;
    v = 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    return true;
}

bool Reader::u64(uint64_t& v) {
    std::string_view b;
    if (!bytes(8, b)) return false;
    v = 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    return true;
}

bool Reader::str16(std::string_view& s) {
    uint16_t n = 0;
    return u16(n) && bytes(n, s);
}

bool Reader::str32(std::string_view& s) {
    uint32_t n = 0;
    return u32(n) && bytes(n, s);
}

bool encodable(const xml::Element& e) {
    if (e.name().size() > 0xffff || e.ns().size() > 0xffff || e.attrs().size() > 0xffff) return false;
    for (const auto& a : e.attrs())
        if (a.name.ns.size() > 0xffff || a.name.local.size() > 0xffff) return false;
    for (const auto& c : e.children())
        if (!encodable(c)) return false;
    return true;
}

void encode_element(const xml::Element& e, std::string& out) {
    put_str16(out, e.name());
    put_str16(out, e.ns());
    put_u16(out, static_cast<uint16_t>(e.attrs().size()));
    for (const auto& a : e.attrs()) {
        put_str16(out, a.name.ns);
        put_str16(out, a.name.local);
        put_str32(out, a.value);
    }
    put_u32(out, static_cast<uint32_t>(e.nodes().size()));
    for (const auto& n : e.nodes()) {
        if (n.is_element()) {
            out.push_back(1);
            encode_element(n.element(), out);
        } else {
            out.push_back(2);
            put_str32(out, n.text());
        }
    }
}

std::string encode_element(const xml::Element& e) {
    std::string out;
    encode_element(e, out);
    return out;
}

Result<xml::Element> decode_element(std::string_view data) {
    Reader r(data);
    auto e = decode_one(r, 0);
    if (!e) return e;
    if (!r.empty()) return Status::error("corrupt", "trailing bytes after the element");
    return e;
}

}  // namespace parley::mod_pep
