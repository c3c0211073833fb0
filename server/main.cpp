// parleyd: the Parley XMPP server.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "config/config.hpp"
#include "daemon/daemon.hpp"
#include "module/loader.hpp"

namespace {

void usage(std::ostream& out) {
    out << "usage: parleyd [--config FILE] [--check-config] [--version]\n"
           "  --config FILE    configuration file (default: $PARLEY_CONFIG or " PARLEY_SYSCONFDIR
           "/parley/parley.toml)\n"
           "  --check-config   load and check the configuration, its certificates and modules, then exit\n";
}

int check_config(const std::string& path) {
    auto cfg = parley::config::load(path);
    if (!cfg) {
        std::cerr << cfg.status().message() << "\n";
        return 1;
    }
    auto tls = parley::daemon::make_tls(cfg.value());
    if (!tls) {
        std::cerr << tls.status().message() << "\n";
        return 1;
    }
    auto modules = parley::module::load_all(cfg.value());
    if (!modules) {
        std::cerr << modules.status().message() << "\n";
        return 1;
    }
    std::cout << path << ": configuration OK\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    if (const char* env = std::getenv("PARLEY_CONFIG")) config_path = env;
    if (config_path.empty()) config_path = PARLEY_SYSCONFDIR "/parley/parley.toml";
    bool check = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (a.rfind("--config=", 0) == 0) {
            config_path = a.substr(9);
        } else if (a == "--check-config") {
            check = true;
        } else if (a == "--version") {
            std::cout << "parleyd " PACKAGE_VERSION "\n";
            return 0;
        } else if (a == "--help" || a == "-h") {
            usage(std::cout);
            return 0;
        } else {
            usage(std::cerr);
            return 2;
        }
    }
    if (check) return check_config(config_path);
    parley::daemon::Daemon daemon(config_path);
    return daemon.run();
}
