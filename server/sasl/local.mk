# server/sasl: sources and unit tests (owned by this area)
