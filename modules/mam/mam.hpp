// mod_mam: Message Archive Management for users (XEP-0313 urn:xmpp:mam:2,
// with #extended), over the journal of mod_archive ("archive/1" service,
// modules/archive/journal_service.hpp).
//
// A user queries only their own archive, at their bare JID (or with no
// 'to'): anything else is refused with forbidden. Results are sent as
// <message><result><forwarded/></result></message> straight to the session
// that asked (past the stanza_out hooks, so client state indication cannot
// hold them back behind the final iq), then the iq result with <fin/>.
// Archiving preferences (XEP-0441, <prefs/> in urn:xmpp:mam:2) are read and
// written through the archive service. Metadata (<metadata/>) gives the
// first and last record of the archive.
//
// Loop-affine: one instance per worker; every read is an MVCC read
// transaction on this worker's handle of the journal.
#pragma once

#include "../archive/journal_service.hpp"
#include "config/config.hpp"
#include "module/module_api.hpp"
#include "query.hpp"

namespace parley::mod_mam {

extern const module::XepInfo kXeps[];
extern const size_t kXepCount;

class Mam final : public module::Module {
public:
    Status start(module::Host& host) override;
    void stop() override;

private:
    void query(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void metadata(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void get_prefs(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void set_prefs(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    // The requester's own archive, or the error that refuses it.
    bool own(const module::IqRequest& req, module::IqResponder& r) const;

    module::Host* host_ = nullptr;
    archive::JournalService* archive_ = nullptr;
    std::shared_ptr<bool> alive_;
};

// The <prefs/> element of preferences, and back (bad-request on malformed input).
xml::Element prefs_element(const archive::Prefs& p);
std::variant<archive::Prefs, StanzaError> parse_prefs(const xml::Element& prefs);

}  // namespace parley::mod_mam
