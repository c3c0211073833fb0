# tools: parleyctl (administration) and parley-bench (load generator).
bin_PROGRAMS += tools/parleyctl/parleyctl
tools_parleyctl_parleyctl_SOURCES = tools/parleyctl/parleyctl.cpp \
	tools/parleyctl/control_client.hpp tools/parleyctl/control_client.cpp \
	tools/parleyctl/json_value.hpp tools/parleyctl/json_value.cpp \
	tools/parleyctl/archive_command.hpp tools/parleyctl/archive_command.cpp \
	tools/parleyctl/archive_access.hpp tools/parleyctl/archive_access.cpp \
	tools/parleyctl/export_formats.hpp tools/parleyctl/export_formats.cpp \
	tools/parleyctl/archive_export.hpp tools/parleyctl/archive_export.cpp
tools_parleyctl_parleyctl_LDADD = archive/libparley_archive.la libparley.la $(FMT_LIBS) $(GNUTLS_LIBS)

# parley-bench: a load generator; a client with its own tiny XML handling, so
# it does not link libparley.
bin_PROGRAMS += tools/bench/parley-bench
tools_bench_parley_bench_SOURCES = tools/bench/main.cpp \
	tools/bench/options.hpp tools/bench/options.cpp \
	tools/bench/runner.hpp tools/bench/runner.cpp \
	tools/bench/client_session.hpp tools/bench/client_session.cpp \
	tools/bench/room_client.hpp tools/bench/room_client.cpp \
	tools/bench/tls_client.hpp tools/bench/tls_client.cpp \
	tools/bench/xml_scanner.hpp tools/bench/xml_scanner.cpp \
	tools/bench/scram_client.hpp tools/bench/scram_client.cpp \
	tools/bench/proc_stats.hpp tools/bench/proc_stats.cpp
tools_bench_parley_bench_LDADD = $(UV_LIBS) $(GNUTLS_LIBS) $(FMT_LIBS) -lpthread
EXTRA_DIST += tools/bench/run-bench tools/bench/preauth-memory tools/bench/login-cost \
	tools/bench/bench-lib.sh tools/bench/roster-bench tools/bench/roster_bench.py tools/bench/muc-bench tools/bench/s2s-bench

# store-writer: durable writes per second through the store's writer thread
# (doc/bench.md). Built with the tree, not installed.
noinst_PROGRAMS = tools/bench/store-writer
tools_bench_store_writer_SOURCES = tools/bench/store_writer.cpp
tools_bench_store_writer_LDADD = libparley.la $(FMT_LIBS) $(LMDB_LIBS) -lpthread
EXTRA_DIST += tools/bench/offline-bench

# archive-fill: seeds an archive with synthetic chat messages (benchmarks, and
# the integration test of the purge under traffic, which runs it from the
# build tree); archive-query-bench: MAM pages and searches on it
# (tools/bench/archive-bench, doc/bench.md). Built with the tree, not installed.
noinst_PROGRAMS += tools/bench/archive-fill tools/bench/archive-query-bench
tools_bench_archive_fill_SOURCES = tools/bench/archive_fill.cpp tools/bench/archive_fill_words.hpp
tools_bench_archive_fill_LDADD = archive/libparley_archive.la libparley.la $(FMT_LIBS) $(LMDB_LIBS)
tools_bench_archive_query_bench_SOURCES = tools/bench/archive_query_bench.cpp tools/bench/archive_fill_words.hpp
tools_bench_archive_query_bench_LDADD = archive/libparley_archive.la libparley.la $(FMT_LIBS) $(LMDB_LIBS)
EXTRA_DIST += tools/bench/archive-bench

# parleyctl's JSON reader, tested on its own; its archive commands, run
# against archives the tests make (the archive library is linked already).
tests_unit_parley_unit_SOURCES += tools/parleyctl/json_value.cpp tests/unit/tools/json_value_test.cpp \
	tools/parleyctl/archive_command.cpp tools/parleyctl/control_client.cpp \
	tools/parleyctl/archive_access.cpp tools/parleyctl/export_formats.cpp tools/parleyctl/archive_export.cpp \
	tests/unit/tools/archive_command_test.cpp tests/unit/tools/export_formats_test.cpp
