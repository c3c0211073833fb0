# tests/unit: unit tests of the server core, and the loader's test modules.
tests_unit_parley_unit_SOURCES += \
	tests/unit/log/log_test.cpp \
	tests/unit/loop/worker_accept_test.cpp \
	tests/unit/router/rules_test.cpp \
	tests/unit/router/router_test.cpp \
	tests/unit/c2s/session_test.cpp \
	tests/unit/net/outbound_test.cpp \
	tests/unit/sessions/registry_test.cpp \
	tests/unit/hooks/hook_table_test.cpp \
	tests/unit/module/loader_test.cpp \
	tests/unit/module/services_test.cpp \
	tests/unit/loop/worker_test.cpp \
	tests/unit/loop/module_database_test.cpp

# Test modules for the loader: built for `make check` only.
check_LTLIBRARIES = tests/support/modules/mod_testgood.la tests/support/modules/mod_testbadabi.la \
	tests/support/modules/mod_testnosym.la tests/support/modules/mod_testlife.la \
	tests/support/modules/mod_testservice.la tests/support/modules/mod_testseams.la \
	tests/support/modules/mod_teststore.la
PARLEY_TEST_MODULE_LINK = -module -avoid-version -shared -rpath /nowhere $(AM_LDFLAGS)
tests_support_modules_mod_testgood_la_SOURCES = tests/support/modules/mod_testgood.cpp
tests_support_modules_mod_testgood_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
tests_support_modules_mod_testgood_la_LDFLAGS = $(PARLEY_TEST_MODULE_LINK)
tests_support_modules_mod_testgood_la_LIBADD = libparley.la
tests_support_modules_mod_testbadabi_la_SOURCES = tests/support/modules/mod_testbadabi.cpp
tests_support_modules_mod_testbadabi_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
tests_support_modules_mod_testbadabi_la_LDFLAGS = $(PARLEY_TEST_MODULE_LINK)
tests_support_modules_mod_testbadabi_la_LIBADD = libparley.la
tests_support_modules_mod_testnosym_la_SOURCES = tests/support/modules/mod_testnosym.cpp
tests_support_modules_mod_testnosym_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
tests_support_modules_mod_testnosym_la_LDFLAGS = $(PARLEY_TEST_MODULE_LINK)
tests_support_modules_mod_testlife_la_SOURCES = tests/support/modules/mod_testlife.cpp
tests_support_modules_mod_testlife_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
tests_support_modules_mod_testlife_la_LDFLAGS = $(PARLEY_TEST_MODULE_LINK)
tests_support_modules_mod_testlife_la_LIBADD = libparley.la
tests_support_modules_mod_testservice_la_SOURCES = tests/support/modules/mod_testservice.cpp \
	tests/support/modules/counter_service.hpp
tests_support_modules_mod_testservice_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
tests_support_modules_mod_testservice_la_LDFLAGS = $(PARLEY_TEST_MODULE_LINK)
tests_support_modules_mod_testservice_la_LIBADD = libparley.la
tests_support_modules_mod_testseams_la_SOURCES = tests/support/modules/mod_testseams.cpp
tests_support_modules_mod_testseams_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
tests_support_modules_mod_testseams_la_LDFLAGS = $(PARLEY_TEST_MODULE_LINK)
tests_support_modules_mod_testseams_la_LIBADD = libparley.la
tests_support_modules_mod_teststore_la_SOURCES = tests/support/modules/mod_teststore.cpp
tests_support_modules_mod_teststore_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
tests_support_modules_mod_teststore_la_LDFLAGS = $(PARLEY_TEST_MODULE_LINK)
tests_support_modules_mod_teststore_la_LIBADD = libparley.la

# The host's uptime as modules see it.
tests_unit_parley_unit_SOURCES += tests/unit/loop/worker_host_test.cpp

# The accounts and invitations a module reaches through its host; ending
# sessions from outside.
tests_unit_parley_unit_SOURCES += tests/unit/loop/host_accounts_test.cpp \
	tests/unit/loop/host_invitations_test.cpp tests/unit/loop/host_tls_test.cpp

# XEP-0114 components: handshake, directory, routing helpers.
tests_unit_parley_unit_SOURCES += tests/unit/component/handshake_test.cpp tests/unit/component/routing_test.cpp
