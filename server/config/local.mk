# server/config: parley.toml(5) and the module option schemas (owned by this area)
libparley_la_SOURCES += \
	server/config/schema.hpp server/config/schema.cpp \
	server/config/toml_reader.hpp server/config/toml_reader.cpp \
	server/config/config.hpp server/config/config.cpp

tests_unit_parley_unit_SOURCES += \
	tests/unit/config/config_test.cpp \
	tests/unit/config/schema_test.cpp \
	tests/unit/config/nested_options_test.cpp \
	tests/support/option_docs.hpp

# XEP-0114 components: [[component]] and [component_listener].
libparley_la_SOURCES += server/config/components.hpp server/config/components.cpp
tests_unit_parley_unit_SOURCES += tests/unit/config/components_test.cpp
tests_unit_parley_unit_SOURCES += tests/unit/config/s2s_test.cpp

# Server-to-server federation: [s2s] and [[s2s.route]].
libparley_la_SOURCES += server/config/s2s.hpp server/config/s2s.cpp
