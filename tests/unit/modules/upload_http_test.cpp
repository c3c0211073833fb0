// mod_upload's HTTP requests without sockets: HttpExchange fed plain text.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "modules/upload/http_exchange.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::mod_upload;

namespace {

struct Http {
    test::TempDir dir;
    std::shared_ptr<FileStore> store = FileStore::open(dir.sub("upload")).value();
    std::shared_ptr<ServeSettings> settings = std::make_shared<ServeSettings>();
    int64_t now = 1000;
    SlotGrant grant{"00112233445566778899aabbccddeeff", "hello world.txt", 5, "text/plain", 1300, "juliet@example.org"};

    std::string path(const SlotGrant& g) const { return "/" + g.slot_id + "/" + percent_encode(g.filename); }
    std::string put_head(const SlotGrant& g, size_t length, const std::string& extra = "") const {
        return "PUT " + path(g) + " HTTP/1.1\r\nHost: upload.example.org\r\nAuthorization: " +
               sign_token(store->secret(), g) + "\r\nContent-Length: " + std::to_string(length) + "\r\n" + extra +
               "\r\n";
    }
    // Runs one request to its end; the whole response (head and body).
    std::string exchange(const std::string& request, int* status = nullptr) {
        HttpExchange ex(store, settings, [this] { return now; });
        // In small pieces, as TLS records would come.
        for (size_t i = 0; i < request.size(); i += 7) ex.feed(request.data() + i, std::min<size_t>(7, request.size() - i));
        std::string out = ex.take_output();
        for (int guard = 0; ex.body_pending() && guard < 1000; ++guard) out += ex.next_body_chunk(3);
        BOOST_TEST(ex.answered(), "upload: a complete request must be answered");
        if (status) *status = ex.status();
        return out;
    }
    int status_of(const std::string& request) {
        int st = 0;
        exchange(request, &st);
        return st;
    }
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_upload_http)

BOOST_FIXTURE_TEST_CASE(put_then_get_gives_the_same_bytes, Http) {
    BOOST_TEST(status_of(put_head(grant, 5) + "hello") == 201);
    std::string got = exchange("GET " + path(grant) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0u);
    BOOST_TEST(has(got, "\r\nContent-Length: 5\r\n"));
    BOOST_TEST(has(got, "\r\nContent-Type: text/plain\r\n"));
    BOOST_TEST(has(got, "\r\nX-Content-Type-Options: nosniff\r\n"));
    BOOST_TEST(has(got, "\r\nContent-Disposition: attachment; filename*=UTF-8''hello%20world.txt\r\n"),
               "upload: text is never shown inline: " << got);
    BOOST_TEST(got.substr(got.size() - 5) == "hello");
    std::string head = exchange("HEAD " + path(grant) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(has(head, "Content-Length: 5"));
    BOOST_TEST(head.substr(head.size() - 4) == "\r\n\r\n", "upload: HEAD has no body");
}

BOOST_FIXTURE_TEST_CASE(images_inline_html_not, Http) {
    SlotGrant img = grant;
    img.content_type = "image/png";
    img.slot_id = "10112233445566778899aabbccddeeff";
    BOOST_TEST(status_of(put_head(img, 5) + "\x89PNG!") == 201);
    BOOST_TEST(has(exchange("GET " + path(img) + " HTTP/1.1\r\n\r\n"), "Content-Disposition: inline"));
    SlotGrant html = grant;
    html.content_type = "text/html";
    html.slot_id = "20112233445566778899aabbccddeeff";
    BOOST_TEST(status_of(put_head(html, 5) + "<b>hi") == 201);
    std::string got = exchange("GET " + path(html) + " HTTP/1.1\r\n\r\n");
    BOOST_TEST(has(got, "Content-Disposition: attachment"));
    BOOST_TEST(has(got, "X-Content-Type-Options: nosniff"));
}

BOOST_FIXTURE_TEST_CASE(no_type_is_octet_stream_and_a_given_type_must_match, Http) {
    SlotGrant none = grant;
    none.content_type = "";
    none.slot_id = "30112233445566778899aabbccddeeff";
    BOOST_TEST(status_of(put_head(none, 5) + "hello") == 201);
    BOOST_TEST(has(exchange("GET " + path(none) + " HTTP/1.1\r\n\r\n"), "Content-Type: application/octet-stream"));
    BOOST_TEST(status_of(put_head(grant, 5, "Content-Type: text/html\r\n") + "hello") == 400);
    BOOST_TEST(status_of(put_head(grant, 5, "Content-Type: text/plain\r\n") + "hello") == 201);
}

BOOST_FIXTURE_TEST_CASE(sizes_are_the_slots, Http) {
    BOOST_TEST(status_of(put_head(grant, 6) + "hello!") == 413);
    BOOST_TEST(status_of(put_head(grant, 4) + "hell") == 400);
    std::string no_length = "PUT " + path(grant) + " HTTP/1.1\r\nAuthorization: " + sign_token(store->secret(), grant) +
                            "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    BOOST_TEST(status_of(no_length) == 411);
    BOOST_TEST(!store->find(grant.slot_id), "upload: nothing refused may be stored");
}

BOOST_FIXTURE_TEST_CASE(tokens_are_checked, Http) {
    std::string req = put_head(grant, 5) + "hello";
    std::string tampered = req;
    const size_t at = tampered.find("Authorization: Bearer ") + 30;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    BOOST_TEST(status_of(tampered) == 403);
    std::string none = "PUT " + path(grant) + " HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    BOOST_TEST(status_of(none) == 403);
    SlotGrant other = grant;
    other.filename = "other.txt";  // the token of another name
    std::string swapped = "PUT " + path(grant) + " HTTP/1.1\r\nAuthorization: " + sign_token(store->secret(), other) +
                          "\r\nContent-Length: 5\r\n\r\nhello";
    BOOST_TEST(status_of(swapped) == 403);
    now = 1301;  // past the slot's expiry
    BOOST_TEST(status_of(req) == 403);
    BOOST_TEST(!store->find(grant.slot_id));
}

BOOST_FIXTURE_TEST_CASE(a_slot_is_used_once, Http) {
    BOOST_TEST(status_of(put_head(grant, 5) + "hello") == 201);
    BOOST_TEST(status_of(put_head(grant, 5) + "HELLO") == 409);
    std::string got = exchange("GET " + path(grant) + " HTTP/1.1\r\n\r\n");
    BOOST_TEST(got.substr(got.size() - 5) == "hello", "upload: the first file stays");
}

BOOST_FIXTURE_TEST_CASE(an_unfinished_upload_leaves_nothing, Http) {
    {
        HttpExchange ex(store, settings, [this] { return now; });
        std::string part = put_head(grant, 5) + "hel";
        ex.feed(part.data(), part.size());
        BOOST_TEST(!ex.answered());
    }  // the connection dropped
    BOOST_TEST(!store->find(grant.slot_id));
    BOOST_TEST(status_of(put_head(grant, 5) + "hello") == 201, "upload: the slot may be used again");
}

BOOST_FIXTURE_TEST_CASE(quota_is_checked_again_at_put, Http) {
    settings->quota_bytes = 4;  // a slot granted before a restart, no reservation
    BOOST_TEST(status_of(put_head(grant, 5) + "hello") == 507);
}

BOOST_FIXTURE_TEST_CASE(everything_else, Http) {
    BOOST_TEST(status_of("GET /00112233445566778899aabbccddeeff/nothing HTTP/1.1\r\n\r\n") == 404);
    BOOST_TEST(status_of("GET /../../etc/passwd HTTP/1.1\r\n\r\n") == 404);
    BOOST_TEST(status_of("GET / HTTP/1.1\r\n\r\n") == 404);
    BOOST_TEST(status_of("DELETE " + path(grant) + " HTTP/1.1\r\n\r\n") == 405);
    BOOST_TEST(status_of("NOT HTTP AT ALL\r\n\r\n") == 400);
    BOOST_TEST(status_of("GET /x HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n") == 431);
    // The wrong file name for a slot that has a file.
    BOOST_TEST(status_of(put_head(grant, 5) + "hello") == 201);
    BOOST_TEST(status_of("GET /" + grant.slot_id + "/other.txt HTTP/1.1\r\n\r\n") == 404);
}

BOOST_FIXTURE_TEST_CASE(expect_continue_is_answered, Http) {
    HttpExchange ex(store, settings, [this] { return now; });
    std::string head = put_head(grant, 5, "Expect: 100-continue\r\n");
    ex.feed(head.data(), head.size());
    BOOST_TEST(ex.take_output() == "HTTP/1.1 100 Continue\r\n\r\n");
    ex.feed("hello", 5);
    BOOST_TEST(ex.status() == 201);
}

BOOST_AUTO_TEST_SUITE_END()
