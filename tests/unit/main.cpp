// The single entry point of the unit test binary; every *_test.cpp adds its
// suites to it. Run with --random to shuffle the order (CI does).
#define BOOST_TEST_MODULE parley
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
