// The synthetic traffic of archive-fill and what archive-bench asks of it:
// the user names, the fixed vocabulary of the bodies and the rare words.
//
// Bodies are a few words drawn from kVocabulary with Zipf weights (rank r
// has weight 1/(r+1)), so the word index holds very common words (the first
// ones) next to uncommon ones (the last); besides, one message in
// kRareEvery carries one of kRareWords, so a search for a rare word has a
// small, predictable number of candidates. Both programs include this
// header, so the bench asks for words that the filler wrote.
//
// Constants and pure functions: any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace parley::bench::archive_fill {

// Most frequent first.
inline constexpr const char* kVocabulary[] = {
    "the",        "to",          "you",         "it",         "and",         "is",
    "ok",         "we",          "for",         "on",         "can",         "meeting",
    "at",         "will",        "thanks",      "call",       "that",        "this",
    "today",      "tomorrow",    "please",      "send",       "me",          "have",
    "be",         "in",          "with",        "report",     "yes",         "no",
    "see",        "now",         "later",       "just",       "about",       "review",
    "draft",      "team",        "time",        "client",     "update",      "let",
    "know",       "get",         "back",        "after",      "lunch",       "done",
    "check",      "file",        "sure",        "great",      "morning",     "afternoon",
    "week",       "friday",      "monday",      "budget",     "slides",      "deadline",
    "contract",   "invoice",     "numbers",     "sales",      "office",      "room",
    "schedule",   "agenda",      "notes",       "email",      "link",        "project",
    "plan",       "next",        "quarter",     "customer",   "support",     "ticket",
    "release",    "build",       "server",      "login",      "password",    "access",
    "approve",    "sign",        "legal",       "policy",     "audit",       "travel",
    "hotel",      "flight",      "train",       "booking",    "expense",     "receipt",
    "payroll",    "holiday",     "vacation",    "sick",       "remote",      "home",
    "coffee",     "kitchen",     "printer",     "parking",    "badge",       "visitor",
    "delivery",   "package",     "warehouse",   "supplier",   "order",       "shipment",
    "forecast",   "target",      "margin",      "pricing",    "discount",    "offer",
    "proposal",   "tender",      "partner",     "vendor",     "onboarding",  "training",
    "workshop",   "webinar",     "conference",  "keynote",    "speaker",     "venue",
    "catering",   "survey",      "feedback",    "interview",  "candidate",   "hiring",
    "contractor", "intern",      "mentor",      "promotion",  "salary",      "bonus",
    "pension",    "insurance",   "claim",       "compliance", "regulator",   "filing",
    "statement",  "dividend",    "shareholder", "board",      "minutes",     "resolution",
    "merger",     "acquisition", "diligence",   "valuation",  "term",        "sheet",
    "escrow",     "closing",     "signature",   "notary",     "trademark",   "patent",
    "license",    "warranty",    "liability",   "indemnity",  "arbitration", "jurisdiction",
    "subpoena",   "deposition",  "exhibit",     "affidavit",  "testimony",   "counsel",
    "privilege",  "redaction",   "retention",   "archive",    "backup",      "restore",
    "outage",     "incident",    "postmortem",  "rollback",   "hotfix",      "patch",
    "firmware",   "kernel",      "latency",     "throughput", "bandwidth",   "certificate",
    "firewall",   "router",      "switch",      "datacenter", "rack",        "cable",
    "fiber",      "antenna",     "satellite",   "telescope",  "microscope",  "reagent",
    "centrifuge", "pipette",     "specimen",    "protocol",   "hypothesis",  "regression",
    "histogram",  "quartile",    "eigenvalue",  "manifold",   "topology",    "isotope",
    "enzyme",     "catalyst",    "polymer",     "alloy",      "turbine",     "gearbox",
    "hydraulic",  "pneumatic",   "actuator",    "thermostat", "humidifier",  "dehumidifier",
};
inline constexpr size_t kVocabularySize = sizeof kVocabulary / sizeof kVocabulary[0];

// One message in kRareEvery gets one of these (chosen evenly).
inline constexpr const char* kRareWords[] = {"zanzibar", "quetzalcoatl", "xylophone",
                                             "ouagadougou"};
inline constexpr size_t kRareWordCount = sizeof kRareWords / sizeof kRareWords[0];
inline constexpr unsigned kRareEvery = 20000;

// The bare JID of user i when the users are numbered (--users N).
inline std::string numbered_user(const std::string& prefix, size_t i, const std::string& domain) {
    return prefix + std::to_string(i) + "@" + domain;
}

// The users of a run: the --names given (a bare name gets @domain), else
// `count` numbered ones. archive-fill and archive-query-bench must agree.
inline std::vector<std::string> users_of(const std::vector<std::string>& names, size_t count,
                                         const std::string& prefix, const std::string& domain) {
    std::vector<std::string> users;
    if (!names.empty()) {
        for (const std::string& n : names) users.push_back(n.find('@') == std::string::npos ? n + "@" + domain : n);
    } else {
        for (size_t i = 0; i < count; ++i) users.push_back(numbered_user(prefix, i, domain));
    }
    return users;
}

}  // namespace parley::bench::archive_fill
