// One journal entry as the archive keeps it, and its byte encoding.
//
// An Entry is what the server knew of one message stanza when it routed it:
// the exact stanza XML, the addresses it was routed with, where it came from,
// what the router did with it, and the views it belongs to (each local
// party's archive, with the other party as the peer). The encoding is the
// plaintext that the journal compresses (zstd, when large) and encrypts; it
// is versioned so that later fields can be added without rewriting history.
//
// Value types and free functions: any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"

namespace parley::archive {

// Where the stanza entered the server.
enum class Origin : uint8_t {
    local_client = 0,  // one of our c2s sessions
    server = 1,        // the server or a module
    remote = 2,        // another server (federation)
};
const char* to_string(Origin origin);

// One archive the entry is in: `owner` (a bare JID: a local account, later a
// room) and the other party `peer` (a bare JID), the MAM `with`.
struct View {
    std::string owner;
    std::string peer;
    bool operator==(const View&) const = default;
};

struct Entry {
    std::string from;     // as routed: full or bare JID
    std::string to;
    std::string type;     // the message type ("normal" when the attribute is absent)
    Origin origin = Origin::local_client;
    std::string outcome;  // the router's outcome ("delivered", "taken_over", "bounced", ...)
    std::vector<View> views;
    std::string stanza;   // the exact XML as routed
    // The words of its body (words_of), for the word index; kept in the
    // sealed entry so a purge can remove the index keys with the record.
    std::vector<std::string> words;
    bool operator==(const Entry&) const = default;
};

// Entries larger than this (encoded) are compressed.
constexpr size_t kCompressAbove = 512;

std::string encode_entry(const Entry& e);
// Code "corrupt" when the bytes are not an encoding of an entry.
Result<Entry> decode_entry(std::string_view bytes);

// The words a body is found by: runs of ASCII letters and digits and of
// non-ASCII (UTF-8) bytes, ASCII lowercased, 2 to kMaxWordBytes bytes, each
// once, in order of first appearance.
constexpr size_t kMaxWordBytes = 64;
std::vector<std::string> words_of(std::string_view text);

// zstd, level 1 (the journal's writer thread is the bottleneck, not disk).
std::string compress(std::string_view plain);
// Code "corrupt" on damaged input or past max_bytes of output.
Result<std::string> decompress(std::string_view packed, size_t max_bytes);

}  // namespace parley::archive
