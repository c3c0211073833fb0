# server/xmpp: sources and unit tests (owned by this area)
libparley_la_SOURCES += \
	server/xmpp/namespaces.hpp server/xmpp/hex.hpp \
	server/xmpp/jid.hpp server/xmpp/jid.cpp \
	server/xmpp/base64.hpp server/xmpp/base64.cpp \
	server/xmpp/datetime.hpp server/xmpp/datetime.cpp \
	server/xmpp/errors.hpp server/xmpp/errors.cpp

tests_unit_parley_unit_SOURCES += \
	tests/unit/xmpp/jid_test.cpp \
	tests/unit/xmpp/base64_test.cpp \
	tests/unit/xmpp/datetime_test.cpp \
	tests/unit/xmpp/errors_test.cpp
