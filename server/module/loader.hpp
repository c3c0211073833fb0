// Module loader: finds mod_NAME.so in the module directory, dlopens it
// (RTLD_NOW | RTLD_LOCAL), checks the descriptor's ABI version and name,
// validates the module's config section against its schema and the module's
// own configure(), and orders modules so that dependencies start first.
//
// A LoadedModule is immutable once loaded and shared by all workers
// (shared_ptr<const LoadedModule>); the library is closed when the last
// reference goes, which is after every worker has stopped its instance.
// Any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "module/module_api.hpp"

namespace parley::module {

class LoadedModule {
public:
    ~LoadedModule();
    LoadedModule(const LoadedModule&) = delete;
    LoadedModule& operator=(const LoadedModule&) = delete;

    const std::string& name() const { return name_; }
    const std::string& path() const { return path_; }
    const Descriptor& descriptor() const { return *descriptor_; }

    // A fresh instance (one per worker); deleted with the module's destroy().
    std::unique_ptr<Module, void (*)(Module*)> create_instance() const;

    static Result<std::shared_ptr<const LoadedModule>> load(const std::string& dir, const std::string& name);

private:
    LoadedModule() = default;
    std::string name_;
    std::string path_;
    void* handle_ = nullptr;
    const Descriptor* descriptor_ = nullptr;
};

// Checks a section against the module's schema, then asks a throwaway
// instance to configure() with it (defaults filled in). Reports every error
// found.
Status validate_module_config(const LoadedModule& m, const config::Section& section);

// Loads and validates every module the config names, in dependency order.
Result<std::vector<std::shared_ptr<const LoadedModule>>> load_all(const config::Config& cfg);

// The config with every loaded module's section (an empty one when the
// file has none) filled in with its schema's defaults
// (config::with_defaults): what the modules are handed. Call it on a config
// whose module sections validated, with the modules that will run it.
std::shared_ptr<const config::Config> with_option_defaults(
    const config::Config& cfg, const std::vector<std::shared_ptr<const LoadedModule>>& modules);

// The section for a module (an empty one if the config has none).
config::Section section_for(const config::Config& cfg, const std::string& name);

}  // namespace parley::module
