#include "module/loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <exception>
#include <fmt/core.h>
#include <set>

namespace parley::module {

LoadedModule::~LoadedModule() {
    // Under AddressSanitizer, keep the library mapped so leak reports can
    // still name the module's frames.
#ifndef PARLEY_KEEP_MODULES_MAPPED
    if (handle_) dlclose(handle_);
#endif
}

std::unique_ptr<Module, void (*)(Module*)> LoadedModule::create_instance() const {
    return std::unique_ptr<Module, void (*)(Module*)>(descriptor_->create(), descriptor_->destroy);
}

Result<std::shared_ptr<const LoadedModule>> LoadedModule::load(const std::string& dir, const std::string& name) {
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
        return Status::error("module", fmt::format("module name '{}' is not [a-z0-9_]+", name));
    std::string path = dir + "/mod_" + name + ".so";
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* err = dlerror();
        return Status::error("module", fmt::format("cannot load module {}: {}", name, err ? err : "unknown error"));
    }
    using DescriptorFn = const Descriptor* (*)();
    auto fn = reinterpret_cast<DescriptorFn>(dlsym(handle, "parley_module_descriptor"));
    if (!fn) {
        dlclose(handle);
        return Status::error("module", fmt::format("{} is not a Parley module: no parley_module_descriptor symbol", path));
    }
    const Descriptor* d = fn();
    if (!d) {
        dlclose(handle);
        return Status::error("module", fmt::format("{}: the descriptor is null", path));
    }
    if (d->abi_version != kAbiVersion) {
        uint32_t theirs = d->abi_version;
        dlclose(handle);
        return Status::error("module", fmt::format("{} was built for module ABI version {}, but this parleyd has ABI "
                                                   "version {}: rebuild the module against this parleyd",
                                                   path, theirs, kAbiVersion));
    }
    if (!d->name || name != d->name || !d->create || !d->destroy) {
        dlclose(handle);
        return Status::error("module", fmt::format("{}: descriptor names module '{}', expected '{}'", path,
                                                   d->name ? d->name : "(null)", name));
    }
    auto m = std::shared_ptr<LoadedModule>(new LoadedModule());
    m->name_ = name;
    m->path_ = path;
    m->handle_ = handle;
    m->descriptor_ = d;
    return std::shared_ptr<const LoadedModule>(std::move(m));
}

Status validate_module_config(const LoadedModule& m, const config::Section& section) {
    const Descriptor& d = m.descriptor();
    Status s = config::validate_section(section, d.options, d.option_count);
    if (!s) return s;
    try {
        auto instance = m.create_instance();
        if (!instance) return Status::error("module", fmt::format("module {}: create() failed", m.name()));
        Status c = instance->configure(config::with_defaults(section, d.options, d.option_count));
        if (!c) return Status::error("config", fmt::format("{}: [modules.{}]: {}", section.file, m.name(), c.message()));
    } catch (const std::exception& e) {
        return Status::error("module", fmt::format("module {}: configure failed: {}", m.name(), e.what()));
    }
    return Status::ok();
}

config::Section section_for(const config::Config& cfg, const std::string& name) {
    auto it = cfg.module_sections.find(name);
    if (it != cfg.module_sections.end()) return it->second;
    config::Section s;
    s.file = cfg.path;
    s.name = name;
    return s;
}

std::shared_ptr<const config::Config> with_option_defaults(
    const config::Config& cfg, const std::vector<std::shared_ptr<const LoadedModule>>& modules) {
    auto out = std::make_shared<config::Config>(cfg);
    for (const auto& m : modules) {
        const Descriptor& d = m->descriptor();
        out->module_sections[m->name()] =
            config::with_defaults(section_for(cfg, m->name()), d.options, d.option_count);
    }
    return out;
}

Result<std::vector<std::shared_ptr<const LoadedModule>>> load_all(const config::Config& cfg) {
    std::vector<std::shared_ptr<const LoadedModule>> loaded;
    std::string errors;
    for (const auto& name : cfg.modules) {
        auto m = LoadedModule::load(cfg.module_dir, name);
        if (!m) {
            errors += (errors.empty() ? "" : "\n") + m.status().message();
            continue;
        }
        Status v = validate_module_config(**m, section_for(cfg, name));
        if (!v) errors += (errors.empty() ? "" : "\n") + v.message();
        loaded.push_back(std::move(m.value()));
    }
    if (!errors.empty()) return Status::error("module", errors);
    // Dependency order: a module starts after the modules it depends on.
    std::vector<std::shared_ptr<const LoadedModule>> ordered;
    std::set<std::string> placed;
    std::set<std::string> wanted(cfg.modules.begin(), cfg.modules.end());
    for (const auto& m : loaded) {
        const char* const* deps = m->descriptor().dependencies;
        for (; deps && *deps; ++deps)
            if (!wanted.count(*deps))
                errors += (errors.empty() ? "" : "\n") +
                          fmt::format("module {} needs module {}: add it to 'modules'", m->name(), *deps);
    }
    if (!errors.empty()) return Status::error("module", errors);
    for (size_t round = 0; round <= loaded.size() && ordered.size() < loaded.size(); ++round) {
        for (const auto& m : loaded) {
            if (placed.count(m->name())) continue;
            bool ready = true;
            for (const char* const* deps = m->descriptor().dependencies; deps && *deps; ++deps)
                if (!placed.count(*deps)) ready = false;
            if (ready) {
                ordered.push_back(m);
                placed.insert(m->name());
            }
        }
    }
    if (ordered.size() != loaded.size()) return Status::error("module", "modules depend on each other in a cycle");
    return ordered;
}

}  // namespace parley::module
