// A test module providing the roster service (roster/1) from its options,
// for the integration tests of modules that read contacts (PEP's presence
// access model) while the roster module itself is not built: `both` lists
// pairs "a@domain b@domain" of accounts with a mutual presence subscription.
// Read-only and fixed at start: any thread may call it.
#include <map>
#include <set>
#include <sstream>

#include "../../../modules/roster/roster_service.hpp"

namespace {

using namespace parley;

class FixedRoster final : public roster::RosterService {
public:
    Status start(module::ServiceHost& host) override {
        for (const std::string& pair : host.config().get_list("both")) {
            std::istringstream in(pair);
            std::string a, b;
            in >> a >> b;
            auto ja = xmpp::Jid::parse(a), jb = xmpp::Jid::parse(b);
            if (!ja || !jb) return Status::error("config", "testroster: not a pair of JIDs: " + pair);
            both_[ja->bare_str()].insert(jb->bare_str());
            both_[jb->bare_str()].insert(ja->bare_str());
        }
        return Status::ok();
    }
    Result<std::optional<roster::Item>> item(unsigned, const xmpp::Jid& user, const xmpp::Jid& contact) const override {
        auto it = both_.find(user.bare_str());
        if (it == both_.end() || !it->second.count(contact.bare_str())) return std::optional<roster::Item>();
        return std::optional<roster::Item>(make(contact.bare_str()));
    }
    Result<std::vector<roster::Item>> items(unsigned, const xmpp::Jid& user) const override {
        std::vector<roster::Item> out;
        auto it = both_.find(user.bare_str());
        if (it != both_.end())
            for (const auto& c : it->second) out.push_back(make(c));
        return out;
    }
    bool presence_visible_to(unsigned, const xmpp::Jid& user, const xmpp::Jid& contact) const override {
        if (user.bare() == contact.bare()) return true;
        auto it = both_.find(user.bare_str());
        return it != both_.end() && it->second.count(contact.bare_str()) > 0;
    }

private:
    static roster::Item make(const std::string& jid) {
        roster::Item i;
        i.jid = xmpp::Jid::parse(jid).value();
        i.subscription = roster::Subscription::both;
        return i;
    }
    std::map<std::string, std::set<std::string>> both_;
};

class Nothing final : public module::Module {
public:
    Status start(module::Host&) override { return Status::ok(); }
};

const config::OptionSpec kOptions[] = {
    {"both", config::OptionType::string_list, "[]", "pairs \"a@d b@d\" with a mutual subscription"},
};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "testroster",
                                     "1.0",
                                     "test module: a fixed roster service",
                                     nullptr,
                                     nullptr,
                                     0,
                                     kOptions,
                                     1,
                                     []() -> module::Module* { return new Nothing(); },
                                     [](module::Module* m) { delete m; },
                                     roster::RosterService::kServiceName,
                                     []() -> module::Service* { return new FixedRoster(); },
                                     [](module::Service* s) { delete s; }};

}  // namespace

PARLEY_MODULE(kDescriptor)
