// A fresh archive environment for one test: an LMDB environment in a
// temporary directory with the journal's database, and a Journal under a
// random key. Single-threaded.
#pragma once

#include <boost/test/unit_test.hpp>

#include <functional>
#include <memory>

#include "archive/chain/verify.hpp"
#include "archive/journal/journal.hpp"
#include "store/env.hpp"
#include "support/temp_dir.hpp"

namespace parley::archive {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& os, Finding::Kind k) { return os << to_string(k); }
}  // namespace parley::archive

namespace parley::test {

inline archive::SecretKey test_key() {
    auto k = archive::random_key();
    BOOST_REQUIRE(k);
    return *k;
}

struct ArchiveFixture {
    TempDir tmp;
    std::unique_ptr<store::Env> env;
    MDB_dbi db = 0;
    archive::SecretKey kek = test_key();
    archive::Journal journal{kek};

    ArchiveFixture() {
        auto e = store::Env::open(tmp.sub("archive"), size_t{64} << 20);
        BOOST_REQUIRE_MESSAGE(e, "archive fixture: Env::open: " << e.status().to_string());
        env = std::move(e.value());
        auto d = env->database("archive.journal", 1);
        BOOST_REQUIRE_MESSAGE(d, "archive fixture: database: " << d.status().to_string());
        db = d.value();
    }
    uint64_t append(const archive::Entry& entry, uint64_t now_ms) {
        uint64_t id = 0;
        Status s = env->write([&](store::Txn& t) {
            auto r = journal.append(t.handle(), db, now_ms, entry);
            if (!r) return r.status();
            id = *r;
            return Status::ok();
        });
        BOOST_REQUIRE_MESSAGE(s, "archive fixture: append: " << s.to_string());
        return id;
    }
    // Runs fn in a write transaction (raw edits of the database, as an
    // attacker with file access would make them).
    void edit(const std::function<void(MDB_txn*)>& fn) {
        Status s = env->write([&](store::Txn& t) {
            fn(t.handle());
            return Status::ok();
        });
        BOOST_REQUIRE(s);
    }
    template <class Fn>
    auto read(Fn&& fn) {
        auto t = env->begin_read();
        BOOST_REQUIRE(t);
        return fn(t->handle());
    }
};

inline archive::Entry chat(const std::string& from, const std::string& to, const std::string& body) {
    archive::Entry e;
    e.from = from + "/phone";
    e.to = to;
    e.type = "chat";
    e.outcome = "delivered";
    std::string fb = from, tb = to;
    e.views = {{fb, tb}, {tb, fb}};
    e.stanza = "<message xmlns='jabber:client' type='chat' from='" + e.from + "' to='" + to + "'><body>" + body +
               "</body></message>";
    e.words = archive::words_of(body);
    return e;
}

}  // namespace parley::test
