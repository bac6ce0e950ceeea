#include "cli/log_command.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/flags.h"
#include "cli/public_log_command.h"
#include "common/base/config_loader.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/transparency/note_key.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

constexpr char kLogUsage[] =
    "usage: mecai log vkey --public-key F (--origin O | --signer-config F --shard ID)\n"
    "       mecai log verify-proof --key VKEY --proof FILE --entry FILE\n"
    "\n"
    "Prints the verifier key (vkey, https://c2sp.org/signed-note) of a shard's public log\n"
    "(docs/PUBLIC_LOG.md): <origin>+<key ID>+<base64 key>, for note.NewVerifier and any C2SP\n"
    "checkpoint verifier. F is the log key's public half, a PEM SubjectPublicKeyInfo (Ed25519,\n"
    "the key of the signer's log_key_label; the VA list's log_public_key_file). The key name is\n"
    "the log's origin: --origin, or the signer's log_origin_prefix and the shard id.\n"
    "Exit status: 0 printed; 1 the key or configuration does not fit; 2 usage.\n"
    "verify-proof checks a c2sp.org/tlog-proof that `mecai audit --log --prove` wrote (run\n"
    "`mecai log verify-proof --help`).\n";

int Usage(const absl::Status& status) {
  std::cerr << "mecai log: " << status.message() << "\n\n" << kLogUsage;
  return 2;
}

}  // namespace

absl::StatusOr<std::string> LogVkey(const std::string& public_key_file, const std::string& origin) {
  absl::StatusOr<EvpPkeyPtr> key = LoadPemPublicKey(public_key_file);
  if (!key.ok()) return Annotate(key.status(), public_key_file);
  ASSIGN_OR_RETURN(NoteVerifierKey vkey, Ed25519VerifierKey(origin, key->get()));
  return FormatVerifierKey(vkey);
}

absl::StatusOr<std::string> SignerLogOrigin(const std::string& signer_config_file,
                                            const std::string& shard) {
  ASSIGN_OR_RETURN(v1::SignerConfig config, LoadConfig<v1::SignerConfig>(signer_config_file));
  if (config.log_origin_prefix().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        signer_config_file, ": the signer has no log_origin_prefix, so it signs no notes"));
  }
  return absl::StrCat(config.log_origin_prefix(), "/", shard);
}

int LogCommand(int argc, char** argv) {
  if (argc < 3 || std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h") {
    std::cout << kLogUsage;
    return argc < 3 ? 2 : 0;
  }
  if (std::string(argv[2]) == "verify-proof") return VerifyProofCommand(argc, argv);
  if (std::string(argv[2]) != "vkey") {
    return Usage(absl::InvalidArgumentError(absl::StrCat("unknown subcommand ", argv[2])));
  }
  absl::StatusOr<Flags> flags =
      Flags::Parse(argc, argv, 3, {"public-key", "origin", "signer-config", "shard"}, {});
  if (!flags.ok()) return Usage(flags.status());
  absl::StatusOr<std::string> public_key = flags->Require("public-key");
  if (!public_key.ok()) return Usage(public_key.status());
  absl::StatusOr<std::string> origin;
  if (flags->Has("origin") == flags->Has("signer-config") ||
      flags->Has("signer-config") != flags->Has("shard")) {
    return Usage(
        absl::InvalidArgumentError("give either --origin, or --signer-config with --shard"));
  }
  origin = flags->Has("origin") ? flags->Get("origin")
                                : SignerLogOrigin(flags->Get("signer-config"), flags->Get("shard"));
  absl::StatusOr<std::string> vkey = origin.ok() ? LogVkey(*public_key, *origin) : origin.status();
  if (!vkey.ok()) {
    std::cerr << "mecai log vkey: " << vkey.status().message() << "\n";
    return 1;
  }
  std::cout << *vkey << "\n";
  return 0;
}

}  // namespace mecai
