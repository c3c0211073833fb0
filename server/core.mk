# server core: workers, streams, c2s, sessions, router, hooks, module host, daemon, control
libparley_la_SOURCES += \
	server/loop/worker.hpp server/loop/worker.cpp \
	server/loop/worker_host.hpp server/loop/worker_host.cpp \
	server/loop/module_database.hpp server/loop/module_database.cpp \
	server/loop/delay.hpp \
	server/net/stream_transport.hpp server/net/stream_transport.cpp \
	server/net/connection_limiter.hpp server/net/connection_limiter.cpp \
	server/c2s/session.hpp server/c2s/session.cpp server/c2s/established.cpp server/c2s/resume.cpp \
	server/sessions/registry.hpp server/sessions/registry.cpp server/sessions/local_session.hpp \
	server/router/router.hpp server/router/router.cpp server/router/rules.hpp server/router/rules.cpp \
	server/hooks/hook_table.hpp server/hooks/hook_table.cpp \
	server/module/module_api.hpp server/module/loader.hpp server/module/loader.cpp \
	server/module/services.hpp server/module/services.cpp server/module/control_json.hpp \
	server/module/tls.hpp \
	server/daemon/shared.hpp server/daemon/daemon.hpp server/daemon/daemon.cpp \
	server/control/control_server.hpp server/control/control_server.cpp

# Ending sessions from outside their worker (control socket, account changes);
# the accounts and invitations a module reaches through its host (XEP-0077).
libparley_la_SOURCES += server/loop/end_sessions.hpp server/loop/end_sessions.cpp \
	server/loop/host_accounts.hpp server/loop/host_accounts.cpp \
	server/loop/host_invitations.hpp server/loop/host_invitations.cpp \
	server/loop/host_tls.hpp server/loop/host_tls.cpp \
	server/loop/account_purge.hpp server/loop/account_purge.cpp

# XEP-0114 external components: their listener's sessions, where each runs,
# routing to them through the domain handler seam.
libparley_la_SOURCES += server/component/handshake.hpp server/component/handshake.cpp \
	server/component/directory.hpp server/component/directory.cpp \
	server/component/session.hpp server/component/session.cpp \
	server/component/routing.hpp server/component/routing.cpp

# Server-to-server federation (RFC 6120, XEP-0178, XEP-0220, XEP-0368):
# dialback keys, incoming streams, outgoing links and their queues.
libparley_la_SOURCES += server/s2s/dialback.hpp server/s2s/dialback.cpp \
	server/s2s/links.hpp server/s2s/links.cpp \
	server/s2s/inbound.hpp server/s2s/inbound.cpp \
	server/s2s/outbound.hpp server/s2s/outbound.cpp \
	server/s2s/receive.hpp server/s2s/receive.cpp
tests_unit_parley_unit_SOURCES += tests/unit/s2s/dialback_test.cpp
