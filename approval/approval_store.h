// The approval service's durable state (ARCHITECTURE.md §8: "one RocksDB for the approval
// service"). Every step of a request — its state, its failed-attempt count and the audit events of
// that step — is written in one WriteBatch with a synced WAL, so the trail never disagrees with the
// state.
//
// Column families:
//   requests  transaction number → serialized v1::IssuanceStatus (without audit_trail)
//   codes     transaction number → salt (16 bytes) || SHA-256(salt || code) (32 bytes)
//   audit     transaction number '\0' big-endian uint64 sequence → serialized v1::AuditEvent
//   by_key    SHA-256 of the SubjectPublicKeyInfo || transaction number → "" (every request for
//             the key; entries of earlier versions, SHA-256 → transaction number, are read too)
#ifndef MECAI_APPROVAL_APPROVAL_STORE_H_
#define MECAI_APPROVAL_APPROVAL_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/mecai/v1/approval.pb.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace mecai {

// A stored request: its status and its code hash.
struct StoredRequest {
  v1::IssuanceStatus status;
  std::string code_salt;
  std::string code_sha256;
};

// Thread-safe: mutations run one at a time; reads run concurrently with them.
class ApprovalStore {
 public:
  // Changes `request` (read fresh under the store's lock) and appends audit events to
  // `*new_events` (their sequence is assigned by the store). A non-OK status writes nothing and is
  // returned by Mutate.
  using Mutation =
      std::function<absl::Status(StoredRequest& request, std::vector<v1::AuditEvent>* new_events)>;

  // Opens (creating if missing) the store in directory `path`.
  static absl::StatusOr<std::unique_ptr<ApprovalStore>> Open(const std::string& path);
  ~ApprovalStore();
  ApprovalStore(const ApprovalStore&) = delete;
  ApprovalStore& operator=(const ApprovalStore&) = delete;

  // Stores a new request with its first events. ALREADY_EXISTS when its transaction number is
  // stored already.
  absl::Status Create(const StoredRequest& request, std::vector<v1::AuditEvent> events);

  // Reads, mutates and writes back request `transaction_number` atomically. NOT_FOUND when absent.
  // Returns the request as written.
  absl::StatusOr<StoredRequest> Mutate(const std::string& transaction_number,
                                       const Mutation& mutation);

  // The request with its audit trail filled in. NOT_FOUND when absent.
  absl::StatusOr<StoredRequest> Get(const std::string& transaction_number) const;

  // Transaction numbers of the requests for the key whose SPKI hashes to `sha256`, at most
  // kMaxRequestsPerKey. NOT_FOUND when there is none.
  absl::StatusOr<std::vector<std::string>> FindByKey(const std::string& sha256) const;

  // Transaction numbers of every request in state CALLING (for the start of the service).
  absl::StatusOr<std::vector<std::string>> FindCalling() const;

  static constexpr size_t kMaxRequestsPerKey = 1000;

 private:
  ApprovalStore(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles);

  absl::StatusOr<StoredRequest> ReadRequest(const std::string& transaction_number) const;
  // Writes `request` and `events` (sequences from the trail's end) in one synced batch.
  absl::Status Write(const StoredRequest& request, std::vector<v1::AuditEvent>& events,
                     bool index_key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::StatusOr<uint64_t> NextSequence(const std::string& transaction_number) const;

  // Constant after construction.
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  // Serialises read-modify-write cycles.
  absl::Mutex mutex_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_APPROVAL_STORE_H_
