# tests: the runner, integration tests and fixtures (shipped in the tarball).
EXTRA_DIST += tests/run-all tests/support/certs.sh tests/support/fake_host.hpp \
	tests/support/loopback.hpp tests/support/mem_client.hpp tests/support/memory_transport.hpp tests/support/option_docs.hpp \
	tests/support/seams_fixture.hpp tests/support/temp_dir.hpp tests/fuzz/run \
	tests/fuzz/config_fuzz.cpp tests/fuzz/jid_fuzz.cpp tests/fuzz/sasl_fuzz.cpp \
	tests/fuzz/stream_parser_fuzz.cpp tests/integration/clients.py tests/integration/harness.py \
	tests/integration/run.py tests/integration/scram_client.py tests/integration/test_aioxmpp.py \
	tests/integration/test_bad_input.py tests/integration/test_channel_binding.py \
	tests/integration/test_connection_end.py tests/integration/test_control.py \
	tests/integration/test_data_owner.py tests/integration/test_downgrade_protection.py \
	tests/integration/test_enumeration.py tests/integration/test_hostile_stanzas.py \
	tests/integration/test_lifecycle.py tests/integration/test_limits.py \
	tests/integration/test_login.py tests/integration/test_module_lifecycle.py \
	tests/integration/test_modules.py tests/integration/test_password_queue.py \
	tests/integration/test_preauth_limits.py tests/integration/test_reload.py \
	tests/integration/test_roster.py tests/integration/test_routing.py tests/integration/test_seams.py \
	tests/integration/test_store_crash.py tests/integration/test_throttle.py \
	tests/integration/test_tls_priority.py
EXTRA_DIST += tests/integration/test_offline.py

EXTRA_DIST += tests/integration/test_carbons.py tests/integration/test_blocking.py

EXTRA_DIST += tests/integration/test_pep.py

# A fixed roster service (roster/1) for tests of modules that read contacts.
check_LTLIBRARIES += tests/support/modules/mod_testroster.la
tests_support_modules_mod_testroster_la_SOURCES = tests/support/modules/mod_testroster.cpp
tests_support_modules_mod_testroster_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
tests_support_modules_mod_testroster_la_LDFLAGS = $(PARLEY_TEST_MODULE_LINK)
tests_support_modules_mod_testroster_la_LIBADD = libparley.la
EXTRA_DIST += tests/support/env_database.hpp tests/support/fake_service_host.hpp

EXTRA_DIST += tests/support/fake_storage.hpp tests/integration/test_vcard.py tests/integration/test_last.py
EXTRA_DIST += tests/integration/test_register.py tests/integration/test_session_ctl.py

EXTRA_DIST += tests/integration/test_sm.py tests/integration/test_csi.py
EXTRA_DIST += tests/integration/test_client_login.py
EXTRA_DIST += tests/integration/test_component.py
EXTRA_DIST += tests/integration/test_upload.py
EXTRA_DIST += tests/integration/test_account_delete.py
EXTRA_DIST += tests/integration/test_muc.py tests/integration/test_muc_access.py
EXTRA_DIST += tests/integration/test_muc_archive.py
EXTRA_DIST += tests/integration/muc_helpers.py
