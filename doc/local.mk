# doc: reference pages and guides (shipped in the tarball)
EXTRA_DIST += doc/parleyd.8.md doc/modules.md
