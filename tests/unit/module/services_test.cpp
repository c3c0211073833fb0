// Process-wide services (module::Service) with the test module
// mod_testservice: one service shared by the instances on both workers,
// started before them and stopped after them; a failing start is reported.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "daemon/shared.hpp"
#include "loop/worker.hpp"
#include "module/loader.hpp"
#include "module/services.hpp"
#include "support/modules/counter_service.hpp"
#include "support/temp_dir.hpp"

#include <fstream>
#include <sstream>

using namespace parley;

namespace {

const std::string kModuleDir = PARLEY_TEST_BUILDDIR "/tests/support/modules/.libs";

std::shared_ptr<config::Config> config_with(bool fail_start, const std::string& events_file = "") {
    auto cfg = std::make_shared<config::Config>();
    cfg->workers = 2;
    cfg->c2s.starttls_port = 0;
    cfg->c2s.direct_tls_port = 0;
    cfg->modules = {"testservice"};
    config::Section s;
    s.file = "test.toml";
    s.name = "testservice";
    s.values["fail_start"] = config::OptionValue{fail_start, 1};
    if (!events_file.empty()) s.values["events_file"] = config::OptionValue{events_file, 2};
    cfg->module_sections["testservice"] = s;
    return cfg;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(module_services)

BOOST_AUTO_TEST_CASE(one_service_serves_every_worker_and_outlives_their_instances) {
    auto loaded = module::LoadedModule::load(kModuleDir, "testservice");
    BOOST_REQUIRE_MESSAGE(loaded, "module: " << loaded.status().to_string());
    std::vector<std::shared_ptr<const module::LoadedModule>> modules{loaded.value()};
    auto cfg = config_with(false);
    module::ServiceSet services;
    BOOST_REQUIRE(services.start(modules, *cfg, 2).is_ok());
    auto* counter = static_cast<test::CounterService*>(services.find(test::CounterService::kServiceName));
    BOOST_REQUIRE(counter);
    BOOST_TEST(services.find("parley.test.other/1") == nullptr);

    daemon::Shared shared;
    shared.set_config(cfg);
    shared.services = &services;
    std::vector<std::unique_ptr<loop::Worker>> workers;
    for (unsigned i = 0; i < 2; ++i) workers.push_back(std::make_unique<loop::Worker>(i, shared));
    for (auto& w : workers) shared.workers.push_back(w.get());
    for (auto& w : workers) BOOST_REQUIRE(w->start(modules).is_ok());
    BOOST_TEST(counter->add(0) == 2u, "module: both workers' instances reached the one service");
    for (auto& w : workers) w->request_shutdown();
    for (auto& w : workers) w->join();
    services.stop_all();
}

BOOST_AUTO_TEST_CASE(services_start_before_and_stop_after_the_instances) {
    auto loaded = module::LoadedModule::load(kModuleDir, "testservice");
    BOOST_REQUIRE(loaded);
    std::vector<std::shared_ptr<const module::LoadedModule>> modules{loaded.value()};
    test::TempDir dir;
    const std::string file = dir.sub("events");
    auto cfg = config_with(false, file);
    {
        module::ServiceSet services;
        BOOST_REQUIRE(services.start(modules, *cfg, 2).is_ok());
        auto* counter = static_cast<test::CounterService*>(services.find(test::CounterService::kServiceName));
        daemon::Shared shared;
        shared.set_config(cfg);
        shared.services = &services;
        std::vector<std::unique_ptr<loop::Worker>> workers;
        for (unsigned i = 0; i < 2; ++i) workers.push_back(std::make_unique<loop::Worker>(i, shared));
        for (auto& w : workers) shared.workers.push_back(w.get());
        for (auto& w : workers) BOOST_REQUIRE(w->start(modules).is_ok());
        for (auto& w : workers) w->request_shutdown();
        for (auto& w : workers) w->join();
        // A reload keeps the service and gives it its section again.
        BOOST_REQUIRE(services.prepare_reload(modules, *cfg).is_ok());
        services.commit_reload();
        BOOST_TEST(services.find(test::CounterService::kServiceName) == counter);
        services.stop_all();
        BOOST_TEST(services.find(test::CounterService::kServiceName) == nullptr, "module: a stopped service is not found");
    }
    std::stringstream buf;
    buf << std::ifstream(file).rdbuf();
    const std::string events = buf.str();
    auto pos = [&](const std::string& e) { return events.find(e + "\n"); };
    BOOST_TEST_MESSAGE("events:\n" << events);
    BOOST_REQUIRE(pos("service-start 2") != std::string::npos);
    for (const char* e : {"module-start 0", "module-start 1", "module-stop 0", "module-stop 1"}) {
        BOOST_REQUIRE_MESSAGE(pos(e) != std::string::npos, "module: no '" << e << "' in the service's log");
        BOOST_TEST(pos("service-start 2") < pos(e), "module: the service starts before " << e);
        BOOST_TEST(pos(e) < pos("service-stop"), "module: the service stops after " << e);
    }
    BOOST_TEST(pos("service-reload") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_service_that_fails_to_start_is_reported) {
    auto loaded = module::LoadedModule::load(kModuleDir, "testservice");
    BOOST_REQUIRE(loaded);
    module::ServiceSet services;
    Status s = services.start({loaded.value()}, *config_with(true), 2);
    BOOST_TEST(!s.is_ok());
    BOOST_TEST(s.message().find("told to fail") != std::string::npos, "module: " << s.message());
    BOOST_TEST(services.find(test::CounterService::kServiceName) == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
