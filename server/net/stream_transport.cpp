#include "net/stream_transport.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <utility>
#include <cmath>

#include "log/log.hpp"
#include "loop/worker.hpp"
#include "xml/serializer.hpp"

namespace parley::net {

struct StreamTransport::WriteReq {
    uv_write_t req{};
    std::string data;
    StreamTransport* owner = nullptr;
};

namespace {

// How long a closing connection may take to hand its last bytes to a peer
// before it is cut: every closing connection is freed within this time.
constexpr uint64_t kCloseGraceMs = 5000;

void format_addr(const sockaddr_storage& ss, std::string& ip, std::string& ip_port) {
    char host[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        uv_ip4_name(a, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        uv_ip6_name(a, host, sizeof host);
        port = ntohs(a->sin6_port);
    }
    ip = host;
    ip_port = fmt::format("{};{}", host, port);
}

}  // namespace

StreamTransport::StreamTransport(loop::Worker& worker, xml::StreamLimits limits)
    : worker_(worker), parser_(*this, limits), max_queue_(worker.config().limits.max_send_queue_bytes) {
    uv_tcp_init(worker_.loop(), &tcp_);
    tcp_.data = this;
    uv_timer_init(worker_.loop(), &timer_);
    timer_.data = this;
    uv_timer_init(worker_.loop(), &throttle_);
    throttle_.data = this;
    open_handles_ = 3;
    const auto& lim = worker.config().limits;
    read_rate_ = static_cast<double>(lim.max_read_bytes_per_s);
    read_burst_ = std::max(read_rate_, static_cast<double>(lim.max_stanza_bytes));
    read_tokens_ = read_burst_;
    read_refill_ms_ = uv_now(worker_.loop());
    worker_.add_transport(this);
}

StreamTransport::~StreamTransport() { worker_.forget_transport(this); }

Status StreamTransport::accept_from(uv_stream_t* server, bool tls_first) {
    int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_));
    if (rc == 0) {
        uv_tcp_nodelay(&tcp_, 1);
        // A peer that vanished (cable, NAT timeout) is noticed by the kernel
        // even on an idle stream; XEP-0198 and XEP-0199 pings come later.
        uv_tcp_keepalive(&tcp_, 1, 120);
        sockaddr_storage ss{};
        int len = sizeof ss;
        if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            format_addr(ss, remote_ip_, remote_addr_);
        else
            ss = sockaddr_storage{};
        if (!admit(ss, tls_first)) return Status::ok();
        len = sizeof ss;
        std::string ignored;
        if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            format_addr(ss, ignored, local_addr_);
        rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &StreamTransport::on_alloc, &StreamTransport::on_read);
    }
    if (rc != 0) {
        close_now();
        return Status::error("accept", uv_strerror(rc));
    }
    return Status::ok();
}

struct StreamTransport::ConnectReq {
    uv_connect_t req{};
    StreamTransport* owner = nullptr;
    std::function<void(Status)> connected;
};

Status StreamTransport::connect(const sockaddr_storage& peer, std::function<void(Status)> connected) {
    format_addr(peer, remote_ip_, remote_addr_);
    auto* c = new ConnectReq();
    c->owner = this;
    c->connected = std::move(connected);
    c->req.data = c;
    hold();  // the request refers to this transport until its callback
    int rc = uv_tcp_connect(&c->req, &tcp_, reinterpret_cast<const sockaddr*>(&peer), &StreamTransport::on_connect);
    if (rc != 0) {
        delete c;  // a failed call means no callback
        release();
        close_now();
        return Status::error("connect", fmt::format("connect to {}: {}", remote_ip_, uv_strerror(rc)));
    }
    return Status::ok();
}

void StreamTransport::on_connect(uv_connect_t* req, int status) {
    std::unique_ptr<ConnectReq> c(static_cast<ConnectReq*>(req->data));
    StreamTransport* self = c->owner;
    Status s = Status::ok();
    if (status == 0 && !self->closing_) {
        uv_tcp_nodelay(&self->tcp_, 1);
        uv_tcp_keepalive(&self->tcp_, 1, 120);
        sockaddr_storage ss{};
        int len = sizeof ss;
        std::string ignored;
        if (uv_tcp_getsockname(&self->tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            format_addr(ss, ignored, self->local_addr_);
        const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), &StreamTransport::on_alloc,
                                     &StreamTransport::on_read);
        if (rc != 0) s = Status::error("connect", fmt::format("read from {}: {}", self->remote_ip_, uv_strerror(rc)));
    } else {
        s = Status::error("connect", fmt::format("connect to {}: {}", self->remote_ip_,
                                                 status == 0 ? "closed meanwhile" : uv_strerror(status)));
    }
    try {
        if (c->connected) c->connected(s);
    } catch (const std::exception& e) {
        log::error("stream", "{}: connect callback failed: {}", self->remote_ip_, e.what());
    }
    if (!s) self->close_now();
    self->release();
}

Status StreamTransport::start_tls_client(std::shared_ptr<const TlsContext> ctx, const TlsClientParams& params) {
    auto s = TlsSession::create_client(std::move(ctx), params);
    if (!s) return s.status();
    tls_ = std::move(s.value());
    if (tls_->has_output()) append_output(tls_->take_output());
    // The bytes after <proceed/> are TLS: the parser starts again with the
    // new stream's header once TLS is up.
    restart_stream();
    return Status::ok();
}

bool StreamTransport::admit(const sockaddr_storage& peer, bool tls_first) {
    const auto& limiter = worker_.shared().limiter;
    if (!limiter) return true;  // unit tests without a daemon
    const AddressKey key = AddressKey::of(peer);
    Refusal why = Refusal::none;
    admission_ = limiter->admit(key, &why);
    if (admission_) return true;
    const std::string text = refusal_text(why, limiter->limits());
    uint64_t silenced = 0;
    // The total is about nobody in particular: one report for all of them.
    const AddressKey log_key = why == Refusal::unauthenticated_total ? AddressKey::everyone() : key;
    if (limiter->should_log(log_key, std::chrono::steady_clock::now(), &silenced))
        log::warn("c2s", "{}: connection refused: {}{}", remote_ip_, text,
                  silenced ? fmt::format(" ({} more refused since the last report)", silenced) : std::string());
    if (tls_first) {
        // Direct TLS: nothing can be said before a handshake worth refusing.
        close_now();
    } else {
        closing_quietly_ = true;
        stream_error(xmpp::StreamErrorCondition::policy_violation, text);
        flush();
    }
    return false;
}

void StreamTransport::authenticated(xml::StreamLimits limits) {
    admission_.authenticated();
    parser_.set_limits(limits);
}

void StreamTransport::set_read_rate(size_t bytes_per_s) {
    read_rate_ = static_cast<double>(bytes_per_s);
    read_burst_ = std::max(read_rate_, static_cast<double>(worker_.config().limits.max_stanza_bytes));
    read_tokens_ = std::min(read_tokens_, read_burst_);
    if (read_rate_ <= 0) read_tokens_ = read_burst_;
}

Status StreamTransport::start_tls(TlsSession::Mode mode) {
    auto ctx = worker_.shared().tls();
    auto s = TlsSession::create(ctx, mode, tls_peer_);
    if (!s) return s.status();
    tls_ = std::move(s.value());
    return Status::ok();
}

void StreamTransport::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* self = static_cast<StreamTransport*>(h->data);
    buf->base = self->worker_.read_buffer();
    buf->len = self->worker_.read_buffer_size();
}

void StreamTransport::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<StreamTransport*>(s->data);
    if (nread == 0) return;
    if (nread < 0) {
        // EOF or error: the peer is gone; nothing more can be sent.
        self->close_now();
        return;
    }
    if (self->closing_) return;
    // No exception crosses into libuv: a failure ends only this connection.
    try {
        self->handle_input(buf->base, static_cast<size_t>(nread));
        self->account_read(static_cast<size_t>(nread));
    } catch (const std::exception& e) {
        self->in_feed_ = false;
        log::error("stream", "{}: internal error, closing the connection: {}", self->remote_ip_, e.what());
        self->stream_error(xmpp::StreamErrorCondition::internal_server_error, "internal server error");
    } catch (...) {
        self->in_feed_ = false;
        log::error("stream", "{}: internal error, closing the connection", self->remote_ip_);
        self->stream_error(xmpp::StreamErrorCondition::internal_server_error, "internal server error");
    }
}

void StreamTransport::account_read(size_t n) {
    if (read_rate_ <= 0 || closing_) return;
    const uint64_t now = uv_now(worker_.loop());
    read_tokens_ = std::min(read_burst_, read_tokens_ + static_cast<double>(now - read_refill_ms_) * read_rate_ / 1000.0);
    read_refill_ms_ = now;
    read_tokens_ -= static_cast<double>(n);
    if (read_tokens_ >= 0) return;
    // Over the limit: read nothing more until the bucket is back at zero.
    // The kernel's buffers fill and TCP slows the peer down; nothing queues
    // here, and the peer is not disconnected.
    const auto wait = static_cast<uint64_t>(std::ceil(-read_tokens_ * 1000.0 / read_rate_));
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    uv_timer_start(&throttle_, &StreamTransport::on_throttle, wait, 0);
}

void StreamTransport::on_throttle(uv_timer_t* t) {
    auto* self = static_cast<StreamTransport*>(t->data);
    if (self->closing_ || uv_is_closing(reinterpret_cast<uv_handle_t*>(&self->tcp_))) return;
    int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), &StreamTransport::on_alloc,
                           &StreamTransport::on_read);
    if (rc != 0) self->close_now();
}

void StreamTransport::handle_input(const char* data, size_t len) {
    if (!tls_) {
        feed_parser(data, len);
        return;
    }
    std::string plain;
    Status s = tls_->feed(data, len, plain);
    if (tls_->has_output()) append_output(tls_->take_output());
    if (!s) {
        log::info("tls", "{}: TLS failed: {}", remote_ip_, s.message());
        // Only the alert (if any) can still go out. The connection closes
        // once it is written, or after the grace period if the peer does not
        // read: a bound session has no deadline of its own, and must not
        // keep its registry entry and send queue for ever.
        close_after_flush_ = true;
        closing_ = true;
        mark_dirty();
        set_deadline(kCloseGraceMs);
        return;
    }
    if (!tls_was_done_ && tls_->handshake_done()) {
        tls_was_done_ = true;
        if (user_) user_->on_tls_established();
    }
    if (!plain.empty()) feed_parser(plain.data(), plain.size());
    if (tls_ && tls_->peer_closed() && !closing_) close_stream();
}

void StreamTransport::feed_parser(const char* data, size_t len) {
    // Bounded: each round consumes at least the stanza that asked for a restart.
    while (len > 0 && !closing_) {
        in_feed_ = true;
        xml::FeedResult r = parser_.feed(data, len);
        in_feed_ = false;
        if (closing_) return;
        if (r.error != xml::ParseError::none) {
            stream_error(xmpp::from_parse_error(r.error), r.text);
            return;
        }
        if (!restart_pending_) return;
        restart_pending_ = false;
        parser_.reset();
        size_t used = std::min(r.consumed, len);
        data += used;
        len -= used;
        if (tls_pending_) {
            tls_pending_ = false;
            Status s = start_tls(tls_pending_mode_);
            if (!s) {
                log::error("tls", "cannot start TLS: {}", s.message());
                close_now();
                return;
            }
            // Whatever followed <starttls/> in this read is TLS already.
            if (len > 0) handle_input(data, len);
            return;
        }
    }
}

void StreamTransport::starttls_after_current() {
    tls_pending_ = true;
    tls_pending_mode_ = TlsSession::Mode::starttls;
    restart_stream();
}

void StreamTransport::restart_stream() {
    // Our side of the old stream is over at once: the next header we send
    // opens the new one (an initiating server sends it right away).
    header_sent_ = false;
    if (!in_feed_) {
        // Called outside a parse (e.g. when a SASL step finished on the
        // thread pool): the next bytes are the new stream header.
        parser_.reset();
        return;
    }
    restart_pending_ = true;
    parser_.restart_after_current();
}

void StreamTransport::append_output(std::string_view bytes) {
    if (bytes.empty()) return;
    out_.append(bytes);
    mark_dirty();
}

void StreamTransport::mark_dirty() {
    if (dirty_) return;
    dirty_ = true;
    worker_.mark_dirty(this);
}

void StreamTransport::send_raw(std::string_view bytes) {
    // Once the stream is closing nothing more is queued (the goodbye was
    // the last thing): a closing connection's queue does not grow.
    if (closing_) return;
    if (tls_) {
        Status s = tls_->write(bytes);
        if (!s) {
            close_now();
            return;
        }
        if (tls_->has_output()) append_output(tls_->take_output());
    } else {
        append_output(bytes);
    }
    if (out_.size() + in_flight_ > max_queue_ && !closing_) {
        // A peer that does not read its stream must not hold unbounded memory.
        log::info("c2s", "{}: send queue over {} bytes; closing", remote_ip_, max_queue_);
        close_now();
    }
}

void StreamTransport::send(const xml::Element& element) {
    std::string out;
    xml::serialize(element, out, default_ns());
    send_raw(out);
}

void StreamTransport::send_stream_header(std::string_view from, std::string_view to, std::string_view id) {
    if (header_sent_) return;
    header_sent_ = true;
    std::vector<xml::Attribute> attrs;
    if (!from.empty()) attrs.emplace_back("from", std::string(from));
    if (!to.empty()) attrs.emplace_back("to", std::string(to));
    if (!id.empty()) attrs.emplace_back("id", std::string(id));
    attrs.emplace_back("version", "1.0");
    attrs.emplace_back(xml::xml_lang(), "en");
    std::string header = xml::stream_header(default_ns(), attrs);
    // Server streams declare the dialback prefix (XEP-0220 §2.1): peers
    // written before namespaces were parsed look for "db:".
    if (default_ns() == "jabber:server") header.insert(header.size() - 1, " xmlns:db='jabber:server:dialback'");
    send_raw(header);
}

void StreamTransport::stream_error(xmpp::StreamErrorCondition condition, std::string_view text) {
    if (closing_) return;
    if (!closing_quietly_) log::info("stream", "{}: stream error {}: {}", remote_ip_, xmpp::condition_name(condition), text);
    if (!header_sent_) send_stream_header({}, {}, {});
    send(xmpp::make_stream_error(condition, text));
    close_stream();
}

void StreamTransport::shutdown_stream() {
    stream_error(xmpp::StreamErrorCondition::system_shutdown, "the server is shutting down");
}

void StreamTransport::close_stream() {
    if (closing_) return;
    stream_ended_ = true;
    if (header_sent_) send_raw(xml::stream_close());
    if (tls_ && tls_->handshake_done()) {
        tls_->bye();
        if (tls_->has_output()) append_output(tls_->take_output());
    }
    closing_ = true;
    close_after_flush_ = true;
    mark_dirty();
    // A peer that never reads must not keep the connection: cut it later.
    set_deadline(kCloseGraceMs);
}

void StreamTransport::flush() {
    dirty_ = false;
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
    if (!out_.empty()) {
        auto* w = new WriteReq();
        w->data.swap(out_);  // the pending buffer's memory goes with the request
        w->owner = this;
        w->req.data = w;
        uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
        in_flight_ += w->data.size();
        int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, &StreamTransport::on_write);
        if (rc != 0) {
            in_flight_ -= w->data.size();
            delete w;  // a failed call means no callback
            close_now();
            return;
        }
    }
    if (close_after_flush_ && in_flight_ == 0) begin_close();
}

void StreamTransport::on_write(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    StreamTransport* self = w->owner;
    self->in_flight_ -= w->data.size();
    delete w;
    if (status < 0) {
        if (status != UV_ECANCELED) self->close_now();
        return;
    }
    if (self->close_after_flush_ && self->in_flight_ == 0 && self->out_.empty()) self->begin_close();
}

void StreamTransport::close_now() {
    closing_ = true;
    out_.clear();
    begin_close();
}

void StreamTransport::begin_close() {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
    closing_ = true;
    uv_timer_stop(&timer_);
    uv_timer_stop(&throttle_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &StreamTransport::on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &StreamTransport::on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&throttle_), &StreamTransport::on_close);
}

void StreamTransport::on_close(uv_handle_t* h) { static_cast<StreamTransport*>(h->data)->release(); }

void StreamTransport::release() {
    if (--open_handles_ > 0) return;
    if (user_) std::exchange(user_, nullptr)->on_transport_closed();
    delete this;
}

void StreamTransport::on_stream_open(const xml::StreamHeader& header) {
    if (user_) user_->on_stream_open(header);
}

void StreamTransport::on_stanza(xml::Element stanza) {
    if (user_) user_->on_stanza(std::move(stanza));
}

void StreamTransport::on_stream_close() {
    if (user_) user_->on_stream_close();
}

std::string_view StreamTransport::default_ns() const { return user_ ? user_->default_ns() : std::string_view{}; }

void StreamTransport::set_deadline(uint64_t ms) {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_))) return;
    if (ms == 0) uv_timer_stop(&timer_);
    else uv_timer_start(&timer_, &StreamTransport::on_timer, ms, 0);
}

void StreamTransport::on_timer(uv_timer_t* t) {
    auto* self = static_cast<StreamTransport*>(t->data);
    if (self->closing_) {
        self->close_now();
        return;
    }
    if (self->user_) self->user_->on_deadline();
    else self->stream_error(xmpp::StreamErrorCondition::connection_timeout, "timed out");
}

}  // namespace parley::net
