#include "entity_time.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>

namespace parley::mod_time {

const module::XepInfo kXeps[] = {{"0202", "2.0", "complete"}};

std::string format_tzo(long offset_seconds) {
    const char sign = offset_seconds < 0 ? '-' : '+';
    long a = std::labs(offset_seconds) / 60;
    return fmt::format("{}{:02}:{:02}", sign, a / 60, a % 60);
}

std::string format_utc(std::time_t seconds) {
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Status EntityTime::start(module::Host& host) {
    Status s = host.iq_handler(
        module::IqTarget::server, "get", kNsTime, "time",
        [](const module::IqRequest&, std::shared_ptr<module::IqResponder> r) {
            const std::time_t secs = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
            std::tm local{};
            localtime_r(&secs, &local);
            xml::Element t("time", kNsTime);
            t.add_child("tzo", kNsTime).add_text(format_tzo(local.tm_gmtoff));
            t.add_child("utc", kNsTime).add_text(format_utc(secs));
            r->result(std::move(t));
        });
    if (!s) return s;
    host.disco_feature(kNsTime);
    return Status::ok();
}

}  // namespace parley::mod_time
