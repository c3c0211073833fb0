# server/sasl: sources and unit tests (owned by this area)
libparley_la_SOURCES += \
	server/sasl/sasl_server.hpp server/sasl/sasl_server.cpp \
	server/sasl/scram_server.hpp server/sasl/scram_server.cpp \
	server/sasl/auxprop.hpp server/sasl/auxprop.cpp \
	server/sasl/login_throttle.hpp server/sasl/login_throttle.cpp

tests_unit_parley_unit_SOURCES += \
	tests/unit/sasl/sasl_server_test.cpp \
	tests/unit/sasl/scram_server_test.cpp \
	tests/unit/sasl/login_throttle_test.cpp
