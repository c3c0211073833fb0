// mod_time: XEP-0202 Entity Time for the server's domains.
//
// Answers <iq type='get'><time xmlns='urn:xmpp:time'/></iq> to a served
// domain with the server's UTC time (XEP-0082 format, whole seconds) and
// its time zone offset. One instance per worker; loop-affine.
#pragma once

#include <ctime>
#include <string>

#include "module/module_api.hpp"

namespace parley::mod_time {

inline constexpr const char* kNsTime = "urn:xmpp:time";

// "+01:00" / "-05:30" / "+00:00" for an offset from UTC in seconds.
std::string format_tzo(long offset_seconds);
// "2026-12-02T05:31:24Z" (XEP-0082 DateTime, UTC, whole seconds as in the
// examples of XEP-0202).
std::string format_utc(std::time_t seconds);

class EntityTime final : public module::Module {
public:
    Status start(module::Host& host) override;
};

extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;

}  // namespace parley::mod_time
