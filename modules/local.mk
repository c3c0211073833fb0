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
	tests/unit/modules/readme_test.cpp

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
