// Base64 (RFC 4648 §4, standard alphabet) for SASL payloads.
//
// Decoding is strict, as RFC 6120 §6.4.2 asks: padding is required, and
// whitespace, characters outside the alphabet, misplaced '=' and non-zero
// pad bits are refused (code "incorrect-encoding"). The empty string decodes
// to the empty string; the caller handles the SASL "=" (empty response)
// itself. Pure functions: any thread.
#pragma once

#include <string>
#include <string_view>

#include "errors/status.hpp"

namespace parley::xmpp {

std::string base64_encode(std::string_view data);
Result<std::string> base64_decode(std::string_view text);

}  // namespace parley::xmpp
