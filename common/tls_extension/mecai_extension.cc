#include "common/tls_extension/mecai_extension.h"

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/base/status.h"

namespace mecai {
namespace {

// Reads RFC 8446 §3 vectors from a byte string; never reads past its end.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}

  bool empty() const { return data_.empty(); }

  // A vector with a `width`-byte (1 or 2) big-endian length prefix.
  absl::StatusOr<absl::string_view> ReadVector(int width, absl::string_view what) {
    if (data_.size() < static_cast<size_t>(width)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": truncated length"));
    }
    size_t length = 0;
    for (int i = 0; i < width; ++i) length = (length << 8) | static_cast<uint8_t>(data_[i]);
    data_.remove_prefix(width);
    if (data_.size() < length) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": length ", length, " exceeds the ", data_.size(), " bytes left"));
    }
    absl::string_view vector = data_.substr(0, length);
    data_.remove_prefix(length);
    return vector;
  }

  absl::StatusOr<uint8_t> ReadByte(absl::string_view what) {
    if (data_.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": truncated"));
    const uint8_t value = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return value;
  }

  absl::Status ExpectEnd(absl::string_view what) const {
    if (!data_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", data_.size(), " trailing bytes"));
    }
    return absl::OkStatus();
  }

 private:
  absl::string_view data_;
};

void AppendLength(std::string* out, size_t length, int width) {
  for (int i = width - 1; i >= 0; --i)
    out->push_back(static_cast<char>((length >> (8 * i)) & 0xff));
}

// VA ids and trust-list names are printable ASCII without spaces (they are ids in VA lists).
bool IsPrintableToken(absl::string_view text) {
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

absl::Status CheckVaId(absl::string_view va_id) {
  if (va_id.empty() || va_id.size() > kMaxVaIdBytes || !IsPrintableToken(va_id)) {
    return absl::InvalidArgumentError(absl::StrCat("VA id '", absl::CEscape(va_id.substr(0, 64)),
                                                   "' is not 1..255 bytes of printable ASCII"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> EncodeMecaiRequest(const MecaiRequest& request) {
  if (request.candidate_vas.empty()) {
    if (!request.trust_list.empty()) {
      return absl::InvalidArgumentError("a MECAI request naming a trust list needs a candidate VA");
    }
    return std::string();
  }
  if (request.trust_list.size() > kMaxTrustListBytes || !IsPrintableToken(request.trust_list)) {
    return absl::InvalidArgumentError("the trust list name is not 0..255 bytes of printable ASCII");
  }
  if (request.candidate_vas.size() > kMaxCandidateVas) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxCandidateVas, " candidate VAs may be asked for"));
  }
  std::string out;
  AppendLength(&out, request.trust_list.size(), 1);
  out += request.trust_list;
  std::string candidates;
  std::set<std::string> seen;
  for (const std::string& va_id : request.candidate_vas) {
    RETURN_IF_ERROR(CheckVaId(va_id));
    if (!seen.insert(va_id).second) {
      return absl::InvalidArgumentError(absl::StrCat("VA '", va_id, "' is asked for twice"));
    }
    AppendLength(&candidates, va_id.size(), 1);
    candidates += va_id;
  }
  AppendLength(&out, candidates.size(), 2);
  out += candidates;
  return out;
}

absl::StatusOr<MecaiRequest> DecodeMecaiRequest(absl::string_view body) {
  MecaiRequest request;
  if (body.empty()) return request;  // ARCHITECTURE.md §5: an empty extension asks for every VD.
  Reader reader(body);
  ASSIGN_OR_RETURN(absl::string_view trust_list, reader.ReadVector(1, "trust_list"));
  if (!IsPrintableToken(trust_list)) {
    return absl::InvalidArgumentError("trust_list: not printable ASCII");
  }
  request.trust_list = std::string(trust_list);
  ASSIGN_OR_RETURN(absl::string_view candidates, reader.ReadVector(2, "candidate_vas"));
  RETURN_IF_ERROR(reader.ExpectEnd("MecaiVouchingRequest"));
  if (candidates.empty()) return absl::InvalidArgumentError("candidate_vas: empty");
  Reader list(candidates);
  std::set<std::string> seen;
  while (!list.empty()) {
    ASSIGN_OR_RETURN(absl::string_view va_id, list.ReadVector(1, "candidate_vas element"));
    RETURN_IF_ERROR(CheckVaId(va_id));
    if (request.candidate_vas.size() == kMaxCandidateVas) {
      return absl::InvalidArgumentError(
          absl::StrCat("candidate_vas: more than ", kMaxCandidateVas, " VAs"));
    }
    if (!seen.insert(std::string(va_id)).second) {
      return absl::InvalidArgumentError("candidate_vas: a VA id is repeated");
    }
    request.candidate_vas.emplace_back(va_id);
  }
  return request;
}

absl::StatusOr<std::string> EncodeVouchingRequest(const MecaiRequest& request) {
  if (request.candidate_vas.empty()) {
    return absl::InvalidArgumentError("mecai_vouching_request names at least one candidate VA");
  }
  return EncodeMecaiRequest(request);
}

absl::StatusOr<MecaiRequest> DecodeVouchingRequest(absl::string_view body) {
  // Unlike mecai_vouching, whose empty body asks for everything, this extension exists only to
  // name candidates.
  if (body.empty()) return absl::InvalidArgumentError("MecaiVouchingRequest: empty");
  return DecodeMecaiRequest(body);
}

std::string EncodeVouchingDataList(const std::vector<std::string>& serialized_vds) {
  std::string elements;
  size_t count = 0;
  for (const std::string& vd : serialized_vds) {
    if (vd.empty() || count == kMaxVouchingDataPerList) continue;
    // Two bytes for the list's own length, two for this element's.
    if (2 + elements.size() + 2 + vd.size() > kMaxExtensionBytes) continue;
    AppendLength(&elements, vd.size(), 2);
    elements += vd;
    ++count;
  }
  if (count == 0) return "";
  std::string out;
  AppendLength(&out, elements.size(), 2);
  return out + elements;
}

absl::StatusOr<std::vector<std::string>> DecodeVouchingDataList(absl::string_view body) {
  Reader reader(body);
  ASSIGN_OR_RETURN(absl::string_view elements, reader.ReadVector(2, "vouching_data_list"));
  RETURN_IF_ERROR(reader.ExpectEnd("VouchingDataList"));
  if (elements.empty()) return absl::InvalidArgumentError("vouching_data_list: empty");
  std::vector<std::string> vds;
  Reader list(elements);
  while (!list.empty()) {
    ASSIGN_OR_RETURN(absl::string_view vd, list.ReadVector(2, "SerializedVouchingData"));
    if (vd.empty()) return absl::InvalidArgumentError("SerializedVouchingData: empty");
    if (vds.size() == kMaxVouchingDataPerList) {
      return absl::InvalidArgumentError(
          absl::StrCat("vouching_data_list: more than ", kMaxVouchingDataPerList, " VDs"));
    }
    vds.emplace_back(vd);
  }
  return vds;
}

const char* FeedbackReasonName(FeedbackReason reason) {
  switch (reason) {
    case FeedbackReason::kNoVouchingData:
      return "no_vouching_data";
    case FeedbackReason::kInvalidVouchingData:
      return "invalid_vouching_data";
  }
  return "unknown";
}

absl::StatusOr<std::string> EncodeFeedback(const std::vector<FeedbackEntry>& entries) {
  if (entries.empty() || entries.size() > kMaxFeedbackEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("feedback carries 1..", kMaxFeedbackEntries, " entries"));
  }
  std::string elements;
  for (const FeedbackEntry& entry : entries) {
    RETURN_IF_ERROR(CheckVaId(entry.va_id));
    if (entry.reason != FeedbackReason::kNoVouchingData &&
        entry.reason != FeedbackReason::kInvalidVouchingData) {
      return absl::InvalidArgumentError("unknown feedback reason");
    }
    AppendLength(&elements, entry.va_id.size(), 1);
    elements += entry.va_id;
    elements.push_back(static_cast<char>(entry.reason));
  }
  std::string out;
  AppendLength(&out, elements.size(), 2);
  return out + elements;
}

absl::StatusOr<std::vector<FeedbackEntry>> DecodeFeedback(absl::string_view body) {
  Reader reader(body);
  ASSIGN_OR_RETURN(absl::string_view elements, reader.ReadVector(2, "entries"));
  RETURN_IF_ERROR(reader.ExpectEnd("MecaiFeedback"));
  if (elements.empty()) return absl::InvalidArgumentError("entries: empty");
  std::vector<FeedbackEntry> entries;
  Reader list(elements);
  while (!list.empty()) {
    ASSIGN_OR_RETURN(absl::string_view va_id, list.ReadVector(1, "FeedbackEntry.va_id"));
    RETURN_IF_ERROR(CheckVaId(va_id));
    ASSIGN_OR_RETURN(uint8_t reason, list.ReadByte("FeedbackEntry.reason"));
    if (reason != static_cast<uint8_t>(FeedbackReason::kNoVouchingData) &&
        reason != static_cast<uint8_t>(FeedbackReason::kInvalidVouchingData)) {
      return absl::InvalidArgumentError(
          absl::StrCat("FeedbackEntry.reason: unknown value ", reason));
    }
    if (entries.size() == kMaxFeedbackEntries) {
      return absl::InvalidArgumentError(
          absl::StrCat("entries: more than ", kMaxFeedbackEntries, " entries"));
    }
    entries.push_back({std::string(va_id), static_cast<FeedbackReason>(reason)});
  }
  return entries;
}

}  // namespace mecai
