#include "coordinator/record_store.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/evidence/log_entry.h"
#include "common/storage/rocksdb_status.h"
#include "coordinator/record_evidence.h"
#include "coordinator/record_store_layout.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/snapshot.h"
#include "rocksdb/status.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace mecai {
namespace {

using record_store_layout::DecodeIndex;
using record_store_layout::EncodeIndex;
using record_store_layout::kByHostFamily;
using record_store_layout::kCheckpointsFamily;
using record_store_layout::kEvidenceFamily;
using record_store_layout::kFormatVersion;
using record_store_layout::kFormatVersionKey;
using record_store_layout::kIndexBytes;
using record_store_layout::kMerkleFamily;
using record_store_layout::kRecordHashesFamily;
using record_store_layout::kRecordsFamily;
using record_store_layout::kReplayFamily;
using record_store_layout::kShardIdKey;
using record_store_layout::kTreeSizeKey;
using record_store_layout::kTrustListsFamily;
// How many evidence hashes the store remembers as written (each 32 bytes); beyond it, one is
// looked up in RocksDB before it is written again.
constexpr size_t kMaxKnownEvidence = 100000;

rocksdb::Slice ToSlice(absl::string_view bytes) {
  return rocksdb::Slice(bytes.data(), bytes.size());
}

absl::string_view ToView(const rocksdb::Slice& slice) {
  return absl::string_view(slice.data(), slice.size());
}

std::string HostPrefix(absl::string_view hostname) {
  return absl::StrCat(hostname, absl::string_view("\0", 1));
}

// The leaf hash of stored record bytes (common/evidence/log_entry.h); empty for bytes that are not
// a record, which then match no leaf.
std::string RecordLeafHash(absl::string_view bytes) {
  return LeafHashOfRecord(bytes).value_or(std::string());
}

absl::Status LogInconsistent(absl::string_view problem) {
  return absl::DataLossError(absl::StrCat("the log is inconsistent: ", problem));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecordStore>> RecordStore::Open(const std::string& path,
                                                               const std::string& shard_id,
                                                               const Clock& clock) {
  if (shard_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("record store at ", path, ": the log shard id is empty"));
  }
  const absl::Time start = absl::Now();
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.paranoid_checks = true;
  // A crash may tear the last WAL record; recovery keeps every complete, synced batch before it.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.keep_log_file_num = 10;

  const std::vector<std::string> family_names = {rocksdb::kDefaultColumnFamilyName,
                                                 kRecordsFamily,
                                                 kByHostFamily,
                                                 kMerkleFamily,
                                                 kReplayFamily,
                                                 kTrustListsFamily,
                                                 kCheckpointsFamily,
                                                 kEvidenceFamily,
                                                 kRecordHashesFamily};
  ASSIGN_OR_RETURN(
      RocksDbWithColumnFamilies opened,
      OpenWithColumnFamilies(options, path, family_names,
                             absl::StrCat("record store at ", path, ": opening RocksDB")));
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles = opened.handles;
  ColumnFamilies families;
  families.default_family = handles[0];
  families.records = handles[1];
  families.by_host = handles[2];
  families.merkle = handles[3];
  families.replay = handles[4];
  families.trust_lists = handles[5];
  families.checkpoints = handles[6];
  families.evidence = handles[7];
  families.record_hashes = handles[8];
  auto store =
      absl::WrapUnique(new RecordStore(path, shard_id, clock, std::move(opened.db), families));
  RETURN_IF_ERROR(store->Recover());
  MECAI_LOG(Info) << "record store at " << path << " opened for log shard " << shard_id << ": "
                  << store->TreeSize() << " records verified in "
                  << absl::FormatDuration(absl::Now() - start);
  return store;
}

RecordStore::RecordStore(std::string path, std::string shard_id, const Clock& clock,
                         std::unique_ptr<rocksdb::DB> db, ColumnFamilies families)
    : path_(std::move(path)),
      shard_id_(std::move(shard_id)),
      db_(std::move(db)),
      families_(families),
      clock_(clock),
      committer_([this] { CommitLoop(); }) {}

RecordStore::~RecordStore() {
  {
    absl::MutexLock lock(&append_mutex_);
    stopping_ = true;
  }
  // The commit thread ends once every Append begun is answered.
  committer_.join();
  for (rocksdb::ColumnFamilyHandle* handle :
       {families_.default_family, families_.records, families_.by_host, families_.merkle,
        families_.replay, families_.trust_lists, families_.checkpoints, families_.evidence,
        families_.record_hashes}) {
    if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle);
  }
  rocksdb::Status status = db_->Close();
  if (!status.ok()) {
    MECAI_LOG(Warning) << "record store at " << path_ << ": closing RocksDB: " << status.ToString();
  }
}

absl::Status RecordStore::InContext(const absl::Status& status) const {
  return Annotate(status, absl::StrCat("record store at ", path_));
}

absl::Status RecordStore::Recover() {
  std::string stored_shard_id;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), families_.default_family, kShardIdKey, &stored_shard_id);
  if (status.IsNotFound()) {
    // A new store, unless a log is already there without an owner.
    std::unique_ptr<rocksdb::Iterator> records(
        db_->NewIterator(rocksdb::ReadOptions(), families_.records));
    records->SeekToFirst();
    const bool has_records = records->Valid();
    RETURN_IF_ERROR(InContext(FromRocksDbStatus(records->status(), "reading the records")));
    std::string tree_size;
    rocksdb::Status tree_status =
        db_->Get(rocksdb::ReadOptions(), families_.merkle, kTreeSizeKey, &tree_size);
    if (has_records || !tree_status.IsNotFound()) {
      return InContext(absl::DataLossError("the store holds a log but no log shard id"));
    }
    rocksdb::WriteBatch batch;
    RETURN_IF_ERROR(InContext(FromRocksDbStatus(
        batch.Put(families_.default_family, kShardIdKey, shard_id_), "claiming the store")));
    RETURN_IF_ERROR(InContext(
        FromRocksDbStatus(batch.Put(families_.default_family, kFormatVersionKey, kFormatVersion),
                          "claiming the store")));
    RETURN_IF_ERROR(InContext(FromRocksDbStatus(
        batch.Put(families_.merkle, kTreeSizeKey, ToSlice(EncodeIndex(0))), "claiming the store")));
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    RETURN_IF_ERROR(
        InContext(FromRocksDbStatus(db_->Write(write_options, &batch),
                                    absl::StrCat("claiming the store for log shard ", shard_id_))));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(status, "reading the log shard id")));
  if (stored_shard_id != shard_id_) {
    return absl::FailedPreconditionError(
        absl::StrCat("record store at ", path_, " holds log shard \"", stored_shard_id,
                     "\", not \"", shard_id_, "\"; each shard needs its own store"));
  }
  std::string format_version;
  status = db_->Get(rocksdb::ReadOptions(), families_.default_family, kFormatVersionKey,
                    &format_version);
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(status, "reading the format version")));
  if (format_version != kFormatVersion) {
    return InContext(absl::FailedPreconditionError(
        absl::StrCat("the store has format version \"", format_version,
                     "\"; this binary reads version ", kFormatVersion)));
  }
  std::string tree_size_bytes;
  status = db_->Get(rocksdb::ReadOptions(), families_.merkle, kTreeSizeKey, &tree_size_bytes);
  if (status.IsNotFound()) return InContext(LogInconsistent("the tree size is missing"));
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(status, "reading the tree size")));
  uint64_t tree_size = 0;
  if (!DecodeIndex(tree_size_bytes, &tree_size)) {
    return InContext(LogInconsistent(
        absl::StrCat("the tree size is ", tree_size_bytes.size(), " bytes, not ", kIndexBytes)));
  }
  return InContext(LoadAndVerifyLog(tree_size));
}

absl::Status RecordStore::LoadAndVerifyLog(uint64_t tree_size) {
  rocksdb::ReadOptions scan;
  scan.fill_cache = false;
  scan.verify_checksums = true;
  const std::string tree_size_text = absl::StrCat(" (tree size ", tree_size, ")");

  // The leaf hashes are exactly those of indexes 0 … tree_size − 1.
  MerkleTree tree;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, families_.merkle));
    uint64_t expected = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const absl::string_view key = ToView(it->key());
      if (key == kTreeSizeKey) continue;
      uint64_t index = 0;
      if (!DecodeIndex(key, &index)) {
        return LogInconsistent(
            absl::StrCat("unexpected key ", ShortHex(key), " among leaf hashes"));
      }
      if (index >= tree_size) {
        return LogInconsistent(
            absl::StrCat("there is a leaf hash for index ", index, tree_size_text));
      }
      if (index != expected) {
        return LogInconsistent(
            absl::StrCat("the leaf hash of record ", expected, " is missing", tree_size_text));
      }
      if (!tree.AppendLeafHash(ToView(it->value())).ok()) {
        return LogInconsistent(
            absl::StrCat("the leaf hash of record ", index, " is ", it->value().size(), " bytes"));
      }
      ++expected;
    }
    RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the leaf hashes"));
    if (expected != tree_size) {
      return LogInconsistent(
          absl::StrCat("the leaf hash of record ", expected, " is missing", tree_size_text));
    }
  }

  // Every stored evidence hashes to its key.
  absl::flat_hash_set<std::string> evidence;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, families_.evidence));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const absl::string_view key = ToView(it->key());
      if (key.size() != kMerkleHashBytes || Sha256(ToView(it->value())) != key) {
        return LogInconsistent(absl::StrCat("the revocation evidence stored under ", ShortHex(key),
                                            " does not hash to it"));
      }
      evidence.insert(std::string(key));
    }
    RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the revocation evidence"));
  }

  // The records are exactly those of indexes 0 … tree_size − 1, each hashing to its leaf, naming
  // its own index and this shard, and naming only evidence the store holds.
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, families_.records));
    uint64_t expected = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      uint64_t index = 0;
      if (!DecodeIndex(ToView(it->key()), &index)) {
        return LogInconsistent(
            absl::StrCat("unexpected key ", ShortHex(ToView(it->key())), " among records"));
      }
      if (index >= tree_size) {
        return LogInconsistent(absl::StrCat("there is a record ", index, tree_size_text));
      }
      if (index != expected) {
        return LogInconsistent(absl::StrCat("record ", expected, " is missing", tree_size_text));
      }
      const absl::string_view bytes = ToView(it->value());
      if (RecordLeafHash(bytes) != *tree.LeafHashAt(index)) {
        return LogInconsistent(
            absl::StrCat("record ", index, " does not hash to its leaf in the Merkle log"));
      }
      v1::QuorumRecord record;
      if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return LogInconsistent(absl::StrCat("record ", index, " does not parse"));
      }
      if (record.log_index() != index || record.log_shard_id() != shard_id_) {
        return LogInconsistent(absl::StrCat("record ", index, " names log index ",
                                            record.log_index(), " of log shard \"",
                                            record.log_shard_id(), "\""));
      }
      for (const std::string& sha256 : EvidenceNamedBy(record)) {
        if (!evidence.contains(sha256)) {
          return LogInconsistent(absl::StrCat("record ", index, " names revocation evidence ",
                                              ShortHex(sha256), " the store does not hold"));
        }
      }
      ++expected;
    }
    RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the records"));
    if (expected != tree_size) {
      return LogInconsistent(absl::StrCat("record ", expected, " is missing", tree_size_text));
    }
  }

  const uint64_t size = tree.size();
  absl::MutexLock append_lock(&append_mutex_);
  next_index_ = size;
  committed_size_ = size;
  absl::MutexLock state_lock(&state_mutex_);
  tree_ = std::move(tree);
  if (evidence.size() <= kMaxKnownEvidence) known_evidence_ = std::move(evidence);
  return absl::OkStatus();
}

absl::Status RecordStore::CheckBuiltRecord(const v1::QuorumRecord& record, uint64_t index) const {
  if (record.log_index() != index) {
    return absl::FailedPreconditionError(absl::StrCat("the record built for log index ", index,
                                                      " names log index ", record.log_index()));
  }
  if (record.log_shard_id() != shard_id_) {
    return absl::FailedPreconditionError(absl::StrCat("the record built for log index ", index,
                                                      " names log shard \"", record.log_shard_id(),
                                                      "\", not \"", shard_id_, "\""));
  }
  if (record.hostname().find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("the record built for log index ", index, " has a NUL in its hostname"));
  }
  const std::string& digest = record.vouching_request_sha256();
  if (!digest.empty() && digest.size() != kMerkleHashBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the record built for log index ", index,
                                                   " has a vouching_request_sha256 of ",
                                                   digest.size(), " bytes"));
  }
  if (!digest.empty() && !record.vouching_request().empty() &&
      Sha256(record.vouching_request()) != digest) {
    return absl::InvalidArgumentError(
        absl::StrCat("the record built for log index ", index,
                     " has a vouching_request_sha256 that is not the SHA-256 of its VR"));
  }
  return absl::OkStatus();
}

struct RecordStore::PendingRecord {
  uint64_t index = 0;
  // The serialized record, its SHA-256 and the RFC 9162 leaf hash of its LogEntry.
  std::string bytes;
  std::string record_sha256;
  std::string leaf_hash;
  // Empty: no by_host (replay) entry.
  std::string hostname;
  std::string request_sha256;
  // The revocation responses whose bytes the record carried (written unless already stored).
  std::vector<EvidenceBlob> evidence;
  // What the Append answers once the record is written: `record`, or `error` when the record
  // written is an abandoned one in place of a failed decision.
  std::optional<v1::QuorumRecord> record;
  absl::Status error;
  AppendDone done;

  // Answers the Append: the write's status when it failed, else what the Append returns.
  void Answer(const absl::Status& written) {
    if (!written.ok()) return done(written);
    if (!error.ok()) return done(error);
    done(std::move(*record));
  }
};

v1::QuorumRecord RecordStore::AbandonedRecord(uint64_t index, const absl::Status& error) const {
  std::string error_text =
      absl::StrCat(absl::StatusCodeToString(error.code()), ": ", error.message());
  if (error_text.size() > kMaxAbandonedErrorBytes) {
    error_text.resize(kMaxAbandonedErrorBytes);
    // Cut back to a UTF-8 character boundary, so the explanation stays valid proto3 string text.
    while (!error_text.empty() && (static_cast<unsigned char>(error_text.back()) & 0xc0) == 0x80) {
      error_text.pop_back();
    }
    if (!error_text.empty() && (static_cast<unsigned char>(error_text.back()) & 0x80) != 0) {
      error_text.pop_back();
    }
    error_text += "...";
  }
  v1::QuorumRecord record;
  record.set_log_index(index);
  record.set_log_shard_id(shard_id_);
  record.set_decided_at_unix_milliseconds(clock_.NowUnixMilliseconds());
  record.set_decision(v1::DECISION_UNSPECIFIED);
  record.mutable_refusal()->set_explanation(
      absl::StrCat("the decision at this index could not be completed: ", error_text));
  return record;
}

absl::Status RecordStore::Prepare(v1::QuorumRecord* record, uint64_t index,
                                  PendingRecord* pending) const {
  pending->index = index;
  absl::StatusOr<std::vector<EvidenceBlob>> evidence = MoveEvidenceOut(record);
  if (!evidence.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the record built for log index ", index, ": ", evidence.status().message()));
  }
  for (EvidenceBlob& blob : *evidence) {
    if (!blob.der.empty()) {
      pending->evidence.push_back(std::move(blob));
      continue;
    }
    ASSIGN_OR_RETURN(bool stored, HasEvidence(blob.sha256));
    if (!stored) {
      return absl::InvalidArgumentError(
          absl::StrCat("the record built for log index ", index, " names revocation evidence ",
                       ShortHex(blob.sha256), " by hash only, and the store does not hold it"));
    }
  }
  if (!record->SerializeToString(&pending->bytes)) {
    return absl::InternalError(absl::StrCat("record ", index, " does not serialize"));
  }
  pending->record_sha256 = Sha256(pending->bytes);
  pending->leaf_hash = LeafHash(LogEntryBytes(
      record->decision() == v1::ISSUED ? record->vouching_data().statement() : std::string(),
      pending->record_sha256));
  pending->hostname = record->hostname();
  pending->request_sha256 = record->vouching_request_sha256();
  return absl::OkStatus();
}

absl::StatusOr<bool> RecordStore::HasEvidence(const std::string& sha256) const {
  {
    absl::MutexLock lock(&state_mutex_);
    if (known_evidence_.contains(sha256)) return true;
  }
  rocksdb::PinnableSlice value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), families_.evidence, ToSlice(sha256), &value);
  if (status.IsNotFound()) return false;
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(status, "looking up revocation evidence")));
  absl::MutexLock lock(&state_mutex_);
  if (known_evidence_.size() >= kMaxKnownEvidence) known_evidence_.clear();
  known_evidence_.insert(sha256);
  return true;
}

absl::StatusOr<std::string> RecordStore::GetEvidence(const std::string& sha256) const {
  if (sha256.size() != kMerkleHashBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("an evidence hash is 32 bytes (SHA-256), not ", sha256.size()));
  }
  std::string der;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), families_.evidence, sha256, &der);
  if (status.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("log shard \"", shard_id_,
                                            "\" holds no revocation evidence ", HexEncode(sha256)));
  }
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(status, "reading revocation evidence")));
  if (Sha256(der) != sha256) {
    return InContext(absl::DataLossError(absl::StrCat(
        "the stored revocation evidence ", HexEncode(sha256), " no longer hashes to it")));
  }
  return der;
}

absl::StatusOr<v1::QuorumRecord> RecordStore::Append(const RecordBuilder& build) {
  absl::Notification answered;
  absl::StatusOr<v1::QuorumRecord> answer = absl::UnknownError("not answered");
  AppendAsync([&build](uint64_t index, BuildDone built) { built(build(index)); },
              [&](absl::StatusOr<v1::QuorumRecord> result) {
                answer = std::move(result);
                answered.Notify();
              });
  answered.WaitForNotification();
  return answer;
}

namespace {

// Hands a build's result on exactly once: a BuildDone dropped uncalled (its last copy destroyed)
// hands on INTERNAL, so that its reserved index is filled with an abandoned record.
class BuildCompletion {
 public:
  explicit BuildCompletion(std::function<void(absl::StatusOr<v1::QuorumRecord>)> next)
      : next_(std::move(next)) {}
  BuildCompletion(const BuildCompletion&) = delete;
  BuildCompletion& operator=(const BuildCompletion&) = delete;
  ~BuildCompletion() {
    if (next_) next_(absl::InternalError("the record's build ended without an answer"));
  }

  void Complete(absl::StatusOr<v1::QuorumRecord> built) {
    std::function<void(absl::StatusOr<v1::QuorumRecord>)> next;
    next.swap(next_);
    if (next) next(std::move(built));
  }

 private:
  std::function<void(absl::StatusOr<v1::QuorumRecord>)> next_;
};

}  // namespace

void RecordStore::AppendAsync(const AsyncRecordBuilder& build, AppendDone done) {
  // 1. Reserve.
  uint64_t index = 0;
  absl::Status failed;
  {
    absl::MutexLock lock(&append_mutex_);
    if (stopping_) {
      failed = absl::FailedPreconditionError(
          absl::StrCat("record store at ", path_, " is closing; nothing was appended"));
    } else if (write_failure_.ok()) {
      index = next_index_++;
      ++unanswered_;
    } else {
      failed = WriteFailedError();
    }
  }
  if (!failed.ok()) return done(std::move(failed));
  // 2. Build, with no lock held. From here on index `index` must be committed, one way or another.
  auto completion = std::make_shared<BuildCompletion>(
      [this, index, done = std::move(done)](absl::StatusOr<v1::QuorumRecord> built) mutable {
        Built(index, std::move(built), std::move(done));
      });
  build(index, [completion](absl::StatusOr<v1::QuorumRecord> built) {
    completion->Complete(std::move(built));
  });
}

void RecordStore::Built(uint64_t index, absl::StatusOr<v1::QuorumRecord> built, AppendDone done) {
  // Why the decision at `index` failed, as the abandoned record quotes it (without this store's
  // path, which is no business of auditors), and as Append returns it.
  absl::Status decision_error = built.status();
  absl::Status returned_error = decision_error;
  auto pending = std::make_unique<PendingRecord>();
  if (decision_error.ok()) {
    decision_error = CheckBuiltRecord(*built, index);
    if (decision_error.ok()) decision_error = Prepare(&*built, index, pending.get());
    returned_error = InContext(decision_error);
  }
  if (decision_error.ok()) {
    pending->record = std::move(*built);
  } else {
    MECAI_LOG(Warning) << "record store at " << path_ << ": recording log index " << index
                       << " as abandoned: " << decision_error;
    pending = std::make_unique<PendingRecord>();
    v1::QuorumRecord abandoned = AbandonedRecord(index, decision_error);
    absl::Status prepared = Prepare(&abandoned, index, pending.get());
    if (!prepared.ok()) {
      // Index `index` cannot be filled, so no later record can be committed: stop appending.
      {
        absl::MutexLock lock(&append_mutex_);
        if (write_failure_.ok()) write_failure_ = InContext(prepared);
      }
      done(InContext(prepared));
      return Answered(1);
    }
    pending->error = returned_error;
  }
  pending->done = std::move(done);
  // 3. Commit, in index order.
  Enqueue(std::move(pending));
}

absl::Status RecordStore::WriteFailedError() const {
  return absl::FailedPreconditionError(
      absl::StrCat("record store at ", path_, ": an earlier write failed (",
                   write_failure_.message(), "); reopen the store to recover"));
}

void RecordStore::Enqueue(std::unique_ptr<PendingRecord> pending) {
  absl::Status failed;
  {
    absl::MutexLock lock(&append_mutex_);
    if (write_failure_.ok()) {
      const uint64_t index = pending->index;
      queued_.emplace(index, std::move(pending));
      return;
    }
    failed = WriteFailedError();
  }
  pending->Answer(failed);
  Answered(1);
}

void RecordStore::Answered(size_t count) {
  absl::MutexLock lock(&append_mutex_);
  unanswered_ -= count;
}

bool RecordStore::CommitterHasWork() const {
  return (stopping_ && unanswered_ == 0) ||
         (write_failure_.ok() && queued_.count(committed_size_) > 0) ||
         (!write_failure_.ok() && !queued_.empty());
}

void RecordStore::CommitLoop() {
  for (;;) {
    std::vector<std::unique_ptr<PendingRecord>> group;
    absl::Status failed;
    {
      absl::MutexLock lock(&append_mutex_);
      append_mutex_.Await(absl::Condition(this, &RecordStore::CommitterHasWork));
      if (!write_failure_.ok()) {
        // Records queued after a failed write are answered with its error, never written.
        failed = WriteFailedError();
        for (auto& [index, record] : queued_) group.push_back(std::move(record));
        queued_.clear();
      } else {
        // The lowest uncommitted record and every queued record after it without a gap.
        size_t group_bytes = 0;
        uint64_t next = committed_size_;
        for (auto it = queued_.find(next); it != queued_.end() && it->first == next; ++next) {
          if (!group.empty() && group_bytes + it->second->bytes.size() > kMaxGroupCommitBytes) {
            break;
          }
          group_bytes += it->second->bytes.size();
          group.push_back(std::move(it->second));
          it = queued_.erase(it);
        }
      }
      if (group.empty() && stopping_ && unanswered_ == 0) return;
    }
    if (!failed.ok()) {
      for (std::unique_ptr<PendingRecord>& record : group) record->Answer(failed);
      Answered(group.size());
      continue;
    }
    if (group.empty()) continue;

    const absl::Time write_started = absl::Now();
    const absl::Status written = WriteGroup(group);
    if (written.ok() && commit_observer_) {
      commit_observer_(absl::ToDoubleSeconds(absl::Now() - write_started));
    }
    {
      absl::MutexLock lock(&append_mutex_);
      if (written.ok()) {
        committed_size_ += group.size();
        ++committed_batches_;
      } else {
        write_failure_ = written;
      }
    }
    for (std::unique_ptr<PendingRecord>& record : group) record->Answer(written);
    Answered(group.size());
  }
}

absl::Status RecordStore::WriteGroup(const std::vector<std::unique_ptr<PendingRecord>>& group) {
  const uint64_t first = group.front()->index;
  const uint64_t end = group.back()->index + 1;
  const std::string what = end - first == 1
                               ? absl::StrCat("writing record ", first)
                               : absl::StrCat("writing records ", first, " to ", end - 1);

  // Trust rule 4: each record and everything derived from it, atomically, on disk before any of
  // their Appends returns. Later Puts of one batch win, so the replay entry of a VR decided twice
  // in a group names the later record.
  rocksdb::WriteBatch batch;
  absl::flat_hash_set<std::string> evidence_in_batch;
  for (const std::unique_ptr<PendingRecord>& record : group) {
    for (const EvidenceBlob& blob : record->evidence) {
      if (evidence_in_batch.contains(blob.sha256)) continue;
      ASSIGN_OR_RETURN(bool stored, HasEvidence(blob.sha256));
      if (stored) continue;
      evidence_in_batch.insert(blob.sha256);
      RETURN_IF_ERROR(
          InContext(FromRocksDbStatus(batch.Put(families_.evidence, blob.sha256, blob.der), what)));
    }
    const std::string index_key = EncodeIndex(record->index);
    RETURN_IF_ERROR(
        InContext(FromRocksDbStatus(batch.Put(families_.records, index_key, record->bytes), what)));
    if (!record->hostname.empty()) {
      RETURN_IF_ERROR(InContext(FromRocksDbStatus(
          batch.Put(families_.by_host, absl::StrCat(HostPrefix(record->hostname), index_key),
                    rocksdb::Slice()),
          what)));
    }
    RETURN_IF_ERROR(InContext(
        FromRocksDbStatus(batch.Put(families_.merkle, index_key, record->leaf_hash), what)));
    RETURN_IF_ERROR(InContext(FromRocksDbStatus(
        batch.Put(families_.record_hashes, record->record_sha256, index_key), what)));
    if (!record->request_sha256.empty()) {
      RETURN_IF_ERROR(InContext(
          FromRocksDbStatus(batch.Put(families_.replay, record->request_sha256, index_key), what)));
    }
  }
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(
      batch.Put(families_.merkle, kTreeSizeKey, ToSlice(EncodeIndex(end))), what)));
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  absl::Status written = InContext(FromRocksDbStatus(db_->Write(write_options, &batch), what));
  if (!written.ok()) {
    MECAI_LOG(Error) << written.message();
    return written;
  }

  absl::MutexLock state_lock(&state_mutex_);
  for (const std::unique_ptr<PendingRecord>& record : group) {
    absl::Status appended = tree_.AppendLeafHash(record->leaf_hash);
    if (!appended.ok()) return InContext(appended);
  }
  if (known_evidence_.size() + evidence_in_batch.size() > kMaxKnownEvidence) {
    known_evidence_.clear();
  }
  known_evidence_.merge(evidence_in_batch);
  return absl::OkStatus();
}

RecordStore::StoreFigures RecordStore::Figures() const {
  StoreFigures figures;
  auto property = [this](const std::string& name) {
    uint64_t value = 0;
    return db_->GetAggregatedIntProperty(name, &value) ? value : 0;
  };
  figures.sst_files_bytes = property("rocksdb.total-sst-files-size");
  figures.live_data_bytes = property("rocksdb.estimate-live-data-size");
  figures.memtable_bytes = property("rocksdb.cur-size-all-mem-tables");
  figures.pending_compaction_bytes = property("rocksdb.estimate-pending-compaction-bytes");
  return figures;
}

void RecordStore::ObserveCommits(std::function<void(double seconds)> observer) {
  commit_observer_ = std::move(observer);
}

absl::Status RecordStore::CreateBackup(const std::string& directory) const {
  rocksdb::Checkpoint* raw_checkpoint = nullptr;
  const std::string what = absl::StrCat("backing up the store into ", directory);
  RETURN_IF_ERROR(
      InContext(FromRocksDbStatus(rocksdb::Checkpoint::Create(db_.get(), &raw_checkpoint), what)));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw_checkpoint);
  // log_size_for_flush 0: the memtables are flushed first, so the copy needs no WAL replay
  // beyond what was synced.
  return InContext(
      FromRocksDbStatus(checkpoint->CreateCheckpoint(directory, /*log_size_for_flush=*/0), what));
}

uint64_t RecordStore::CommittedBatches() const {
  absl::MutexLock lock(&append_mutex_);
  return committed_batches_;
}

uint64_t RecordStore::TreeSize() const {
  absl::MutexLock lock(&state_mutex_);
  return tree_.size();
}

absl::StatusOr<v1::QuorumRecord> RecordStore::ParseStoredRecord(uint64_t index,
                                                                absl::string_view bytes) const {
  std::string leaf_hash;
  {
    absl::MutexLock lock(&state_mutex_);
    ASSIGN_OR_RETURN(leaf_hash, tree_.LeafHashAt(index));
  }
  if (RecordLeafHash(bytes) != leaf_hash) {
    return InContext(LogInconsistent(
        absl::StrCat("record ", index, " does not hash to its leaf in the Merkle log")));
  }
  v1::QuorumRecord record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      record.log_index() != index) {
    return InContext(LogInconsistent(absl::StrCat("record ", index, " does not parse as itself")));
  }
  return record;
}

absl::StatusOr<v1::QuorumRecord> RecordStore::ReadRecord(uint64_t index,
                                                         const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  std::string bytes;
  rocksdb::Status status = db_->Get(options, families_.records, EncodeIndex(index), &bytes);
  if (status.IsNotFound()) {
    return InContext(LogInconsistent(absl::StrCat("record ", index, " is missing")));
  }
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(status, absl::StrCat("reading record ", index))));
  return ParseStoredRecord(index, bytes);
}

absl::StatusOr<v1::QuorumRecord> RecordStore::GetRecord(uint64_t index) const {
  const uint64_t tree_size = TreeSize();
  if (index >= tree_size) {
    return absl::NotFoundError(absl::StrCat("log shard \"", shard_id_, "\" has no record ", index,
                                            " (tree size ", tree_size, ")"));
  }
  return ReadRecord(index, nullptr);
}

absl::StatusOr<std::string> RecordStore::GetRecordBytes(uint64_t index) const {
  ASSIGN_OR_RETURN(std::string leaf_hash, GetLeafHash(index));
  std::string bytes;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), families_.records, EncodeIndex(index), &bytes);
  if (status.IsNotFound()) {
    return InContext(LogInconsistent(absl::StrCat("record ", index, " is missing")));
  }
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(status, absl::StrCat("reading record ", index))));
  if (RecordLeafHash(bytes) != leaf_hash) {
    return InContext(LogInconsistent(
        absl::StrCat("the stored bytes of record ", index, " no longer hash to its leaf")));
  }
  return bytes;
}

absl::StatusOr<std::vector<std::string>> RecordStore::CompactRangeHashes(uint64_t tree_size) const {
  absl::MutexLock lock(&state_mutex_);
  if (tree_size > tree_.size()) {
    return absl::OutOfRangeError(absl::StrCat("log shard \"", shard_id_, "\" has ", tree_.size(),
                                              " records, not ", tree_size));
  }
  std::vector<std::string> hashes;
  uint64_t begin = 0;
  for (unsigned height = 64; height-- > 0;) {
    const uint64_t width = uint64_t{1} << height;
    if ((tree_size & width) == 0) continue;
    ASSIGN_OR_RETURN(std::string hash, tree_.CompleteSubtreeHash(height, begin >> height));
    hashes.push_back(std::move(hash));
    begin += width;
  }
  return hashes;
}

absl::StatusOr<std::string> RecordStore::GetLeafHash(uint64_t index) const {
  absl::MutexLock lock(&state_mutex_);
  if (index >= tree_.size()) {
    return absl::NotFoundError(absl::StrCat("log shard \"", shard_id_, "\" has no record ", index,
                                            " (tree size ", tree_.size(), ")"));
  }
  return tree_.LeafHashAt(index);
}

absl::StatusOr<std::optional<uint64_t>> RecordStore::FindByRequestDigest(
    const std::string& sha256) const {
  if (sha256.size() != kMerkleHashBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a VR digest is ", kMerkleHashBytes, " bytes, not ", sha256.size()));
  }
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), families_.replay, sha256, &value);
  if (status.IsNotFound()) return std::optional<uint64_t>();
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(status, "reading the replay cache")));
  uint64_t index = 0;
  if (!DecodeIndex(value, &index)) {
    return InContext(LogInconsistent(
        absl::StrCat("the replay entry of VR ", ShortHex(sha256), " is not an index")));
  }
  const uint64_t tree_size = TreeSize();
  if (index < tree_size) return std::optional<uint64_t>(index);
  // An index in [tree size, next index) is a record the commit thread has written but not yet
  // committed: not visible. Read after the entry, the next index is beyond every index written so
  // far.
  uint64_t next_index = 0;
  {
    absl::MutexLock lock(&append_mutex_);
    next_index = next_index_;
  }
  if (index < next_index) return std::optional<uint64_t>();
  return InContext(
      LogInconsistent(absl::StrCat("the replay entry of VR ", ShortHex(sha256), " names record ",
                                   index, " (tree size ", tree_size, ")")));
}

absl::StatusOr<std::vector<v1::QuorumRecord>> RecordStore::ListRecords(
    const std::string& hostname, int64_t since_unix_milliseconds, uint32_t page_size,
    const std::string& page_token, std::string* next_page_token) const {
  std::string next;
  if (hostname.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("the hostname has a NUL character");
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  const uint64_t tree_size = TreeSize();
  uint64_t start = 0;
  if (!page_token.empty()) {
    const bool digits_only = std::all_of(page_token.begin(), page_token.end(),
                                         [](char c) { return absl::ascii_isdigit(c); });
    if (!digits_only || !absl::SimpleAtoi(page_token, &start) || start > tree_size) {
      return absl::InvalidArgumentError(absl::StrCat("page token \"", page_token,
                                                     "\" is not a position in log shard \"",
                                                     shard_id_, "\" (tree size ", tree_size, ")"));
    }
  }

  // One consistent view; records at or beyond `tree_size` (written after it was read) are left out.
  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();
  std::vector<v1::QuorumRecord> page;
  // Adds `record` to the page or, when the page is full, notes where the next page starts. Returns
  // false to stop.
  auto take = [&](uint64_t index, v1::QuorumRecord record) {
    if (record.decided_at_unix_milliseconds() < since_unix_milliseconds) return true;
    if (page.size() == page_size) {
      next = absl::StrCat(index);
      return false;
    }
    page.push_back(std::move(record));
    return true;
  };

  if (hostname.empty()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, families_.records));
    for (it->Seek(EncodeIndex(start)); it->Valid(); it->Next()) {
      uint64_t index = 0;
      if (!DecodeIndex(ToView(it->key()), &index)) {
        return InContext(LogInconsistent(
            absl::StrCat("unexpected key ", ShortHex(ToView(it->key())), " among records")));
      }
      if (index >= tree_size) break;
      ASSIGN_OR_RETURN(v1::QuorumRecord record, ParseStoredRecord(index, ToView(it->value())));
      if (!take(index, std::move(record))) break;
    }
    RETURN_IF_ERROR(InContext(FromRocksDbStatus(it->status(), "listing records")));
  } else {
    const std::string prefix = HostPrefix(hostname);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, families_.by_host));
    for (it->Seek(absl::StrCat(prefix, EncodeIndex(start)));
         it->Valid() && it->key().starts_with(prefix); it->Next()) {
      uint64_t index = 0;
      if (!DecodeIndex(ToView(it->key()).substr(prefix.size()), &index)) {
        return InContext(LogInconsistent(absl::StrCat("malformed by_host entry for ", hostname)));
      }
      if (index >= tree_size) break;
      ASSIGN_OR_RETURN(v1::QuorumRecord record, ReadRecord(index, snapshot.snapshot()));
      if (record.hostname() != hostname) {
        return InContext(
            LogInconsistent(absl::StrCat("the by_host entry for ", hostname, " names record ",
                                         index, ", which is for ", record.hostname())));
      }
      if (!take(index, std::move(record))) break;
    }
    RETURN_IF_ERROR(InContext(FromRocksDbStatus(it->status(), "listing records by hostname")));
  }
  if (next_page_token != nullptr) *next_page_token = std::move(next);
  return page;
}

absl::StatusOr<std::string> RecordStore::RootHash(uint64_t tree_size) const {
  absl::MutexLock lock(&state_mutex_);
  return tree_.RootHash(tree_size);
}

absl::StatusOr<std::vector<std::string>> RecordStore::InclusionProof(uint64_t index,
                                                                     uint64_t tree_size) const {
  absl::MutexLock lock(&state_mutex_);
  return tree_.InclusionProof(index, tree_size);
}

absl::StatusOr<std::vector<std::string>> RecordStore::ConsistencyProof(uint64_t first,
                                                                       uint64_t second) const {
  absl::MutexLock lock(&state_mutex_);
  return tree_.ConsistencyProof(first, second);
}

absl::Status RecordStore::SyncedPut(rocksdb::ColumnFamilyHandle* family, absl::string_view key,
                                    absl::string_view value, absl::string_view what) {
  rocksdb::WriteOptions options;
  options.sync = true;
  return InContext(
      FromRocksDbStatus(db_->Put(options, family, ToSlice(key), ToSlice(value)), what));
}

absl::Status RecordStore::PutCheckpoint(const v1::SignedCheckpoint& checkpoint,
                                        uint64_t tree_size) {
  v1::CheckpointBody body;
  if (!body.ParseFromString(checkpoint.tbs())) {
    return absl::InvalidArgumentError("the checkpoint's tbs is not a CheckpointBody");
  }
  if (body.log_shard_id() != shard_id_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the checkpoint is of log shard \"", body.log_shard_id(), "\", not \"", shard_id_, "\""));
  }
  if (body.tree_size() != tree_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("the checkpoint is of tree size ", body.tree_size(), ", not ", tree_size));
  }
  ASSIGN_OR_RETURN(const std::string root, RootHash(tree_size));
  if (body.root_hash() != root) {
    return absl::InvalidArgumentError(
        absl::StrCat("the checkpoint's root ", ShortHex(body.root_hash()),
                     " is not the log's root ", ShortHex(root), " at tree size ", tree_size));
  }
  std::string bytes;
  if (!checkpoint.SerializeToString(&bytes)) {
    return absl::InternalError("the checkpoint does not serialize");
  }
  return SyncedPut(families_.checkpoints, EncodeIndex(tree_size), bytes,
                   absl::StrCat("writing the checkpoint of tree size ", tree_size));
}

absl::StatusOr<v1::SignedCheckpoint> RecordStore::GetLatestCheckpoint() const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), families_.checkpoints));
  it->SeekToLast();
  RETURN_IF_ERROR(InContext(FromRocksDbStatus(it->status(), "reading the latest checkpoint")));
  if (!it->Valid()) {
    return absl::NotFoundError(absl::StrCat("log shard \"", shard_id_, "\" has no checkpoint yet"));
  }
  v1::SignedCheckpoint checkpoint;
  if (!checkpoint.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
    return InContext(absl::DataLossError("the latest checkpoint does not parse"));
  }
  return checkpoint;
}

absl::Status RecordStore::PutTrustListState(const std::string& key, const std::string& bytes) {
  if (key.empty()) return absl::InvalidArgumentError("the trust-list state key is empty");
  return SyncedPut(families_.trust_lists, key, bytes,
                   absl::StrCat("writing trust-list state \"", key, "\""));
}

absl::StatusOr<std::string> RecordStore::GetTrustListState(const std::string& key) const {
  std::string bytes;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), families_.trust_lists, key, &bytes);
  if (status.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("no trust-list state \"", key, "\""));
  }
  RETURN_IF_ERROR(
      InContext(FromRocksDbStatus(status, absl::StrCat("reading trust-list state \"", key, "\""))));
  return bytes;
}

}  // namespace mecai
