#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <set>
#include <unordered_set>

#include "xmpp/jid.hpp"

using parley::xmpp::Jid;

namespace {

Jid must(std::string_view s) {
    auto j = Jid::parse(s);
    BOOST_REQUIRE_MESSAGE(j.is_ok(), "jid: '" << s << "' should parse: " << j.status().to_string());
    return j.value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xmpp_jid)

BOOST_AUTO_TEST_CASE(parts_of_the_three_forms) {
    Jid full = must("juliet@example.com/balcony");
    BOOST_TEST(full.node() == "juliet");
    BOOST_TEST(full.domain() == "example.com");
    BOOST_TEST(full.resource() == "balcony");
    BOOST_TEST(full.has_node());
    BOOST_TEST(full.has_resource());
    BOOST_TEST(!full.is_bare());
    BOOST_TEST(full.str() == "juliet@example.com/balcony");
    BOOST_TEST(full.bare_str() == "juliet@example.com");

    Jid bare = must("juliet@example.com");
    BOOST_TEST(bare.is_bare());
    BOOST_TEST((full.bare() == bare));

    Jid domain = must("example.com");
    BOOST_TEST(!domain.has_node());
    BOOST_TEST(domain.str() == "example.com");
    Jid dres = must("example.com/a@b/c");
    BOOST_TEST(!dres.has_node(), "jid: '@' after the first '/' belongs to the resource");
    BOOST_TEST(dres.resource() == "a@b/c");

    Jid empty;
    BOOST_TEST(empty.empty());
    BOOST_TEST(!domain.empty());
}

BOOST_AUTO_TEST_CASE(preparation_normalises) {
    BOOST_TEST(must("JULIET@Example.COM/Balcony").str() == "juliet@example.com/Balcony",
               "jid: node and domain fold case, the resource keeps it");
    BOOST_TEST(must("juliet@example.com.").domain() == "example.com", "jid: one trailing dot is removed");
    BOOST_TEST(must("Stra\xC3\x9F" "e@example.com").node() == "strasse", "jid: nodeprep case folding (B.2)");
    BOOST_TEST(must("\xEF\xBD\x85xample.com").domain() == "example.com", "jid: nameprep NFKC (full-width e)");
    BOOST_TEST(must("B\xC3\x9C" "CHER.example").domain() == "b\xC3\xBC" "cher.example", "jid: IDN domain lowercased");
    BOOST_TEST(must("a@b/bal\xC2\xAD" "cony").resource() == "balcony", "jid: resourceprep maps soft hyphen to nothing");
    BOOST_TEST(must("a@b/\xE2\x85\xA3").resource() == "IV", "jid: resourceprep NFKC");
    BOOST_TEST(must("a@b/\xF0\x9F\x98\x80").resource() == "\xF0\x9F\x98\x80", "jid: an emoji resource is allowed");
    BOOST_TEST((must("Juliet@EXAMPLE.com") == must("juliet@example.com")), "jid: equal after preparation");
}

BOOST_AUTO_TEST_CASE(ip_literals) {
    BOOST_TEST(must("192.0.2.1").domain() == "192.0.2.1");
    BOOST_TEST(must("a@[2001:DB8:0::1]/r").domain() == "[2001:db8::1]", "jid: IPv6 literal in canonical form");
    BOOST_TEST(!Jid::parse("[2001:db8::zz]").is_ok());
    BOOST_TEST(!Jid::parse("[2001:db8::1").is_ok());
}

BOOST_AUTO_TEST_CASE(invalid_jids_are_refused) {
    for (const char* bad :
         {"", "@example.com", "juliet@", "juliet@example.com/", "/r", "jul iet@example.com", "a\"b@example.com",
          "a&b@example.com", "a'b@example.com", "a:b@example.com", "a<b@example.com", "a>b@example.com",
          "a@b@example.com", "example..com", ".example.com", "example.com..", "exa mple.com", "-bad.example",
          "ex_ample.com", "a@example.com/\x01", "\xC3\x28@example.com", "a@example.com/\xED\xA0\x80", "."}) {
        auto j = Jid::parse(bad);
        BOOST_TEST(!j.is_ok(), "jid: '" << bad << "' must be refused");
        if (!j) BOOST_TEST(j.status().code() == "jid-malformed");
    }
    BOOST_TEST(!Jid::parse(std::string_view("a\0b@example.com", 15)).is_ok(), "jid: NUL refused");
    BOOST_TEST(!Jid::make("", "").is_ok(), "jid: make needs a domain");
}

BOOST_AUTO_TEST_CASE(each_part_is_at_most_1023_bytes) {
    BOOST_TEST(Jid::make(std::string(1023, 'a'), "example.com").is_ok(), "jid: 1023-byte localpart");
    BOOST_TEST(!Jid::make(std::string(1024, 'a'), "example.com").is_ok(), "jid: 1024-byte localpart");
    BOOST_TEST(Jid::make("a", "example.com", std::string(1023, 'r')).is_ok(), "jid: 1023-byte resourcepart");
    BOOST_TEST(!Jid::make("a", "example.com", std::string(1024, 'r')).is_ok(), "jid: 1024-byte resourcepart");
    std::string labels;
    for (int i = 0; i < 15; ++i) labels += std::string(63, 'd') + ".";
    const std::string d1023 = labels + std::string(61, 'd') + ".a";
    const std::string d1024 = labels + std::string(62, 'd') + ".a";
    BOOST_REQUIRE_EQUAL(d1023.size(), 1023u);
    BOOST_TEST(Jid::make("", d1023).is_ok(), "jid: 1023-byte domainpart");
    BOOST_TEST(!Jid::make("", d1024).is_ok(), "jid: 1024-byte domainpart");
    BOOST_TEST(Jid::make("", d1023 + ".").is_ok(), "jid: the trailing dot does not count");
    BOOST_TEST(!Jid::make("", std::string(64, 'd') + ".example").is_ok(), "jid: a 64-byte label");
    // Preparation can lengthen: the limit applies to the prepared form.
    BOOST_TEST(!Jid::make(std::string(1022, 'a') + "\xC3\x9F", "example.com").is_ok(),
               "jid: 1024 bytes after nodeprep maps the sharp s to ss");
}

BOOST_AUTO_TEST_CASE(with_resource_bare_and_containers) {
    Jid bare = must("romeo@example.net");
    auto full = bare.with_resource("Orchard");
    BOOST_REQUIRE(full.is_ok());
    BOOST_TEST(full->str() == "romeo@example.net/Orchard");
    BOOST_TEST(!bare.with_resource("").is_ok(), "jid: an empty resource is refused");
    BOOST_TEST(!Jid().with_resource("r").is_ok(), "jid: no resource on an empty JID");
    BOOST_TEST(full->with_resource("other")->str() == "romeo@example.net/other");
    BOOST_TEST((full->bare() == bare));

    std::unordered_set<Jid> set{must("a@b/c"), must("A@B/c"), must("a@b/C")};
    BOOST_TEST(set.size() == 2u, "jid: hash agrees with equality");
    std::set<Jid> ordered{must("b@x"), must("a@x"), must("a@x/r")};
    BOOST_TEST(ordered.begin()->str() == "a@x");
    BOOST_TEST((Jid::make("juliet", "example.com", "balcony").value() == must("juliet@example.com/balcony")));
}

// The printable-ASCII fast paths must give exactly what libidn's stringprep
// profiles give: same acceptance, same prepared parts.
BOOST_AUTO_TEST_CASE(fast_paths_agree_with_stringprep) {
    const std::string alphabet = "aZ9-._@/ \"&'<>:\x7f\x01\tXy0z-.";
    uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    std::vector<std::string> inputs{"Juliet@Example.COM/Balcony Seat", "a@b", "a@-b.c", "a@b-.c", "a@b..c",
                                    "a@" + std::string(64, 'x') + ".org", "a@" + std::string(63, 'x') + ".org",
                                    "user@127.0.0.1/r", "USER@HOST/ res ", std::string(1024, 'n') + "@d",
                                    "x@y./z", "@d", "n@/r", "n@d/", "d/ "};
    for (int i = 0; i < 200000; ++i) {
        std::string in;
        const size_t len = next() % 24;
        for (size_t k = 0; k < len; ++k) in.push_back(alphabet[next() % alphabet.size()]);
        inputs.push_back(std::move(in));
    }
    size_t accepted = 0;
    for (const auto& in : inputs) {
        parley::xmpp::detail::set_fast_paths(true);
        auto fast = Jid::parse(in);
        parley::xmpp::detail::set_fast_paths(false);
        auto slow = Jid::parse(in);
        parley::xmpp::detail::set_fast_paths(true);
        BOOST_TEST_REQUIRE(fast.is_ok() == slow.is_ok(),
                           "jid: '" << in << "' fast " << fast.is_ok() << " stringprep " << slow.is_ok()
                                    << (slow.is_ok() ? std::string() : " (" + slow.status().to_string() + ")"));
        if (fast.is_ok()) {
            ++accepted;
            BOOST_TEST_REQUIRE(fast->str() == slow->str(), "jid: '" << in << "' prepared differently");
        }
    }
    BOOST_TEST(accepted > 1000u, "jid: the inputs must exercise accepted JIDs too");
}

BOOST_AUTO_TEST_CASE(domains_as_dns_names_them) {
    BOOST_TEST(parley::xmpp::domain_to_ascii("example.org").value() == "example.org");
    // RFC 3492's own example label, and a prepared JID's domain.
    BOOST_TEST(parley::xmpp::domain_to_ascii(must("user@b\xc3\xbc" "cher.example").domain()).value() ==
               "xn--bcher-kva.example");
}

BOOST_AUTO_TEST_SUITE_END()
