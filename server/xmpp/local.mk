# server/xmpp: sources and unit tests (owned by this area)
