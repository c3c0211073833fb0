# tests: the runner, integration tests and fixtures (shipped in the tarball).
EXTRA_DIST += tests/run-all tests/support/certs.sh \
	tests/fuzz/run tests/fuzz/stream_parser_fuzz.cpp tests/fuzz/jid_fuzz.cpp tests/fuzz/config_fuzz.cpp \
	tests/integration/harness.py tests/integration/clients.py tests/integration/run.py \
	tests/integration/test_login.py tests/integration/test_routing.py tests/integration/test_bad_input.py \
	tests/integration/test_modules.py tests/integration/test_lifecycle.py \
	tests/integration/test_limits.py tests/integration/test_aioxmpp.py \
	tests/integration/test_control.py tests/integration/test_data_owner.py
