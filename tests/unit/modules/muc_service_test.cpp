// mod_muc as a module (Muc, with a fake host and fake storage): what the
// owner of a room is told when a change cannot be saved.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>

#include "modules/muc/muc.hpp"
#include "support/fake_host.hpp"
#include "support/fake_storage.hpp"
#include "xml/parse_element.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;

namespace {

xmpp::Jid jid(const std::string& s) { return xmpp::Jid::parse(s).value(); }

struct Service {
    test::FakeStorage storage;
    test::FakeHost host;
    mod_muc::Muc muc;

    Service() {
        host.database_factory = storage.factory();
        host.virtual_hosts.push_back(config::VirtualHost{"example.org", "c.pem", "k.pem"});
        host.module_instance = &muc;
        config::Section s;
        s.file = "t.toml";
        s.name = "muc";
        s.line = 1;
        s.values["domain"] = config::OptionValue{std::string("conference.example.org"), 2};
        BOOST_REQUIRE(muc.configure(s).is_ok());
        BOOST_REQUIRE(muc.start(host).is_ok());
        BOOST_REQUIRE(host.domains.count("conference.example.org"));
    }
    ~Service() { muc.stop(); }

    void deliver(const std::string& text, const std::string& from, const std::string& to) {
        auto el = xml::parse_element(text, xmpp::kNsClient, 16);
        BOOST_REQUIRE(el);
        el->set_attr("from", from);
        el->set_attr("to", to);
        module::DomainStanza d{std::move(el).value(), jid(from), jid(to), module::Origin::local_client};
        host.domains.at("conference.example.org")(d);
    }
    // The owner's request to make the room persistent and name it `name`.
    void configure(const std::string& id, const std::string& name) {
        deliver("<iq xmlns='jabber:client' type='set' id='" + id +
                    "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>"
                    "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
                    "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
                    "<field var='muc#roomconfig_roomname'><value>" + name + "</value></field></x></query></iq>",
                "alice@example.org/desk", "team@conference.example.org");
    }
    const xml::Element* answer(const std::string& id) const {
        for (const auto& e : host.sent)
            if (e.name() == "iq" && e.attr_or("id") == id) return &e;
        return nullptr;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(muc_service)

BOOST_AUTO_TEST_CASE(an_owner_hears_when_a_change_could_not_be_saved) {
    Service s;
    s.deliver("<presence xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'/></presence>",
              "alice@example.org/desk", "team@conference.example.org/Alice");
    s.configure("c1", "First");
    BOOST_TEST(!s.answer("c1"), "muc: nothing answered before the save is durable");
    BOOST_TEST(s.storage.complete() >= 1u);
    const xml::Element* ok = s.answer("c1");
    BOOST_REQUIRE(ok);
    BOOST_TEST(ok->attr_or("type") == "result");

    // The store refuses the next write: the owner is told, not "result".
    s.storage.fail_writes = 1;
    s.configure("c2", "Second");
    BOOST_TEST(!s.answer("c2"));
    s.storage.complete();
    const xml::Element* failed = s.answer("c2");
    BOOST_REQUIRE(failed);
    BOOST_TEST(failed->attr_or("type") == "error");
    const xml::Element* err = failed->child("error", xmpp::kNsClient);
    BOOST_REQUIRE(err);
    BOOST_TEST(err->child("internal-server-error", xmpp::kNsStanzas) != nullptr);
    BOOST_TEST(failed->attr_or("to") == "alice@example.org/desk");

    // The next change saves the room again, and is answered as usual.
    s.configure("c3", "Third");
    s.storage.complete();
    const xml::Element* again = s.answer("c3");
    BOOST_REQUIRE(again);
    BOOST_TEST(again->attr_or("type") == "result");

    // A writer that refuses at once (its queue is full): told at once.
    s.storage.busy = true;
    s.configure("c4", "Fourth");
    const xml::Element* refused = s.answer("c4");
    BOOST_REQUIRE(refused);
    BOOST_TEST(refused->attr_or("type") == "error");
    s.storage.busy = false;
}

BOOST_AUTO_TEST_SUITE_END()
