# doc: reference pages and guides, installed into $(docdir) and shipped in the tarball
dist_doc_DATA += doc/parleyd.8.md doc/parleyctl.8.md doc/modules.md doc/parley.toml.5.md \
	doc/parley.example.toml doc/storage.md doc/bench.md
dist_doc_DATA += doc/components.md
