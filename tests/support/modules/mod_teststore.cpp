// A test module for the storage seam (Host::open_database), for the crash
// test (tests/integration/test_store_crash.py):
// - mode "write": every `interval_ms` each worker submits `batch` small
//   writes (key "W-SEQ") to its database "ticks", and appends "W SEQ" to
//   `out_file` for each write whose completion said it is on disk;
// - mode "dump": at start, worker 0 writes every key of "ticks" as "W SEQ"
//   to `out_file`, then "end".
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "module/module_api.hpp"

namespace {

using namespace parley;

void append(const std::string& file, const std::string& text) {
    int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    ssize_t n = ::write(fd, text.data(), text.size());  // one write: workers do not interleave
    (void)n;
    ::close(fd);
}

class TestStore final : public module::Module {
public:
    Status start(module::Host& host) override {
        host_ = &host;
        file_ = host.config().get_string("out_file", "");
        auto db = host.open_database(module::DatabaseSpec{"ticks", 1, {}, ""});
        if (!db) return db.status();
        db_ = db.value();
        const std::string mode = host.config().get_string("mode", "write");
        if (mode == "dump") {
            if (host.worker_index() == 0) dump();
            return Status::ok();
        }
        const auto interval = static_cast<uint64_t>(host.config().get_int("interval_ms", 1));
        batch_ = static_cast<int>(host.config().get_int("batch", 50));
        host.add_timer(interval, interval, [this] { tick(); });
        return Status::ok();
    }

private:
    void tick() {
        const unsigned w = host_->worker_index();
        for (int i = 0; i < batch_; ++i) {
            const uint64_t seq = next_++;
            char key[48];
            std::snprintf(key, sizeof key, "%u-%012llu", w, static_cast<unsigned long long>(seq));
            std::string k(key);
            Status s = db_->write([k](store::Txn& txn, MDB_dbi d) { return txn.put(d, k, std::string(100, 'v')); },
                                  [this, w, seq](Status st) {
                                      if (st) append(file_, std::to_string(w) + " " + std::to_string(seq) + "\n");
                                  });
            if (!s) return;  // busy: try again on the next tick
        }
    }

    void dump() {
        std::string out;
        Status s = db_->read([&](const store::Txn& txn, MDB_dbi d) {
            return txn.scan(d, "", [&](std::string_view k, std::string_view) {
                const auto dash = k.find('-');
                if (dash == std::string_view::npos) return true;
                out.append(k.substr(0, dash));
                out.push_back(' ');
                // Without the zero padding, as "write" logs them.
                std::string_view n = k.substr(dash + 1);
                while (n.size() > 1 && n.front() == '0') n.remove_prefix(1);
                out.append(n);
                out.push_back('\n');
                return true;
            });
        });
        out += s ? "end\n" : "error " + s.message() + "\n";
        append(file_, out);
    }

    module::Host* host_ = nullptr;
    std::string file_;
    std::shared_ptr<module::Database> db_;
    int batch_ = 50;
    uint64_t next_ = 0;
};

const config::OptionSpec kOptions[] = {
    {"mode", config::OptionType::string, "\"write\"", "write: write ticks; dump: list what is stored"},
    {"out_file", config::OptionType::string, "\"\"", "completed writes (write) or stored keys (dump)"},
    {"interval_ms", config::OptionType::integer, "1", "between two batches", 1, 1000},
    {"batch", config::OptionType::integer, "50", "writes per batch and worker", 1, 10000},
};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "teststore",
                                     "1.0",
                                     "test module for module databases",
                                     nullptr,
                                     nullptr,
                                     0,
                                     kOptions,
                                     4,
                                     []() -> module::Module* { return new TestStore(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr,
                                     nullptr,
                                     nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)
