// mod_version: XEP-0092 Software Version for the server's domains.
//
// Answers <iq type='get'><query xmlns='jabber:iq:version'/></iq> to a served
// domain with the software name and version, and the operating system only
// when `show_os` is set (off by default: the OS tells an attacker more than
// it tells a user). One instance per worker; loop-affine.
#pragma once

#include <string>

#include "config/config.hpp"
#include "module/module_api.hpp"

namespace parley::mod_version {

inline constexpr const char* kNsVersion = "jabber:iq:version";

class SoftwareVersion final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override { return configure(section); }

private:
    std::string name_ = "Parley";
    bool show_os_ = false;
    std::string os_;
    std::string version_;
};

extern const config::OptionSpec kOptions[];
inline constexpr size_t kOptionCount = 2;
extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;

}  // namespace parley::mod_version
