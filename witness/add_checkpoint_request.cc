#include "witness/add_checkpoint_request.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/transparency/merkle.h"
#include "common/transparency/note_key.h"

namespace mecai {
namespace witness {
namespace {

// The next line of `*rest` without its newline; false when no newline is left.
bool NextLine(absl::string_view* rest, absl::string_view* line) {
  const size_t end = rest->find('\n');
  if (end == absl::string_view::npos) return false;
  *line = rest->substr(0, end);
  rest->remove_prefix(end + 1);
  return true;
}

}  // namespace

absl::StatusOr<AddCheckpointRequest> ParseAddCheckpointRequest(absl::string_view body) {
  AddCheckpointRequest request;
  absl::string_view rest = body;
  absl::string_view line;
  if (!NextLine(&rest, &line) || !absl::ConsumePrefix(&line, "old ")) {
    return absl::InvalidArgumentError("the request begins with a line \"old <size>\"");
  }
  if (!absl::SimpleAtoi(line, &request.old_size) || absl::StrCat(request.old_size) != line) {
    return absl::InvalidArgumentError(
        "the old size is a decimal number without a sign or leading zero");
  }
  while (true) {
    if (!NextLine(&rest, &line)) {
      return absl::InvalidArgumentError("the consistency proof ends with an empty line");
    }
    if (line.empty()) break;
    if (request.consistency_proof.size() == kMaxConsistencyProofLines) {
      return absl::InvalidArgumentError(
          absl::StrCat("a consistency proof has at most ", kMaxConsistencyProofLines, " lines"));
    }
    absl::StatusOr<std::string> hash = Base64DecodeStrict(line);
    if (!hash.ok() || hash->size() != kMerkleHashBytes) {
      return absl::InvalidArgumentError(absl::StrCat("consistency proof line ",
                                                     request.consistency_proof.size() + 1,
                                                     " is not base64 of a 32-byte hash"));
    }
    request.consistency_proof.push_back(*std::move(hash));
  }
  if (rest.empty()) return absl::InvalidArgumentError("the request carries no checkpoint");
  request.note = std::string(rest);
  return request;
}

std::string FormatAddCheckpointRequest(const AddCheckpointRequest& request) {
  std::string body = absl::StrCat("old ", request.old_size, "\n");
  for (const std::string& hash : request.consistency_proof) {
    absl::StrAppend(&body, Base64Encode(hash), "\n");
  }
  absl::StrAppend(&body, "\n", request.note);
  return body;
}

}  // namespace witness
}  // namespace mecai
