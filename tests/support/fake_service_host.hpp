// FakeServiceHost: the module::ServiceHost a process-wide service (e.g. the
// archive's journal service, modules/archive) starts with in a unit test,
// without parleyd: its module's config section as given, one worker, and no
// services of other modules. Single-threaded: one test at a time.
#pragma once

#include <string_view>
#include <utility>

#include "config/config.hpp"
#include "module/module_api.hpp"

namespace parley::test {

class FakeServiceHost final : public module::ServiceHost {
public:
    explicit FakeServiceHost(config::Section s) : section_(std::move(s)) {}
    const config::Section& config() const override { return section_; }
    unsigned worker_count() const override { return 1; }
    module::Service* service(std::string_view) const override { return nullptr; }

private:
    config::Section section_;
};

}  // namespace parley::test
