#include "net/resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>

namespace parley::net {

namespace {

constexpr int kClassIn = 1;   // RFC 1035
constexpr int kTypeSrv = 33;  // RFC 2782

ares_channel chan(void* c) { return static_cast<ares_channel>(c); }

// ares_library_init is not thread-safe: once per process.
int library_init() {
    static std::once_flag once;
    static int rc = ARES_SUCCESS;
    std::call_once(once, [] { rc = ares_library_init(ARES_LIB_INIT_ALL); });
    return rc;
}

Answer answer_of(int status) {
    switch (status) {
    case ARES_SUCCESS: return Answer::ok;
    case ARES_ENODATA:
    case ARES_ENOTFOUND:
    case ARES_ENONAME: return Answer::no_records;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED: return Answer::cancelled;
    default: return Answer::failed;
    }
}

}  // namespace

std::vector<SrvTarget> order_srv(std::vector<SrvTarget> records, std::mt19937& rng) {
    std::stable_sort(records.begin(), records.end(),
                     [](const SrvTarget& a, const SrvTarget& b) { return a.priority < b.priority; });
    std::vector<SrvTarget> out;
    out.reserve(records.size());
    for (size_t begin = 0; begin < records.size();) {
        size_t end = begin;
        while (end < records.size() && records[end].priority == records[begin].priority) ++end;
        // RFC 2782's selection, within one priority: the records in any
        // (here random) order with those of weight 0 first, then
        // repeatedly a random number in [0, sum of the remaining weights]
        // picks the first record whose running sum reaches it.
        std::vector<SrvTarget> group(records.begin() + static_cast<std::ptrdiff_t>(begin),
                                     records.begin() + static_cast<std::ptrdiff_t>(end));
        std::shuffle(group.begin(), group.end(), rng);
        std::stable_partition(group.begin(), group.end(), [](const SrvTarget& t) { return t.weight == 0; });
        while (!group.empty()) {
            uint32_t sum = 0;
            for (const SrvTarget& t : group) sum += t.weight;
            const uint32_t pick = std::uniform_int_distribution<uint32_t>(0, sum)(rng);
            uint32_t running = 0;
            size_t i = 0;
            for (; i < group.size(); ++i) {
                running += group[i].weight;
                if (running >= pick) break;
            }
            if (i == group.size()) i = group.size() - 1;
            out.push_back(std::move(group[i]));
            group.erase(group.begin() + static_cast<std::ptrdiff_t>(i));
        }
        begin = end;
    }
    return out;
}

struct Resolver::Poll {
    uv_poll_t handle{};
    Resolver* owner = nullptr;
    int fd = -1;
};

namespace {

// A lookup in flight: what to call, and with what the answer is dressed.
struct SrvCall {
    Resolver* owner;
    bool direct_tls;
    Resolver::SrvDone done;
};
struct AddrCall {
    Resolver* owner;
    uint16_t port;
    Resolver::AddressesDone done;
};

}  // namespace

Resolver::Resolver(uv_loop_t* loop) : loop_(loop) {}

Resolver::~Resolver() = default;

Result<Resolver*> Resolver::create(uv_loop_t* loop, const Options& options) {
    if (int rc = library_init(); rc != ARES_SUCCESS)
        return Status::error("dns", std::string("c-ares: ") + ares_strerror(rc));
    auto* r = new Resolver(loop);
    ares_options o{};
    o.sock_state_cb = &Resolver::on_sock_state;
    o.sock_state_cb_data = r;
    o.timeout = static_cast<int>(options.timeout_ms);
    o.tries = static_cast<int>(options.tries);
    ares_channel ch = nullptr;
    int rc = ares_init_options(&ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        delete r;
        return Status::error("dns", std::string("c-ares: ") + ares_strerror(rc));
    }
    if (!options.servers.empty()) {
        std::string csv;
        for (const std::string& s : options.servers) csv += (csv.empty() ? "" : ",") + s;
        rc = ares_set_servers_ports_csv(ch, csv.c_str());
        if (rc != ARES_SUCCESS) {
            ares_destroy(ch);
            delete r;
            return Status::error("dns", "bad DNS server list '" + csv + "': " + ares_strerror(rc));
        }
    }
    r->channel_ = ch;
    uv_timer_init(loop, &r->timer_);
    r->timer_.data = r;
    uv_timer_init(loop, &r->defer_);
    r->defer_.data = r;
    r->open_handles_ = 2;
    return r;
}

void Resolver::deliver(std::function<void()> call) {
    if (!in_call_) {
        call();
        return;
    }
    deferred_.push_back(std::move(call));
    uv_timer_start(
        &defer_,
        [](uv_timer_t* t) {
            auto calls = std::exchange(static_cast<Resolver*>(t->data)->deferred_, {});
            for (auto& c : calls) c();
        },
        0, 0);
}

void Resolver::srv(const std::string& name, bool direct_tls, SrvDone done) {
    if (closing_) return done(Answer::cancelled, {}, {});
    ++pending_;
    auto* call = new SrvCall{this, direct_tls, std::move(done)};
    in_call_ = true;
    ares_query(
        chan(channel_), name.c_str(), kClassIn, kTypeSrv,
        [](void* arg, int status, int, unsigned char* abuf, int alen) {
            std::unique_ptr<SrvCall> c(static_cast<SrvCall*>(arg));
            Resolver* self = c->owner;
            --self->pending_;
            Answer a = answer_of(status);
            std::vector<SrvTarget> out;
            std::string error;
            if (a == Answer::ok) {
                ares_srv_reply* reply = nullptr;
                const int rc = ares_parse_srv_reply(abuf, alen, &reply);
                if (rc == ARES_SUCCESS) {
                    for (ares_srv_reply* r = reply; r; r = r->next)
                        out.push_back(SrvTarget{r->host ? r->host : "", r->port, r->priority, r->weight, c->direct_tls});
                    ares_free_data(reply);
                } else {
                    a = answer_of(rc);
                    if (a == Answer::failed) error = std::string("a bad SRV answer: ") + ares_strerror(rc);
                }
                // RFC 2782: a single record whose target is "." says the
                // service is decidedly not available at this domain.
                if (out.size() == 1 && (out[0].host.empty() || out[0].host == ".")) {
                    out.clear();
                    a = Answer::unavailable;
                } else {
                    std::erase_if(out, [](const SrvTarget& t) { return t.host.empty() || t.host == "."; });
                    if (a == Answer::ok && out.empty()) a = Answer::no_records;
                }
            } else if (a == Answer::failed) {
                error = ares_strerror(status);
            }
            self->deliver([done = std::move(c->done), a, out = std::move(out), error = std::move(error)]() mutable {
                done(a, std::move(out), std::move(error));
            });
        },
        call);
    in_call_ = false;
    rearm();
}

void Resolver::addresses(const std::string& host, uint16_t port, AddressesDone done) {
    if (closing_) return done(Answer::cancelled, {}, {});
    ++pending_;
    auto* call = new AddrCall{this, port, std::move(done)};
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    in_call_ = true;
    ares_getaddrinfo(
        chan(channel_), host.c_str(), nullptr, &hints,
        [](void* arg, int status, int, ares_addrinfo* res) {
            std::unique_ptr<AddrCall> c(static_cast<AddrCall*>(arg));
            Resolver* self = c->owner;
            --self->pending_;
            Answer a = answer_of(status);
            std::vector<sockaddr_storage> out;
            std::string error;
            if (res) {
                for (ares_addrinfo_node* n = res->nodes; n; n = n->ai_next) {
                    if (!n->ai_addr || n->ai_addrlen > sizeof(sockaddr_storage)) continue;
                    sockaddr_storage ss{};
                    std::memcpy(&ss, n->ai_addr, n->ai_addrlen);
                    if (ss.ss_family == AF_INET)
                        reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(c->port);
                    else if (ss.ss_family == AF_INET6)
                        reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(c->port);
                    else
                        continue;
                    out.push_back(ss);
                }
                ares_freeaddrinfo(res);
            }
            if (a == Answer::ok && out.empty()) a = Answer::no_records;
            if (a == Answer::failed) error = ares_strerror(status);
            self->deliver([done = std::move(c->done), a, out = std::move(out), error = std::move(error)]() mutable {
                done(a, std::move(out), std::move(error));
            });
        },
        call);
    in_call_ = false;
    rearm();
}

void Resolver::on_sock_state(void* data, int fd, int readable, int writable) {
    auto* self = static_cast<Resolver*>(data);
    auto it = self->polls_.find(fd);
    if (!readable && !writable) {
        if (it == self->polls_.end()) return;
        Poll* p = it->second;
        self->polls_.erase(it);
        uv_poll_stop(&p->handle);
        uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &Resolver::on_handle_closed);
        return;
    }
    Poll* p;
    if (it == self->polls_.end()) {
        p = new Poll();
        p->owner = self;
        p->fd = fd;
        p->handle.data = p;
        if (uv_poll_init_socket(self->loop_, &p->handle, fd) != 0) {
            delete p;
            return;  // c-ares times the query out
        }
        ++self->open_handles_;
        self->polls_[fd] = p;
    } else {
        p = it->second;
    }
    uv_poll_start(&p->handle, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), &Resolver::on_poll);
}

void Resolver::on_poll(uv_poll_t* h, int status, int events) {
    auto* p = static_cast<Poll*>(h->data);
    Resolver* self = p->owner;
    const int fd = p->fd;  // p may go while c-ares processes
    if (self->closing_) return;
    if (status < 0) {
        // Let c-ares read the error from the socket and move on.
        ares_process_fd(chan(self->channel_), fd, fd);
    } else {
        ares_process_fd(chan(self->channel_), (events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
                        (events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
    }
    self->rearm();
}

void Resolver::on_timer(uv_timer_t* t) {
    auto* self = static_cast<Resolver*>(t->data);
    if (self->closing_) return;
    ares_process_fd(chan(self->channel_), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    self->rearm();
}

void Resolver::rearm() {
    if (closing_) return;
    if (pending_ == 0) {
        uv_timer_stop(&timer_);
        return;
    }
    timeval tv{};
    const timeval* next = ares_timeout(chan(channel_), nullptr, &tv);
    if (!next) {
        uv_timer_stop(&timer_);
        return;
    }
    const uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 + static_cast<uint64_t>(next->tv_usec + 999) / 1000;
    uv_timer_start(&timer_, &Resolver::on_timer, ms, 0);
}

void Resolver::close() {
    if (closing_) return;
    closing_ = true;
    // Answers already in hand, then the cancellations: ares_destroy runs
    // every pending callback with ARES_EDESTRUCTION (a callback that asks
    // again is answered "cancelled" at once) and closes its sockets
    // through on_sock_state.
    auto calls = std::exchange(deferred_, {});
    for (auto& c : calls) c();
    ares_destroy(chan(channel_));
    channel_ = nullptr;
    calls = std::exchange(deferred_, {});
    for (auto& c : calls) c();
    for (auto& [fd, p] : polls_) {
        uv_poll_stop(&p->handle);
        uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &Resolver::on_handle_closed);
    }
    polls_.clear();
    for (uv_timer_t* t : {&timer_, &defer_}) {
        uv_timer_stop(t);
        uv_close(reinterpret_cast<uv_handle_t*>(t), &Resolver::on_handle_closed);
    }
}

void Resolver::on_handle_closed(uv_handle_t* h) {
    Resolver* self;
    if (h->type == UV_POLL) {
        auto* p = static_cast<Poll*>(h->data);
        self = p->owner;
        delete p;
    } else {
        self = static_cast<Resolver*>(h->data);
    }
    self->handle_closed();
}

void Resolver::handle_closed() {
    if (--open_handles_ == 0 && closing_) delete this;
}

}  // namespace parley::net
