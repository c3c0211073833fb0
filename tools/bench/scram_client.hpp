// ScramClient: the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for
// parley-bench, without channel binding ("n,,"). One per login attempt;
// plain data, any thread. The bench pays the PBKDF2 per login, as a real
// client does.
#pragma once

#include <string>
#include <string_view>

namespace parley::bench {

class ScramClient {
public:
    // The initial response ("n,,n=USER,r=NONCE"), raw (not base64).
    std::string first(std::string_view user);
    // Answers the server-first-message; false with `err` set if it is bad.
    bool final(std::string_view server_first, std::string_view password, std::string& out, std::string& err);
    // Checks the server-final-message ("v=SIGNATURE").
    bool verify(std::string_view server_final) const;

private:
    std::string nonce_;
    std::string client_first_bare_;
    std::string expected_v_;
};

std::string base64_encode(std::string_view in);
bool base64_decode(std::string_view in, std::string& out);

}  // namespace parley::bench
