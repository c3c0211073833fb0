# server/net: sources and unit tests (owned by this area)
# (stream_transport.* is listed in server/core.mk.)
libparley_la_SOURCES += \
	server/net/tls.hpp server/net/tls.cpp \
	server/net/resolver.hpp server/net/resolver.cpp

tests_unit_parley_unit_SOURCES += \
	tests/unit/net/tls_test.cpp \
	tests/unit/net/tls_client_test.cpp \
	tests/unit/net/connection_limiter_test.cpp \
	tests/unit/net/resolver_test.cpp

# Test certificates for integration tests and the dev server (needs certtool).
EXTRA_DIST += tests/support/certs.sh
