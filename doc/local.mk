# doc: reference pages and guides (shipped in the tarball)
EXTRA_DIST += doc/parleyd.8.md doc/parleyctl.8.md doc/modules.md doc/parley.toml.5.md \
	doc/parley.example.toml doc/storage.md doc/bench.md
