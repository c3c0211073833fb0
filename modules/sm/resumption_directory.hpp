// mod_sm's directory of resumable sessions: the process-wide service that
// lets a <resume previd=.../> (XEP-0198) on any worker find the session it
// names.
//
// An SM-ID is 128 random bits from GnuTLS (GNUTLS_RND_RANDOM), written in
// hex: unguessable, never reused while the process runs. It is found only
// for the account it was issued to, so an id is worth nothing to another
// account (the answer is the same as for an id that never existed). When the
// session ends, its id is forgotten and, for a while (the session's
// resumption timeout), remembered as ended with the count of stanzas the
// server had handled, for <failed h=.../>; at most `max_ended` of those are
// kept, the oldest going first.
//
// Thread safety: any thread (one mutex; resumptions are rare and never on the
// stanza path). Lifetime: owned by the daemon as mod_sm's module::Service.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "module/module_api.hpp"

namespace parley::mod_sm {

class ResumptionDirectory : public module::Service {
public:
    static constexpr const char* kServiceName = "parley.sm.directory/1";
    using Clock = std::chrono::steady_clock;

    explicit ResumptionDirectory(size_t max_ended = 10000) : max_ended_(max_ended) {}

    Status start(module::ServiceHost&) override { return Status::ok(); }

    // A new SM-ID for session `session_id` of account `bare`.
    std::string issue(const std::string& bare, uint64_t session_id);
    // The session `id` stands for, if it is live and belongs to `bare`.
    std::optional<uint64_t> find(std::string_view id, std::string_view bare) const;
    // The session of `id` ended having handled `h` stanzas: `id` no longer
    // resumes anything; ended_h() tells `h` for `keep` from now.
    void ended(std::string_view id, uint32_t h, Clock::duration keep);
    std::optional<uint32_t> ended_h(std::string_view id, std::string_view bare) const;

    size_t live() const;
    size_t remembered() const;

private:
    struct Live {
        std::string bare;
        uint64_t session_id;
    };
    struct Ended {
        std::string bare;
        uint32_t h;
        Clock::time_point until;
    };
    void prune(Clock::time_point now);

    mutable std::mutex mutex_;
    std::unordered_map<std::string, Live> live_;
    std::unordered_map<std::string, Ended> ended_;
    std::deque<std::string> ended_order_;  // oldest first; may name ids already pruned
    size_t max_ended_;
};

}  // namespace parley::mod_sm
