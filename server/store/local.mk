# server/store: the LMDB state store, SCRAM credentials, accounts (owned by this area)
libparley_la_SOURCES += \
	server/store/env.hpp server/store/env.cpp \
	server/store/writer.hpp server/store/writer.cpp \
	server/store/scram.hpp server/store/scram.cpp \
	server/store/accounts.hpp server/store/accounts.cpp

tests_unit_parley_unit_SOURCES += \
	tests/support/temp_dir.hpp \
	tests/unit/store/env_test.cpp \
	tests/unit/store/writer_test.cpp \
	tests/unit/store/writer_crash_test.cpp \
	tests/unit/store/scram_test.cpp \
	tests/unit/store/accounts_test.cpp

# Invitation tokens (in-band registration; parleyctl invite).
libparley_la_SOURCES += server/store/invites.hpp server/store/invites.cpp
tests_unit_parley_unit_SOURCES += tests/unit/store/invites_test.cpp
