// The on-disk layout of the coordinator's record store (coordinator/record_store.h): the names of
// its RocksDB column families and keys, and the encoding of log indexes. The store writes it; the
// public log server reads it as a RocksDB secondary (coordinator/record_store_follower.h).
#ifndef MECAI_COORDINATOR_RECORD_STORE_LAYOUT_H_
#define MECAI_COORDINATOR_RECORD_STORE_LAYOUT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace mecai {
namespace record_store_layout {

inline constexpr char kRecordsFamily[] = "records";
inline constexpr char kByHostFamily[] = "by_host";
inline constexpr char kMerkleFamily[] = "merkle";
inline constexpr char kReplayFamily[] = "replay";
inline constexpr char kTrustListsFamily[] = "trust_lists";
inline constexpr char kCheckpointsFamily[] = "checkpoints";
inline constexpr char kEvidenceFamily[] = "evidence";
// SHA-256 of a serialized record → its big-endian log index (records by hash, as the log's
// entries name them; common/evidence/log_entry.h).
inline constexpr char kRecordHashesFamily[] = "record_hashes";

// Keys of the default column family.
inline constexpr char kShardIdKey[] = "shard_id";
inline constexpr char kFormatVersionKey[] = "format_version";
// Version 2: the leaves are LogEntry bytes (common/evidence/log_entry.h). Version 1 stores, whose
// leaves were whole records, are not read.
inline constexpr char kFormatVersion[] = "2";
// Key of the merkle column family beside the leaf hashes (never 8 bytes long, unlike them).
inline constexpr char kTreeSizeKey[] = "tree_size";

inline constexpr size_t kIndexBytes = 8;

// Big-endian, so that keys sort in index order.
inline std::string EncodeIndex(uint64_t index) {
  std::string bytes(kIndexBytes, '\0');
  for (size_t i = kIndexBytes; i-- > 0;) {
    bytes[i] = static_cast<char>(index & 0xff);
    index >>= 8;
  }
  return bytes;
}

inline bool DecodeIndex(absl::string_view bytes, uint64_t* index) {
  if (bytes.size() != kIndexBytes) return false;
  uint64_t value = 0;
  for (unsigned char byte : bytes) value = (value << 8) | byte;
  *index = value;
  return true;
}

}  // namespace record_store_layout
}  // namespace mecai

#endif  // MECAI_COORDINATOR_RECORD_STORE_LAYOUT_H_
