#include "client_session.hpp"

#include <utility>

#include "room_client.hpp"
#include "runner.hpp"
#include "scram_client.hpp"

namespace parley::bench {

namespace {

// The text of a simple element: what lies between its start and end tags.
std::string_view inner_text(std::string_view el) {
    const size_t open = el.find('>');
    const size_t close = el.rfind("</");
    if (open == std::string_view::npos || close == std::string_view::npos || close <= open) return {};
    return el.substr(open + 1, close - open - 1);
}

// A write request owns its bytes until libuv is done with them.
struct WriteReq {
    uv_write_t req{};
    std::string data;
    ClientSession* session = nullptr;
};

bool has(std::string_view el, std::string_view what) { return el.find(what) != std::string_view::npos; }

}  // namespace

ClientSession::ClientSession(Runner& runner, int index) : runner_(runner), index_(index) {}

ClientSession::~ClientSession() = default;  // here, where RoomClient is complete

const char* ClientSession::step_name() const {
    switch (step_) {
    case Step::idle: return "not started";
    case Step::connecting: return "TCP connect";
    case Step::features_tls: return "first stream features";
    case Step::proceed: return "STARTTLS proceed";
    case Step::handshake: return "TLS handshake";
    case Step::features_sasl: return "features after TLS";
    case Step::sasl_challenge: return "SASL SCRAM challenge";
    case Step::sasl_result: return "SASL result";
    case Step::features_bind: return "features after SASL";
    case Step::bind_result: return "bind result";
    case Step::bound: return "bound";
    case Step::closing: return "closing";
    case Step::closed: return "closed";
    }
    return "?";
}

std::string ClientSession::user() const { return runner_.shared().opt.user_prefix + std::to_string(index_); }

void ClientSession::start() {
    started_ns_ = uv_hrtime();
    int rc = uv_tcp_init(runner_.loop(), &tcp_);
    if (rc < 0) {
        fail(std::string("uv_tcp_init: ") + uv_strerror(rc));
        return;
    }
    handle_open_ = true;
    tcp_.data = this;
    uv_tcp_nodelay(&tcp_, 1);
    step_ = Step::connecting;
    connect_req_.data = this;
    rc = uv_tcp_connect(&connect_req_, &tcp_, on_peer() ? runner_.peer_addr() : runner_.server_addr(),
                        &ClientSession::on_connect);
    if (rc < 0) fail(std::string("connect: ") + uv_strerror(rc));
}

void ClientSession::on_connect(uv_connect_t* req, int status) {
    auto* s = static_cast<ClientSession*>(req->data);
    if (status == UV_ECANCELED || s->step_ != Step::connecting) return;
    const Options& o = s->runner_.shared().opt;
    if (status < 0) {
        const bool peer = s->on_peer();
        s->fail("connect to " + (peer ? o.peer_host : o.host) + " port " + std::to_string(peer ? o.peer_port : o.port) +
                ": " + uv_strerror(status));
        return;
    }
    const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp_), &ClientSession::on_alloc, &ClientSession::on_read);
    if (rc < 0) {
        s->fail(std::string("uv_read_start: ") + uv_strerror(rc));
        return;
    }
    s->step_ = Step::features_tls;
    s->send_header();
}

void ClientSession::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* s = static_cast<ClientSession*>(h->data);
    // One buffer per Runner: each read is consumed before the next one.
    *buf = uv_buf_init(s->runner_.read_buffer(), Runner::kReadBufferBytes);
}

void ClientSession::on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
    auto* s = static_cast<ClientSession*>(stream->data);
    if (n == 0) return;
    if (n < 0) {
        if (s->step_ == Step::closing) {
            s->close_now();
        } else if (n == UV_EOF) {
            s->fail(std::string("the server closed the connection (at step: ") + s->step_name() + ")");
        } else {
            s->fail(std::string("read: ") + uv_strerror(static_cast<int>(n)));
        }
        return;
    }
    s->received(std::string_view(buf->base, static_cast<size_t>(n)));
}

void ClientSession::received(std::string_view bytes) {
    if (step_ == Step::closing || step_ == Step::closed) return;
    if (!tls_) {
        process_plaintext(bytes);
        return;
    }
    tls_->feed(bytes);
    if (step_ == Step::handshake) drive_handshake();
    else pump_tls();
}

void ClientSession::drive_handshake() {
    std::string err;
    const TlsClient::Progress p = tls_->handshake(err);
    if (tls_->has_output()) runner_.mark_dirty(*this);
    if (p == TlsClient::Progress::again) return;
    if (p == TlsClient::Progress::failed) {
        flush();  // the alert, so the server logs why
        fail(err);
        return;
    }
    tls_active_ = true;
    step_ = Step::features_sasl;
    send_header();
    pump_tls();  // application data may have come with the last flight
}

void ClientSession::pump_tls() {
    std::string plain, err;
    bool closed = false;
    const TlsClient::Progress p = tls_->read(plain, closed, err);
    if (tls_->has_output()) runner_.mark_dirty(*this);
    if (!plain.empty()) process_plaintext(plain);
    if (step_ == Step::closing || step_ == Step::closed) return;
    if (p == TlsClient::Progress::failed) fail(err);
    else if (closed) fail(std::string("the server ended TLS (at step: ") + step_name() + ")");
}

void ClientSession::process_plaintext(std::string_view plain) {
    scanner_.feed(plain);
    StreamScanner::Event ev;
    while (step_ != Step::closing && step_ != Step::closed && scanner_.next(ev)) handle_event(ev);
    if (scanner_.failed()) fail("unparsable input from the server: " + scanner_.error());
}

void ClientSession::handle_event(const StreamScanner::Event& ev) {
    switch (ev.kind) {
    case StreamScanner::Kind::stream_open:
        if (local_name(ev.text) != "stream") {
            fail("expected a stream header, got: " + excerpt(ev.text));
            return;
        }
        stream_open_ = true;
        return;
    case StreamScanner::Kind::stream_close:
        fail(std::string("the server closed the stream (at step: ") + step_name() + ")");
        return;
    case StreamScanner::Kind::element:
        if (!stream_open_) {
            fail("an element before the stream header: " + excerpt(ev.text));
            return;
        }
        handle_element(ev.text);
        return;
    }
}

void ClientSession::handle_element(std::string_view el) {
    const std::string_view name = local_name(el);
    // The only top-level <error/> of a stream is a stream error (RFC 6120 §4.9).
    if (name == "error") {
        fail(std::string("stream error (at step: ") + step_name() + "): " + excerpt(el));
        return;
    }
    const Options& o = runner_.shared().opt;
    auto expected = [&](const char* what) {
        fail(std::string("expected ") + what + " (at step: " + step_name() + "), got: " + excerpt(el));
    };
    switch (step_) {
    case Step::features_tls:
        if (name != "features") return expected("<stream:features>");
        if (!has(el, "starttls")) return expected("features offering STARTTLS");
        send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        step_ = Step::proceed;
        return;
    case Step::proceed: {
        if (name != "proceed") return expected("<proceed/>");
        flush();
        // Anything after <proceed/> is TLS.
        const std::string rest = scanner_.take_rest();
        stream_open_ = false;
        std::string err;
        tls_ = std::make_unique<TlsClient>();
        if (!tls_->start(runner_.shared().tls, domain(), err)) return fail(err);
        tls_->feed(rest);
        step_ = Step::handshake;
        drive_handshake();
        return;
    }
    case Step::features_sasl: {
        if (name != "features") return expected("<stream:features>");
        if (o.mech == "SCRAM-SHA-256") {
            if (!has(el, ">SCRAM-SHA-256<")) return expected("features offering SASL SCRAM-SHA-256");
            scram_ = std::make_unique<ScramClient>();
            send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" +
                 base64_encode(scram_->first(user())) + "</auth>");
            step_ = Step::sasl_challenge;
            return;
        }
        if (!has(el, ">PLAIN<")) return expected("features offering SASL PLAIN");
        std::string creds;
        creds += '\0';
        creds += user();
        creds += '\0';
        creds += o.password;
        send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + base64_encode(creds) + "</auth>");
        step_ = Step::sasl_result;
        return;
    }
    case Step::sasl_challenge: {
        if (name == "failure") return fail("SASL " + o.mech + " refused for " + user() + "@" + domain() + ": " + excerpt(el));
        if (name != "challenge") return expected("<challenge/>");
        std::string server_first, reply, err;
        if (!base64_decode(inner_text(el), server_first)) return fail("the SCRAM challenge is not base64");
        if (!scram_->final(server_first, o.password, reply, err)) return fail("SCRAM: " + err);
        send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64_encode(reply) + "</response>");
        step_ = Step::sasl_result;
        return;
    }
    case Step::sasl_result:
        if (name == "failure") return fail("SASL " + o.mech + " refused for " + user() + "@" + domain() + ": " + excerpt(el));
        if (name != "success") return expected("<success/>");
        if (scram_) {
            std::string server_final;
            if (!base64_decode(inner_text(el), server_final) || !scram_->verify(server_final))
                return fail("SCRAM: the server's signature does not verify");
            scram_.reset();
        }
        // RFC 6120 §6.4.6: a new stream, over the same TLS.
        scanner_.restart();
        stream_open_ = false;
        step_ = Step::features_bind;
        send_header();
        return;
    case Step::features_bind:
        if (name != "features") return expected("<stream:features>");
        if (!has(el, "bind")) return expected("features offering resource binding");
        send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>b" +
             std::to_string(index_) + "</resource></bind></iq>");
        step_ = Step::bind_result;
        return;
    case Step::bind_result:
        if (name != "iq") return expected("the bind result");
        if (attr(el, "id") != std::optional<std::string_view>("bind")) return;  // not ours: ignore
        if (attr(el, "type") != std::optional<std::string_view>("result")) return expected("a bind result");
        send("<presence/>");
        step_ = Step::bound;
        bound_ns_ = uv_hrtime();
        runner_.on_bound(*this);
        return;
    case Step::bound:
        handle_bound_element(name, el);
        return;
    default:
        return expected("nothing");
    }
}

void ClientSession::handle_bound_element(std::string_view name, std::string_view el) {
    if (room && room->handle(name, el)) return;
    const auto type = attr(el, "type");
    if (name == "message") {
        if (type && *type == "error") return fail("a message bounced: " + excerpt(el));
        runner_.on_message(*this);
    } else if (name == "iq") {
        if (!type || (*type != "get" && *type != "set")) return;
        // Answer the server's requests (XEP-0199 pings) so it keeps us.
        const std::string id(attr(el, "id").value_or(""));
        const auto from = attr(el, "from");
        const std::string to = from ? " to='" + std::string(*from) + "'" : std::string();
        if (has(el, "urn:xmpp:ping")) {
            send("<iq type='result' id='" + id + "'" + to + "/>");
        } else {
            send("<iq type='error' id='" + id + "'" + to +
                 "><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                 "</error></iq>");
        }
    } else if (name == "presence") {
        if (type && *type == "error") fail("a presence error: " + excerpt(el));
    }
}

bool ClientSession::on_peer() const {
    const Options& o = runner_.shared().opt;
    return o.peer_port != 0 && o.mode == Mode::messages && index_ % 2 == 1 && index_ < 2 * o.pairs;
}

const std::string& ClientSession::domain() const {
    const Options& o = runner_.shared().opt;
    return on_peer() ? o.peer_domain : o.domain;
}

void ClientSession::send_header() {
    send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" +
         domain() + "' version='1.0'>");
}

void ClientSession::send(std::string_view stanza) {
    plain_out_.append(stanza);
    runner_.mark_dirty(*this);
}

void ClientSession::flush() {
    dirty = false;
    if (!handle_open_ || shut_ || step_ == Step::connecting || step_ == Step::closed) return;
    if (!tls_) {
        std::string data;
        data.swap(plain_out_);
        write_raw(std::move(data));
        return;
    }
    if (tls_active_ && !plain_out_.empty()) {
        std::string err;
        if (!tls_->write(plain_out_, err)) return fail(err);
        plain_out_.clear();
    }
    write_raw(tls_->take_output());
}

void ClientSession::write_raw(std::string data) {
    if (data.empty()) return;
    auto* w = new WriteReq;
    w->data = std::move(data);
    w->session = this;
    const uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, [](uv_write_t* req, int status) {
        auto* w = reinterpret_cast<WriteReq*>(req);
        ClientSession* s = w->session;
        delete w;
        if (status < 0 && status != UV_ECANCELED) s->fail(std::string("write: ") + uv_strerror(status));
    });
    if (rc < 0) {
        delete w;  // the callback will not run
        fail(std::string("write: ") + uv_strerror(rc));
    }
}

void ClientSession::close_gracefully() {
    if (step_ == Step::idle || step_ == Step::closing || step_ == Step::closed) return;
    if (!handle_open_ || step_ == Step::connecting || step_ == Step::handshake || (tls_ && !tls_active_)) {
        close_now();
        return;
    }
    plain_out_ += "</stream:stream>";
    flush();
    if (tls_) {
        tls_->bye();
        write_raw(tls_->take_output());
    }
    step_ = Step::closing;
    shut_ = true;
    shutdown_req_.data = this;
    // The shutdown completes after the queued writes, so the server reads
    // our close before the FIN.
    if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &ClientSession::on_shutdown) < 0) close_now();
}

void ClientSession::on_shutdown(uv_shutdown_t* req, int) { static_cast<ClientSession*>(req->data)->close_now(); }

void ClientSession::close_now() {
    if (!handle_open_) {
        if (step_ != Step::idle) step_ = Step::closed;
        return;
    }
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
    step_ = Step::closing;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &ClientSession::on_close);
}

void ClientSession::on_close(uv_handle_t* h) {
    auto* s = static_cast<ClientSession*>(h->data);
    s->handle_open_ = false;
    s->step_ = Step::closed;
    s->runner_.on_closed(*s);
}

void ClientSession::fail(const std::string& what) {
    if (step_ == Step::closing || step_ == Step::closed) return;
    runner_.on_failure(*this, what);
    close_now();
}

}  // namespace parley::bench
