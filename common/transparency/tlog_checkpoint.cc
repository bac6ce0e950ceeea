#include "common/transparency/tlog_checkpoint.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/status.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"

namespace mecai {
namespace {

absl::Status CheckLine(absl::string_view line, absl::string_view what) {
  if (line.empty() || line.find('\n') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("a checkpoint's ", what, " is one non-empty line"));
  }
  return CheckNoteCharacters(line);
}

}  // namespace

absl::StatusOr<std::string> FormatCheckpointText(const TlogCheckpoint& checkpoint) {
  RETURN_IF_ERROR(CheckLine(checkpoint.origin, "origin"));
  if (checkpoint.root_hash.size() != kMerkleHashBytes) {
    return absl::InvalidArgumentError("a checkpoint's root hash has 32 bytes");
  }
  std::string text = absl::StrCat(checkpoint.origin, "\n", checkpoint.tree_size, "\n",
                                  Base64Encode(checkpoint.root_hash), "\n");
  for (const std::string& line : checkpoint.extension_lines) {
    RETURN_IF_ERROR(CheckLine(line, "extension line"));
    absl::StrAppend(&text, line, "\n");
  }
  return text;
}

absl::StatusOr<TlogCheckpoint> ParseCheckpointText(absl::string_view text) {
  if (text.size() > kMaxCheckpointTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a checkpoint has at most ", kMaxCheckpointTextBytes, " bytes"));
  }
  RETURN_IF_ERROR(CheckNoteCharacters(text));
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("a checkpoint ends in a newline");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(text.substr(0, text.size() - 1), '\n');
  if (lines.size() < 3) {
    return absl::InvalidArgumentError("a checkpoint has an origin, a tree size and a root hash");
  }
  TlogCheckpoint checkpoint;
  if (lines[0].empty()) return absl::InvalidArgumentError("a checkpoint's origin is not empty");
  checkpoint.origin = std::string(lines[0]);
  if (!absl::SimpleAtoi(lines[1], &checkpoint.tree_size) ||
      absl::StrCat(checkpoint.tree_size) != lines[1]) {
    return absl::InvalidArgumentError(
        "a checkpoint's tree size is a decimal number without a sign or leading zero");
  }
  absl::StatusOr<std::string> root = Base64DecodeStrict(lines[2]);
  if (!root.ok() || root->size() != kMerkleHashBytes) {
    return absl::InvalidArgumentError("a checkpoint's root hash is base64 of 32 bytes");
  }
  checkpoint.root_hash = *std::move(root);
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return absl::InvalidArgumentError("a checkpoint's extension lines are not empty");
    }
    checkpoint.extension_lines.emplace_back(lines[i]);
  }
  return checkpoint;
}

}  // namespace mecai
