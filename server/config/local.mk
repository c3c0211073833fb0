# server/config: sources and unit tests (owned by this area)
