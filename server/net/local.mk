# server/net: sources and unit tests (owned by this area)
