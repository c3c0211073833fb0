#include "component/routing.hpp"

#include "component/directory.hpp"
#include "component/session.hpp"
#include "log/log.hpp"
#include "loop/worker.hpp"
#include "router/router.hpp"

namespace parley::component {

namespace {

void not_connected(loop::Worker& w, const xml::Element& stanza) {
    // Presence to an absent service means nothing; errors and results are
    // never answered (Router::bounce drops those itself).
    if (stanza.name() == "presence") return;
    w.router().bounce(stanza,
                      StanzaError::cancel("service-unavailable",
                                          "the component serving this domain is not connected"));
}

// On the worker `w`: the connection for domain if it runs on w.
Session* local_connection(loop::Worker& w, std::string_view domain) {
    auto where = w.shared().components.find(domain);
    if (!where || where->worker != w.index()) return nullptr;
    return where->session;
}

}  // namespace

std::string parent_host(const config::Config& cfg, std::string_view domain) {
    std::string best;
    for (const auto& h : cfg.hosts) {
        if (domain.size() > h.domain.size() + 1 && domain.ends_with(h.domain) &&
            domain[domain.size() - h.domain.size() - 1] == '.' && h.domain.size() > best.size())
            best = h.domain;
    }
    return best;
}

Status register_domains(loop::Worker& w, const config::Config& cfg) {
    for (const auto& c : cfg.components) {
        loop::Worker* worker = &w;
        Status s = w.hooks().add_domain(std::string(kOwner), parent_host(cfg, c.domain), c.domain,
                                        [worker, domain = c.domain](module::DomainStanza& ds) {
                                            deliver(*worker, domain, std::move(ds.stanza));
                                        });
        if (!s)
            return Status::error("component",
                                 fmt::format("component {}: {}", c.domain, s.message()));
    }
    return Status::ok();
}

bool routed_here(loop::Worker& w, std::string_view domain) {
    std::string owner;
    return w.hooks().find_domain(domain, &owner) && owner == kOwner;
}

void deliver(loop::Worker& w, const std::string& domain, xml::Element stanza) {
    auto where = w.shared().components.find(domain);
    if (!where) return not_connected(w, stanza);
    if (where->worker == w.index()) return where->session->send_stanza(stanza);
    loop::Worker* target =
        where->worker < w.shared().workers.size() ? w.shared().workers[where->worker] : nullptr;
    auto hand_over = [domain, stanza = std::move(stanza)](loop::Worker& there) {
        // Found again on its own worker: the connection may have ended meanwhile.
        if (Session* s = local_connection(there, domain))
            s->send_stanza(stanza);
        else
            not_connected(there, stanza);
    };
    if (!target || !target->post(std::move(hand_over)))
        log::debug("component", "{}: a stanza for it was dropped: its worker is stopping", domain);
}

}  // namespace parley::component
