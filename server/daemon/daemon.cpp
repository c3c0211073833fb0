#include "daemon/daemon.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "log/log.hpp"
#include "module/services.hpp"
#include "s2s/dialback.hpp"
#include "store/writer.hpp"

namespace parley::daemon {

net::ConnectionLimits connection_limits(const config::Config& cfg) {
    net::ConnectionLimits l;
    l.max_unauthenticated = cfg.limits.max_unauthenticated_connections;
    l.max_per_address = cfg.limits.max_connections_per_address;
    l.max_unauthenticated_per_address = cfg.limits.max_unauthenticated_connections_per_address;
    return l;
}

Result<std::shared_ptr<const net::TlsContext>> make_tls(const config::Config& cfg) {
    std::vector<net::TlsCertificate> certs;
    for (const auto& h : cfg.hosts) certs.push_back(net::TlsCertificate{h.domain, h.certificate, h.key});
    // With federation on, peers' certificates are checked (SASL EXTERNAL).
    std::optional<std::string> trust;
    if (cfg.s2s.enabled) trust = cfg.s2s.ca_file;
    return net::TlsContext::create(certs, trust);
}

Result<std::shared_ptr<const daemon::Shared::S2sClients>> make_s2s_clients(const config::Config& cfg) {
    auto out = std::make_shared<daemon::Shared::S2sClients>();
    if (!cfg.s2s.enabled) return std::shared_ptr<const daemon::Shared::S2sClients>(std::move(out));
    for (const auto& h : cfg.hosts) {
        net::TlsClientOptions o;
        o.ca_file = cfg.s2s.ca_file;
        o.client = net::TlsCertificate{h.domain, h.certificate, h.key};
        auto ctx = net::TlsContext::create_client(o);
        if (!ctx) return Status::error("tls", "s2s for " + h.domain + ": " + ctx.status().message());
        (*out)[h.domain] = ctx.value();
    }
    return std::shared_ptr<const daemon::Shared::S2sClients>(std::move(out));
}

namespace {

Status apply_logging(const config::Config& cfg) {
    log::Level level;
    if (!log::parse_level(cfg.log.level, level)) return Status::error("config", "bad log level " + cfg.log.level);
    std::string err;
    if (!log::set_file(cfg.log.file, err)) return Status::error("log", err);
    log::set_level(level);
    return Status::ok();
}

}  // namespace

Daemon::~Daemon() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Daemon::lock_data_dir(const std::string& dir) {
    // Two daemons on one data directory would share its stores and steal
    // each other's control socket (and, with SO_REUSEPORT, each other's
    // connections): the second one refuses to start.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return Status::error("data_dir", fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
    const std::string path = dir + "/parleyd.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::error("data_dir", fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
        ::close(fd);
        std::string who = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("?");
        while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
        return Status::error("data_dir", fmt::format("another parleyd (pid {}) is running with data_dir {}", who, dir));
    }
    std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0)
        log::warn("parleyd", "cannot write the pid to {}", path);
    lock_fd_ = fd;
    return Status::ok();
}

Status Daemon::start() {
    auto cfg = config::load(config_path_);
    if (!cfg) return cfg.status();
    auto config = std::make_shared<const config::Config>(std::move(cfg.value()));
    Status s = apply_logging(*config);
    if (!s) return s;
    s = lock_data_dir(config->data_dir);
    if (!s) return s;

    auto tls = make_tls(*config);
    if (!tls) return tls.status();
    auto s2s_clients = make_s2s_clients(*config);
    if (!s2s_clients) return s2s_clients.status();
    auto env = store::Env::open(config->data_dir + "/state");
    if (!env) return env.status();
    env_ = std::move(env.value());
    auto accounts = store::AccountStore::open(*env_);
    if (!accounts) return accounts.status();
    accounts_ = std::move(accounts.value());
    s = sasl::init(accounts_.get(), config->sasl.mechanisms);
    if (!s) return s;
    sasl::set_scram_iterations(config->sasl.scram_iterations);
    auto modules = module::load_all(*config);
    if (!modules) return modules.status();
    modules_ = std::move(modules.value());
    config = module::with_option_defaults(*config, modules_);  // what the modules are handed

    // Process-wide services first: modules on every worker may use them from start().
    services_ = std::make_unique<module::ServiceSet>();
    s = services_->start(modules_, *config, config->workers);
    if (!s) return s;
    shared_.services = services_.get();

    registry_ = std::make_unique<sessions::LocalRegistry>();
    throttle_ = std::make_unique<sasl::LoginThrottle>(config->sasl.failure_delay_ms, config->sasl.failure_delay_max_ms);
    shared_.set_config(config);
    shared_.set_tls(tls.value());
    shared_.set_s2s_clients(s2s_clients.value());
    shared_.dialback_secret = s2s::make_dialback_secret();
    shared_.accounts = accounts_.get();
    shared_.registry = registry_.get();
    shared_.throttle = throttle_.get();
    shared_.limiter = std::make_shared<net::ConnectionLimiter>(connection_limits(*config));
    for (unsigned i = 0; i < config->workers; ++i) workers_.push_back(std::make_unique<loop::Worker>(i, shared_));
    for (auto& w : workers_) shared_.workers.push_back(w.get());
    for (auto& w : workers_) {
        s = w->start(modules_);
        if (!s) return s;
    }
    control_ = std::make_unique<control::ControlServer>(*this, &loop_);
    s = control_->listen(config->control_socket);
    if (!s) return s;
    log::info("parleyd", "Parley {} ready: {} workers, {} virtual host(s), modules: {}", PACKAGE_VERSION,
              workers_.size(), config->hosts.size(), fmt::format("{}", fmt::join(config->modules, ", ")));
    return Status::ok();
}

int Daemon::run() {
    // From here on a slow log (a full disk, a stopped pipe reader) costs
    // dropped lines, never a stalled worker.
    log::start_thread();
    uv_loop_init(&loop_);
    std::signal(SIGPIPE, SIG_IGN);
    uv_signal_init(&loop_, &sigterm_);
    uv_signal_init(&loop_, &sigint_);
    uv_signal_init(&loop_, &sighup_);
    sigterm_.data = sigint_.data = sighup_.data = this;
    uv_signal_start(&sigterm_, &Daemon::on_signal, SIGTERM);
    uv_signal_start(&sigint_, &Daemon::on_signal, SIGINT);
    uv_signal_start(&sighup_, &Daemon::on_signal, SIGHUP);

    Status s = start();
    int code = 0;
    if (!s) {
        // A config error lists one problem per line: one log line each
        // (a newline inside a log line would be escaped).
        std::string_view rest = s.message();
        while (!rest.empty()) {
            auto nl = rest.find('\n');
            log::error("parleyd", "cannot start: {}", rest.substr(0, nl));
            rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        }
        code = 1;
        request_shutdown();
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    for (auto& w : workers_) w->join();
    // Writes still queued commit now; their completions find the workers
    // gone (refused posts), but the executors they name must still exist.
    if (env_) env_->writer().stop();
    workers_.clear();
    // Every module instance has stopped: now the services they used.
    if (services_) services_->stop_all();
    shared_.services = nullptr;
    services_.reset();
    modules_.clear();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    sasl::shutdown();
    if (code == 0) log::info("parleyd", "stopped");
    log::stop_thread();  // writes every queued line before the process exits
    return code;
}

void Daemon::on_signal(uv_signal_t* h, int signum) {
    auto* d = static_cast<Daemon*>(h->data);
    if (signum == SIGHUP) {
        Status s = d->reload();
        if (!s) log::error("parleyd", "reload failed, the running config stays: {}", s.message());
        return;
    }
    log::info("parleyd", "signal {}: shutting down", signum);
    d->request_shutdown();
}

void Daemon::request_shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    for (auto& w : workers_) w->request_shutdown();
    if (control_) control_->close();
    for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_})
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
}

Status Daemon::reload() {
    if (shutting_down_) return Status::error("reload", "shutting down");
    log::info("parleyd", "reloading {}", config_path_);
    auto cfg = config::load(config_path_);
    if (!cfg) return cfg.status();
    auto old = shared_.config();
    const std::vector<std::string> restart = config::restart_only_changes(*old, cfg.value());
    // What a reload cannot change keeps its running value in the snapshot,
    // so that the snapshot says what runs (and the next reload still reports
    // the difference).
    cfg->workers = old->workers;
    cfg->data_dir = old->data_dir;
    cfg->control_socket = old->control_socket;
    cfg->c2s.address = old->c2s.address;
    cfg->c2s.starttls_port = old->c2s.starttls_port;
    cfg->c2s.direct_tls_port = old->c2s.direct_tls_port;
    cfg->s2s.enabled = old->s2s.enabled;
    cfg->s2s.address = old->s2s.address;
    cfg->s2s.port = old->s2s.port;
    cfg->s2s.direct_tls_port = old->s2s.direct_tls_port;
    cfg->s2s.dns_servers = old->s2s.dns_servers;
    cfg->s2s.dns_timeout_ms = old->s2s.dns_timeout_ms;
    cfg->s2s.dns_tries = old->s2s.dns_tries;
    auto config = std::make_shared<const config::Config>(std::move(cfg.value()));
    auto tls = make_tls(*config);
    if (!tls) return tls.status();
    auto s2s_clients = make_s2s_clients(*config);
    if (!s2s_clients) return s2s_clients.status();
    auto modules = module::load_all(*config);
    if (!modules) return modules.status();
    // A module loaded before keeps its instance (reload() is called on it).
    std::vector<std::shared_ptr<const module::LoadedModule>> next;
    for (auto& m : modules.value()) {
        auto it = std::find_if(modules_.begin(), modules_.end(), [&](const auto& o) { return o->name() == m->name(); });
        next.push_back(it != modules_.end() ? *it : m);
    }
    config = module::with_option_defaults(*config, next);  // the schemas of the modules that run
    Status s = apply_logging(*config);
    if (!s) return s;
    // Services of new modules start (and running ones reload) before any
    // worker's module may look them up; all or nothing with the workers.
    s = services_->prepare_reload(next, *config);
    if (!s) {
        Status back = apply_logging(*old);
        if (!back) log::error("parleyd", "cannot restore the old log settings: {}", back.message());
        return s;
    }
    // All workers take the new modules and module settings, or none does.
    std::vector<loop::Worker*> workers;
    for (auto& w : workers_) workers.push_back(w.get());
    s = loop::reload_workers(workers, config, next);
    if (s) services_->commit_reload();
    else services_->rollback_reload();
    if (!s) {
        Status back = apply_logging(*old);
        if (!back) log::error("parleyd", "cannot restore the old log settings: {}", back.message());
        return s;
    }
    throttle_->set_delays(config->sasl.failure_delay_ms, config->sasl.failure_delay_max_ms);
    shared_.limiter->set_limits(connection_limits(*config));
    sasl::set_scram_iterations(config->sasl.scram_iterations);
    // The mechanisms offered to streams that negotiate from now on.
    s = sasl::init(accounts_.get(), config->sasl.mechanisms);
    if (!s) log::error("parleyd", "SASL mechanisms not changed: {}", s.message());
    shared_.set_config(config);
    shared_.set_tls(tls.value());
    shared_.set_s2s_clients(s2s_clients.value());
    modules_ = next;
    std::string line = fmt::format("reloaded: modules {}", fmt::join(config->modules, ", "));
    if (!restart.empty()) line += fmt::format("; these changes need a restart: {}", fmt::join(restart, ", "));
    if (restart.empty()) log::info("parleyd", "{}", line);
    else log::warn("parleyd", "{}", line);
    return Status::ok();
}

}  // namespace parley::daemon
