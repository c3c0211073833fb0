// CounterService: the typed interface of the test service that
// mod_testservice provides (module::Service), as a module using it would
// include it. Any thread: add() and log() may be called from every worker.
#pragma once

#include <cstdint>
#include <string>

#include "module/module_api.hpp"

namespace parley::test {

class CounterService : public module::Service {
public:
    static constexpr const char* kServiceName = "parley.test.counter/1";
    // Adds n and returns the new total.
    virtual uint64_t add(uint64_t n) = 0;
    // Appends one event ("module-start 0") to the service's log.
    virtual void log(const std::string& event) = 0;
    // The events so far, one per line, in order.
    virtual std::string events() const = 0;
};

}  // namespace parley::test
