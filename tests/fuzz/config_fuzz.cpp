// libFuzzer target: the configuration loader (server/config) on arbitrary
// file contents. Any input: no crash, no exception out of load(); an error
// always names the file.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = [] {
        // Under tests/fuzz/run, TMPDIR is the run's own directory, removed after.
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/parley-config-fuzz-XXXXXX";
        const char* dir = mkdtemp(tmpl.data());
        if (!dir) std::abort();
        return std::string(dir) + "/parley.toml";
    }();
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    auto r = parley::config::load(path);
    if (!r && r.status().message().find(path) == std::string::npos) std::abort();
    return 0;
}
