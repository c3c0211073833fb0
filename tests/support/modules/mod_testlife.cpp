// A test module for the module lifecycle: it appends what happens to it to
// the file named by `events_file`, one line per event ("start 0",
// "reload 1", "stop 0", "bound JID 1", "closed JID 0", "timer-freed",
// "unloaded"), so that a test can check the order of events across
// workers, reloads and shutdown. `timer_ms` starts a repeating timer whose
// callback owns an object of this library (its destructor writes
// "timer-freed"); `fail_reload_on_worker` makes reload() throw on that
// worker; `feature` is the disco feature it registers.
//
// It avoids what gives a library STB_GNU_UNIQUE symbols (std::to_string,
// std::make_shared): glibc never unmaps such a library, and this one must
// really be unloaded for the timer test to mean anything.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "module/module_api.hpp"

namespace {

using namespace parley;

// Plain storage, so that it is still readable from the library's destructor.
char g_events_file[1024];

void record(const std::string& line) {
    if (!g_events_file[0]) return;
    int fd = ::open(g_events_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    std::string l = line + "\n";
    ssize_t n = ::write(fd, l.data(), l.size());  // one write per line: lines of workers do not interleave
    (void)n;
    ::close(fd);
}

__attribute__((destructor)) void on_unload() { record("unloaded"); }

std::string num(unsigned n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u", n);
    return buf;
}

struct Sentinel {
    ~Sentinel() { record("timer-freed"); }
};

class TestLife final : public module::Module {
public:
    Status start(module::Host& host) override {
        const std::string file = host.config().get_string("events_file", "");
        std::strncpy(g_events_file, file.c_str(), sizeof g_events_file - 1);
        worker_ = host.worker_index();
        record("start " + num(worker_));
        host.disco_feature(host.config().get_string("feature", "urn:parley:test:life"));
        host.on_session(module::SessionEvent::bound, [this](const module::SessionInfo& s) {
            record("bound " + s.full_jid.str() + " " + num(worker_));
        });
        host.on_session(module::SessionEvent::closed, [this](const module::SessionInfo& s) {
            record("closed " + s.full_jid.str() + " " + num(worker_));
        });
        if (int64_t ms = host.config().get_int("timer_ms", 0); ms > 0) {
            std::shared_ptr<Sentinel> s(new Sentinel());
            host.add_timer(static_cast<uint64_t>(ms), static_cast<uint64_t>(ms), [s] {});
        }
        return Status::ok();
    }
    Status reload(const config::Section& section) override {
        if (section.get_int("fail_reload_on_worker", -1) == static_cast<int64_t>(worker_))
            throw std::runtime_error("testlife: reload fails on worker " + num(worker_));
        record("reload " + num(worker_));
        return Status::ok();
    }
    void stop() override { record("stop " + num(worker_)); }

private:
    unsigned worker_ = 0;
};

const config::OptionSpec kOptions[] = {
    {"events_file", config::OptionType::string, "\"\"", "where to append the events"},
    {"timer_ms", config::OptionType::integer, "0", "a repeating timer (0: none)", 0, 3600000},
    {"fail_reload_on_worker", config::OptionType::integer, "-1", "reload() throws on this worker", -1, 256},
    {"feature", config::OptionType::string, "\"urn:parley:test:life\"", "the disco feature registered"},
};
const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{
    module::kAbiVersion, "testlife", "1.0", "a module for the lifecycle tests", kDeps, nullptr, 0,
    kOptions, 4, []() -> module::Module* { return new TestLife(); }, [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)
