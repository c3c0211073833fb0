// A test module with a process-wide service (module::Service): the service
// counts, and logs its own start and stop and those of each worker's module
// instance, so a test sees that services start before and stop after every
// instance, and that all workers' instances share one service.
#include <atomic>
#include <fstream>
#include <mutex>

#include "counter_service.hpp"

namespace {

using namespace parley;

class Counter final : public test::CounterService {
public:
    Status start(module::ServiceHost& host) override {
        if (host.config().get_bool("fail_start", false)) return Status::error("test", "told to fail");
        file_ = host.config().get_string("events_file", "");
        log("service-start " + std::to_string(host.worker_count()));
        return Status::ok();
    }
    Status reload(const config::Section&) override {
        log("service-reload");
        return Status::ok();
    }
    void stop() override { log("service-stop"); }
    uint64_t add(uint64_t n) override { return total_ += n; }
    void log(const std::string& event) override {
        std::lock_guard<std::mutex> lock(mutex_);
        events_ += event + "\n";
        // Also to a file: it outlives the service for a test to read.
        if (!file_.empty()) std::ofstream(file_, std::ios::app) << event << "\n";
    }
    std::string events() const override {
        std::lock_guard<std::mutex> lock(mutex_);
        return events_;
    }

private:
    std::atomic<uint64_t> total_{0};
    mutable std::mutex mutex_;
    std::string events_;
    std::string file_;
};

class User final : public module::Module {
public:
    Status start(module::Host& host) override {
        counter_ = module::service<test::CounterService>(host);
        if (!counter_) return Status::error("test", "no counter service");
        worker_ = host.worker_index();
        counter_->add(1);
        counter_->log("module-start " + std::to_string(worker_));
        return Status::ok();
    }
    void stop() override { counter_->log("module-stop " + std::to_string(worker_)); }

private:
    test::CounterService* counter_ = nullptr;
    unsigned worker_ = 0;
};

const config::OptionSpec kOptions[] = {
    {"fail_start", config::OptionType::boolean, "false", "the service's start() fails"},
    {"events_file", config::OptionType::string, "\"\"", "where the service also appends its events"},
};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "testservice",
                                     "1.0",
                                     "test module with a process-wide service",
                                     nullptr,
                                     nullptr,
                                     0,
                                     kOptions,
                                     2,
                                     []() -> module::Module* { return new User(); },
                                     [](module::Module* m) { delete m; },
                                     test::CounterService::kServiceName,
                                     []() -> module::Service* { return new Counter(); },
                                     [](module::Service* s) { delete s; }};

}  // namespace

PARLEY_MODULE(kDescriptor)
