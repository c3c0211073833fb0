#include "archive_export.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <gnutls/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <set>

#include "archive/chain/verify.hpp"
#include "archive/search/search.hpp"
#include "archive_access.hpp"
#include "archive_command.hpp"
#include "control_client.hpp"
#include "export_formats.hpp"
#include "json_value.hpp"
#include "module/control_json.hpp"
#include "modules/archive/journal_service.hpp"
#include "xmpp/jid.hpp"

namespace parley::ctl {

namespace {

namespace fs = std::filesystem;
using archive_access::Args;
using module::json_string;
namespace ef = export_format;

using archive_access::fail;
using archive_access::kFailure;
using archive_access::kOk;
using archive_access::kUsage;
using archive_access::usage;
constexpr const char* kManifestFormat = "parley-archive-export/1";
constexpr const char* kManifest = "manifest.json";
// What the EML and XML writers hold before writing out (per export).
constexpr size_t kSpillBytes = 64u << 20;
constexpr size_t kWriteBuffer = 1u << 20;
constexpr size_t kMaxManifestBytes = 256u << 20;

const char* const kFormats[] = {"jsonl", "csv", "eml", "xml", "html"};

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string hex(const unsigned char* d, size_t n) {
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", d[i]);
    return out;
}

// A file of the export (one listed in the manifest).
struct FileInfo {
    std::string name;  // relative to the export directory, '/' separated
    uint64_t bytes = 0;
    std::string sha256;
};

Status write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Status::error("io", errno_text("cannot write " + path));
        data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::ok();
}

// Syncs what was written to p (a file or a directory and the names in it)
// with fsync, or with `whole_fs` everything written to the filesystem that
// holds p (syncfs): for the EML export's thousands of small files one call
// instead of one fsync a file (25,620 files of a day at 10M messages: 8.3 s
// against ~1 s).
Status sync_path(const fs::path& p, bool whole_fs = false) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::error("io", errno_text("cannot open " + p.string()));
    const int rc = whole_fs ? ::syncfs(fd) : ::fsync(fd);
    ::close(fd);
    if (rc != 0) return Status::error("io", errno_text("cannot sync " + p.string()));
    return Status::ok();
}

// Calls fn with the file's content in blocks; an error when it cannot be read.
template <class Fn>
Status read_blocks(const fs::path& p, Fn&& fn) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::error("io", errno_text("cannot open " + p.string()));
    std::string buf(kWriteBuffer, '\0');
    Status s = Status::ok();
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) s = Status::error("io", errno_text("cannot read " + p.string()));
        if (n <= 0) break;
        fn(std::string_view(buf.data(), static_cast<size_t>(n)));
    }
    ::close(fd);
    return s;
}

// SHA-256 and size of a file, read in blocks.
Result<FileInfo> digest_file(const fs::path& path, const std::string& name) {
    gnutls_hash_hd_t h = nullptr;
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0) return Status::error("crypto", "SHA-256 is not available");
    FileInfo info{name, 0, {}};
    Status s = read_blocks(path, [&](std::string_view b) {
        gnutls_hash(h, b.data(), b.size());
        info.bytes += b.size();
    });
    unsigned char d[32];
    gnutls_hash_deinit(h, d);
    if (!s) return s;
    info.sha256 = hex(d, sizeof d);
    return info;
}

// A file written once, front to back, hashed as it goes.
class OutFile {
public:
    static Result<std::unique_ptr<OutFile>> create(const fs::path& dir, const std::string& name) {
        const fs::path path = dir / name;
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) return Status::error("io", errno_text("cannot create " + path.string()));
        gnutls_hash_hd_t h = nullptr;
        if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0) {
            ::close(fd);
            return Status::error("crypto", "SHA-256 is not available");
        }
        return std::unique_ptr<OutFile>(new OutFile(fd, h, path, name));
    }
    ~OutFile() {
        if (fd_ >= 0) ::close(fd_);
        if (hash_) gnutls_hash_deinit(hash_, nullptr);
    }
    OutFile(const OutFile&) = delete;
    OutFile& operator=(const OutFile&) = delete;

    Status write(std::string_view data) {
        gnutls_hash(hash_, data.data(), data.size());
        bytes_ += data.size();
        buf_ += data;
        if (buf_.size() >= kWriteBuffer) return flush();
        return Status::ok();
    }
    // Writes out, syncs and closes; the file's size and digest.
    Result<FileInfo> finish() {
        if (Status s = flush(); !s) return s;
        if (::fsync(fd_) != 0) return Status::error("io", errno_text("cannot sync " + path_.string()));
        ::close(fd_);
        fd_ = -1;
        unsigned char d[32];
        gnutls_hash_deinit(hash_, d);
        hash_ = nullptr;
        return FileInfo{name_, bytes_, hex(d, sizeof d)};
    }

private:
    OutFile(int fd, gnutls_hash_hd_t h, fs::path path, std::string name)
        : fd_(fd), hash_(h), path_(std::move(path)), name_(std::move(name)) {}
    Status flush() {
        Status s = write_all(fd_, buf_, path_.string());
        buf_.clear();
        return s;
    }
    int fd_;
    gnutls_hash_hd_t hash_;
    fs::path path_;
    std::string name_;
    std::string buf_;
    uint64_t bytes_ = 0;
};

// Appends to a file (made mode 0600 when new).
Status append_file(const fs::path& path, std::string_view a, std::string_view b) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return Status::error("io", errno_text("cannot open " + path.string()));
    Status s = write_all(fd, a, path.string());
    if (s) s = write_all(fd, b, path.string());
    ::close(fd);
    return s;
}

Status make_dir(const fs::path& p) {
    if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST)
        return Status::error("io", errno_text("cannot create " + p.string()));
    return Status::ok();
}

// One output format.
class Sink {
public:
    virtual ~Sink() = default;
    // `stanza`: the stored stanza parsed, for a sink whose needs_tree();
    // else nullptr (the others need only m, whose body was read straight
    // from the stored text, which is much faster).
    virtual Status add(const ef::Message& m, const xml::Element* stanza) = 0;
    virtual bool needs_tree() const { return false; }
    // Completes the format's files and appends them to files.
    virtual Status finish(std::vector<FileInfo>& files) = 0;
};

// A format of one file written front to back.
class FileSink : public Sink {
public:
    explicit FileSink(std::unique_ptr<OutFile> f) : f_(std::move(f)) {}
    Status finish(std::vector<FileInfo>& files) override {
        if (Status s = end(); !s) return s;
        auto i = f_->finish();
        if (!i) return i.status();
        files.push_back(*i);
        return Status::ok();
    }

protected:
    // What the file ends with.
    virtual Status end() { return Status::ok(); }
    std::unique_ptr<OutFile> f_;
};

class JsonlSink final : public FileSink {
public:
    using FileSink::FileSink;
    Status add(const ef::Message& m, const xml::Element*) override { return f_->write(ef::jsonl_line(m)); }
};

class CsvSink final : public FileSink {
public:
    using FileSink::FileSink;
    Status add(const ef::Message& m, const xml::Element*) override {
        if (Status s = start(); !s) return s;
        return f_->write(ef::csv_row(m));
    }

private:
    Status end() override { return start(); }  // a header row even with no message
    Status start() {
        if (header_) return Status::ok();
        header_ = true;
        return f_->write(ef::csv_header());
    }
    bool header_ = false;
};

class HtmlSink final : public FileSink {
public:
    HtmlSink(std::unique_ptr<OutFile> f, std::string title, std::string scope_line)
        : FileSink(std::move(f)), title_(std::move(title)), scope_line_(std::move(scope_line)) {}
    Status add(const ef::Message& m, const xml::Element*) override {
        if (Status s = start(); !s) return s;
        const std::string day = ef::day_of(m.time_ms);
        if (day != day_) {
            day_ = day;
            if (Status s = f_->write(ef::html_day(day)); !s) return s;
        }
        ++count_;
        return f_->write(ef::html_row(m));
    }

private:
    Status end() override {
        if (Status s = start(); !s) return s;
        return f_->write(ef::html_tail(count_));
    }
    Status start() {
        if (started_) return Status::ok();
        started_ = true;
        return f_->write(ef::html_head(title_, scope_line_));
    }
    std::string title_, scope_line_, day_;
    bool started_ = false;
    uint64_t count_ = 0;
};

// One file per conversation-day. Messages come in time order, so a day's
// files are complete when a later day's first message comes: they are
// written then. A busy day is written out in parts (appended; the headers
// only once) past kSpillBytes.
class EmlSink final : public Sink {
public:
    EmlSink(fs::path dir, std::string case_id) : dir_(std::move(dir)), case_(std::move(case_id)) {}
    Status add(const ef::Message& m, const xml::Element*) override {
        const std::string day = ef::day_of(m.time_ms);
        if (day != day_) {
            if (Status s = write_out(true); !s) return s;
            day_ = day;
        }
        const auto conv = ef::conversation_of(m);
        Conversation& c = today_[conv];
        if (c.name.empty()) {
            c.name = "eml/" + ef::eml_name(day, conv);
            c.head = ef::eml_head(m, case_);
        }
        std::string text = ef::eml_text(m);
        buffered_ += text.size();
        c.text += text;
        if (buffered_ > kSpillBytes) return write_out(false);
        return Status::ok();
    }
    Status finish(std::vector<FileInfo>& files) override {
        if (Status s = write_out(true); !s) return s;
        for (const std::string& name : names_) {
            auto i = digest_file(dir_ / name, name);
            if (!i) return i.status();
            files.push_back(*i);
        }
        // The files, their directories and the names in them, all at once.
        if (!names_.empty())
            if (Status s = sync_path(dir_ / "eml", true); !s) return s;
        return Status::ok();
    }
    uint64_t conversation_days() const { return names_.size(); }

private:
    struct Conversation {
        std::string name, head, text;
        bool written = false;
    };
    // Writes what is buffered; `close` ends the day (its files forgotten;
    // finish() syncs them).
    Status write_out(bool close) {
        for (auto& [conv, c] : today_) {
            const fs::path path = dir_ / c.name;
            if (!c.text.empty()) {
                if (!made_eml_) {
                    if (Status s = make_dir(dir_ / "eml"); !s) return s;
                    made_eml_ = true;
                }
                if (Status s = make_dir(path.parent_path()); !s) return s;
                if (Status s = append_file(path, c.written ? std::string_view() : std::string_view(c.head),
                                           ef::quoted_printable(c.text));
                    !s)
                    return s;
                if (!c.written) names_.push_back(c.name);
                c.written = true;
                c.text.clear();
            }
        }
        buffered_ = 0;
        if (close) today_.clear();
        return Status::ok();
    }
    fs::path dir_;
    std::string case_, day_;
    std::map<std::pair<std::string, std::string>, Conversation> today_;
    std::vector<std::string> names_;
    size_t buffered_ = 0;
    bool made_eml_ = false;
};

// XEP-0227: every message in the archive of each owner it belongs to
// (with --user: that user's only), grouped by host and user. Each user's
// results are held until kSpillBytes, then appended to a part file in
// DIR/.parts, and the file is put together at the end.
class XmlSink final : public Sink {
public:
    XmlSink(fs::path dir, std::unique_ptr<OutFile> f, std::string only_owner)
        : dir_(std::move(dir)), f_(std::move(f)), only_(std::move(only_owner)) {}
    bool needs_tree() const override { return true; }
    Status add(const ef::Message& m, const xml::Element* stanza) override {
        const std::string result = ef::xml_result(m, *stanza);
        auto put = [&](const std::string& owner) -> Status {
            Part& p = parts_[split(owner)];
            p.text += result;
            buffered_ += result.size();
            return Status::ok();
        };
        if (!only_.empty()) {
            put(only_);
        } else if (m.views.empty()) {
            // Kept by compliance mode alone (in no one's archive): under its sender.
            const size_t slash = m.from.find('/');
            put(m.from.substr(0, slash));
        } else {
            std::set<std::string> owners;
            for (const auto& v : m.views) owners.insert(v.first);
            for (const std::string& o : owners) put(o);
        }
        if (buffered_ > kSpillBytes) return spill();
        return Status::ok();
    }
    Status finish(std::vector<FileInfo>& files) override {
        if (Status s = f_->write(ef::xml_head()); !s) return s;
        std::string host;
        bool open = false;
        std::string buf(kWriteBuffer, '\0');
        for (auto& [key, p] : parts_) {
            if (!open || key.first != host) {
                if (open)
                    if (Status s = f_->write(ef::xml_host_close()); !s) return s;
                host = key.first;
                open = true;
                if (Status s = f_->write(ef::xml_host_open(host)); !s) return s;
            }
            if (Status s = f_->write(ef::xml_user_open(key.second)); !s) return s;
            if (p.spilled) {
                const fs::path path = dir_ / ".parts" / std::to_string(p.index);
                const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
                if (fd < 0) return Status::error("io", errno_text("cannot open " + path.string()));
                Status s = Status::ok();
                for (;;) {
                    const ssize_t n = ::read(fd, buf.data(), buf.size());
                    if (n < 0 && errno == EINTR) continue;
                    if (n < 0) s = Status::error("io", errno_text("cannot read " + path.string()));
                    if (n <= 0) break;
                    if (s = f_->write(std::string_view(buf.data(), static_cast<size_t>(n))); !s) break;
                }
                ::close(fd);
                if (!s) return s;
            }
            if (Status s = f_->write(p.text); !s) return s;
            if (Status s = f_->write(ef::xml_user_close()); !s) return s;
        }
        if (open)
            if (Status s = f_->write(ef::xml_host_close()); !s) return s;
        if (Status s = f_->write(ef::xml_tail()); !s) return s;
        auto i = f_->finish();
        if (!i) return i.status();
        files.push_back(*i);
        std::error_code ec;
        fs::remove_all(dir_ / ".parts", ec);
        if (ec) return Status::error("io", "cannot remove " + (dir_ / ".parts").string() + ": " + ec.message());
        return Status::ok();
    }

private:
    struct Part {
        std::string text;
        bool spilled = false;
        size_t index = 0;
    };
    static std::pair<std::string, std::string> split(const std::string& bare) {
        const size_t at = bare.find('@');
        if (at == std::string::npos) return {bare, ""};
        return {bare.substr(at + 1), bare.substr(0, at)};
    }
    Status spill() {
        if (!made_parts_) {
            if (Status s = make_dir(dir_ / ".parts"); !s) return s;
            made_parts_ = true;
        }
        for (auto& [key, p] : parts_) {
            if (p.text.empty()) continue;
            if (!p.spilled) {
                p.spilled = true;
                p.index = next_index_++;
            }
            if (Status s = append_file(dir_ / ".parts" / std::to_string(p.index), p.text, {}); !s) return s;
            p.text.clear();
            p.text.shrink_to_fit();
        }
        buffered_ = 0;
        return Status::ok();
    }
    fs::path dir_;
    std::unique_ptr<OutFile> f_;
    std::string only_;
    std::map<std::pair<std::string, std::string>, Part> parts_;  // (host, node)
    size_t buffered_ = 0, next_index_ = 0;
    bool made_parts_ = false;
};

// Progress on standard error: in place on a terminal, lines otherwise.
class Progress {
public:
    explicit Progress(std::ostream& err) : err_(err), tty_(::isatty(STDERR_FILENO) == 1) {}
    void tick(uint64_t count) {
        if ((count & 1023) != 0) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000))) return;
        last_ = now;
        if (tty_)
            err_ << "\r" << line(count) << std::flush;
        else
            err_ << line(count) << "\n" << std::flush;
    }
    void done(uint64_t count) {
        if (tty_) err_ << "\r\x1b[K";
        err_ << line(count) << ", done\n" << std::flush;
    }
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    std::string line(uint64_t count) const {
        const double s = seconds();
        return fmt::format("exported {} message{} in {:.1f} s ({:.0f}/s)", count, count == 1 ? "" : "s", s,
                           s > 0 ? static_cast<double>(count) / s : 0.0);
    }
    std::ostream& err_;
    bool tty_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};



std::string time_option(const Args& a, const char* name, std::optional<uint64_t>& slot, std::string& error) {
    if (const std::string* t = a.get(name)) {
        slot = archive_cli::parse_time(*t);
        if (!slot)
            error = fmt::format("{} takes an ISO 8601 time such as 2026-12-03T10:00:00Z or 2026-12-03, not '{}'",
                                name, *t);
        return *t;
    }
    return {};
}

}  // namespace

int archive_export(const std::string& config_path, const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err) {
    Args a(args, 1, {"--user", "--with", "--start", "--end", "--words", "--case", "--format", "--out"}, {"--all"});
    if (!a.error.empty()) return usage(err, a.error);
    if (!a.positional.empty() || a.json) return usage(err, "archive export takes options only");
    const std::string* out_dir = a.get("--out");
    if (!out_dir || out_dir->empty()) return usage(err, "archive export needs --out DIR");
    const bool all = a.flag("--all");
    const std::string* user = a.get("--user");
    const std::string* words_text = a.get("--words");
    if (all && user) return usage(err, "--all and --user exclude each other");
    if (!all && !user && !words_text) return usage(err, "archive export needs --user JID, --words TEXT or --all");

    archive::SearchQuery q;
    if (user) {
        auto owner = archive_access::account(*user, "--user");
        if (!owner) return fail(err, owner.status(), kUsage);
        q.owner = *owner;
    }
    if (const std::string* w = a.get("--with")) {
        if (!user) return usage(err, "--with needs --user");
        auto peer = xmpp::Jid::parse(*w);
        if (!peer) return fail(err, Status::error("invalid", "--with takes a JID, not '" + *w + "'"), kUsage);
        q.peer = peer->bare_str();
    }
    if (words_text) {
        q.words = archive::words_of(*words_text);
        if (q.words.empty())
            return usage(err, "--words has no word to look for (words are letters and digits, 2 or more)");
    }
    std::optional<uint64_t> start, end;
    std::string time_error;
    const std::string start_text = time_option(a, "--start", start, time_error);
    const std::string end_text = time_option(a, "--end", end, time_error);
    if (!time_error.empty()) return fail(err, Status::error("invalid", time_error), kUsage);
    if (start && end && *start > *end) return fail(err, Status::error("invalid", "--start is after --end"), kUsage);
    if (start && *start > 0) q.after = archive::first_id_at(*start) - 1;
    if (end) q.before = archive::first_id_at(*end + 1);

    std::set<std::string> formats;
    if (const std::string* f = a.get("--format")) {
        size_t pos = 0;
        while (pos <= f->size()) {
            size_t comma = f->find(',', pos);
            if (comma == std::string::npos) comma = f->size();
            const std::string one = f->substr(pos, comma - pos);
            bool known = false;
            for (const char* k : kFormats) known = known || one == k;
            if (!known) return usage(err, "unknown export format '" + one + "' (jsonl, csv, eml, xml, html)");
            formats.insert(one);
            pos = comma + 1;
        }
    } else {
        formats.insert(std::begin(kFormats), std::end(kFormats));
    }
    const std::string case_id = a.get("--case") ? *a.get("--case") : std::string();

    std::string scope;
    if (all) scope = "all";
    if (user) scope += "user " + q.owner;
    if (!q.peer.empty()) scope += " with " + q.peer;
    if (words_text) scope += std::string(scope.empty() ? "" : " ") + "words \"" + *words_text + "\"";
    if (start) scope += " start " + start_text;
    if (end) scope += " end " + end_text;
    if (!case_id.empty()) scope += " case " + case_id;

    auto arch = archive_access::open_archive(config_path);
    if (!arch) return fail(err, arch.status(), kUsage);
    if (Status s = archive_access::check_key(*arch); !s) return fail(err, s, kUsage);

    // The directory: new, or empty; only its owner may read it (it holds
    // what the archive encrypts).
    const fs::path dir(*out_dir);
    std::error_code ec;
    if (fs::exists(dir, ec)) {
        if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec))
            return fail(err, Status::error("exists", *out_dir + " exists and is not an empty directory"), kUsage);
        if (::chmod(dir.c_str(), 0700) != 0) return fail(err, Status::error("io", errno_text(*out_dir)), kFailure);
    } else if (::mkdir(dir.c_str(), 0700) != 0) {
        return fail(err, Status::error("io", errno_text("cannot create " + *out_dir)), kFailure);
    }

    const std::string who = who_runs();
    const uint64_t created_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    std::vector<std::unique_ptr<Sink>> sinks;
    EmlSink* eml = nullptr;
    auto open_file = [&](const char* name) { return OutFile::create(dir, name); };
    auto failed = [&](const Status& s) {
        archive_access::record_use(config_path, "export", scope, "failed: " + s.message(), err);
        return fail(err, s, kFailure);
    };
    for (const std::string& f : formats) {
        if (f == "eml") {
            auto s = std::make_unique<EmlSink>(dir, case_id);
            eml = s.get();
            sinks.push_back(std::move(s));
            continue;
        }
        const char* name = f == "jsonl" ? "messages.jsonl"
                           : f == "csv" ? "messages.csv"
                           : f == "xml" ? "messages.xml"
                                        : "transcript.html";
        auto file = open_file(name);
        if (!file) return failed(file.status());
        if (f == "jsonl") sinks.push_back(std::make_unique<JsonlSink>(std::move(*file)));
        if (f == "csv") sinks.push_back(std::make_unique<CsvSink>(std::move(*file)));
        if (f == "xml") sinks.push_back(std::make_unique<XmlSink>(dir, std::move(*file), q.owner));
        if (f == "html")
            sinks.push_back(std::make_unique<HtmlSink>(
                std::move(*file), "Archive export: " + scope,
                fmt::format("Exported {} by {} from {}{}.", ef::iso_time(created_ms), who, arch->dir,
                            case_id.empty() ? std::string() : " for case " + case_id)));
    }

    auto txn = arch->env->begin_read();
    if (!txn) return failed(txn.status());
    Progress progress(err);
    uint64_t count = 0, first_id = 0, last_id = 0;
    Status problem = Status::ok();
    const bool need_tree = std::any_of(sinks.begin(), sinks.end(), [](const auto& s) { return s->needs_tree(); });
    std::optional<xml::Element> stanza;
    auto take = [&](archive::Record&& r) {
        std::optional<std::optional<std::string>> body;
        stanza.reset();
        if (!need_tree) body = ef::stored_body(r.entry.stanza);
        if (!body) {
            // A stanza the quick reading does not vouch for is parsed.
            auto parsed = ef::parse_stanza(r.entry.stanza);
            if (!parsed) {
                problem = Status::error("corrupt", "record " + archive::stanza_id_text(r.id) + ": " +
                                                       parsed.status().message() + " (run parleyctl archive verify)");
                return false;
            }
            stanza = std::move(parsed).value();
            body = ef::body_of(*stanza);
        }
        ef::Message m;
        m.id = r.id;
        m.time_ms = archive::id_time_ms(r.id);
        m.from = std::move(r.entry.from);
        m.to = std::move(r.entry.to);
        m.type = std::move(r.entry.type);
        m.origin = archive::to_string(r.entry.origin);
        m.outcome = std::move(r.entry.outcome);
        for (auto& v : r.entry.views) m.views.emplace_back(std::move(v.owner), std::move(v.peer));
        m.body = std::move(*body);
        m.stanza = std::move(r.entry.stanza);
        for (auto& s : sinks) {
            problem = s->add(m, stanza ? &*stanza : nullptr);
            if (!problem) return false;
        }
        if (!first_id) first_id = m.id;
        last_id = m.id;
        progress.tick(++count);
        return true;
    };
    Status walked = all && q.words.empty()
                        ? arch->journal->records(txn->handle(), arch->db, q.after, q.before, take)
                        : archive::search_each(*arch->journal, txn->handle(), arch->db, q, take);
    if (!walked) return failed(walked);
    if (!problem) return failed(problem);
    std::vector<FileInfo> files;
    for (auto& s : sinks)
        if (Status st = s->finish(files); !st) return failed(st);
    progress.done(count);
    const double export_seconds = progress.seconds();

    // The chain of the days the exported records are in (every record of
    // those days, and the views of --user, or every view): what proves the
    // export, without reading the rest of the archive.
    archive::VerifyOptions vo;
    vo.owner = q.owner;
    archive::Report empty_report;
    Result<archive::Report> report = empty_report;
    std::string checked_days = "null";
    if (count) {
        vo.first_segment = archive::segment_of(first_id);
        vo.last_segment = archive::segment_of(last_id);
        checked_days = fmt::format("[{}, {}]", json_string(ef::day_of(archive::id_time_ms(first_id))),
                                   json_string(ef::day_of(archive::id_time_ms(last_id))));
        err << "checking the archive's chain from " << ef::day_of(archive::id_time_ms(first_id)) << " to "
            << ef::day_of(archive::id_time_ms(last_id))
            << (q.owner.empty() ? ", with every view" : ", with the views of " + q.owner) << "\n";
        report = archive::verify(*arch->journal, txn->handle(), arch->db, vo);
        if (!report) return failed(report.status());
    }

    // The manifest, last: its presence says the export is complete.
    std::string m = "{\n";
    m += fmt::format("  \"format\": {},\n  \"created\": {},\n  \"by\": {},\n  \"case\": {},\n",
                     json_string(kManifestFormat), json_string(ef::iso_time(created_ms)), json_string(who),
                     case_id.empty() ? "null" : json_string(case_id));
    std::string words_json = "null";
    if (words_text) {
        words_json = "[";
        for (size_t i = 0; i < q.words.size(); ++i) words_json += (i ? "," : "") + json_string(q.words[i]);
        words_json += "]";
    }
    m += fmt::format(
        "  \"scope\": {{\"all\": {}, \"user\": {}, \"with\": {}, \"start\": {}, \"end\": {}, \"words\": {}}},\n",
        all ? "true" : "false", q.owner.empty() ? "null" : json_string(q.owner),
        q.peer.empty() ? "null" : json_string(q.peer), start ? json_string(ef::iso_time(*start)) : "null",
        end ? json_string(ef::iso_time(*end)) : "null", words_json);
    std::string formats_json;
    for (const std::string& f : formats) formats_json += (formats_json.empty() ? "" : ", ") + json_string(f);
    m += "  \"formats\": [" + formats_json + "],\n";
    m += fmt::format("  \"archive\": {{\"dir\": {}, \"key_id\": {}}},\n", json_string(arch->dir),
                     json_string(arch->key_id));
    m += fmt::format(
        "  \"counts\": {{\"messages\": {}, \"conversation_days\": {}, \"first_id\": {}, \"last_id\": {}}},\n", count,
        eml ? std::to_string(eml->conversation_days()) : std::string("null"),
        first_id ? json_string(archive::stanza_id_text(first_id)) : "null",
        last_id ? json_string(archive::stanza_id_text(last_id)) : "null");
    std::string findings;
    for (const auto& f : report->findings)
        findings += (findings.empty() ? "" : ", ") +
                    fmt::format("{{\"kind\": {}, \"text\": {}}}", json_string(archive::to_string(f.kind)),
                                json_string(archive_cli::ids_as_stanza_ids(f.text)));
    m += fmt::format(
        "  \"chain\": {{\"ok\": {}, \"days\": {}, \"views_of\": {}, \"records\": {}, \"segments\": {}, "
        "\"purged\": {}, \"findings\": [{}]}},\n",
        report->ok() ? "true" : "false", checked_days, q.owner.empty() ? json_string("all") : json_string(q.owner),
        report->records, report->segments, report->purged, findings);
    m += "  \"files\": [";
    for (size_t i = 0; i < files.size(); ++i)
        m += fmt::format("{}\n    {{\"name\": {}, \"bytes\": {}, \"sha256\": {}}}", i ? "," : "",
                         json_string(files[i].name), files[i].bytes, json_string(files[i].sha256));
    m += files.empty() ? "]\n}\n" : "\n  ]\n}\n";
    auto mf = OutFile::create(dir, kManifest);
    if (!mf) return failed(mf.status());
    if (Status s = (*mf)->write(m); !s) return failed(s);
    auto minfo = (*mf)->finish();
    if (!minfo) return failed(minfo.status());
    if (Status s = sync_path(dir); !s) return failed(s);

    const std::string result =
        fmt::format("{}: {} message{}, {} file{}, manifest sha256 {}", report->ok() ? "ok" : "chain problems", count,
                    count == 1 ? "" : "s", files.size() + 1, files.size() == 0 ? "" : "s", minfo->sha256);
    archive_access::record_use(config_path, "export", scope, result, err);
    out << fmt::format("exported {} message{} ({}) to {} in {:.1f} s; {} file{} and {}\n", count,
                       count == 1 ? "" : "s", scope, *out_dir, export_seconds, files.size(),
                       files.size() == 1 ? "" : "s", kManifest);
    out << "manifest sha256 " << minfo->sha256 << "\n";
    if (!report->ok()) {
        out << fmt::format(
            "the archive's chain check found {} problem{} (in the manifest): run parleyctl archive verify\n",
            report->findings.size(), report->findings.size() == 1 ? "" : "s");
        return kFailure;
    }
    out << "the archive's chain verified (" << report->records << " records of the days exported)\n";
    return kOk;
}

// verify-export DIR

namespace {

// Counts RFC 4180 records (a quoted field may hold line breaks) of text
// given in pieces; bad once the text is not CSV as the export writes it.
class CsvCounter {
public:
    void feed(std::string_view piece) {
        for (char c : piece) {
            if (bad_) return;
            if (cr_) {
                cr_ = false;
                if (c != '\n') bad_ = true;
                ++records_;
                at_start_ = true;
                continue;
            }
            if (quoted_) {
                if (quote_) {
                    quote_ = false;
                    if (c == '"') continue;  // an escaped quote
                    quoted_ = false;         // the field ended: c is what follows it
                } else {
                    if (c == '"') quote_ = true;
                    continue;
                }
            }
            if (c == '"' && at_field_start_) {
                quoted_ = true;
                at_start_ = at_field_start_ = false;
            } else if (c == '\r') {
                cr_ = true;
                at_field_start_ = true;
            } else if (c == ',') {
                at_start_ = false;
                at_field_start_ = true;
            } else {
                bad_ = true;  // every field is quoted
            }
        }
    }
    // The count, or nullopt when the text was not CSV or ended mid-record.
    std::optional<uint64_t> records() const {
        if (bad_ || cr_ || (quoted_ && !quote_) || !at_start_) return std::nullopt;
        return records_;
    }

private:
    uint64_t records_ = 0;
    bool quoted_ = false, quote_ = false, cr_ = false, at_start_ = true, at_field_start_ = true, bad_ = false;
};

// A JSON Lines line longer than this is not one the export wrote (a stanza
// is at most max_stanza_bytes, escaped at most 6 times over).
constexpr size_t kMaxJsonLine = 64u << 20;

Result<std::string> read_small(const fs::path& p, size_t max) {
    std::string out;
    bool too_big = false;
    Status s = read_blocks(p, [&](std::string_view b) {
        if (too_big) return;
        out.append(b);
        too_big = out.size() > max;
    });
    if (!s) return s;
    if (too_big) return Status::error("too-big", p.string() + " is larger than " + std::to_string(max) + " bytes");
    return out;
}

// A manifest's file name stays inside the export.
bool safe_name(const std::string& name) {
    if (name.empty() || name.front() == '/' || name.find('\0') != std::string::npos) return false;
    for (const auto& part : fs::path(name))
        if (part == ".." || part == ".") return false;
    return true;
}

}  // namespace

int archive_verify_export(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    Args a(args, 1, {});
    if (!a.error.empty()) return usage(err, a.error);
    if (a.positional.size() != 1) return usage(err, "archive verify-export takes one DIR");
    const fs::path dir(a.positional[0]);
    auto text = read_small(dir / kManifest, kMaxManifestBytes);
    if (!text) return fail(err, Status::error("not-found", "no readable manifest: " + text.status().message()), kUsage);
    auto manifest = JsonValue::parse(*text);
    if (!manifest || !manifest->is(JsonValue::Kind::object) || manifest->str("format") != kManifestFormat)
        return fail(err,
                    Status::error("invalid", (dir / kManifest).string() + " is not a manifest of " + kManifestFormat),
                    kUsage);
    std::vector<std::string> problems;
    std::set<std::string> listed;
    uint64_t files = 0;
    const JsonValue* list = manifest->get("files");
    if (!list || !list->is(JsonValue::Kind::array)) problems.push_back("the manifest lists no files");
    const JsonValue* counts = manifest->get("counts");
    const JsonValue* counted = counts ? counts->get("messages") : nullptr;
    const uint64_t messages =
        counted && counted->is(JsonValue::Kind::number) ? static_cast<uint64_t>(counted->number()) : 0;
    if (!counted) problems.push_back("the manifest has no message count");
    for (const JsonValue& f : list ? list->items() : std::vector<JsonValue>()) {
        const std::string name = f.str("name"), sha = f.str("sha256");
        const JsonValue* bytes = f.get("bytes");
        if (!safe_name(name)) {
            problems.push_back("the manifest names a file outside the export: '" + name + "'");
            continue;
        }
        listed.insert(name);
        ++files;
        auto info = digest_file(dir / name, name);
        if (!info) {
            problems.push_back(name + " is missing or unreadable (" + info.status().message() + ")");
            continue;
        }
        if (!bytes || bytes->text() != std::to_string(info->bytes))
            problems.push_back(fmt::format("{} has {} bytes, the manifest says {}", name, info->bytes,
                                           bytes ? bytes->text() : "nothing"));
        if (info->sha256 != sha) problems.push_back(name + " was changed: its SHA-256 is not the manifest's");
        if (name == "messages.csv") {
            CsvCounter csv;
            if (Status st = read_blocks(dir / name, [&](std::string_view b) { csv.feed(b); }); !st) {
                problems.push_back(st.message());
                continue;
            }
            const auto records = csv.records();
            if (!records)
                problems.push_back("messages.csv is not CSV as the export writes it");
            else if (*records != messages + 1)
                problems.push_back(fmt::format("messages.csv has {} rows, the manifest counts {} messages",
                                               *records ? *records - 1 : 0, messages));
        }
        if (name == "messages.jsonl") {
            // Line by line, in blocks: an export may be far larger than memory.
            uint64_t records = 0;
            std::string line, last, wrong;
            auto one = [&] {
                auto v = JsonValue::parse(line);
                ++records;
                const std::string id = v ? v->str("id") : std::string();
                if (!v || id.size() != 16 || id <= last)
                    wrong = fmt::format("messages.jsonl line {} is not a message in id order", records);
                last = id;
                line.clear();
            };
            Status st = read_blocks(dir / name, [&](std::string_view b) {
                while (!b.empty() && wrong.empty()) {
                    const size_t nl = b.find('\n');
                    line.append(b.substr(0, nl));
                    if (line.size() > kMaxJsonLine) {
                        wrong = fmt::format("messages.jsonl line {} is longer than any the export writes", records + 1);
                        return;
                    }
                    if (nl == std::string_view::npos) return;
                    b.remove_prefix(nl + 1);
                    one();
                }
            });
            if (!st) {
                problems.push_back(st.message());
                continue;
            }
            if (wrong.empty() && !line.empty()) wrong = "messages.jsonl does not end with a line break";
            if (!wrong.empty())
                problems.push_back(wrong);
            else if (records != messages)
                problems.push_back(
                    fmt::format("messages.jsonl has {} lines, the manifest counts {} messages", records, messages));
        }
    }
    // Nothing else may be in the export.
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        const std::string rel = fs::relative(it->path(), dir, ec).generic_string();
        if (it->is_directory(ec)) continue;
        if (rel == kManifest) continue;
        if (!it->is_regular_file(ec))
            problems.push_back(rel + " is not a regular file");
        else if (!listed.count(rel))
            problems.push_back(rel + " is not in the manifest");
    }
    if (ec) problems.push_back("cannot list " + dir.string() + ": " + ec.message());

    auto minfo = digest_file(dir / kManifest, kManifest);
    const std::string msha = minfo ? minfo->sha256 : std::string("?");
    const JsonValue* chain = manifest->get("chain");
    const bool chain_ok = chain && chain->flag("ok");
    if (a.json) {
        std::string j = fmt::format(
            "{{\"ok\":{},\"files\":{},\"messages\":{},\"case\":{},\"chain_ok\":{},\"manifest_sha256\":{},"
            "\"problems\":[",
            problems.empty() ? "true" : "false", files, messages,
            manifest->get("case") && manifest->get("case")->is(JsonValue::Kind::string)
                ? json_string(manifest->str("case"))
                : "null",
            chain_ok ? "true" : "false", json_string(msha));
        for (size_t i = 0; i < problems.size(); ++i) j += (i ? "," : "") + json_string(problems[i]);
        out << j << "]}\n";
    } else {
        for (const std::string& p : problems) out << "PROBLEM  " << p << "\n";
        if (problems.empty())
            out << fmt::format("ok: {} file{} and {} message{} as the manifest says{}\n", files, files == 1 ? "" : "s",
                               messages, messages == 1 ? "" : "s",
                               chain_ok ? "; the archive's chain verified when it was made"
                                        : "; NOTE: the archive's chain check found problems when it was made");
        else
            out << problems.size() << " problem" << (problems.size() == 1 ? "" : "s")
                << ": this export is not as it was made\n";
        out << "manifest sha256 " << msha
            << " (the export event in parleyctl archive audit names the same if this is the export made)\n";
    }
    return problems.empty() ? kOk : kFailure;
}

}  // namespace parley::ctl
