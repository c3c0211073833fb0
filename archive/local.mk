# archive: libparley_archive.la, the compliance archive (journal, integrity
# chain, keys). A library of its own: it uses LMDB, GnuTLS and zstd and only
# the header-only Status of server/errors, nothing of the server's runtime,
# so that mod_archive, mod_mam and parleyctl link the same code.
noinst_LTLIBRARIES += archive/libparley_archive.la
archive_libparley_archive_la_SOURCES = \
	archive/crypto/keys.hpp archive/crypto/keys.cpp \
	archive/journal/entry.hpp archive/journal/entry.cpp \
	archive/journal/journal.hpp archive/journal/journal.cpp \
	archive/journal/raw_db.hpp \
	archive/chain/verify.hpp archive/chain/verify.cpp \
	archive/chain/checkpoint.hpp archive/chain/checkpoint.cpp \
	archive/retention/policy.hpp archive/retention/policy.cpp \
	archive/retention/purge.hpp archive/retention/purge.cpp \
	archive/hold/holds.hpp archive/hold/holds.cpp \
	archive/audit/audit.hpp archive/audit/audit.cpp \
	archive/search/search.hpp archive/search/search.cpp
archive_libparley_archive_la_CXXFLAGS = $(AM_CXXFLAGS) $(ZSTD_CFLAGS)
archive_libparley_archive_la_LIBADD = $(GNUTLS_LIBS) $(LMDB_LIBS) $(ZSTD_LIBS)

tests_unit_parley_unit_SOURCES += tests/unit/archive/crypto/keys_test.cpp \
	tests/unit/archive/journal/entry_test.cpp tests/unit/archive/journal/journal_test.cpp \
	tests/unit/archive/chain/verify_test.cpp tests/unit/archive/retention/policy_test.cpp \
	tests/unit/archive/retention/purge_test.cpp tests/unit/archive/audit/audit_test.cpp \
	tests/unit/archive/search/search_test.cpp
tests_unit_parley_unit_LDADD += archive/libparley_archive.la
