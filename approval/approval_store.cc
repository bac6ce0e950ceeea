#include "approval/approval_store.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/storage/rocksdb_status.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace mecai {
namespace {

enum Family { kDefault = 0, kRequests, kCodes, kAudit, kByKey, kFamilyCount };
const char* const kFamilyNames[kFamilyCount] = {"default", "requests", "codes", "audit", "by_key"};

std::string AuditKey(const std::string& transaction_number, uint64_t sequence) {
  std::string key = transaction_number;
  key.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((sequence >> shift) & 0xff));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApprovalStore>> ApprovalStore::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  const std::vector<std::string> family_names(std::begin(kFamilyNames), std::end(kFamilyNames));
  ASSIGN_OR_RETURN(
      RocksDbWithColumnFamilies opened,
      OpenWithColumnFamilies(options, path, family_names,
                             absl::StrCat("cannot open the approval store at ", path)));
  return std::unique_ptr<ApprovalStore>(
      new ApprovalStore(std::move(opened.db), std::move(opened.handles)));
}

ApprovalStore::ApprovalStore(std::unique_ptr<rocksdb::DB> db,
                             std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : db_(std::move(db)), handles_(std::move(handles)) {}

ApprovalStore::~ApprovalStore() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
}

absl::StatusOr<StoredRequest> ApprovalStore::ReadRequest(
    const std::string& transaction_number) const {
  std::string bytes;
  RETURN_IF_ERROR(FromRocksDbStatus(
      db_->Get(rocksdb::ReadOptions(), handles_[kRequests], transaction_number, &bytes),
      "no request with this transaction number"));
  StoredRequest request;
  if (!request.status.ParseFromString(bytes)) {
    return absl::DataLossError("a stored request does not parse");
  }
  std::string code;
  RETURN_IF_ERROR(FromRocksDbStatus(
      db_->Get(rocksdb::ReadOptions(), handles_[kCodes], transaction_number, &code),
      "the request's code hash is missing"));
  if (code.size() != 48) return absl::DataLossError("a stored code hash has the wrong size");
  request.code_salt = code.substr(0, 16);
  request.code_sha256 = code.substr(16);
  return request;
}

absl::StatusOr<uint64_t> ApprovalStore::NextSequence(const std::string& transaction_number) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kAudit]));
  it->SeekForPrev(AuditKey(transaction_number, ~uint64_t{0}));
  RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the audit trail"));
  if (!it->Valid()) return 0;
  const std::string prefix = transaction_number + std::string(1, '\0');
  if (!it->key().starts_with(prefix) || it->key().size() != prefix.size() + 8) return 0;
  v1::AuditEvent last;
  if (!last.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
    return absl::DataLossError("a stored audit event does not parse");
  }
  return last.sequence() + 1;
}

absl::Status ApprovalStore::Write(const StoredRequest& request, std::vector<v1::AuditEvent>& events,
                                  bool index_key) {
  const std::string& tn = request.status.transaction_number();
  ASSIGN_OR_RETURN(uint64_t sequence, NextSequence(tn));
  rocksdb::WriteBatch batch;
  v1::IssuanceStatus status = request.status;
  status.clear_audit_trail();
  batch.Put(handles_[kRequests], tn, status.SerializeAsString());
  batch.Put(handles_[kCodes], tn, request.code_salt + request.code_sha256);
  if (index_key) {
    batch.Put(handles_[kByKey], status.subject_public_key_info_sha256() + tn, "");
  }
  for (v1::AuditEvent& event : events) {
    event.set_sequence(sequence);
    batch.Put(handles_[kAudit], AuditKey(tn, sequence), event.SerializeAsString());
    ++sequence;
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocksDbStatus(db_->Write(options, &batch), "writing the approval store");
}

absl::Status ApprovalStore::Create(const StoredRequest& request,
                                   std::vector<v1::AuditEvent> events) {
  absl::MutexLock lock(&mutex_);
  std::string ignored;
  rocksdb::Status existing = db_->Get(rocksdb::ReadOptions(), handles_[kRequests],
                                      request.status.transaction_number(), &ignored);
  if (existing.ok()) {
    return absl::AlreadyExistsError("the transaction number was used before");
  }
  if (!existing.IsNotFound()) return FromRocksDbStatus(existing, "reading the approval store");
  return Write(request, events, /*index_key=*/true);
}

absl::StatusOr<StoredRequest> ApprovalStore::Mutate(const std::string& transaction_number,
                                                    const Mutation& mutation) {
  absl::MutexLock lock(&mutex_);
  ASSIGN_OR_RETURN(StoredRequest request, ReadRequest(transaction_number));
  std::vector<v1::AuditEvent> events;
  RETURN_IF_ERROR(mutation(request, &events));
  RETURN_IF_ERROR(Write(request, events, /*index_key=*/false));
  return request;
}

absl::StatusOr<StoredRequest> ApprovalStore::Get(const std::string& transaction_number) const {
  ASSIGN_OR_RETURN(StoredRequest request, ReadRequest(transaction_number));
  const std::string prefix = transaction_number + std::string(1, '\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kAudit]));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!request.status.add_audit_trail()->ParseFromArray(it->value().data(),
                                                          static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a stored audit event does not parse");
    }
  }
  RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the audit trail"));
  return request;
}

absl::StatusOr<std::vector<std::string>> ApprovalStore::FindByKey(const std::string& sha256) const {
  std::vector<std::string> transaction_numbers;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kByKey]));
  for (it->Seek(sha256); it->Valid() && it->key().starts_with(sha256) &&
                         transaction_numbers.size() < kMaxRequestsPerKey;
       it->Next()) {
    // An entry of an earlier version: the key alone, the transaction number its value.
    std::string transaction_number = it->key().size() == sha256.size()
                                         ? it->value().ToString()
                                         : it->key().ToString().substr(sha256.size());
    if (std::find(transaction_numbers.begin(), transaction_numbers.end(), transaction_number) ==
        transaction_numbers.end()) {
      transaction_numbers.push_back(std::move(transaction_number));
    }
  }
  RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the key index"));
  if (transaction_numbers.empty()) return absl::NotFoundError("no request for this key");
  return transaction_numbers;
}

absl::StatusOr<std::vector<std::string>> ApprovalStore::FindCalling() const {
  std::vector<std::string> transaction_numbers;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kRequests]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::IssuanceStatus status;
    if (!status.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a stored request does not parse");
    }
    if (status.state() == v1::ISSUANCE_STATE_CALLING) {
      transaction_numbers.push_back(it->key().ToString());
    }
  }
  RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the requests"));
  return transaction_numbers;
}

}  // namespace mecai
