# server/xml: sources and unit tests (owned by this area)
libparley_la_SOURCES += \
	server/xml/element.hpp server/xml/element.cpp \
	server/xml/serializer.hpp server/xml/serializer.cpp \
	server/xml/stream_parser.hpp server/xml/stream_parser.cpp \
	server/xml/parse_element.hpp server/xml/parse_element.cpp

tests_unit_parley_unit_SOURCES += \
	tests/unit/xml/element_test.cpp \
	tests/unit/xml/serializer_test.cpp \
	tests/unit/xml/stream_parser_test.cpp \
	tests/unit/xml/round_trip_test.cpp \
	tests/unit/xml/parse_element_test.cpp
