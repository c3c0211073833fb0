// A test module exercising the host's seams from a running parleyd, for the
// integration tests (tests/integration/test_seams.py):
// - routed hook: appends "routed KIND NAME TYPE ID WORKER ORIGIN" to
//   `events_file` for every stanza, once;
// - holds: with `hold_ms` > 0, every delivered chat message is held that
//   long (released from a timer on the same worker);
// - stream features <seams-pre/> (before authentication) and <seams/>
//   (with bind), in urn:parley:test:seams;
// - nonzas: <hello/> before authentication answered <hello-back/>; <ping/>
//   of a bound session answered <pong worker='N' session='ID'/>;
// - a pre-authentication iq get {urn:parley:test:seams}query answered with
//   the worker's number;
// - a domain handler for `echo_domain` under the first virtual host that
//   echoes messages back ("echo: BODY"), from the JID they were sent to.
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "module/module_api.hpp"
#include "xmpp/namespaces.hpp"

namespace {

using namespace parley;

constexpr const char* kNs = "urn:parley:test:seams";

std::string or_dash(std::string_view v) { return v.empty() ? std::string("-") : std::string(v); }

const char* origin_name(module::Origin o) {
    switch (o) {
        case module::Origin::local_client: return "client";
        case module::Origin::server: return "server";
        case module::Origin::remote_server: return "remote";
    }
    return "?";
}

class TestSeams final : public module::Module {
public:
    Status start(module::Host& host) override {
        host_ = &host;
        file_ = host.config().get_string("events_file", "");
        hold_ms_ = static_cast<uint64_t>(host.config().get_int("hold_ms", 0));
        const unsigned worker = host.worker_index();
        host.on_routed(0, [this, worker](module::RoutedContext& c) {
            record("routed " + std::string(module::to_string(c.outcome.kind)) + " " + c.stanza.name() + " " +
                   or_dash(c.stanza.attr_or("type")) + " " + or_dash(c.stanza.attr_or("id")) +
                   " " + std::to_string(worker) + " " + origin_name(c.origin));
            if (hold_ms_ > 0 && c.outcome.kind == module::RouteOutcome::Kind::delivered &&
                c.stanza.name() == "message" && c.stanza.attr_or("type") == "chat") {
                auto hold = c.hold();
                host_->add_timer(hold_ms_, 0, [hold] { hold->release(); });
            }
        });
        host.stream_feature(module::StreamStage::before_auth, [](const module::StreamInfo&) {
            return std::optional<xml::Element>(xml::Element("seams-pre", kNs));
        });
        host.stream_feature(module::StreamStage::after_auth, [](const module::StreamInfo& info) {
            xml::Element f("seams", kNs);
            f.set_attr("user", info.jid.str());
            return std::optional<xml::Element>(std::move(f));
        });
        Status s = host.nonza(module::StreamStage::before_auth, kNs, "hello",
                              [](const module::StreamInfo&, const xml::Element&, module::StreamControl& c) {
                                  c.send(xml::Element("hello-back", kNs));
                              });
        if (!s) return s;
        s = host.nonza(module::StreamStage::bound, kNs, "ping",
                       [worker](const module::StreamInfo& info, const xml::Element&, module::StreamControl& c) {
                           xml::Element pong("pong", kNs);
                           pong.set_attr("worker", std::to_string(worker));
                           pong.set_attr("session", std::to_string(info.session_id));
                           pong.set_attr("jid", info.jid.str());
                           c.send(pong);
                       });
        if (!s) return s;
        s = host.iq_handler(module::IqTarget::pre_auth, "get", kNs, "query",
                            [worker](const module::IqRequest&, std::shared_ptr<module::IqResponder> r) {
                                xml::Element q("query", kNs);
                                q.add_child("worker", kNs).add_text(std::to_string(worker));
                                r->result(std::move(q));
                            });
        if (!s) return s;
        const std::string echo = host.config().get_string("echo_domain", "");
        const std::string vhost = host.config().get_string("vhost", "");
        if (!echo.empty()) {
            s = host.domain_handler(vhost, echo, [this](module::DomainStanza& d) {
                if (d.stanza.name() != "message" || d.stanza.attr_or("type") == "error") return;
                xml::Element reply("message", std::string(xmpp::kNsClient));
                reply.set_attr("from", d.to.str());
                reply.set_attr("to", d.from.str());
                const std::string_view type = d.stanza.attr_or("type");
                reply.set_attr("type", type.empty() ? std::string("normal") : std::string(type));
                std::string body;
                if (const xml::Element* b = d.stanza.child("body", std::string(xmpp::kNsClient))) body = b->text();
                reply.add_child("body", std::string(xmpp::kNsClient))
                    .add_text("echo: " + body + " (worker " + std::to_string(host_->worker_index()) + ")");
                host_->send(std::move(reply));
            });
            if (!s) return s;
        }
        return Status::ok();
    }

private:
    void record(const std::string& line) {
        if (file_.empty()) return;
        int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return;
        const std::string l = line + "\n";
        ssize_t n = ::write(fd, l.data(), l.size());  // one write per line: workers do not interleave
        (void)n;
        ::close(fd);
    }

    module::Host* host_ = nullptr;
    std::string file_;
    uint64_t hold_ms_ = 0;
};

const config::OptionSpec kOptions[] = {
    {"events_file", config::OptionType::string, "\"\"", "where routed outcomes are appended"},
    {"hold_ms", config::OptionType::integer, "0", "hold every delivered chat message this long", 0, 60000},
    {"echo_domain", config::OptionType::string, "\"\"", "a domain whose messages are echoed back"},
    {"vhost", config::OptionType::string, "\"\"", "the virtual host echo_domain belongs to"},
};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "testseams",
                                     "1.0",
                                     "test module for the host's seams",
                                     nullptr,
                                     nullptr,
                                     0,
                                     kOptions,
                                     4,
                                     []() -> module::Module* { return new TestSeams(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr,
                                     nullptr,
                                     nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)
