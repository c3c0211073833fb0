# server/store: sources and unit tests (owned by this area)
