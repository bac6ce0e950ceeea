#include "cli/public_log_command.h"

#include <iostream>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/flags.h"
#include "cli/public_log_audit.h"
#include "cli/public_log_client.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/tlog_proof.h"

namespace mecai {
namespace {

constexpr char kAuditUsage[] =
    "usage: mecai audit --log URL --key VKEY [--state FILE] [--host HOSTNAME]\n"
    "                   [--witnesses VKEYS --min-cosignatures K] [--agents FILE]\n"
    "                   [--prove INDEX --proof-out FILE [--entry-out FILE]]\n"
    "\n"
    "Audits a shard's public log with nothing but its URL prefix and its verifier key\n"
    "(docs/PUBLIC_LOG.md): verifies the checkpoint note with VKEY, fetches every entry bundle\n"
    "and tile, recomputes every leaf hash and the tree, and compares the root with the\n"
    "checkpoint's. --state FILE keeps the checkpoint verified between runs and fails loudly when\n"
    "the log shrank or forked; --host prints the records for HOSTNAME and checks the revocation\n"
    "evidence they name (GET URL/evidence/<SHA-256>); --prove writes a c2sp.org/tlog-proof of\n"
    "entry INDEX (and --entry-out its bytes), for `mecai log verify-proof`; --min-cosignatures K\n"
    "requires K of the witnesses VKEYS (cosigner vkeys, comma-separated, or a file with one per\n"
    "line) to have cosigned the checkpoint (c2sp.org/tlog-cosignature); with --host, --agents "
    "FILE\n"
    "(lines \"<perspective id> <public key file>\") verifies each record's Observations.\n"
    "  VKEY  the vkey (`mecai log vkey`), or a file holding it.\n"
    "Exit status: 0 verified; 1 the log could not be read, or a file not read or written;\n"
    "2 usage; 3 a problem was found (printed as PROBLEM lines).\n";

constexpr char kVerifyProofUsage[] =
    "usage: mecai log verify-proof --key VKEY --proof FILE --entry FILE\n"
    "\n"
    "Checks a c2sp.org/tlog-proof (`mecai audit --log ... --prove`): its checkpoint verifies with\n"
    "VKEY (a vkey, or a file holding one) and the entry in FILE is, by the inclusion proof, the\n"
    "entry at its index of the tree the checkpoint signs.\n"
    "Exit status: 0 verified; 1 a file cannot be read; 2 usage; 3 the proof does not verify.\n";

int Usage(const char* usage, const std::string& command, const absl::Status& status) {
  std::cerr << "mecai " << command << ": " << status.message() << "\n\n" << usage;
  return kPublicLogExitUsage;
}

}  // namespace

bool IsPublicLogAudit(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--log" || argument.rfind("--log=", 0) == 0) return true;
  }
  return false;
}

absl::StatusOr<NoteVerifierKey> LoadVerifierKey(const std::string& key) {
  absl::StatusOr<NoteVerifierKey> parsed = ParseVerifierKey(key);
  if (parsed.ok()) return parsed;
  absl::StatusOr<std::string> contents = ReadFile(key, 4096);
  if (!contents.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--key is neither a vkey (", parsed.status().message(), ") nor a readable file"));
  }
  absl::StatusOr<NoteVerifierKey> from_file =
      ParseVerifierKey(absl::StripTrailingAsciiWhitespace(*contents));
  if (!from_file.ok()) return Annotate(from_file.status(), key);
  return from_file;
}

absl::StatusOr<std::vector<NoteVerifierKey>> LoadCosignerKeys(const std::string& witnesses) {
  std::string text = witnesses;
  if (!absl::StrContains(witnesses, "+")) {
    ASSIGN_OR_RETURN(text, ReadFile(witnesses, 64 << 10));
  }
  std::vector<NoteVerifierKey> keys;
  for (absl::string_view vkey :
       absl::StrSplit(text, absl::ByAnyChar(",\n"), absl::SkipWhitespace())) {
    absl::StatusOr<NoteVerifierKey> key = ParseCosignerVkey(absl::StripAsciiWhitespace(vkey));
    if (!key.ok()) return Annotate(key.status(), "--witnesses");
    keys.push_back(*std::move(key));
  }
  if (keys.empty()) return absl::InvalidArgumentError("--witnesses names no witness");
  return keys;
}

int PublicLogAuditCommand(int argc, char** argv) {
  const std::string command = "audit --log";
  absl::StatusOr<Flags> flags = Flags::Parse(argc, argv, 2,
                                             {"log", "key", "state", "host", "prove", "proof-out",
                                              "entry-out", "witnesses", "min-cosignatures"},
                                             {});
  if (!flags.ok()) return Usage(kAuditUsage, command, flags.status());
  absl::StatusOr<std::string> url = flags->Require("log");
  if (!url.ok()) return Usage(kAuditUsage, command, url.status());
  absl::StatusOr<std::string> key = flags->Require("key");
  if (!key.ok()) return Usage(kAuditUsage, command, key.status());
  absl::StatusOr<NoteVerifierKey> vkey = LoadVerifierKey(*key);
  if (!vkey.ok()) return Usage(kAuditUsage, command, vkey.status());
  PublicLogAuditOptions options;
  options.state_file = flags->Get("state");
  options.hostname = flags->Get("host");
  options.proof_out = flags->Get("proof-out");
  options.entry_out = flags->Get("entry-out");
  if (flags->Has("prove") != flags->Has("proof-out") ||
      (flags->Has("entry-out") && !flags->Has("prove"))) {
    return Usage(kAuditUsage, command,
                 absl::InvalidArgumentError("--prove and --proof-out go together (--entry-out "
                                            "with them)"));
  }
  if (flags->Has("witnesses") || flags->Has("min-cosignatures")) {
    absl::StatusOr<std::vector<NoteVerifierKey>> witnesses =
        LoadCosignerKeys(flags->Get("witnesses"));
    if (!witnesses.ok()) return Usage(kAuditUsage, command, witnesses.status());
    options.witnesses = *std::move(witnesses);
    if (!absl::SimpleAtoi(flags->Get("min-cosignatures"), &options.min_cosignatures) ||
        options.min_cosignatures == 0 || options.min_cosignatures > options.witnesses.size()) {
      return Usage(kAuditUsage, command,
                   absl::InvalidArgumentError(
                       absl::StrCat("--min-cosignatures takes 1 to the number of --witnesses (",
                                    options.witnesses.size(), ")")));
    }
  }
  AgentKeys agents;
  if (flags->Has("agents")) {
    if (options.hostname.empty()) {
      return Usage(kAuditUsage, command, absl::InvalidArgumentError("--agents goes with --host"));
    }
    absl::StatusOr<AgentKeys> loaded = LoadAgentKeys(flags->Get("agents"));
    if (!loaded.ok()) return Usage(kAuditUsage, command, loaded.status());
    agents = *std::move(loaded);
    options.agents = &agents;
  }
  if (flags->Has("prove")) {
    uint64_t index = 0;
    if (!absl::SimpleAtoi(flags->Get("prove"), &index)) {
      return Usage(kAuditUsage, command,
                   absl::InvalidArgumentError("--prove takes an entry index"));
    }
    options.prove_index = index;
  }
  // The auditor chose the URL: any address may be reached, loopback included. No proxy, no
  // redirect (common/net/http_fetcher.h).
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"0.0.0.0/0", "::/0"});
  if (!policy.ok()) {
    std::cerr << "mecai audit: " << policy.status().message() << "\n";
    return kPublicLogExitError;
  }
  CurlHttpFetcher fetcher(*std::move(policy));
  PublicLogClient log(fetcher, *url);
  absl::StatusOr<PublicLogAuditReport> report = RunPublicLogAudit(log, *vkey, options, std::cout);
  if (!report.ok()) {
    std::cerr << "mecai audit: " << report.status().message() << "\n";
    return kPublicLogExitError;
  }
  for (const std::string& problem : report->problems) std::cerr << "PROBLEM: " << problem << "\n";
  if (!report->problems.empty()) {
    std::cout << "VERIFICATION FAILED: " << report->problems.size() << " problem"
              << (report->problems.size() == 1 ? "" : "s") << "\n";
    return kPublicLogExitProblem;
  }
  std::cout << "verified " << report->checkpoint.origin << ": " << report->checkpoint.tree_size
            << " entries\n";
  return kPublicLogExitVerified;
}

int VerifyProofCommand(int argc, char** argv) {
  const std::string command = "log verify-proof";
  absl::StatusOr<Flags> flags = Flags::Parse(argc, argv, 3, {"key", "proof", "entry"}, {});
  if (!flags.ok()) return Usage(kVerifyProofUsage, command, flags.status());
  for (const char* name : {"key", "proof", "entry"}) {
    if (!flags->Has(name)) {
      return Usage(kVerifyProofUsage, command,
                   absl::InvalidArgumentError(absl::StrCat("--", name, " is required")));
    }
  }
  absl::StatusOr<NoteVerifierKey> vkey = LoadVerifierKey(flags->Get("key"));
  if (!vkey.ok()) return Usage(kVerifyProofUsage, command, vkey.status());
  absl::StatusOr<std::string> text = ReadFile(flags->Get("proof"), kMaxTlogProofBytes);
  absl::StatusOr<std::string> entry = ReadFile(flags->Get("entry"));
  if (!text.ok() || !entry.ok()) {
    std::cerr << "mecai log verify-proof: "
              << (text.ok() ? entry.status() : text.status()).message() << "\n";
    return kPublicLogExitError;
  }
  absl::StatusOr<TlogProof> proof = ParseTlogProof(*text);
  absl::StatusOr<TlogCheckpoint> checkpoint =
      proof.ok() ? VerifyTlogProof(*proof, *vkey, *entry) : proof.status();
  if (!checkpoint.ok()) {
    std::cerr << "mecai log verify-proof: NOT VERIFIED: " << checkpoint.status().message() << "\n";
    return kPublicLogExitProblem;
  }
  std::cout << "verified: entry " << proof->index << " of " << checkpoint->origin
            << ", in the tree of " << checkpoint->tree_size << " entries with root "
            << Base64Encode(checkpoint->root_hash) << "\n";
  return kPublicLogExitVerified;
}

}  // namespace mecai
