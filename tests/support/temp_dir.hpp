// TempDir: a fresh directory under $TMPDIR (or /tmp) for one test, removed
// with everything in it when the fixture ends. Used for temporary LMDB
// environments and config files. One owner; not shared between threads.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace parley::test {

class TempDir {
  public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/parley-test-XXXXXX";
        if (!::mkdtemp(tmpl.data()))
            throw std::runtime_error("temp_dir: mkdtemp failed for " + tmpl);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string sub(const std::string& name) const { return path_ + "/" + name; }

    // Writes a file inside the directory and returns its path.
    std::string write(const std::string& name, const std::string& content) const {
        const std::string p = sub(name);
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << content;
        if (!out) throw std::runtime_error("temp_dir: cannot write " + p);
        return p;
    }

    // The whole content of a file (e.g. data.mdb, to scan for secrets).
    static std::string read(const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

  private:
    std::string path_;
};

}  // namespace parley::test
