#include "runner.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

namespace parley::bench {

namespace {

constexpr uint64_t kTickMs = 10;
constexpr uint64_t kStopGraceNs = 5'000'000'000ULL;  // then close whatever is still open

}  // namespace

void Shared::report_failure(const std::string& what) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (first_failure_.empty()) first_failure_ = what;
    }
    failed.store(true);
    stop.store(true);
}

std::string Shared::first_failure() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_failure_;
}

Runner::Runner(Shared& shared, std::vector<int> indices, int runner_count)
    : shared_(shared),
      read_buf_(new char[kReadBufferBytes]),
      rate_(shared.opt.connect_rate / runner_count),
      max_pending_(std::max(1, shared.opt.max_pending / runner_count)) {
    const Options& o = shared.opt;
    if (uv_ip4_addr(o.host.c_str(), o.port, reinterpret_cast<sockaddr_in*>(&addr_)) != 0 &&
        uv_ip6_addr(o.host.c_str(), o.port, reinterpret_cast<sockaddr_in6*>(&addr_)) != 0)
        throw std::runtime_error("--host '" + o.host + "' is not an IPv4 or IPv6 address");
    if (o.peer_port != 0 &&
        uv_ip4_addr(o.peer_host.c_str(), o.peer_port, reinterpret_cast<sockaddr_in*>(&peer_addr_)) != 0 &&
        uv_ip6_addr(o.peer_host.c_str(), o.peer_port, reinterpret_cast<sockaddr_in6*>(&peer_addr_)) != 0)
        throw std::runtime_error("--peer-host '" + o.peer_host + "' is not an IPv4 or IPv6 address");
    // A constructor that cannot finish is the one place we throw.
    const int rc = uv_loop_init(&loop_);
    if (rc < 0) throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
    loop_ok_ = true;
    sessions_.reserve(indices.size());
    for (int i : indices) sessions_.push_back(std::make_unique<ClientSession>(*this, i));
    pair_up();
    set_up_room(runner_count);
}

Runner::~Runner() {
    // run() closes the loop; if it never ran, close it here (no handle was started).
    if (loop_ok_) uv_loop_close(&loop_);
}

// Messages mode: session 2k sends to session 2k+1 (both in this Runner).
void Runner::pair_up() {
    const Options& o = shared_.opt;
    if (o.mode != Mode::messages) return;
    std::unordered_map<int, ClientSession*> by_index;
    for (auto& s : sessions_) by_index[s->index()] = s.get();
    const std::string body(static_cast<size_t>(o.body_bytes), 'x');
    for (auto& s : sessions_) {
        const int i = s->index();
        if (i % 2 != 0 || i >= 2 * o.pairs) continue;
        auto it = by_index.find(i + 1);
        if (it == by_index.end()) throw std::logic_error("a pair split across runners");
        ClientSession* r = it->second;
        s->sender = true;
        s->partner = r;
        r->partner = s.get();
        s->message_to_partner = "<message to='" + o.user_prefix + std::to_string(i + 1) + "@" + r->domain() + "/b" +
                                std::to_string(i + 1) + "' type='chat'><body>" + body + "</body></message>";
    }
}

// Room mode: every session an occupant; session 0 owns the room.
void Runner::set_up_room(int runner_count) {
    const Options& o = shared_.opt;
    if (o.mode != Mode::room) return;
    join_quota_ = std::max(1, o.join_concurrency / runner_count);
    room_message_ = "<message type='groupchat' to='" + o.room + "'><body>" +
                    std::string(static_cast<size_t>(o.body_bytes), 'x') + "</body></message>";
    for (auto& s : sessions_) {
        const int i = s->index();
        s->room = std::make_unique<RoomClient>(*s, *this, o.room, i, i == 0, i < o.senders);
        if (i == 0) owner_ = s.get();
        else if (i == o.occupants - 1) last_ = s.get();
        else join_queue_.push_back(s.get());
    }
}

void Runner::run() {
    begin_ns_ = uv_hrtime();
    uv_timer_init(&loop_, &tick_);
    tick_.data = this;
    uv_check_init(&loop_, &check_);
    check_.data = this;
    uv_timer_start(&tick_, &Runner::on_tick, 0, kTickMs);
    uv_check_start(&check_, &Runner::on_check);
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Every handle is closed by now (the tick closes itself last); a busy
    // loop here would be a bug, so close stragglers and say so.
    if (uv_loop_close(&loop_) == UV_EBUSY) {
        uv_walk(&loop_, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); }, nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT);
        shared_.report_failure("internal: the loop still had handles at the end");
        uv_loop_close(&loop_);
    }
    loop_ok_ = false;
}

void Runner::on_tick(uv_timer_t* t) { static_cast<Runner*>(t->data)->tick(); }

void Runner::on_check(uv_check_t* c) { static_cast<Runner*>(c->data)->flush_dirty(); }

void Runner::flush_dirty() {
    flushing_.swap(dirty_);
    for (ClientSession* s : flushing_) s->flush();
    flushing_.clear();
}

void Runner::mark_dirty(ClientSession& s) {
    if (s.dirty) return;
    s.dirty = true;
    dirty_.push_back(&s);
}

void Runner::tick() {
    const uint64_t now = uv_hrtime();
    if (shared_.stop.load() && !stopping_) begin_stop(now);
    if (stopping_) {
        const bool all_done = std::all_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return s->finished(); });
        if (all_done) {
            uv_timer_stop(&tick_);
            uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
            uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
        } else if (now > stop_deadline_ns_) {
            for (auto& s : sessions_) s->close_now();
        }
        return;
    }
    open_more(now);
    check_timeouts(now);
    if (shared_.opt.mode == Mode::room) drive_room(now);
    start_senders();
    // What the tick queued goes now: the check handle would run only after
    // the next poll, up to a tick later, and a timed join would count that.
    flush_dirty();
}

void Runner::start_senders() {
    if (!shared_.sending.load() || senders_started_) return;
    senders_started_ = true;
    for (auto& s : sessions_) {
        if (s->step() != ClientSession::Step::bound) continue;
        if (s->room) {
            if (!s->room->sender() || s->room->state() != RoomClient::State::in) continue;
            for (int k = 0; k < shared_.opt.window; ++k) send_room_message(*s);
        } else if (s->sender) {
            for (int k = 0; k < shared_.opt.window; ++k) s->send(s->message_to_partner);
        }
    }
}

// Room mode: the phases the main thread has opened, in order.
void Runner::drive_room(uint64_t now) {
    if (!shared_.joining.load()) return;
    if (owner_ && owner_->room->state() == RoomClient::State::out && owner_->step() == ClientSession::Step::bound) {
        owner_->room->join();
        joining_.push_back(owner_);
    }
    start_joins();
    if (shared_.say_history.load() && !history_said_ && owner_) {
        history_said_ = true;
        for (int k = 0; k < shared_.opt.history; ++k) owner_->room->say(room_message_);
    }
    if (shared_.last_join.load() && last_ && last_->room->state() == RoomClient::State::out) {
        last_->room->join();
        joining_.push_back(last_);
    }
    check_join_timeouts(now);
}

void Runner::start_joins() {
    if (!shared_.room_open.load() || stopping_) return;
    while (next_join_ < join_queue_.size() && static_cast<int>(joining_.size()) < join_quota_) {
        ClientSession* s = join_queue_[next_join_++];
        if (s->step() != ClientSession::Step::bound) continue;  // failed already: that is reported
        s->room->join();
        joining_.push_back(s);
    }
}

void Runner::check_join_timeouts(uint64_t now) {
    const auto limit = static_cast<uint64_t>(shared_.opt.join_timeout_s * 1e9);
    for (ClientSession* s : joining_) {
        const RoomClient& r = *s->room;
        if (now <= r.join_sent_ns() || now - r.join_sent_ns() <= limit) continue;
        on_failure(*s, "the join did not end (no subject from the room) within " +
                           std::to_string(static_cast<int>(shared_.opt.join_timeout_s)) + " s; got " +
                           std::to_string(r.presences_seen()) + " presences and " + std::to_string(r.history_seen()) +
                           " history messages");
        s->close_now();
        return;  // the failure stops everything
    }
}

void Runner::send_room_message(ClientSession& s) {
    s.room->say(room_message_);
    shared_.sent.fetch_add(1, std::memory_order_relaxed);
}

void Runner::on_joined(ClientSession& s) {
    joining_.erase(std::remove(joining_.begin(), joining_.end(), &s), joining_.end());
    shared_.joined.fetch_add(1);
    start_joins();
}

void Runner::on_room_message(ClientSession& s, bool own) {
    shared_.delivered.fetch_add(1, std::memory_order_relaxed);
    // The sender's own copy is back: one more in flight.
    if (own && senders_started_ && !stopping_ && s.room->sender() && s.step() == ClientSession::Step::bound)
        send_room_message(s);
}

// Opens sessions at this Runner's rate, with a bounded number logging in.
void Runner::open_more(uint64_t now) {
    const double elapsed_s = static_cast<double>(now - begin_ns_) / 1e9;
    const size_t allowed = std::min(sessions_.size(), static_cast<size_t>(rate_ * elapsed_s) + 1);
    while (started_ < allowed && pending_ < max_pending_ && !shared_.stop.load()) {
        ClientSession& s = *sessions_[started_++];
        ++pending_;
        if (first_start_ns_ == 0) first_start_ns_ = now;
        s.start();
    }
}

void Runner::check_timeouts(uint64_t now) {
    const auto limit = static_cast<uint64_t>(shared_.opt.login_timeout_s * 1e9);
    for (size_t i = 0; i < started_; ++i) {
        ClientSession& s = *sessions_[i];
        const auto step = s.step();
        if (step == ClientSession::Step::bound || s.finished() || step == ClientSession::Step::closing) continue;
        if (now > s.started_ns() && now - s.started_ns() > limit) {
            on_failure(s, std::string("no login within ") + std::to_string(static_cast<int>(shared_.opt.login_timeout_s)) +
                              " s (stuck at step: " + s.step_name() + ")");
            s.close_now();
        }
    }
}

void Runner::begin_stop(uint64_t now) {
    stopping_ = true;
    stop_deadline_ns_ = now + kStopGraceNs;
    for (auto& s : sessions_) s->close_gracefully();
}

void Runner::on_bound(ClientSession& s) {
    --pending_;
    last_bound_ns_ = std::max(last_bound_ns_, s.bound_ns());
    shared_.bound.fetch_add(1);
    // A sender bound after the start signal joins in at once.
    if (senders_started_ && s.sender)
        for (int k = 0; k < shared_.opt.window; ++k) s.send(s.message_to_partner);
}

void Runner::on_message(ClientSession& receiver) {
    shared_.delivered.fetch_add(1, std::memory_order_relaxed);
    ClientSession* sender = receiver.partner;
    if (receiver.sender || sender == nullptr) return;  // not a receiver of ours: count only
    if (sender->step() == ClientSession::Step::bound) sender->send(sender->message_to_partner);
}

void Runner::on_failure(ClientSession& s, const std::string& what) {
    if (s.step() != ClientSession::Step::bound) --pending_;
    if (stopping_) return;  // failures while tearing down are not results
    const Options& o = shared_.opt;
    shared_.report_failure("session " + std::to_string(s.index()) + " (" + o.user_prefix + std::to_string(s.index()) +
                           "@" + o.domain + "): " + what);
}

void Runner::on_closed(ClientSession&) {}

std::vector<double> Runner::join_ms() const {
    std::vector<double> out;
    for (const ClientSession* s : join_queue_)
        if (s->room->joined_ns() != 0)
            out.push_back(static_cast<double>(s->room->joined_ns() - s->room->join_sent_ns()) / 1e6);
    return out;
}

uint64_t Runner::first_join_ns() const {
    uint64_t first = 0;
    for (const ClientSession* s : join_queue_)
        if (s->room->join_sent_ns() != 0 && (first == 0 || s->room->join_sent_ns() < first)) first = s->room->join_sent_ns();
    return first;
}

uint64_t Runner::last_joined_ns() const {
    uint64_t last = 0;
    for (const ClientSession* s : join_queue_) last = std::max(last, s->room->joined_ns());
    return last;
}

const RoomClient* Runner::last_occupant() const { return last_ ? last_->room.get() : nullptr; }

std::vector<double> Runner::login_ms() const {
    std::vector<double> out;
    for (const auto& s : sessions_)
        if (s->bound_ns() != 0) out.push_back(static_cast<double>(s->bound_ns() - s->started_ns()) / 1e6);
    return out;
}

}  // namespace parley::bench
