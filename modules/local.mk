# modules: one loadable mod_NAME.so per feature. Each module's implementation
# file goes into the unit tests too (tested against tests/support/fake_host.hpp);
# the mod_NAME.cpp export file holds only the descriptor.
modules_LTLIBRARIES += modules/disco/mod_disco.la modules/ping/mod_ping.la \
	modules/version/mod_version.la modules/time/mod_time.la

modules_disco_mod_disco_la_SOURCES = modules/disco/mod_disco.cpp \
	modules/disco/service_discovery.hpp modules/disco/service_discovery.cpp
modules_disco_mod_disco_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_disco_mod_disco_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_disco_mod_disco_la_LIBADD = libparley.la

modules_ping_mod_ping_la_SOURCES = modules/ping/mod_ping.cpp modules/ping/ping.hpp modules/ping/ping.cpp
modules_ping_mod_ping_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_ping_mod_ping_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_ping_mod_ping_la_LIBADD = libparley.la

modules_version_mod_version_la_SOURCES = modules/version/mod_version.cpp \
	modules/version/software_version.hpp modules/version/software_version.cpp
modules_version_mod_version_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_version_mod_version_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_version_mod_version_la_LIBADD = libparley.la

modules_time_mod_time_la_SOURCES = modules/time/mod_time.cpp \
	modules/time/entity_time.hpp modules/time/entity_time.cpp
modules_time_mod_time_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_time_mod_time_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_time_mod_time_la_LIBADD = libparley.la

tests_unit_parley_unit_SOURCES += \
	modules/disco/service_discovery.cpp modules/ping/ping.cpp \
	modules/version/software_version.cpp modules/time/entity_time.cpp \
	tests/unit/modules/disco_test.cpp tests/unit/modules/ping_test.cpp \
	tests/unit/modules/version_test.cpp tests/unit/modules/time_test.cpp \
	tests/unit/modules/readme_test.cpp tests/unit/modules/interface_includes_test.cpp

EXTRA_DIST += modules/disco/README.md modules/ping/README.md modules/version/README.md modules/time/README.md \
	tests/support/fake_host.hpp

# Gather the built modules in one directory of the build tree, so that a
# development or test config can point module_dir at $(builddir)/modules/.libs.
all-local: modules-gather
modules-gather: $(modules_LTLIBRARIES)
	@mkdir -p modules/.libs
	@for la in $(modules_LTLIBRARIES); do \
	  d=$$(dirname $$la); n=$$(basename $$la .la); \
	  ln -sf "../$$(basename $$d)/.libs/$$n.so" "modules/.libs/$$n.so"; \
	done
.PHONY: modules-gather

# roster: RFC 6121 rosters, subscriptions and presence (on by default).
modules_LTLIBRARIES += modules/roster/mod_roster.la
modules_roster_mod_roster_la_SOURCES = modules/roster/mod_roster.cpp \
	modules/roster/roster.hpp modules/roster/roster.cpp modules/roster/roster_service.hpp \
	modules/roster/subscription.hpp modules/roster/subscription.cpp
modules_roster_mod_roster_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_roster_mod_roster_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_roster_mod_roster_la_LIBADD = libparley.la
tests_unit_parley_unit_SOURCES += modules/roster/roster.cpp modules/roster/subscription.cpp \
	tests/unit/modules/roster_test.cpp
EXTRA_DIST += modules/roster/README.md

# mod_offline: XEP-0160 offline messages (modules/offline/README.md).
modules_LTLIBRARIES += modules/offline/mod_offline.la
modules_offline_mod_offline_la_SOURCES = modules/offline/mod_offline.cpp \
	modules/offline/offline.hpp modules/offline/offline.cpp \
	modules/offline/offline_store.hpp modules/offline/offline_store.cpp
modules_offline_mod_offline_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_offline_mod_offline_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_offline_mod_offline_la_LIBADD = libparley.la
tests_unit_parley_unit_SOURCES += modules/offline/offline.cpp modules/offline/offline_store.cpp \
	tests/unit/modules/offline_test.cpp
EXTRA_DIST += modules/offline/README.md

# carbons: XEP-0280 Message Carbons.
modules_LTLIBRARIES += modules/carbons/mod_carbons.la
modules_carbons_mod_carbons_la_SOURCES = modules/carbons/mod_carbons.cpp \
	modules/carbons/carbons.hpp modules/carbons/carbons.cpp modules/carbons/rules.hpp modules/carbons/rules.cpp
modules_carbons_mod_carbons_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_carbons_mod_carbons_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_carbons_mod_carbons_la_LIBADD = libparley.la
tests_unit_parley_unit_SOURCES += modules/carbons/carbons.cpp modules/carbons/rules.cpp \
	tests/unit/modules/carbons_test.cpp
EXTRA_DIST += modules/carbons/README.md

# blocking: XEP-0191 Blocking Command.
modules_LTLIBRARIES += modules/blocking/mod_blocking.la
modules_blocking_mod_blocking_la_SOURCES = modules/blocking/mod_blocking.cpp \
	modules/blocking/blocking.hpp modules/blocking/blocking.cpp \
	modules/blocking/blocklist_store.hpp modules/blocking/blocklist_store.cpp \
	modules/blocking/matching.hpp modules/blocking/matching.cpp
modules_blocking_mod_blocking_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_blocking_mod_blocking_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_blocking_mod_blocking_la_LIBADD = libparley.la
tests_unit_parley_unit_SOURCES += modules/blocking/blocking.cpp modules/blocking/blocklist_store.cpp \
	modules/blocking/matching.cpp tests/unit/modules/blocking_test.cpp
EXTRA_DIST += modules/blocking/README.md

# pep: XEP-0163 PEP, XEP-0115 caps, XEP-0402/0048 bookmarks, XEP-0049 private storage.
modules_LTLIBRARIES += modules/pep/mod_pep.la
PEP_SOURCES = modules/pep/pep.hpp modules/pep/pep.cpp modules/pep/pubsub_iq.cpp \
	modules/pep/bookmarks.hpp modules/pep/bookmarks.cpp modules/pep/caps.hpp modules/pep/caps.cpp \
	modules/pep/node_config.hpp modules/pep/node_config.cpp modules/pep/node_store.hpp modules/pep/node_store.cpp \
	modules/pep/element_codec.hpp modules/pep/element_codec.cpp modules/roster/roster_service.hpp
modules_pep_mod_pep_la_SOURCES = modules/pep/mod_pep.cpp $(PEP_SOURCES)
modules_pep_mod_pep_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_pep_mod_pep_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_pep_mod_pep_la_LIBADD = libparley.la
tests_unit_parley_unit_SOURCES += $(PEP_SOURCES) \
	tests/unit/modules/pep_test.cpp tests/unit/modules/pep_store_test.cpp tests/unit/modules/pep_caps_test.cpp
EXTRA_DIST += modules/pep/README.md

# vcard: XEP-0054 vcard-temp with XEP-0153 photo hashes in presence.
modules_LTLIBRARIES += modules/vcard/mod_vcard.la
modules_vcard_mod_vcard_la_SOURCES = modules/vcard/mod_vcard.cpp \
	modules/vcard/vcard.hpp modules/vcard/vcard.cpp \
	modules/vcard/vcard_record.hpp modules/vcard/vcard_record.cpp
modules_vcard_mod_vcard_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_vcard_mod_vcard_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_vcard_mod_vcard_la_LIBADD = libparley.la $(GNUTLS_LIBS)
tests_unit_parley_unit_SOURCES += modules/vcard/vcard.cpp modules/vcard/vcard_record.cpp \
	tests/unit/modules/vcard_test.cpp
EXTRA_DIST += modules/vcard/README.md

# last: XEP-0012 Last Activity of the server and of accounts (needs roster).
modules_LTLIBRARIES += modules/last/mod_last.la
modules_last_mod_last_la_SOURCES = modules/last/mod_last.cpp \
	modules/last/last_activity.hpp modules/last/last_activity.cpp
modules_last_mod_last_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_last_mod_last_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_last_mod_last_la_LIBADD = libparley.la
tests_unit_parley_unit_SOURCES += modules/last/last_activity.cpp tests/unit/modules/last_test.cpp
EXTRA_DIST += modules/last/README.md

# mod_register: XEP-0077 in-band registration, invitations, password change.
modules_LTLIBRARIES += modules/register/mod_register.la
modules_register_mod_register_la_SOURCES = modules/register/mod_register.cpp \
	modules/register/register.hpp modules/register/register.cpp \
	modules/register/rate_limits.hpp modules/register/rate_limits.cpp
modules_register_mod_register_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_register_mod_register_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_register_mod_register_la_LIBADD = libparley.la
tests_unit_parley_unit_SOURCES += modules/register/register.cpp modules/register/rate_limits.cpp \
	tests/unit/modules/register_test.cpp tests/unit/modules/register_limits_test.cpp
EXTRA_DIST += modules/register/README.md

# mod_sm: XEP-0198 stream management; mod_csi: XEP-0352 client state indication.
modules_LTLIBRARIES += modules/sm/mod_sm.la modules/csi/mod_csi.la
modules_sm_mod_sm_la_SOURCES = modules/sm/mod_sm.cpp \
	modules/sm/stream_management.hpp modules/sm/stream_management.cpp \
	modules/sm/resumption_directory.hpp modules/sm/resumption_directory.cpp
modules_sm_mod_sm_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_sm_mod_sm_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_sm_mod_sm_la_LIBADD = libparley.la $(GNUTLS_LIBS) $(FMT_LIBS)
modules_csi_mod_csi_la_SOURCES = modules/csi/mod_csi.cpp \
	modules/csi/client_state.hpp modules/csi/client_state.cpp
modules_csi_mod_csi_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_csi_mod_csi_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_csi_mod_csi_la_LIBADD = libparley.la
tests_unit_parley_unit_SOURCES += \
	modules/sm/stream_management.cpp modules/sm/resumption_directory.cpp modules/csi/client_state.cpp \
	tests/unit/modules/sm_test.cpp tests/unit/modules/sm_session_test.cpp tests/unit/modules/csi_test.cpp
EXTRA_DIST += modules/sm/README.md modules/csi/README.md

# mod_upload: XEP-0363 HTTP File Upload (modules/upload/README.md).
modules_LTLIBRARIES += modules/upload/mod_upload.la
modules_upload_mod_upload_la_SOURCES = modules/upload/mod_upload.cpp \
	modules/upload/upload.hpp modules/upload/upload.cpp \
	modules/upload/slot_token.hpp modules/upload/slot_token.cpp \
	modules/upload/file_store.hpp modules/upload/file_store.cpp \
	modules/upload/http_exchange.hpp modules/upload/http_exchange.cpp \
	modules/upload/http_server.hpp modules/upload/http_server.cpp \
	modules/upload/owner_purge.hpp modules/upload/owner_purge.cpp
modules_upload_mod_upload_la_CXXFLAGS = $(PARLEY_MODULE_CXX) $(UV_CFLAGS) $(GNUTLS_CFLAGS)
modules_upload_mod_upload_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_upload_mod_upload_la_LIBADD = libparley.la $(HTTP_PARSER_LIBS) $(UV_LIBS) $(GNUTLS_LIBS) $(FMT_LIBS)
tests_unit_parley_unit_SOURCES += modules/upload/upload.cpp modules/upload/slot_token.cpp \
	modules/upload/file_store.cpp modules/upload/http_exchange.cpp modules/upload/http_server.cpp \
	modules/upload/owner_purge.cpp \
	tests/unit/modules/upload_test.cpp tests/unit/modules/upload_http_test.cpp \
	tests/unit/modules/upload/owner_purge_test.cpp
tests_unit_parley_unit_LDADD += $(HTTP_PARSER_LIBS)
EXTRA_DIST += modules/upload/README.md

# archive: the compliance journal (archive/), fed by the routed hook; the
# "archive/1" service for MAM and group chat.
modules_LTLIBRARIES += modules/archive/mod_archive.la
modules_archive_mod_archive_la_SOURCES = modules/archive/mod_archive.cpp \
	modules/archive/archiver.hpp modules/archive/archiver.cpp modules/archive/journal_service.hpp \
	modules/archive/prefs.hpp modules/archive/prefs.cpp modules/archive/keeper.hpp modules/archive/keeper.cpp
modules_archive_mod_archive_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_archive_mod_archive_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_archive_mod_archive_la_LIBADD = libparley.la archive/libparley_archive.la
tests_unit_parley_unit_SOURCES += modules/archive/archiver.cpp modules/archive/prefs.cpp modules/archive/keeper.cpp tests/unit/modules/archive_test.cpp
EXTRA_DIST += modules/archive/README.md

# mam: XEP-0313 Message Archive Management over the archive service.
modules_LTLIBRARIES += modules/mam/mod_mam.la
modules_mam_mod_mam_la_SOURCES = modules/mam/mod_mam.cpp \
	modules/mam/mam.hpp modules/mam/mam.cpp modules/mam/query.hpp modules/mam/query.cpp \
	modules/mam/page.hpp modules/mam/page.cpp
modules_mam_mod_mam_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_mam_mod_mam_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_mam_mod_mam_la_LIBADD = libparley.la archive/libparley_archive.la
tests_unit_parley_unit_SOURCES += modules/mam/mam.cpp modules/mam/query.cpp modules/mam/page.cpp tests/unit/modules/mam_test.cpp
EXTRA_DIST += modules/mam/README.md

# muc: XEP-0045 Multi-User Chat on a subdomain (modules/muc/README.md).
modules_LTLIBRARIES += modules/muc/mod_muc.la
modules_muc_mod_muc_la_SOURCES = modules/muc/mod_muc.cpp \
	modules/muc/muc.hpp modules/muc/muc.cpp modules/muc/room.hpp modules/muc/room.cpp \
	modules/mam/query.hpp modules/mam/query.cpp modules/mam/page.hpp modules/mam/page.cpp
modules_muc_mod_muc_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_muc_mod_muc_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_muc_mod_muc_la_LIBADD = libparley.la archive/libparley_archive.la $(GNUTLS_LIBS) $(FMT_LIBS)
tests_unit_parley_unit_SOURCES += modules/muc/muc.cpp modules/muc/room.cpp tests/unit/modules/muc_room_test.cpp \
	tests/unit/modules/muc_service_test.cpp
EXTRA_DIST += modules/muc/README.md

# content_policy: data-loss prevention rules on messages (modules/content_policy/README.md).
modules_LTLIBRARIES += modules/content_policy/mod_content_policy.la
modules_content_policy_mod_content_policy_la_SOURCES = modules/content_policy/mod_content_policy.cpp \
	modules/content_policy/content_policy.hpp modules/content_policy/content_policy.cpp \
	modules/content_policy/policy.hpp modules/content_policy/policy.cpp \
	modules/content_policy/detectors.hpp modules/content_policy/detectors.cpp
modules_content_policy_mod_content_policy_la_CXXFLAGS = $(PARLEY_MODULE_CXX) $(RE2_CFLAGS)
modules_content_policy_mod_content_policy_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_content_policy_mod_content_policy_la_LIBADD = libparley.la $(RE2_LIBS) $(FMT_LIBS)
tests_unit_parley_unit_SOURCES += modules/content_policy/content_policy.cpp modules/content_policy/policy.cpp \
	modules/content_policy/detectors.cpp tests/unit/modules/content_policy_detectors_test.cpp \
	tests/unit/modules/content_policy_test.cpp
tests_unit_parley_unit_LDADD += $(RE2_LIBS)
EXTRA_DIST += modules/content_policy/README.md

# federation_policy: tiers per remote domain for s2s (modules/federation_policy/README.md).
modules_LTLIBRARIES += modules/federation_policy/mod_federation_policy.la
modules_federation_policy_mod_federation_policy_la_SOURCES = modules/federation_policy/mod_federation_policy.cpp \
	modules/federation_policy/federation_policy.hpp modules/federation_policy/federation_policy.cpp \
	modules/federation_policy/federation_service.hpp \
	modules/federation_policy/policy.hpp modules/federation_policy/policy.cpp
modules_federation_policy_mod_federation_policy_la_CXXFLAGS = $(PARLEY_MODULE_CXX)
modules_federation_policy_mod_federation_policy_la_LDFLAGS = $(PARLEY_MODULE_LINK)
modules_federation_policy_mod_federation_policy_la_LIBADD = libparley.la $(FMT_LIBS)
tests_unit_parley_unit_SOURCES += modules/federation_policy/policy.cpp tests/unit/modules/federation_policy_test.cpp
EXTRA_DIST += modules/federation_policy/README.md
