#include "upload.hpp"

#include <charconv>
#include <chrono>

#include "log/log.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_upload {

namespace {

constexpr const char* kNsDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr const char* kNsDiscoItems = "http://jabber.org/protocol/disco#items";
constexpr const char* kNsData = "jabber:x:data";

// Unix time in milliseconds: a slot's grant time and an account's deletion
// are compared at that precision (FileStore::forget_owner).
int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

const config::OptionSpec kOptions[] = {
    {.name = "domain", .type = config::OptionType::string, .default_value = nullptr,
     .help = "the service's domain, a subdomain of the virtual host whose accounts may upload", .required = true},
    {"max_file_size", config::OptionType::integer, "104857600", "largest file in bytes", 1, int64_t{1} << 40},
    {"quota_bytes", config::OptionType::integer, "1073741824", "bytes each account may keep stored; 0: no quota", 0,
     int64_t{1} << 50},
    {"expire_days", config::OptionType::integer, "30", "days a file is kept; 0: kept until removed by hand", 0, 36500},
    {"slot_lifetime_s", config::OptionType::integer, "300", "seconds a slot may be used for its upload", 10, 86400},
    {"http_address", config::OptionType::string, "127.0.0.1", "address the HTTPS listener binds"},
    {"http_port", config::OptionType::integer, "5443", "port of the HTTPS listener", 1, 65535},
    {"external_url", config::OptionType::string, "",
     "https:// base of the URLs given to clients (a reverse proxy's); empty: https://DOMAIN:HTTP_PORT"},
    {"certificate", config::OptionType::string, "",
     "PEM certificate chain of the listener; empty: the virtual host's"},
    {"key", config::OptionType::string, "", "PEM private key of the listener; empty: the virtual host's"},
    {"max_connections", config::OptionType::integer, "256", "HTTPS connections at once", 1, 100000},
    {"idle_timeout_s", config::OptionType::integer, "30", "seconds an HTTPS connection may stay silent", 1, 3600},
    {"max_header_bytes", config::OptionType::integer, "8192", "largest request line and headers", 1024, 65536},
    {"purge_interval_s", config::OptionType::integer, "3600", "seconds between two purges of expired files", 1,
     86400},
};
const size_t kOptionCount = std::size(kOptions);

const module::XepInfo kXeps[] = {
    {"0363", "1.1.0", "complete: slots, PUT with an Authorization header, GET; quota and expiry"},
    {"0128", "1.0", "complete: max-file-size in the service's disco#info"},
};

Result<Settings> read_settings(const config::Section& sec) {
    Settings s;
    auto where = config::service_domain(sec, "domain", "upload.example.org");
    if (!where) return where.status();
    s.domain = std::move(where->domain);
    s.vhost = std::move(where->parent);
    s.max_file_size = static_cast<uint64_t>(sec.get_int("max_file_size", 104857600));
    s.quota_bytes = static_cast<uint64_t>(sec.get_int("quota_bytes", 1073741824));
    s.expire_days = sec.get_int("expire_days", 30);
    s.slot_lifetime_s = sec.get_int("slot_lifetime_s", 300);
    s.listen.address = sec.get_string("http_address", "127.0.0.1");
    s.listen.port = static_cast<uint16_t>(sec.get_int("http_port", 5443));
    s.listen.max_connections = static_cast<size_t>(sec.get_int("max_connections", 256));
    s.external_url = sec.get_string("external_url", "");
    if (s.external_url.empty()) s.external_url = "https://" + s.domain + ":" + std::to_string(s.listen.port);
    while (!s.external_url.empty() && s.external_url.back() == '/') s.external_url.pop_back();
    if (s.external_url.rfind("https://", 0) != 0 || s.external_url.size() <= 8 ||
        s.external_url.find_first_of(" \"'<>\\?#") != std::string::npos)
        return Status::error("config", sec.where("external_url") + ": must be an https:// URL without query, got '" +
                                           s.external_url + "'");
    s.certificate = sec.get_string("certificate", "");
    s.key = sec.get_string("key", "");
    if (s.certificate.empty() != s.key.empty())
        return Status::error("config", sec.where("certificate") + ": certificate and key go together");
    // Relative paths are read from the config file's directory, as the
    // core's are.
    auto absolute = [&](std::string& p) {
        if (!p.empty() && p[0] != '/') {
            const size_t slash = sec.file.rfind('/');
            p = (slash == std::string::npos ? std::string(".") : sec.file.substr(0, slash)) + "/" + p;
        }
    };
    absolute(s.certificate);
    absolute(s.key);
    s.idle_timeout_s = sec.get_int("idle_timeout_s", 30);
    s.max_header_bytes = static_cast<size_t>(sec.get_int("max_header_bytes", 8192));
    s.purge_interval_s = sec.get_int("purge_interval_s", 3600);
    return s;
}

Status Upload::configure(const config::Section& section) {
    auto s = read_settings(section);
    if (!s) return s.status();
    settings_ = std::move(s.value());
    return Status::ok();
}

std::shared_ptr<const ServeSettings> Upload::serve_settings() const {
    auto s = std::make_shared<ServeSettings>();
    s->quota_bytes = settings_.quota_bytes;
    s->max_header_bytes = settings_.max_header_bytes;
    s->max_age_s = settings_.expire_days * 86400;
    s->purge_interval_s = settings_.purge_interval_s;
    s->idle_timeout_s = settings_.idle_timeout_s;
    return s;
}

Status Upload::start_http() {
    std::string cert = settings_.certificate, key = settings_.key;
    if (cert.empty()) {
        auto vh = host_->virtual_host(settings_.vhost);
        if (!vh) return Status::error("config", "upload: " + settings_.vhost + " is not a virtual host");
        cert = vh->certificate;
        key = vh->key;
    }
    // Clients check the certificate against the host of the URLs they get.
    std::string url_host = settings_.external_url.substr(8);
    url_host = url_host.substr(0, url_host.find_first_of(":/"));
    auto tls = host_->tls_server({url_host, cert, key});
    if (!tls) return tls.status();
    auto server = HttpServer::start(settings_.listen, tls.value(), store_, serve_settings());
    if (!server) return server.status();
    server_ = std::move(server.value());
    return Status::ok();
}

Status Upload::start(module::Host& host) {
    host_ = &host;
    if (!host.virtual_host(settings_.vhost))
        return Status::error("config", "upload: the domain " + settings_.domain + " must be a subdomain of a virtual "
                                       "host, and " + settings_.vhost + " is not one");
    if (host.worker_index() == 0) {
        auto store = FileStore::open(host.data_dir() + "/upload");
        if (!store) return store.status();
        store_ = std::move(store.value());
        if (Status s = start_http(); !s) {
            store_.reset();
            return s;
        }
    }
    // Registered on every worker like other hooks; the host calls it on
    // worker 0, whose instance has the store.
    host.on_account_deleted([this](const xmpp::Jid& bare, std::function<void(Status)> done) {
        purge_account(bare, std::move(done));
    });
    return host.domain_handler(settings_.vhost, settings_.domain, [this](module::DomainStanza& d) { handle(d); });
}

Status Upload::reload(const config::Section& section) {
    auto next = read_settings(section);
    if (!next) return next.status();
    if (next->domain != settings_.domain)
        return Status::error("config", section.where("domain") + ": the domain changes only when the module restarts");
    Settings old = std::move(settings_);
    settings_ = std::move(next.value());
    if (!server_) return Status::ok();  // not worker 0
    if (old.listen == settings_.listen && old.certificate == settings_.certificate && old.key == settings_.key) {
        server_->set_settings(serve_settings());
        return Status::ok();
    }
    // A new listener or certificate: the old thread is joined first (the
    // port may be the same); if the new one cannot start, the old comes back.
    server_.reset();
    Status s = start_http();
    if (s) {
        resume_purges();
        return s;
    }
    settings_ = std::move(old);
    Status back = start_http();
    if (!back) log::error("upload", "the HTTPS listener is down: {}", back.message());
    resume_purges();
    return s;
}

void Upload::stop() {
    server_.reset();  // joins the HTTP thread
    // Purges not yet reported are dropped without calling their completion:
    // calling into the host's purge from inside stop() could start the next
    // account's purge among modules that are stopping. Unanswered, the host
    // asks again later; the files still on disk are indexed again when the
    // module starts.
    purges_.clear();
    purge_timer_ = 0;  // the host drops the module's timers
    store_.reset();
    host_ = nullptr;
}

void Upload::purge_account(const xmpp::Jid& bare, std::function<void(Status)> done) {
    if (!host_ || !store_ || !server_) {
        done(Status::error("unavailable", "the upload service's HTTPS thread, which removes files, is not running"));
        return;
    }
    auto job = std::make_shared<OwnerPurge>(store_, bare.bare_str(), unix_now_ms());
    if (!server_->run([job] { return job->step(); })) {
        done(Status::error("stopped", "the upload service is stopping"));
        return;
    }
    purges_.push_back({std::move(job), std::move(done)});
    watch_purges();
}

void Upload::watch_purges() {
    if (purge_timer_ != 0 || purges_.empty() || !host_) return;
    purge_timer_ = host_->add_timer(kPurgePollMs, 0, [this] {
        purge_timer_ = 0;
        poll_purges();
    });
}

void Upload::poll_purges() {
    std::vector<PendingPurge> finished;
    for (auto it = purges_.begin(); it != purges_.end();) {
        if (it->job->finished()) {
            finished.push_back(std::move(*it));
            it = purges_.erase(it);
        } else {
            ++it;
        }
    }
    watch_purges();
    // A completion may start the next account's purge (this module's
    // purge_account again): purges_ is not being walked any more.
    for (auto& p : finished) {
        Status s = p.job->status();
        if (s) log::info("upload", "removed {} file(s) of deleted account {}", p.job->removed(), p.job->owner());
        p.done(std::move(s));
    }
}

void Upload::resume_purges() {
    // The old HTTP thread is joined: its unfinished steps go to the new one,
    // or end with an error (the host asks again) when there is none.
    for (auto& p : purges_) {
        if (p.job->finished()) continue;
        auto job = p.job;
        if (!server_ || !server_->run([job] { return job->step(); }))
            job->abandon(Status::error("unavailable", "the upload service's HTTPS listener is down"));
    }
}

std::vector<std::shared_ptr<OwnerPurge>> Upload::purges_running() const {
    std::vector<std::shared_ptr<OwnerPurge>> out;
    for (const auto& p : purges_) out.push_back(p.job);
    return out;
}

xml::Element Upload::disco_info() const {
    xml::Element q("query", kNsDiscoInfo);
    auto& id = q.add_child("identity", kNsDiscoInfo);
    id.set_attr("category", "store");
    id.set_attr("type", "file");
    id.set_attr("name", "HTTP File Upload");
    for (const char* f : {kNsDiscoInfo, kNsUpload}) q.add_child("feature", kNsDiscoInfo).set_attr("var", f);
    auto& x = q.add_child("x", kNsData);
    x.set_attr("type", "result");
    auto& ft = x.add_child("field", kNsData);
    ft.set_attr("var", "FORM_TYPE");
    ft.set_attr("type", "hidden");
    ft.add_child("value", kNsData).add_text(kNsUpload);
    auto& mx = x.add_child("field", kNsData);
    mx.set_attr("var", "max-file-size");
    mx.add_child("value", kNsData).add_text(std::to_string(settings_.max_file_size));
    return q;
}

void Upload::reply_error(const xml::Element& iq, const StanzaError& e, uint64_t max_size) {
    xml::Element reply = xmpp::make_error_reply(iq, e);
    if (max_size != 0)
        if (xml::Element* err = reply.child("error", iq.ns()))
            if (xml::Element* app = err->child("file-too-large", kNsUpload))
                app->add_child("max-file-size", kNsUpload).add_text(std::to_string(max_size));
    host_->send(std::move(reply));
}

void Upload::handle(module::DomainStanza& d) {
    const xml::Element& st = d.stanza;
    const std::string_view type = st.attr_or("type");
    if (xmpp::is_error_or_result(st) || st.name() == "presence") return;
    if (st.name() != "iq") {
        reply_error(st, StanzaError::cancel("service-unavailable", "the upload service takes only iq requests"));
        return;
    }
    const xml::Element* payload = st.first_child();
    if ((type != "get" && type != "set") || !payload || st.child_count() != 1) {
        reply_error(st, StanzaError::modify("bad-request", "an iq request has exactly one payload"));
        return;
    }
    if (d.to.has_node() || !d.to.is_bare()) {
        reply_error(st, StanzaError::cancel("service-unavailable", "only the service's domain answers"));
        return;
    }
    if (type == "get" && payload->ns() == kNsDiscoInfo && payload->name() == "query") {
        if (!payload->attr_or("node").empty()) {
            reply_error(st, StanzaError::cancel("item-not-found", "no such node"));
            return;
        }
        xml::Element reply("iq", st.ns());
        reply.set_attr("type", "result");
        reply.set_attr("id", std::string(st.attr_or("id")));
        reply.set_attr("from", d.to.str());
        reply.set_attr("to", d.from.str());
        reply.add_child(disco_info());
        host_->send(std::move(reply));
        return;
    }
    if (type == "get" && payload->ns() == kNsDiscoItems && payload->name() == "query") {
        xml::Element reply("iq", st.ns());
        reply.set_attr("type", "result");
        reply.set_attr("id", std::string(st.attr_or("id")));
        reply.set_attr("from", d.to.str());
        reply.set_attr("to", d.from.str());
        reply.add_child("query", kNsDiscoItems);
        host_->send(std::move(reply));
        return;
    }
    if (type == "get" && payload->ns() == kNsUpload && payload->name() == "request") {
        slot_request(st, *payload, d.from, d.origin);
        return;
    }
    reply_error(st, StanzaError::cancel("service-unavailable", "the upload service does not answer that"));
}

void Upload::slot_request(const xml::Element& iq, const xml::Element& req, const xmpp::Jid& from,
                          module::Origin origin) {
    if (origin != module::Origin::local_client || !from.has_node() || from.domain() != settings_.vhost) {
        reply_error(iq, StanzaError::cancel("not-allowed", "only accounts of " + settings_.vhost + " may upload here"));
        return;
    }
    const std::string filename(req.attr_or("filename"));
    if (Status s = check_filename(filename); !s) {
        reply_error(iq, StanzaError::modify("bad-request", s.message()));
        return;
    }
    const std::string_view size_text = req.attr_or("size");
    uint64_t size = 0;
    auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
    if (size_text.empty() || ec != std::errc() || p != size_text.data() + size_text.size() || size == 0) {
        reply_error(iq, StanzaError::modify("bad-request", "size must be a positive number of bytes"));
        return;
    }
    if (size > settings_.max_file_size) {
        reply_error(iq,
                    StanzaError::modify("not-acceptable", "File too large. The maximum file size is " +
                                                               std::to_string(settings_.max_file_size) + " bytes")
                        .with_app("file-too-large", kNsUpload),
                    settings_.max_file_size);
        return;
    }
    std::string content_type(req.attr_or("content-type"));
    if (!content_type.empty())
        if (Status s = check_content_type(content_type); !s) {
            reply_error(iq, StanzaError::modify("bad-request", s.message()));
            return;
        }
    // Worker 0 keeps the quota ledger and the secret.
    xml::Element request = iq;
    request.set_attr("from", from.str());
    request.set_attr("to", settings_.domain);
    bool posted = host_->post(0, [iq = std::move(request), owner = from.bare_str(), filename, size, content_type](module::Host& h) mutable {
        static_cast<Upload&>(h.instance()).grant(std::move(iq), std::move(owner), std::move(filename), size,
                                                 std::move(content_type));
    });
    if (!posted) reply_error(iq, StanzaError::wait("resource-constraint", "the upload service is stopping"));
}

void Upload::grant(xml::Element iq, std::string owner, std::string filename, uint64_t size,
                   std::string content_type) {
    if (!host_) return;
    if (!store_) {
        reply_error(iq, StanzaError::wait("resource-constraint", "the upload service is not running"));
        return;
    }
    const int64_t now_ms = unix_now_ms(), now = now_ms / 1000;
    SlotGrant g{new_slot_id(), std::move(filename), size, std::move(content_type), now + settings_.slot_lifetime_s,
                std::move(owner), now_ms};
    if (g.slot_id.empty()) {
        reply_error(iq, StanzaError::wait("internal-server-error", "no random slot id"));
        return;
    }
    // A request posted before the account's sessions ended may arrive
    // while its purge runs: no slot for it.
    for (const auto& p : purges_)
        if (p.job->owner() == g.owner) {
            reply_error(iq, StanzaError::cancel("not-allowed", "the account is being deleted"));
            return;
        }
    Status s = store_->reserve(g.owner, g.slot_id, g.size, g.expires, settings_.quota_bytes, now);
    if (!s) {
        reply_error(iq, StanzaError::wait("resource-constraint",
                                          "Quota reached: " + std::to_string(store_->used(g.owner, now)) + " of " +
                                              std::to_string(settings_.quota_bytes) + " bytes are in use"));
        return;
    }
    const std::string url = settings_.external_url + "/" + g.slot_id + "/" + percent_encode(g.filename);
    xml::Element reply("iq", iq.ns());
    reply.set_attr("type", "result");
    reply.set_attr("id", std::string(iq.attr_or("id")));
    reply.set_attr("from", std::string(iq.attr_or("to")));
    reply.set_attr("to", std::string(iq.attr_or("from")));
    auto& slot = reply.add_child("slot", kNsUpload);
    auto& put = slot.add_child("put", kNsUpload);
    put.set_attr("url", url);
    auto& h = put.add_child("header", kNsUpload);
    h.set_attr("name", "Authorization");
    h.add_text(sign_token(store_->secret(), g));
    slot.add_child("get", kNsUpload).set_attr("url", url);
    host_->send(std::move(reply));
}

}  // namespace parley::mod_upload
