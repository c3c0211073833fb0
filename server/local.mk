# server: libparley.la (everything but main.cpp) and parleyd.
libparley_la_SOURCES += \
	server/errors/status.hpp \
	server/errors/stanza_error.hpp \
	server/log/log.hpp server/log/log.cpp

include server/xml/local.mk
include server/xmpp/local.mk
include server/config/local.mk
include server/store/local.mk
include server/sasl/local.mk
include server/net/local.mk
include server/core.mk
