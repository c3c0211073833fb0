#include "http_exchange.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace parley::mod_upload {

namespace {

const char* reason(int code) {
    switch (code) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Payload Too Large";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 507: return "Insufficient Storage";
        default: return "Error";
    }
}

bool iequals(const std::string& a, const char* b) {
    size_t i = 0;
    for (; i < a.size() && b[i]; ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return i == a.size() && !b[i];
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Whether a browser may show the type inline without running anything.
bool inline_safe(const std::string& type) {
    auto starts = [&](const char* p) { return type.rfind(p, 0) == 0; };
    if (starts("image/svg")) return false;  // SVG carries script
    return starts("image/") || starts("audio/") || starts("video/");
}

}  // namespace

const http_parser_settings HttpExchange::kSettings = [] {
    http_parser_settings s{};
    s.on_url = &HttpExchange::on_url;
    s.on_header_field = &HttpExchange::on_header_field;
    s.on_header_value = &HttpExchange::on_header_value;
    s.on_headers_complete = &HttpExchange::on_headers_complete;
    s.on_body = &HttpExchange::on_body;
    s.on_message_complete = &HttpExchange::on_message_complete;
    return s;
}();

HttpExchange::HttpExchange(std::shared_ptr<FileStore> store, std::shared_ptr<const ServeSettings> settings,
                           std::function<int64_t()> now)
    : store_(std::move(store)), settings_(std::move(settings)), now_(std::move(now)) {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
}

HttpExchange::~HttpExchange() {
    if (upload_fd_ >= 0) store_->abort(grant_.slot_id, upload_fd_);
    if (file_fd_ >= 0) ::close(file_fd_);
}

void HttpExchange::feed(const char* data, size_t len) {
    if (answered_ || len == 0) return;
    size_t n = http_parser_execute(&parser_, &kSettings, data, len);
    if (answered_) return;
    if (too_large_) {
        respond(431, "the request's headers are too large");
    } else if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK || n != len) {
        if (upload_fd_ >= 0) {
            store_->abort(grant_.slot_id, upload_fd_);
            upload_fd_ = -1;
        }
        respond(400, std::string("malformed request: ") + http_errno_description(HTTP_PARSER_ERRNO(&parser_)));
    }
}

std::string HttpExchange::take_output() { return std::move(out_); }

bool HttpExchange::count_header_bytes(size_t len) {
    header_bytes_ += len;
    if (header_bytes_ > settings_->max_header_bytes) too_large_ = true;
    return !too_large_;
}

int HttpExchange::on_url(http_parser* p, const char* at, size_t len) {
    auto* self = static_cast<HttpExchange*>(p->data);
    if (!self->count_header_bytes(len)) return 1;
    self->url_.append(at, len);
    return 0;
}

int HttpExchange::on_header_field(http_parser* p, const char* at, size_t len) {
    auto* self = static_cast<HttpExchange*>(p->data);
    if (!self->count_header_bytes(len + 4)) return 1;  // ": " and CRLF count too
    if (self->in_value_ || self->headers_.empty()) self->headers_.emplace_back();
    self->in_value_ = false;
    self->headers_.back().first.append(at, len);
    return 0;
}

int HttpExchange::on_header_value(http_parser* p, const char* at, size_t len) {
    auto* self = static_cast<HttpExchange*>(p->data);
    if (!self->count_header_bytes(len)) return 1;
    if (self->headers_.empty()) return 1;
    self->in_value_ = true;
    self->headers_.back().second.append(at, len);
    return 0;
}

const std::string* HttpExchange::header(const char* name) const {
    for (const auto& [k, v] : headers_)
        if (iequals(k, name)) return &v;
    return nullptr;
}

int HttpExchange::on_headers_complete(http_parser* p) {
    // Returning 1 would tell http-parser "no body" for a request; errors
    // stop the parser instead (2 is not a valid answer here), so answer and
    // pause.
    auto* self = static_cast<HttpExchange*>(p->data);
    int rc = self->headers_complete();
    if (self->answered_) http_parser_pause(p, 1);
    return rc;
}

int HttpExchange::headers_complete() {
    // The path is /SLOT/NAME; no query, nothing more.
    std::string path = url_;
    if (path.empty() || path[0] != '/') {
        respond(400, "the path must be /SLOT/NAME");
        return 0;
    }
    const size_t slash = path.find('/', 1);
    std::string slot = slash == std::string::npos ? std::string() : path.substr(1, slash - 1);
    auto name = slash == std::string::npos ? Result<std::string>(Status::error("invalid", "no name"))
                                           : percent_decode(path.substr(slash + 1));
    const bool known = valid_slot_id(slot) && name && check_filename(*name);
    const auto method = static_cast<http_method>(parser_.method);
    if (method == HTTP_PUT) {
        if (!known) {
            respond(403, "no such slot");
            return 0;
        }
        return start_put(slot, *name);
    }
    if (method == HTTP_GET || method == HTTP_HEAD) {
        if (!known) {
            respond(404, "no such file");
            return 0;
        }
        serve(slot, *name, method == HTTP_HEAD);
        return 0;
    }
    out_ += "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, PUT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    answered_ = true;
    status_ = 405;
    return 0;
}

int HttpExchange::start_put(const std::string& slot, const std::string& name) {
    const std::string* auth = header("Authorization");
    if (!auth) {
        respond(403, "no Authorization header");
        return 0;
    }
    auto grant = verify_token(store_->secret(), trim(*auth), slot, name, now_());
    if (!grant) {
        respond(403, grant.status().message());
        return 0;
    }
    if ((parser_.flags & F_CHUNKED) || parser_.content_length == ULLONG_MAX) {
        respond(411, "the upload needs a Content-Length");
        return 0;
    }
    if (parser_.content_length > grant->size) {
        respond(413, "the slot is for " + std::to_string(grant->size) + " bytes");
        return 0;
    }
    if (parser_.content_length != grant->size) {
        respond(400, "the slot is for " + std::to_string(grant->size) + " bytes");
        return 0;
    }
    std::string type = grant->content_type;
    if (const std::string* ct = header("Content-Type")) {
        std::string given = trim(*ct);
        if (!type.empty() && !given.empty() && given != type) {
            respond(400, "the slot is for content type " + type);
            return 0;
        }
        if (type.empty() && check_content_type(given)) type = given;
    }
    auto fd = store_->begin(*grant, settings_->quota_bytes, now_());
    if (!fd) {
        const std::string& code = fd.status().code();
        respond(code == "exists" ? 409 : code == "quota" ? 507 : code == "revoked" ? 403 : 500, fd.status().message());
        return 0;
    }
    grant_ = std::move(grant.value());
    content_type_ = type.empty() ? std::string("application/octet-stream") : type;
    upload_fd_ = fd.value();
    received_ = 0;
    if (const std::string* expect = header("Expect"); expect && iequals(trim(*expect), "100-continue"))
        out_ += "HTTP/1.1 100 Continue\r\n\r\n";
    if (grant_.size == 0) finish_upload();
    return 0;
}

int HttpExchange::on_body(http_parser* p, const char* at, size_t len) {
    auto* self = static_cast<HttpExchange*>(p->data);
    if (self->upload_fd_ < 0) return 0;
    while (len > 0) {
        ssize_t w = ::write(self->upload_fd_, at, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            self->store_->abort(self->grant_.slot_id, self->upload_fd_);
            self->upload_fd_ = -1;
            self->respond(500, "the file could not be written");
            http_parser_pause(p, 1);
            return 0;
        }
        at += w;
        len -= static_cast<size_t>(w);
        self->received_ += static_cast<uint64_t>(w);
    }
    return 0;
}

int HttpExchange::on_message_complete(http_parser* p) {
    auto* self = static_cast<HttpExchange*>(p->data);
    if (self->upload_fd_ >= 0) self->finish_upload();
    http_parser_pause(p, 1);
    return 0;
}

void HttpExchange::finish_upload() {
    const int fd = upload_fd_;
    upload_fd_ = -1;
    if (received_ != grant_.size) {
        store_->abort(grant_.slot_id, fd);
        respond(400, "the body is not the slot's size");
        return;
    }
    Status s = store_->commit(grant_, content_type_, fd, now_());
    if (!s) {
        respond(s.code() == "exists" ? 409 : s.code() == "revoked" ? 403 : 500, s.message());
        return;
    }
    respond(201, "stored");
}

void HttpExchange::serve(const std::string& slot, const std::string& name, bool head) {
    auto f = store_->find(slot);
    if (!f || f->filename != name) {
        respond(404, "no such file");
        return;
    }
    if (!head) {
        file_fd_ = ::open(store_->data_path(slot).c_str(), O_RDONLY | O_CLOEXEC);
        if (file_fd_ < 0) {  // purged meanwhile
            respond(404, "no such file");
            return;
        }
        body_left_ = f->size;
    }
    const std::string disposition = inline_safe(f->content_type) ? "inline" : "attachment";
    out_ += "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(f->size) + "\r\nContent-Type: " +
            f->content_type + "\r\nContent-Disposition: " + disposition +
            "; filename*=UTF-8''" + percent_encode(f->filename) +
            "\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'; sandbox"
            "\r\nCache-Control: private, max-age=86400\r\nConnection: close\r\n\r\n";
    answered_ = true;
    status_ = 200;
}

std::string HttpExchange::next_body_chunk(size_t max) {
    if (body_left_ == 0 || file_fd_ < 0) return {};
    std::string chunk(static_cast<size_t>(std::min<uint64_t>(max, body_left_)), '\0');
    ssize_t n;
    do n = ::read(file_fd_, chunk.data(), chunk.size());
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        body_left_ = 0;
        return {};
    }
    chunk.resize(static_cast<size_t>(n));
    body_left_ -= static_cast<uint64_t>(n);
    if (body_left_ == 0) {
        ::close(file_fd_);
        file_fd_ = -1;
    }
    return chunk;
}

void HttpExchange::respond(int code, const std::string& text) {
    const std::string body = text + "\n";
    out_ += "HTTP/1.1 " + std::to_string(code) + " " + reason(code) +
            "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    answered_ = true;
    status_ = code;
}

}  // namespace parley::mod_upload
