#include "cli/store_command.h"

#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/flags.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/signer.pb.h"

namespace mecai {
namespace {

constexpr char kStoreUsage[] =
    "usage: mecai store check --store DIR --shard ID\n"
    "\n"
    "Verifies a copy of a coordinator's record store, such as a backup (docs/OPERATIONS.md\n"
    "\"Backup and restore\"): copies DIR to a temporary directory, opens the copy as the store of\n"
    "log shard ID, which checks every record against its leaf of the Merkle log (RFC 9162), and\n"
    "prints its tree size, root hash and latest signed checkpoint. DIR is never written.\n"
    "Exit status: 0 the copy is a whole, consistent store of ID; 1 it is not; 2 usage.\n";

int Usage(const absl::Status& status) {
  std::cerr << "mecai store: " << status.message() << "\n\n" << kStoreUsage;
  return 2;
}

int Fail(const absl::Status& status) {
  std::cerr << "mecai store check: " << status.message() << "\n";
  return 1;
}

// Opens the store copied into `copy` and prints what an operator compares before a restore.
absl::Status Check(const std::string& copy, const std::string& shard) {
  absl::StatusOr<std::unique_ptr<RecordStore>> store = RecordStore::Open(copy, shard);
  if (!store.ok()) return store.status();
  const uint64_t tree_size = (*store)->TreeSize();
  absl::StatusOr<std::string> root = (*store)->RootHash(tree_size);
  if (!root.ok()) return root.status();
  std::cout << "log shard:  " << shard << "\n"
            << "tree size:  " << tree_size << "\n"
            << "root hash:  " << absl::BytesToHexString(*root) << "\n";
  absl::StatusOr<v1::SignedCheckpoint> checkpoint = (*store)->GetLatestCheckpoint();
  v1::CheckpointBody body;
  if (checkpoint.ok() && body.ParseFromString(checkpoint->tbs())) {
    std::cout << "checkpoint: " << body.tree_size() << " leaves, signed "
              << absl::FormatTime(absl::RFC3339_sec,
                                  absl::FromUnixMillis(body.timestamp_unix_milliseconds()),
                                  absl::UTCTimeZone())
              << "\n";
  } else {
    std::cout << "checkpoint: none stored\n";
  }
  std::cout << "The coordinator serves this store only if its signer's last checkpoint of the "
               "shard is at most "
            << tree_size << " leaves and this log extends it (docs/OPERATIONS.md).\n";
  return absl::OkStatus();
}

}  // namespace

int StoreCommand(int argc, char** argv) {
  if (argc < 3 || std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h") {
    std::cout << kStoreUsage;
    return argc < 3 ? 2 : 0;
  }
  if (std::string(argv[2]) != "check") {
    return Usage(absl::InvalidArgumentError(absl::StrCat("unknown subcommand ", argv[2])));
  }
  absl::StatusOr<Flags> flags = Flags::Parse(argc, argv, 3, {"store", "shard"}, {});
  if (!flags.ok()) return Usage(flags.status());
  absl::StatusOr<std::string> store = flags->Require("store");
  if (!store.ok()) return Usage(store.status());
  absl::StatusOr<std::string> shard = flags->Require("shard");
  if (!shard.ok()) return Usage(shard.status());
  std::error_code error;
  if (!std::filesystem::is_directory(*store, error)) {
    return Fail(absl::NotFoundError(absl::StrCat(*store, " is not a directory")));
  }
  std::string temporary = (std::filesystem::temp_directory_path() / "mecai-store-check.XXXXXX");
  if (mkdtemp(temporary.data()) == nullptr) {
    return Fail(absl::InternalError("cannot create a temporary directory"));
  }
  const std::string copy = temporary + "/store";
  std::filesystem::copy(*store, copy, std::filesystem::copy_options::recursive, error);
  absl::Status checked =
      error ? absl::InternalError(absl::StrCat("copying ", *store, ": ", error.message()))
            : Check(copy, *shard);
  std::filesystem::remove_all(temporary, error);
  if (!checked.ok()) return Fail(checked);
  return 0;
}

}  // namespace mecai
