#include "software_version.hpp"

#include <sys/utsname.h>

namespace parley::mod_version {

const config::OptionSpec kOptions[] = {
    {"name", config::OptionType::string, "Parley", "software name reported to clients"},
    {"show_os", config::OptionType::boolean, "false", "also report the operating system (uname)"},
};
const module::XepInfo kXeps[] = {{"0092", "1.1", "complete"}};

Status SoftwareVersion::configure(const config::Section& section) {
    std::string name = section.get_string("name", "Parley");
    if (name.empty()) return Status::error("config", "name must not be empty");
    name_ = std::move(name);
    show_os_ = section.get_bool("show_os", false);
    os_.clear();
    if (show_os_) {
        utsname u{};
        if (uname(&u) == 0) os_ = std::string(u.sysname) + " " + u.release;
    }
    return Status::ok();
}

Status SoftwareVersion::start(module::Host& host) {
    version_ = std::string(host.server_version());
    Status s = host.iq_handler(module::IqTarget::server, "get", kNsVersion, "query",
                               [this](const module::IqRequest&, std::shared_ptr<module::IqResponder> r) {
                                   xml::Element q("query", kNsVersion);
                                   q.add_child("name", kNsVersion).add_text(name_);
                                   q.add_child("version", kNsVersion).add_text(version_);
                                   if (show_os_ && !os_.empty()) q.add_child("os", kNsVersion).add_text(os_);
                                   r->result(std::move(q));
                               });
    if (!s) return s;
    host.disco_feature(kNsVersion);
    return Status::ok();
}

}  // namespace parley::mod_version
