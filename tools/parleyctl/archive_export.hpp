// `parleyctl archive export` and `parleyctl archive verify-export`: the
// compliance officer's copy of part of the archive, and its offline check.
//
//   export (--user JID [--with JID] | --words TEXT | --all) [--start TIME] [--end TIME]
//          [--words TEXT] [--case ID] [--format LIST] --out DIR
//
// writes, into DIR (created, mode 0700; it must not exist or be empty),
// the messages of the scope in id (= time) order, in each format of LIST
// (default all: jsonl,csv,eml,xml,html; export_formats.hpp says what each
// holds):
//   messages.jsonl  messages.csv  eml/DAY/A__B.eml  messages.xml  transcript.html
// and last manifest.json: the format ("parley-archive-export/1"), when,
// who ran it, the case id, the scope, the archive and key id, counts
// (messages, conversation-days), the chain check of the archive
// (archive/chain/verify.hpp, with the views of --user) made in the same
// read transaction as the export, and every file with its size and
// SHA-256. Files are mode 0600. The export is recorded in the audit log
// with the manifest's SHA-256, so a copy handed over can be matched to it.
//
// It reads one LMDB snapshot: parleyd may run (and keep writing) meanwhile.
// Nothing is held in memory beyond one day's EML conversations and the XML
// per-user sections (each spilled to disk past a bound); the word index's
// candidate ids for --words. Progress goes to standard error: a line
// rewritten in place on a terminal, a plain line every few seconds
// otherwise.
//
// Exit: 0 done and the chain verified; 1 the export failed, or it is
// complete but the chain check found something (said, and in the
// manifest); 2 bad usage or no archive.
//
//   verify-export DIR [--json]
//
// needs no key and no server: every file the manifest lists is there with
// its size and SHA-256, no other file is, messages.jsonl and messages.csv
// hold the counted messages in increasing id order. Exit 0 when it holds,
// 1 with each problem named, 2 when DIR has no readable manifest.
//
// Thread affinity: parleyctl's main thread.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace parley::ctl {

int archive_export(const std::string& config_path, const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err);
int archive_verify_export(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace parley::ctl
