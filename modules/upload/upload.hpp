// mod_upload: XEP-0363 HTTP File Upload, a service on its own domain.
//
// The XMPP side: every worker's instance owns the configured domain
// (Host::domain_handler under its parent virtual host, so the domain is
// listed in the host's disco#items) and answers disco#info (identity
// store/file, urn:xmpp:http:upload:0, the XEP-0128 form with
// max-file-size) and slot requests. A request is checked where it arrives
// (a local account of the virtual host, file name, size, content type) and
// then posted to worker 0, whose instance keeps the FileStore (quota
// ledger, secret) and the HttpServer thread: there the slot is reserved
// against the quota, signed (slot_token.hpp) and answered.
//
// The HTTP side (http_server.hpp, http_exchange.hpp) takes the PUT and
// serves GET/HEAD on its own thread and loop, started by worker 0's
// instance in start() and joined in stop() (and around a reload that
// changes the listener or certificate).
//
// A deleted account's uploads (Host::on_account_deleted, called on worker
// 0): an OwnerPurge (owner_purge.hpp) runs in steps on the HTTP thread; the
// host's completion is called on worker 0 once the files are unlinked and
// the directories synced. The Host is loop-affine, so the HTTP thread
// cannot post back: worker 0 looks every kPurgePollMs while a purge runs.
// While an account's purge runs, slot requests of that account are refused.
//
// One instance per worker; loop-affine, except what the header of each
// part says.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "file_store.hpp"
#include "http_server.hpp"
#include "owner_purge.hpp"
#include "module/module_api.hpp"

namespace parley::mod_upload {

inline constexpr const char* kNsUpload = "urn:xmpp:http:upload:0";

struct Settings {
    std::string domain;          // upload.example.org
    std::string vhost;           // example.org: whose accounts may upload
    uint64_t max_file_size = 0;
    uint64_t quota_bytes = 0;    // 0: none
    int64_t expire_days = 0;     // 0: kept
    int64_t slot_lifetime_s = 300;
    std::string external_url;    // https://upload.example.org:5443 (no trailing '/')
    std::string certificate, key;  // empty: the virtual host's
    ListenOptions listen;
    int64_t idle_timeout_s = 30;
    size_t max_header_bytes = 8192;
    int64_t purge_interval_s = 3600;
};
// The settings of a section that validated against the schema, with the
// checks the schema cannot make; code "config" naming file:line:key.
Result<Settings> read_settings(const config::Section& section);

class Upload final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

    // Worker 0: grants a checked request and sends the answer (also what
    // the unit tests drive through the fake host).
    void grant(xml::Element iq, std::string owner, std::string filename, uint64_t size, std::string content_type);
    // Worker 0, for tests: the port the HTTP server listens on (0 if none).
    uint16_t http_port() const { return server_ ? server_->port() : 0; }
    std::shared_ptr<FileStore> store() const { return store_; }

    // Worker 0: removes what `bare` uploaded, then calls done there (what
    // the host's on_account_deleted handler runs).
    void purge_account(const xmpp::Jid& bare, std::function<void(Status)> done);
    // For tests: the purges whose completion is not yet called.
    std::vector<std::shared_ptr<OwnerPurge>> purges_running() const;
    static constexpr uint64_t kPurgePollMs = 20;

private:
    void handle(module::DomainStanza& d);
    void slot_request(const xml::Element& iq, const xml::Element& req, const xmpp::Jid& from,
                      module::Origin origin);
    xml::Element disco_info() const;
    void reply_error(const xml::Element& iq, const StanzaError& e, uint64_t max_size = 0);
    std::shared_ptr<const ServeSettings> serve_settings() const;
    Status start_http();
    void watch_purges();
    void poll_purges();
    void resume_purges();

    module::Host* host_ = nullptr;
    Settings settings_;
    // Worker 0 only.
    std::shared_ptr<FileStore> store_;
    std::unique_ptr<HttpServer> server_;
    struct PendingPurge {
        std::shared_ptr<OwnerPurge> job;
        std::function<void(Status)> done;
    };
    std::vector<PendingPurge> purges_;
    module::TimerId purge_timer_ = 0;  // 0: not armed
};

extern const config::OptionSpec kOptions[];
extern const size_t kOptionCount;
extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 2;

}  // namespace parley::mod_upload
