# modules: file lists (included by the top Makefile.am)
