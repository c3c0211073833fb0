// One HTTP/1.1 request on the upload service's listener, as plain text.
//
// The connection (http_server.cpp) hands in what it decrypted; the
// exchange parses it with http-parser and answers one request, then asks
// for the connection to close (Connection: close: one request per
// connection keeps the state to one upload or one download):
//   PUT /SLOT/NAME  with the slot's token (slot_token.hpp): the body streams
//       to a temp file and is committed (FileStore::commit); 201. Refused:
//       403 (no or a wrong token, expired, its account deleted), 411 (no Content-Length), 413
//       (more than the slot's size), 400 (another size or content type),
//       409 (the slot has a file or is being uploaded), 507 (quota).
//   GET/HEAD /SLOT/NAME  the file with its length and type; never served as
//       a page: X-Content-Type-Options: nosniff, a sandboxing
//       Content-Security-Policy, and Content-Disposition: attachment except
//       for images (not SVG), audio and video. 404 for anything unknown.
//   Anything else: 405, 400 for what does not parse, 431 when the request
//       line and headers pass max_header_bytes.
// What the exchange holds is bounded: the headers (max_header_bytes), never
// the body, which goes to disk as it comes; a download is read in chunks
// as the connection asks for them.
//
// Loop-affine: the HTTP thread (or a test's thread) only.
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "file_store.hpp"

namespace parley::mod_upload {

// What the HTTP side needs of the configuration; swapped as a whole at reload.
struct ServeSettings {
    uint64_t quota_bytes = 0;       // 0: none
    size_t max_header_bytes = 8192;
    int64_t max_age_s = 0;          // files older are purged; 0: kept
    int64_t purge_interval_s = 3600;
    int64_t idle_timeout_s = 30;
};

class HttpExchange {
public:
    HttpExchange(std::shared_ptr<FileStore> store, std::shared_ptr<const ServeSettings> settings,
                 std::function<int64_t()> now);
    ~HttpExchange();  // an upload not finished leaves no file
    HttpExchange(const HttpExchange&) = delete;
    HttpExchange& operator=(const HttpExchange&) = delete;

    // Plain text from the client; ignored once the answer is decided.
    void feed(const char* data, size_t len);
    // The response head (and any small body) to send now; taken once.
    std::string take_output();
    // A download's body still to be read (GET).
    bool body_pending() const { return body_left_ > 0; }
    // Up to `max` bytes of it (empty on a read error: the connection then
    // closes short, which the client sees as a cut response).
    std::string next_body_chunk(size_t max);
    // The answer is decided: once the output and body are sent, close.
    bool answered() const { return answered_; }
    // The status code answered (0 before), for logs and tests.
    int status() const { return status_; }

private:
    static int on_url(http_parser* p, const char* at, size_t len);
    static int on_header_field(http_parser* p, const char* at, size_t len);
    static int on_header_value(http_parser* p, const char* at, size_t len);
    static int on_headers_complete(http_parser* p);
    static int on_body(http_parser* p, const char* at, size_t len);
    static int on_message_complete(http_parser* p);
    static const http_parser_settings kSettings;

    bool count_header_bytes(size_t len);
    int headers_complete();
    int start_put(const std::string& slot, const std::string& name);
    void serve(const std::string& slot, const std::string& name, bool head);
    void respond(int code, const std::string& text);  // a short text/plain answer
    void finish_upload();
    const std::string* header(const char* name) const;

    std::shared_ptr<FileStore> store_;
    std::shared_ptr<const ServeSettings> settings_;
    std::function<int64_t()> now_;
    http_parser parser_{};
    std::string url_;
    std::vector<std::pair<std::string, std::string>> headers_;
    bool in_value_ = false;
    size_t header_bytes_ = 0;
    bool too_large_ = false;
    bool answered_ = false;
    int status_ = 0;
    std::string out_;
    // Upload in progress.
    int upload_fd_ = -1;
    SlotGrant grant_;
    std::string content_type_;
    uint64_t received_ = 0;
    // Download in progress.
    int file_fd_ = -1;
    uint64_t body_left_ = 0;
};

}  // namespace parley::mod_upload
