#include "cli/public_log_state.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/transparency/signed_note.h"

namespace mecai {
namespace {

constexpr char kHeader[] = "mecai public log audit state v1\n";
// The header, three lines and the note.
constexpr size_t kMaxStateBytes = kMaxSignedNoteBytes + 4096;

bool ConsumeLine(absl::string_view* text, absl::string_view prefix, absl::string_view* value) {
  if (!absl::ConsumePrefix(text, prefix)) return false;
  const size_t end = text->find('\n');
  if (end == absl::string_view::npos) return false;
  *value = text->substr(0, end);
  text->remove_prefix(end + 1);
  return true;
}

}  // namespace

std::string DescribeHead(const TlogCheckpoint& checkpoint) {
  return absl::StrCat(checkpoint.origin, " size ", checkpoint.tree_size, " root ",
                      Base64Encode(checkpoint.root_hash));
}

absl::StatusOr<std::optional<PublicLogState>> ReadPublicLogState(const std::string& path,
                                                                 const NoteVerifierKey& vkey) {
  absl::StatusOr<std::string> contents = ReadFile(path, kMaxStateBytes);
  if (absl::IsNotFound(contents.status())) return std::optional<PublicLogState>();
  if (!contents.ok()) return contents.status();
  const absl::Status unusable = absl::InvalidArgumentError(absl::StrCat(
      "the state file ", path,
      " does not hold a checkpoint an earlier `mecai audit --log` verified with this vkey"));
  absl::string_view text = *contents;
  absl::string_view origin, size, root;
  if (!absl::ConsumePrefix(&text, kHeader) || !ConsumeLine(&text, "origin ", &origin) ||
      !ConsumeLine(&text, "size ", &size) || !ConsumeLine(&text, "root ", &root) ||
      !absl::ConsumePrefix(&text, "\n")) {
    return unusable;
  }
  absl::StatusOr<OpenedNote> opened = OpenSignedNote(text, {vkey});
  if (!opened.ok()) return Annotate(opened.status(), unusable.message());
  absl::StatusOr<TlogCheckpoint> checkpoint = ParseCheckpointText(opened->text);
  if (!checkpoint.ok() || checkpoint->origin != origin ||
      absl::StrCat(checkpoint->tree_size) != size || Base64Encode(checkpoint->root_hash) != root ||
      checkpoint->origin != vkey.name) {
    return unusable;
  }
  return std::optional<PublicLogState>(PublicLogState{*std::move(checkpoint), std::string(text)});
}

absl::Status WritePublicLogState(const std::string& path, const PublicLogState& state) {
  return WriteFileAtomically(
      path, absl::StrCat(kHeader, "origin ", state.checkpoint.origin, "\nsize ",
                         state.checkpoint.tree_size, "\nroot ",
                         Base64Encode(state.checkpoint.root_hash), "\n\n", state.note));
}

}  // namespace mecai
