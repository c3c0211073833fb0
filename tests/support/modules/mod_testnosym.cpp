// A shared object without the descriptor symbol: not a Parley module.
extern "C" int parley_test_not_a_module() { return 42; }
