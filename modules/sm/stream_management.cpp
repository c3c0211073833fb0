#include "stream_management.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <ctime>

#include "log/log.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_sm {

const module::XepInfo kXeps[] = {
    {"0198", "1.6.3",
     "complete for client streams: acks both ways, resumption on any worker; not: the 'location' attribute, "
     "SASL2/BIND2 inlining"},
};

const config::OptionSpec kOptions[] = {
    {"resume_timeout", config::OptionType::integer, "300",
     "seconds a session whose connection was lost is kept for a resumption (the most a client's 'max' gets); "
     "0: no resumption",
     0, 86400},
    {"max_unacked", config::OptionType::integer, "1000",
     "unacknowledged stanzas a client may leave: past this it must acknowledge within 30 s, past twice this at "
     "once, or its session ends and they are re-routed",
     10, 100000},
    {"ack_request_every", config::OptionType::integer, "10",
     "while an acknowledgement is awaited, the server asks again after this many more stanzas", 1, 10000},
};

namespace {

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int64_t now_unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Settings read(const config::Section& s) {
    Settings out;
    out.resume_timeout_s = static_cast<uint64_t>(s.get_int("resume_timeout", 300));
    out.max_unacked = static_cast<size_t>(s.get_int("max_unacked", 1000));
    out.ack_request_every = static_cast<uint32_t>(s.get_int("ack_request_every", 10));
    return out;
}

xml::Element sm(const char* name) { return xml::Element(name, kNsSm); }

module::SessionInfo here(unsigned worker, uint64_t id) {
    return module::SessionInfo{xmpp::Jid(), sessions::SessionRef{worker, id}, false, 0};
}

}  // namespace

size_t SmSlot::memory_bytes() const {
    // An estimate: a kept stanza is a tree of a few small strings.
    return sizeof(*this) + id.capacity() + unacked.size() * (sizeof(Sent) + 384);
}

xml::Element failed(const std::string& condition, const std::string& text, std::optional<uint32_t> h) {
    xml::Element f = sm("failed");
    if (h) f.set_attr("h", std::to_string(*h));
    f.add_child(condition, std::string(xmpp::kNsStanzas));
    if (!text.empty()) {
        // Not in the XEP's schema but harmless, and what a person debugging
        // a client needs (as ejabberd does).
        auto& t = f.add_child("text", std::string(xmpp::kNsStanzas));
        t.set_attr(xml::xml_lang(), "en");
        t.add_text(text);
    }
    return f;
}

std::optional<uint32_t> parse_h(std::string_view s) {
    if (s.empty() || s.size() > 10) return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(v);
}

std::string xep0082_stamp(int64_t unix_ms) {
    const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
}

Status StreamManagement::configure(const config::Section& section) {
    settings_ = read(section);
    return Status::ok();
}

Status StreamManagement::reload(const config::Section& section) {
    // For sessions that enable from now on; running ones keep theirs.
    settings_ = read(section);
    return Status::ok();
}

Status StreamManagement::start(module::Host& host) {
    host_ = &host;
    settings_ = read(host.config());
    if (!directory_) directory_ = module::service<ResumptionDirectory>(host);
    if (!directory_) return Status::error("sm", "the resumption directory service is not running");
    alive_ = std::make_shared<StreamManagement*>(this);
    if (!clock_) clock_ = steady_ms;

    host.stream_feature(module::StreamStage::after_auth,
                        [](const module::StreamInfo&) -> std::optional<xml::Element> { return sm("sm"); });
    using Stage = module::StreamStage;
    auto out_of_order = [](const char* why) {
        return [why](const module::StreamInfo&, const xml::Element&, module::StreamControl& stream) {
            stream.send(failed("unexpected-request", why));
        };
    };
    struct Reg {
        Stage stage;
        const char* name;
        module::NonzaHandler fn;
    };
    const Reg regs[] = {
        {Stage::before_auth, "enable", out_of_order("authenticate and bind a resource first")},
        {Stage::before_auth, "resume", out_of_order("authenticate first")},
        {Stage::after_auth, "enable", out_of_order("bind a resource first (or resume a session)")},
        {Stage::after_auth, "resume",
         [this](const module::StreamInfo& i, const xml::Element& e, module::StreamControl& s) { on_resume(i, e, s); }},
        {Stage::bound, "enable",
         [this](const module::StreamInfo& i, const xml::Element& e, module::StreamControl& s) { on_enable(i, e, s); }},
        {Stage::bound, "resume", out_of_order("this stream has a session already; resume before binding")},
        {Stage::bound, "r",
         [this](const module::StreamInfo& i, const xml::Element&, module::StreamControl& s) { on_request(i, s); }},
        {Stage::bound, "a",
         [this](const module::StreamInfo& i, const xml::Element& e, module::StreamControl& s) { on_ack(i, e, s); }},
    };
    for (const auto& r : regs) {
        Status s = host.nonza(r.stage, kNsSm, r.name, r.fn);
        if (!s) return s;
    }
    host.on_routed(0, [this](module::RoutedContext& c) { on_routed(c); });
    host.on_session_output([this](uint64_t id, const xml::Element& st) { on_output(id, st); });
    host.on_session(module::SessionEvent::closed, [this](const module::SessionInfo& i) { on_closed(i); });
    return Status::ok();
}

void StreamManagement::stop() {
    alive_.reset();
    due_.clear();
}

SmSlot* StreamManagement::slot(uint64_t session_id) const {
    if (session_id == 0) return nullptr;
    return dynamic_cast<SmSlot*>(host_->slot(session_id));
}

void StreamManagement::send_nonza(uint64_t session_id, xml::Element el) {
    // Direct to the session's stream; the host drops a nonza for a session
    // that has no connection.
    host_->send_to_session(here(host_->worker_index(), session_id), std::move(el), module::Delivery::direct);
}

void StreamManagement::on_enable(const module::StreamInfo& info, const xml::Element& el,
                                 module::StreamControl& stream) {
    if (slot(info.session_id)) {
        // XEP-0198 §3: at most one attempt per stream.
        stream.send(failed("unexpected-request", "stream management is enabled already"));
        return;
    }
    const std::string_view resume_attr = el.attr_or("resume");
    const bool resume = resume_attr == "true" || resume_attr == "1";
    uint64_t timeout = settings_.resume_timeout_s;
    if (auto max = parse_h(el.attr_or("max")); max && *max > 0) timeout = std::min<uint64_t>(timeout, *max);

    auto s = std::make_unique<SmSlot>();
    xml::Element enabled = sm("enabled");
    if (resume && timeout > 0) {
        s->id = directory_->issue(info.jid.bare_str(), info.session_id);
        s->timeout_s = timeout;
        host_->keep_session(info.session_id, timeout * 1000, settings_.max_unacked);
        enabled.set_attr("id", s->id);
        enabled.set_attr("resume", "true");
        enabled.set_attr("max", std::to_string(timeout));
    }
    if (!host_->set_slot(info.session_id, std::move(s))) return;
    // The counters start now: the server's outbound one once <enabled/> is
    // sent, the inbound one with the <enable/> just received (§4).
    stream.send(enabled);
}

void StreamManagement::on_request(const module::StreamInfo& info, module::StreamControl& stream) {
    SmSlot* s = slot(info.session_id);
    if (!s) {
        stream.stream_error(xmpp::StreamErrorCondition::unsupported_stanza_type,
                            "stream management is not enabled on this stream");
        return;
    }
    // Answered at once (§4: never withheld) with what is handled so far;
    // stanzas still in hand get an unrequested <a/> once handled.
    xml::Element a = sm("a");
    a.set_attr("h", std::to_string(s->h_in));
    stream.send(a);
    s->ack_owed = s->pending_in > 0;
}

bool StreamManagement::apply_ack(SmSlot& s, uint32_t h) {
    const uint32_t n = h - s.acked;  // mod 2^32
    if (n > s.unacked.size()) return false;
    s.unacked.erase(s.unacked.begin(), s.unacked.begin() + n);
    s.acked = h;
    if (s.unacked.size() <= settings_.max_unacked) s.over_since = 0;
    return true;
}

void StreamManagement::too_high(SmSlot& s, uint32_t h, module::StreamControl& stream) {
    // §6: undefined-condition with <handled-count-too-high/>.
    const std::string text = fmt::format("you acknowledged {} stanzas, but the server sent only {}", h, s.h_out);
    xml::Element e = xmpp::make_stream_error(xmpp::StreamErrorCondition::undefined_condition, text);
    xml::Element app = sm("handled-count-too-high");
    app.set_attr("h", std::to_string(h));
    app.set_attr("send-count", std::to_string(s.h_out));
    e.add_child(std::move(app));
    stream.send(e);
    stream.close();
}

void StreamManagement::on_ack(const module::StreamInfo& info, const xml::Element& el, module::StreamControl& stream) {
    SmSlot* s = slot(info.session_id);
    if (!s) {
        stream.stream_error(xmpp::StreamErrorCondition::unsupported_stanza_type,
                            "stream management is not enabled on this stream");
        return;
    }
    auto h = parse_h(el.attr_or("h"));
    if (!h) {
        stream.stream_error(xmpp::StreamErrorCondition::bad_format,
                            "<a/> needs an 'h' attribute: an unsigned 32-bit count");
        return;
    }
    s->awaiting = false;
    if (!apply_ack(*s, *h)) too_high(*s, *h, stream);
}

void StreamManagement::on_routed(module::RoutedContext& c) {
    if (c.origin != module::Origin::local_client) return;
    SmSlot* s = slot(c.session_id);
    if (!s) return;
    ++s->pending_in;
    std::weak_ptr<StreamManagement*> alive = alive_;
    c.when_done([alive, id = c.session_id, bare = c.from.bare()](const StanzaError*) {
        // Handled means carried out or bounced: either way the server took
        // responsibility for it (§4).
        auto self = alive.lock();
        if (!self) return;
        StreamManagement& sm = **self;
        if (sm.slot(id)) {
            sm.handled_here(id);
            return;
        }
        // The session moved to another worker (resumed there) while the
        // stanza was in hand: its counter went with it.
        for (const auto& where : sm.host_->sessions_of(bare)) {
            if (where.ref.session_id != id) continue;
            sm.host_->post(where.ref.worker, [id](module::Host& h) {
                if (auto* m = dynamic_cast<StreamManagement*>(&h.instance())) m->handled_here(id);
            });
        }
    });
}

void StreamManagement::handled_here(uint64_t id) {
    SmSlot* s = slot(id);
    if (!s) return;
    if (s->pending_in > 0) --s->pending_in;
    ++s->h_in;
    if (s->pending_in == 0 && s->ack_owed) {
        s->ack_owed = false;
        xml::Element a = sm("a");
        a.set_attr("h", std::to_string(s->h_in));
        send_nonza(id, std::move(a));
    }
}

void StreamManagement::on_output(uint64_t session_id, const xml::Element& stanza) {
    SmSlot* s = slot(session_id);
    if (!s) return;
    ++s->h_out;
    s->unacked.push_back(SmSlot::Sent{stanza, now_unix_ms()});
    schedule(session_id, *s);
}

void StreamManagement::schedule(uint64_t session_id, SmSlot& s) {
    if (s.scheduled) return;
    s.scheduled = true;
    due_.push_back(session_id);
    if (turn_armed_) return;
    turn_armed_ = true;
    // At the end of this loop turn: one <r/> for a burst, not one per stanza.
    std::weak_ptr<StreamManagement*> alive = alive_;
    host_->add_timer(0, 0, [alive] {
        if (auto self = alive.lock()) (*self)->end_of_turn();
    });
}

void StreamManagement::end_of_turn() {
    turn_armed_ = false;
    std::vector<uint64_t> due = std::move(due_);
    due_.clear();
    for (uint64_t id : due) {
        SmSlot* s = slot(id);
        if (!s) continue;
        s->scheduled = false;
        bool force = false;
        if (s->unacked.size() > settings_.max_unacked) {
            // A client that does not acknowledge must not make the server
            // keep its stanzas without bound. Past the bound it is asked at
            // once and has kGraceMs to answer (a burst, or a resumption
            // writing what was queued meanwhile, can pass the bound for a
            // moment); past twice the bound, or after that, the session
            // ends (§6 lets misuse end the stream) and what it kept is
            // re-routed.
            const int64_t now = clock_();
            force = s->over_since == 0;  // newly over: ask at once
            if (force) s->over_since = now;
            if (s->unacked.size() > 2 * settings_.max_unacked || now - s->over_since >= kGraceMs) {
                log::info("sm", "session {}: {} stanzas unacknowledged; ending it", id, s->unacked.size());
                host_->end_session(id, xmpp::StreamErrorCondition::resource_constraint,
                                   fmt::format("more than {} stanzas were not acknowledged", settings_.max_unacked));
                continue;
            }
        }
        const uint32_t pending = s->h_out - s->acked;
        if (pending == 0) continue;
        if (!force && s->awaiting && s->h_out - s->requested_at < settings_.ack_request_every) continue;
        s->awaiting = true;
        s->requested_at = s->h_out;
        send_nonza(id, sm("r"));
    }
}

void StreamManagement::on_resume(const module::StreamInfo& info, const xml::Element& el,
                                 module::StreamControl& stream) {
    if (settings_.resume_timeout_s == 0) {
        stream.send(failed("feature-not-implemented", "this server does not resume sessions"));
        return;
    }
    const std::string previd(el.attr_or("previd"));
    const auto h = parse_h(el.attr_or("h"));
    if (previd.empty() || !h) {
        stream.send(failed("bad-request", "<resume/> needs 'previd' and 'h' (an unsigned 32-bit count)"));
        return;
    }
    const std::string bare = info.jid.bare_str();
    const auto id = directory_->find(previd, bare);
    std::optional<module::SessionInfo> found;
    if (id)
        for (auto& s : host_->sessions_of(info.jid))
            if (s.ref.session_id == *id) found = s;
    if (!found) {
        // Unknown, expired, or another account's: one answer (§5), with the
        // count handled before the timeout when it is known (§5).
        stream.send(failed("item-not-found", "no such session to resume (it may have timed out)",
                           directory_->ended_h(previd, bare)));
        return;
    }
    std::weak_ptr<StreamManagement*> alive = alive_;
    stream.resume(*found, [alive, previd, h = *h](Status st, const module::SessionInfo* now,
                                                  module::StreamControl& s) {
        if (auto self = alive.lock()) (*self)->resumed(previd, h, std::move(st), now, s);
    });
}

void StreamManagement::resumed(const std::string& previd, uint32_t h, Status st, const module::SessionInfo* now,
                               module::StreamControl& stream) {
    if (!st || !now) {
        stream.send(failed(st.code() == "conflict" ? "conflict" : "item-not-found", st.message()));
        return;
    }
    SmSlot* s = slot(now->ref.session_id);
    if (!s) {
        // The session came without our state (the module was restarted in
        // between): it cannot be resumed as XEP-0198 promises.
        stream.stream_error(xmpp::StreamErrorCondition::internal_server_error,
                            "the stream management state of that session was lost");
        return;
    }
    // §5: 'h' is handled as on an <a/>, then what is still unacknowledged is
    // sent again.
    if (!apply_ack(*s, h)) {
        too_high(*s, h, stream);
        return;
    }
    xml::Element r = sm("resumed");
    r.set_attr("h", std::to_string(s->h_in));
    r.set_attr("previd", previd);
    stream.send(r);
    // Retransmissions are not new output: written as they are, counted once.
    for (const auto& sent : s->unacked) stream.send(sent.stanza);
    s->awaiting = false;
    s->ack_owed = s->pending_in > 0;
    if (!s->unacked.empty()) schedule(now->ref.session_id, *s);
    log::info("sm", "{}: resumed with {} stanzas sent again", now->full_jid.str(), s->unacked.size());
}

void StreamManagement::on_closed(const module::SessionInfo& info) {
    SmSlot* s = slot(info.ref.session_id);
    if (!s) return;
    if (!s->id.empty()) directory_->ended(s->id, s->h_in, std::chrono::seconds(s->timeout_s));
    if (!s->unacked.empty()) reroute(*s, info);
}

void StreamManagement::reroute(SmSlot& s, const module::SessionInfo& info) {
    size_t messages = 0, iqs = 0, dropped = 0;
    const std::string to = info.full_jid.str();
    for (auto& sent : s.unacked) {
        xml::Element& st = sent.stanza;
        const std::string& name = st.name();
        const std::string_view type = st.attr_or("type");
        if (name == "message" && type != "error") {
            // As a message to a resource that is gone (XEP-0198 §4, RFC 6121
            // §8.5.3.2.1): the router sends chat and normal messages to the
            // account's other resources or to offline storage.
            st.set_attr("to", to);
            if (!st.child("delay", kNsDelay)) {
                auto& d = st.add_child("delay", kNsDelay);
                d.set_attr("from", info.full_jid.domain());
                d.set_attr("stamp", xep0082_stamp(sent.unix_ms));
                d.add_text("the session it was sent to ended before acknowledging it");
            }
            host_->send(std::move(st));
            ++messages;
        } else if (name == "iq" && (type == "get" || type == "set")) {
            // Nobody will answer it now.
            host_->send(xmpp::make_error_reply(
                st, StanzaError::cancel("service-unavailable", "the recipient's session ended before it answered")));
            ++iqs;
        } else {
            ++dropped;  // presence (state, sent again by contacts), iq results and errors, error messages
        }
    }
    s.unacked.clear();
    log::info("sm", "{}: ended with stanzas unacknowledged: {} message(s) re-routed, {} iq(s) answered, {} dropped",
              to, messages, iqs, dropped);
}

}  // namespace parley::mod_sm
