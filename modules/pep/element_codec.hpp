// A compact binary form of an xml::Element tree, for PEP items and private
// XML kept in LMDB: stored and loaded without an XML parser.
//
// Format (version 1): for an element, str16 name, str16 namespace, u16
// attribute count, then per attribute str16 namespace, str16 local name,
// str32 value; u32 node count, then per node u8 kind (1 element, 2 text)
// followed by the element or a str32 text. Integers big-endian. decode()
// checks every length against the input and every name through Element
// (an NCName), so a corrupt record is an error, never a crash; depth is
// bounded. Pure functions: any thread.
#pragma once

#include <string>
#include <string_view>

#include "errors/status.hpp"
#include "xml/element.hpp"

namespace parley::mod_pep {

// Whether encode_element() can represent `e`: every name and namespace under
// 64 KiB and fewer than 65,536 attributes per element (a parsed stanza
// nearly always is; an item failing this is refused, not truncated).
bool encodable(const xml::Element& e);
void encode_element(const xml::Element& e, std::string& out);
std::string encode_element(const xml::Element& e);
// Code "corrupt" when `data` is not exactly one encoded element.
Result<xml::Element> decode_element(std::string_view data);

// Big-endian integer and length-prefixed string helpers shared by the store.
void put_u16(std::string& out, uint16_t v);
void put_u32(std::string& out, uint32_t v);
void put_u64(std::string& out, uint64_t v);
void put_str16(std::string& out, std::string_view s);  // s must be < 65536 bytes

// Reads from the front of a view, advancing it; false when too short.
class Reader {
public:
    explicit Reader(std::string_view in) : in_(in) {}
    bool u8(uint8_t& v);
    bool u16(uint16_t& v);
    bool u32(uint32_t& v);
    bool u64(uint64_t& v);
    bool str16(std::string_view& s);
    bool str32(std::string_view& s);
    bool bytes(size_t n, std::string_view& s);
    std::string_view rest() const { return in_; }
    bool empty() const { return in_.empty(); }

private:
    std::string_view in_;
};

}  // namespace parley::mod_pep
