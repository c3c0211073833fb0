# server/xml: sources and unit tests (owned by this area)
