#include "hooks/hook_table.hpp"

#include <algorithm>
#include <exception>

#include "log/log.hpp"

namespace parley::hooks {

void HookTable::add_hook(const std::string& owner, module::HookPoint point, int priority, module::StanzaHook fn) {
    hooks_.push_back(Hook{owner, point, priority, seq_++, std::move(fn)});
    std::stable_sort(hooks_.begin(), hooks_.end(), [](const Hook& a, const Hook& b) {
        if (a.point != b.point) return a.point < b.point;
        if (a.priority != b.priority) return a.priority > b.priority;
        return a.seq < b.seq;
    });
}

bool HookTable::has_hooks(module::HookPoint point) const {
    return std::any_of(hooks_.begin(), hooks_.end(), [&](const Hook& h) { return h.point == point; });
}

namespace {

template <class Fn>
void insert_ranked(std::vector<Fn>& v, Fn entry) {
    v.push_back(std::move(entry));
    std::stable_sort(v.begin(), v.end(), [](const Fn& a, const Fn& b) {
        if (a.priority != b.priority) return a.priority > b.priority;
        return a.seq < b.seq;
    });
}

module::HookResult module_failed() {
    return module::HookResult::reject(StanzaError::cancel("internal-server-error", "a server module failed"));
}

}  // namespace

module::HookResult HookTable::run(module::HookPoint point, module::StanzaContext& ctx, std::string* decided_by) const {
    for (const Hook& h : hooks_) {
        if (h.point != point) continue;
        module::HookResult r;
        try {
            r = h.fn(ctx);
        } catch (const std::exception& e) {
            log::error("hooks", "hook of module {} failed: {}", h.owner, e.what());
            r = module_failed();
        } catch (...) {
            log::error("hooks", "hook of module {} failed", h.owner);
            r = module_failed();
        }
        if (r.verdict != module::HookResult::Verdict::pass) {
            if (decided_by) *decided_by = h.owner;
            return r;
        }
    }
    return module::HookResult::pass();
}

void HookTable::add_routed(const std::string& owner, int priority, module::RoutedHook fn) {
    insert_ranked(routed_, Ranked<module::RoutedHook>{owner, priority, seq_++, std::move(fn)});
}

void HookTable::run_routed(module::RoutedContext& ctx) const {
    for (const auto& h : routed_) {
        try {
            h.fn(ctx);
        } catch (const std::exception& e) {
            log::error("hooks", "routed hook of module {} failed: {}", h.owner, e.what());
        } catch (...) {
            log::error("hooks", "routed hook of module {} failed", h.owner);
        }
    }
}

void HookTable::add_unavailable(const std::string& owner, int priority, module::UnavailableHandler fn) {
    insert_ranked(unavailable_, Ranked<module::UnavailableHandler>{owner, priority, seq_++, std::move(fn)});
}

module::HookResult HookTable::run_unavailable(module::RoutedContext& ctx, std::string* decided_by) const {
    for (const auto& h : unavailable_) {
        module::HookResult r;
        try {
            r = h.fn(ctx);
        } catch (const std::exception& e) {
            log::error("hooks", "unavailable handler of module {} failed: {}", h.owner, e.what());
            r = module_failed();
        } catch (...) {
            log::error("hooks", "unavailable handler of module {} failed", h.owner);
            r = module_failed();
        }
        if (r.verdict != module::HookResult::Verdict::pass) {
            if (decided_by) *decided_by = h.owner;
            return r;
        }
    }
    return module::HookResult::pass();
}

Status HookTable::add_domain(const std::string& owner, std::string vhost, std::string domain,
                             module::DomainHandler fn) {
    auto it = domains_.find(domain);
    if (it != domains_.end())
        return Status::error("exists", fmt::format("domain {} is already handled by module {}", domain, it->second.owner));
    domains_.emplace(std::move(domain), Domain{owner, std::move(vhost), std::move(fn)});
    return Status::ok();
}

const module::DomainHandler* HookTable::find_domain(std::string_view domain, std::string* owner) const {
    auto it = domains_.find(domain);
    if (it == domains_.end()) return nullptr;
    if (owner) *owner = it->second.owner;
    return &it->second.fn;
}

std::vector<std::string> HookTable::domains_of(std::string_view vhost) const {
    std::vector<std::string> out;
    for (const auto& [d, h] : domains_)
        if (h.vhost == vhost) out.push_back(d);
    return out;  // a std::map: already sorted
}

Status HookTable::add_iq(const std::string& owner, module::IqTarget target, std::string_view type,
                         std::string_view ns, std::string_view element, module::IqHandler fn) {
    if (type != "get" && type != "set")
        return Status::error("invalid", "iq handlers take type get or set, not '" + std::string(type) + "'");
    IqKey key{static_cast<int>(target), std::string(type), std::string(ns), std::string(element)};
    auto it = iqs_.find(key);
    if (it != iqs_.end())
        return Status::error("exists", fmt::format("iq {} {{{}}}{} is already handled by module {}", type, ns,
                                                   element, it->second.owner));
    iqs_.emplace(std::move(key), Iq{owner, std::move(fn)});
    return Status::ok();
}

const module::IqHandler* HookTable::find_iq(module::IqTarget target, std::string_view type, std::string_view ns,
                                            std::string_view element) const {
    auto it = iqs_.find(IqKey{static_cast<int>(target), std::string(type), std::string(ns), std::string(element)});
    return it == iqs_.end() ? nullptr : &it->second.fn;
}

void HookTable::add_session_handler(const std::string& owner, module::SessionEvent event,
                                    module::SessionEventHandler fn) {
    session_handlers_.emplace_back(owner, event, std::move(fn));
}

void HookTable::fire(module::SessionEvent event, const module::SessionInfo& session) const {
    for (const auto& [owner, ev, fn] : session_handlers_) {
        if (ev != event) continue;
        try {
            fn(session);
        } catch (const std::exception& e) {
            log::error("hooks", "session handler of module {} failed: {}", owner, e.what());
        } catch (...) {
            log::error("hooks", "session handler of module {} failed", owner);
        }
    }
}

void HookTable::add_output_observer(const std::string& owner, module::OutputObserver fn) {
    output_observers_.emplace_back(owner, std::move(fn));
}

void HookTable::observe_output(uint64_t session_id, const xml::Element& stanza) const {
    for (const auto& [owner, fn] : output_observers_) {
        try {
            fn(session_id, stanza);
        } catch (const std::exception& e) {
            log::error("hooks", "output observer of module {} failed: {}", owner, e.what());
        } catch (...) {
            log::error("hooks", "output observer of module {} failed", owner);
        }
    }
}

void HookTable::add_stream_feature(const std::string& owner, module::StreamStage stage, module::FeatureProvider fn) {
    stream_features_.push_back(Feature{owner, stage, std::move(fn)});
}

void HookTable::stream_features(module::StreamStage stage, const module::StreamInfo& info,
                                xml::Element& features) const {
    for (const auto& f : stream_features_) {
        if (f.stage != stage) continue;
        try {
            if (auto el = f.fn(info)) features.add_child(std::move(*el));
        } catch (const std::exception& e) {
            log::error("hooks", "stream feature of module {} failed: {}", f.owner, e.what());
        }
    }
}

Status HookTable::add_nonza(const std::string& owner, module::StreamStage stage, std::string_view ns,
                            std::string_view name, module::NonzaHandler fn) {
    NonzaKey key{static_cast<int>(stage), std::string(ns), std::string(name)};
    auto it = nonzas_.find(key);
    if (it != nonzas_.end())
        return Status::error("exists", fmt::format("{{{}}}{} is already handled by module {}", ns, name, it->second.first));
    nonzas_.emplace(std::move(key), std::make_pair(owner, std::move(fn)));
    return Status::ok();
}

const module::NonzaHandler* HookTable::find_nonza(module::StreamStage stage, std::string_view ns,
                                                  std::string_view name) const {
    if (nonzas_.empty()) return nullptr;
    auto it = nonzas_.find(NonzaKey{static_cast<int>(stage), std::string(ns), std::string(name)});
    return it == nonzas_.end() ? nullptr : &it->second.second;
}

void HookTable::add_feature(const std::string& owner, std::string feature) {
    features_.emplace_back(owner, std::move(feature));
}

void HookTable::add_identity(const std::string& owner, module::DiscoIdentity identity) {
    identities_.emplace_back(owner, std::move(identity));
}

namespace {

std::vector<std::string> sorted_features(const std::vector<std::pair<std::string, std::string>>& from) {
    std::vector<std::string> out;
    for (const auto& f : from) out.push_back(f.second);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<module::DiscoIdentity> sorted_identities(
    const std::vector<std::pair<std::string, module::DiscoIdentity>>& from) {
    std::vector<module::DiscoIdentity> out;
    for (const auto& i : from)
        if (std::find(out.begin(), out.end(), i.second) == out.end()) out.push_back(i.second);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.category, a.type, a.name) < std::tie(b.category, b.type, b.name);
    });
    return out;
}

}  // namespace

std::vector<std::string> HookTable::features() const { return sorted_features(features_); }
std::vector<module::DiscoIdentity> HookTable::identities() const { return sorted_identities(identities_); }

void HookTable::add_account_feature(const std::string& owner, std::string feature) {
    account_features_.emplace_back(owner, std::move(feature));
}

void HookTable::add_account_identity(const std::string& owner, module::DiscoIdentity identity) {
    account_identities_.emplace_back(owner, std::move(identity));
}

void HookTable::add_account_items(const std::string& owner, module::AccountItemsProvider fn) {
    account_items_.emplace_back(owner, std::move(fn));
}

void HookTable::add_account_nodes(const std::string& owner, module::AccountNodeDisco fn) {
    account_nodes_.emplace_back(owner, std::move(fn));
}

bool HookTable::account_node(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) const {
    for (const auto& [owner, fn] : account_nodes_) {
        try {
            if (fn(req, r)) return true;
        } catch (const std::exception& e) {
            log::error("hooks", "disco node query of module {} failed: {}", owner, e.what());
            r->error(StanzaError::wait("internal-server-error", "the query failed"));
            return true;
        }
    }
    return false;
}

std::vector<std::string> HookTable::account_features() const { return sorted_features(account_features_); }
std::vector<module::DiscoIdentity> HookTable::account_identities() const {
    return sorted_identities(account_identities_);
}

std::vector<module::DiscoItem> HookTable::account_items(const xmpp::Jid& account, const xmpp::Jid& requester) const {
    std::vector<module::DiscoItem> out;
    for (const auto& [owner, fn] : account_items_) {
        try {
            auto items = fn(account, requester);
            out.insert(out.end(), std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
        } catch (const std::exception& e) {
            log::error("hooks", "disco items of module {} failed: {}", owner, e.what());
        }
    }
    return out;
}

Status HookTable::add_control(const std::string& owner, const std::string& name, module::ControlHandler fn) {
    if (controls_.count(name))
        return Status::error("exists", "control command '" + name + "' is served by module " + controls_.at(name).first);
    controls_.emplace(name, std::make_pair(owner, std::move(fn)));
    return Status::ok();
}

const module::ControlHandler* HookTable::find_control(std::string_view name) const {
    auto it = controls_.find(name);
    return it == controls_.end() ? nullptr : &it->second.second;
}

void HookTable::drop(const std::string& owner) {
    std::erase_if(hooks_, [&](const Hook& h) { return h.owner == owner; });
    std::erase_if(iqs_, [&](const auto& kv) { return kv.second.owner == owner; });
    std::erase_if(session_handlers_, [&](const auto& t) { return std::get<0>(t) == owner; });
    std::erase_if(output_observers_, [&](const auto& o) { return o.first == owner; });
    std::erase_if(features_, [&](const auto& f) { return f.first == owner; });
    std::erase_if(identities_, [&](const auto& i) { return i.first == owner; });
    std::erase_if(account_features_, [&](const auto& f) { return f.first == owner; });
    std::erase_if(account_identities_, [&](const auto& i) { return i.first == owner; });
    std::erase_if(account_items_, [&](const auto& i) { return i.first == owner; });
    std::erase_if(account_nodes_, [&](const auto& i) { return i.first == owner; });
    std::erase_if(controls_, [&](const auto& kv) { return kv.second.first == owner; });
    std::erase_if(routed_, [&](const auto& h) { return h.owner == owner; });
    std::erase_if(unavailable_, [&](const auto& h) { return h.owner == owner; });
    std::erase_if(domains_, [&](const auto& kv) { return kv.second.owner == owner; });
    std::erase_if(stream_features_, [&](const auto& f) { return f.owner == owner; });
    std::erase_if(nonzas_, [&](const auto& kv) { return kv.second.first == owner; });
    std::erase_if(account_deleted_, [&](const auto& a) { return a.first == owner; });
    std::erase_if(s2s_gates_, [&](const auto& g) { return g.first == owner; });
}

void HookTable::add_s2s_gate(const std::string& owner, module::S2sGate fn) {
    s2s_gates_.emplace_back(owner, std::move(fn));
}

std::optional<std::string> HookTable::check_s2s(const module::S2sAuth& auth, std::string* decided_by) const {
    for (const auto& [owner, fn] : s2s_gates_) {
        std::optional<std::string> refusal;
        try {
            refusal = fn(auth);
        } catch (const std::exception& e) {
            // A gate that fails refuses: a policy that cannot be read must not let a peer in.
            log::error("hooks", "s2s gate of {} failed: {}", owner, e.what());
            refusal = "the federation policy could not be applied";
        }
        if (refusal) {
            if (decided_by) *decided_by = owner;
            return refusal;
        }
    }
    return std::nullopt;
}

void HookTable::add_account_deleted(const std::string& owner, module::AccountDeletedHandler fn) {
    account_deleted_.emplace_back(owner, std::move(fn));
}

}  // namespace parley::hooks
