#include "signer/log_state.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/log_entry.h"
#include "common/transparency/merkle.h"
#include "proto/mecai/v1/record.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace {

// A journal entry on disk: a 4-byte big-endian payload length, the first 8 bytes of the payload's
// SHA-256 (a torn or corrupt tail is told from an entry), the payload (a SignerVouchedEntry).
constexpr size_t kEntryHeaderBytes = 12;
constexpr size_t kMaxEntryBytes = 1 << 20;
// A journal of kMaxUncheckpointedVouchingData entries per shard fits many times over.
constexpr size_t kMaxJournalBytes = size_t{1} << 34;
// How often the journal's new entries are synced to disk.
constexpr absl::Duration kJournalSyncInterval = absl::Milliseconds(10);
// The journal grows by this much of zeros at a time, ahead of its entries.
constexpr uint64_t kJournalChunkBytes = 4 << 20;

std::string EncodeJournalEntry(const v1::SignerVouchedEntry& entry) {
  const std::string payload = entry.SerializeAsString();
  std::string encoded;
  for (int shift = 24; shift >= 0; shift -= 8) {
    encoded.push_back(static_cast<char>((payload.size() >> shift) & 0xff));
  }
  encoded.append(Sha256(payload).substr(0, 8));
  encoded.append(payload);
  return encoded;
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Writes `bytes` at `offset`, into the page cache.
absl::Status WriteAt(int fd, absl::string_view bytes, uint64_t offset, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

// Writes zeros over [from, to) and syncs data and metadata: the journal ends at its first zero
// length, and its space is allocated ahead of the entries, so that a later fdatasync(2) writes
// data only.
absl::Status ZeroFill(int fd, uint64_t from, uint64_t to, const std::string& path) {
  const std::string zeros(64 << 10, '\0');
  while (from < to) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), to - from));
    ssize_t written = pwrite(fd, zeros.data(), n, static_cast<off_t>(from));
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot extend", path);
    }
    from += static_cast<uint64_t>(written);
  }
  if (fsync(fd) != 0) return ErrnoError("cannot sync", path);
  return absl::OkStatus();
}

std::string HostnameOf(const v1::SignerVouchedEntry& entry) {
  v1::VouchingStatement statement;
  if (!statement.ParseFromString(entry.statement())) return "?";
  return absl::StrCat(statement.hostname(), ":", statement.port());
}

}  // namespace

SignerLogState::SignerLogState(std::string path, int lock_fd)
    : path_(std::move(path)), journal_path_(absl::StrCat(path_, ".vouched")), lock_fd_(lock_fd) {}

SignerLogState::~SignerLogState() {
  if (syncer_.joinable()) {
    stop_syncing_.Notify();
    syncer_.join();
  }
  absl::MutexLock lock(&mutex_);
  if (journal_fd_ >= 0) {
    fdatasync(journal_fd_);
    close(journal_fd_);
  }
  close(lock_fd_);
}

absl::StatusOr<std::unique_ptr<SignerLogState>> SignerLogState::Open(const std::string& path) {
  const std::string lock_path = absl::StrCat(path, ".lock");
  int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return ErrnoError("cannot open", lock_path);
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "another signer process holds ", lock_path,
        ": two signers must never share one log state (they could sign forks of a shard)"));
  }
  std::unique_ptr<SignerLogState> state(new SignerLogState(path, lock_fd));
  absl::MutexLock lock(&state->mutex_);
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok() && bytes.status().code() != absl::StatusCode::kNotFound) return bytes.status();
  if (bytes.ok()) {
    v1::SignerLogState stored;
    if (!stored.ParseFromString(*bytes)) {
      return absl::DataLossError(absl::StrCat(
          path,
          " is not a SignerLogState; the signer will not start without its memory of what it "
          "signed (restore the file from a backup)"));
    }
    for (const v1::SignerShardState& shard : stored.shards()) {
      const bool has_checkpoint = shard.root_hash().size() == kMerkleHashBytes;
      if (shard.log_shard_id().empty() ||
          (!has_checkpoint && (shard.tree_size() != 0 || !shard.root_hash().empty()))) {
        return absl::DataLossError(absl::StrCat(path, ": a shard entry is incomplete"));
      }
      Shard& loaded = state->shards_[shard.log_shard_id()];
      loaded.durable = shard;
      // A state written before the journal existed: every index below its floor may hold a VD
      // that no journal names, so none is given again.
      for (uint64_t index = shard.tree_size(); index < shard.vouched_index_floor() &&
                                               loaded.uses.size() < kMaxUncheckpointedVouchingData;
           ++index) {
        loaded.uses[index].kind = IndexUse::Kind::kBurned;
      }
    }
  }
  RETURN_IF_ERROR(state->LoadJournalLocked());
  SignerLogState* started = state.get();
  state->syncer_ = std::thread([started] { started->SyncJournalPeriodically(); });
  return state;
}

absl::Status SignerLogState::LoadJournalLocked() {
  absl::StatusOr<std::string> journal = ReadFile(journal_path_, kMaxJournalBytes);
  if (!journal.ok() && journal.status().code() != absl::StatusCode::kNotFound) {
    return journal.status();
  }
  size_t valid_bytes = 0;
  size_t file_bytes = 0;
  if (journal.ok()) {
    file_bytes = journal->size();
    absl::string_view rest = *journal;
    while (rest.size() >= kEntryHeaderBytes) {
      size_t length = 0;
      for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<unsigned char>(rest[i]);
      if (length == 0 || length > kMaxEntryBytes || rest.size() < kEntryHeaderBytes + length) {
        break;  // A zero length is the end; anything else an entry cut short.
      }
      absl::string_view payload = rest.substr(kEntryHeaderBytes, length);
      v1::SignerVouchedEntry entry;
      if (Sha256(payload).substr(0, 8) != rest.substr(4, 8) ||
          !entry.ParseFromString(std::string(payload))) {
        break;
      }
      rest.remove_prefix(kEntryHeaderBytes + length);
      valid_bytes = journal->size() - rest.size();
      Shard& shard = shards_[entry.log_shard_id()];
      if (shard.durable.log_shard_id().empty())
        shard.durable.set_log_shard_id(entry.log_shard_id());
      if (entry.log_index() < shard.durable.tree_size()) continue;  // A checkpoint covered it.
      IndexUse& use = shard.uses[entry.log_index()];
      use.kind = IndexUse::Kind::kVouched;
      use.entry = std::move(entry);
    }
    if (rest.find_first_not_of('\0') != absl::string_view::npos) {
      // Written but never synced: its VD did not leave the signer.
      MECAI_LOG(Warning) << journal_path_ << ": dropping an entry cut short at byte "
                         << valid_bytes;
    }
  }
  journal_fd_ = open(journal_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (journal_fd_ < 0) return ErrnoError("cannot open", journal_path_);
  // Zeros from the end of the last whole entry (over any entry cut short) and a chunk ahead.
  journal_end_ = valid_bytes;
  journal_capacity_ = std::max<uint64_t>(file_bytes, valid_bytes + kJournalChunkBytes);
  return ZeroFill(journal_fd_, valid_bytes, journal_capacity_, journal_path_);
}

absl::Status SignerLogState::PersistLocked() {
  v1::SignerLogState stored;
  for (const auto& [id, shard] : shards_) {
    if (shard.durable.root_hash().empty()) continue;
    v1::SignerShardState* entry = stored.add_shards();
    *entry = shard.durable;
    entry->clear_vouched_index_floor();
  }
  return WriteFileAtomically(path_, stored.SerializeAsString(), 0600);
}

absl::StatusOr<SignerLogState::IndexClaim> SignerLogState::ClaimVouchingIndex(
    const std::string& shard, uint64_t log_index) {
  absl::MutexLock lock(&mutex_);
  if (!journal_error_.ok()) return journal_error_;
  Shard& state = shards_[shard];
  if (log_index < state.durable.tree_size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("log index ", log_index, " of shard '", shard,
                     "' is inside the tree the signer last signed (", state.durable.tree_size(),
                     " leaves): it holds another record"));
  }
  IndexClaim claim;
  auto found = state.uses.find(log_index);
  if (found == state.uses.end()) {
    if (state.uses.size() >= kMaxUncheckpointedVouchingData) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "shard '", shard, "' has ", state.uses.size(),
          " VDs since its last signed checkpoint; the signer signs no more until a checkpoint "
          "covers them"));
    }
    state.uses[log_index].kind = IndexUse::Kind::kSigning;
    claim.claimed = true;
    return claim;
  }
  IndexUse& use = found->second;
  claim.explanation = absl::StrCat("log index ", log_index, " of shard '", shard,
                                   "' was already given to another VD");
  if (use.kind == IndexUse::Kind::kVouched) {
    claim.vouched = use.entry;
    absl::StrAppend(&claim.explanation, " (for ", HostnameOf(use.entry),
                    "); the record at that index must carry it");
  } else if (use.kind == IndexUse::Kind::kSigning) {
    use.asked_again = true;
  }
  return claim;
}

absl::Status SignerLogState::RecordVouched(const std::string& shard, uint64_t log_index,
                                           const std::string& statement,
                                           const v1::Signature& signature) {
  absl::MutexLock lock(&mutex_);
  if (!journal_error_.ok()) return journal_error_;
  IndexUse* use = nullptr;
  auto state = shards_.find(shard);
  if (state != shards_.end()) {
    auto found = state->second.uses.find(log_index);
    if (found != state->second.uses.end()) use = &found->second;
  }
  if (use == nullptr || use->kind != IndexUse::Kind::kSigning) {
    return absl::InternalError(absl::StrCat("log index ", log_index, " of shard '", shard,
                                            "' was not claimed for this VD"));
  }
  if (use->asked_again) {
    use->kind = IndexUse::Kind::kBurned;
    return absl::FailedPreconditionError(
        absl::StrCat("log index ", log_index, " of shard '", shard,
                     "' was asked for again while its VD was signed; that VD is dropped"));
  }
  use->kind = IndexUse::Kind::kVouched;
  use->entry.set_log_shard_id(shard);
  use->entry.set_log_index(log_index);
  use->entry.set_statement(statement);
  *use->entry.mutable_signature() = signature;
  // In the page cache before the VD leaves: it survives the signer process's death at once, and
  // the host's within kJournalSyncInterval (docs/SECURITY.md T7).
  return AppendToJournalLocked(EncodeJournalEntry(use->entry));
}

absl::Status SignerLogState::AppendToJournalLocked(absl::string_view bytes) {
  if (!journal_error_.ok()) return journal_error_;
  absl::Status written = absl::OkStatus();
  if (journal_end_ + bytes.size() > journal_capacity_) {
    const uint64_t extended = journal_end_ + bytes.size() + kJournalChunkBytes;
    written = ZeroFill(journal_fd_, journal_capacity_, extended, journal_path_);
    if (written.ok()) journal_capacity_ = extended;
  }
  if (written.ok()) written = WriteAt(journal_fd_, bytes, journal_end_, journal_path_);
  if (!written.ok()) {
    MECAI_LOG(Error) << "the VD journal failed; no VD is signed until the signer restarts: "
                     << written;
    journal_error_ = Annotate(written, "the signer's VD journal failed; restart the signer");
    return journal_error_;
  }
  journal_end_ += bytes.size();
  journal_dirty_ = true;
  return absl::OkStatus();
}

void SignerLogState::SyncJournalPeriodically() {
  while (!stop_syncing_.WaitForNotificationWithTimeout(kJournalSyncInterval)) {
    int fd = -1;
    {
      absl::MutexLock lock(&mutex_);
      if (!journal_dirty_ || !journal_error_.ok()) continue;
      // A duplicate of the descriptor syncs the same file without holding the lock, even if a
      // compaction replaces journal_fd_ meanwhile (it syncs its new file itself).
      fd = dup(journal_fd_);
      journal_dirty_ = false;
    }
    if (fd < 0 || fdatasync(fd) != 0) {
      absl::Status failed = ErrnoError("cannot sync", journal_path_);
      MECAI_LOG(Error) << "the VD journal failed; no VD is signed until the signer restarts: "
                       << failed;
      absl::MutexLock lock(&mutex_);
      journal_error_ = Annotate(failed, "the signer's VD journal failed; restart the signer");
    }
    if (fd >= 0) close(fd);
  }
}

void SignerLogState::ReleaseClaim(const std::string& shard, uint64_t log_index) {
  absl::MutexLock lock(&mutex_);
  auto state = shards_.find(shard);
  if (state == shards_.end()) return;
  auto found = state->second.uses.find(log_index);
  if (found == state->second.uses.end() || found->second.kind != IndexUse::Kind::kSigning) return;
  if (found->second.asked_again) {
    found->second.kind = IndexUse::Kind::kBurned;
  } else {
    state->second.uses.erase(found);
  }
}

absl::Status SignerLogState::CheckVouchedRecordsLocked(
    const std::string& shard, const Shard& state, uint64_t tree_size, const std::string& root_hash,
    const std::vector<v1::RecordAtIndex>& records, CheckpointShortfall* shortfall) const {
  // Every record given must be proven in this tree and be the shard's record at its index.
  std::map<uint64_t, v1::QuorumRecord> by_index;
  std::map<std::string, uint64_t> unrecorded_carriers;  // Statement -> index of its record.
  for (const v1::RecordAtIndex& given : records) {
    const uint64_t index = given.log_index();
    absl::Status included = VerifyInclusion(
        LeafHashOfRecord(given.record()).value_or(std::string()), index, tree_size,
        {given.inclusion_proof().begin(), given.inclusion_proof().end()}, root_hash);
    if (!included.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("the record given for log index ", index,
                                                        " is not proven: ", included.message()));
    }
    v1::QuorumRecord record;
    RETURN_IF_ERROR(ParseSignedBytes(given.record(), "a record", &record));
    if (record.log_index() != index || record.log_shard_id() != shard) {
      return absl::FailedPreconditionError(absl::StrCat("the record given for log index ", index,
                                                        " names index ", record.log_index(),
                                                        " of shard '", record.log_shard_id(), "'"));
    }
    if (!record.unrecorded_vouching_data().statement().empty()) {
      unrecorded_carriers.emplace(record.unrecorded_vouching_data().statement(), index);
    }
    if (!by_index.emplace(index, std::move(record)).second) {
      return absl::FailedPreconditionError(absl::StrCat("two records for log index ", index));
    }
  }
  for (auto it = state.uses.lower_bound(state.durable.tree_size());
       it != state.uses.end() && it->first < tree_size; ++it) {
    const uint64_t index = it->first;
    const IndexUse& use = it->second;
    if (use.kind == IndexUse::Kind::kBurned) continue;
    if (use.kind == IndexUse::Kind::kSigning) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the VD at log index ", index, " of shard '", shard, "' is still being signed"));
    }
    const std::string& statement = use.entry.statement();
    auto carrier = unrecorded_carriers.find(statement);
    if (carrier != unrecorded_carriers.end() && carrier->second >= index) continue;
    auto own = by_index.find(index);
    if (own == by_index.end()) {
      if (shortfall->records_needed.size() < kMaxRecordsPerCheckpoint) {
        shortfall->records_needed.push_back(index);
      }
      continue;
    }
    if (own->second.vouching_data().statement() == statement) continue;
    MECAI_LOG(Warning) << "the record at log index " << index << " of shard '" << shard
                       << "' does not carry the VD the signer signed there for "
                       << HostnameOf(use.entry) << "; the log must take it before a checkpoint";
    if (shortfall->unrecorded.size() < kMaxRecordsPerCheckpoint) {
      shortfall->unrecorded.push_back(use.entry);
    }
  }
  return absl::OkStatus();
}

absl::Status SignerLogState::AdvanceCheckpoint(const std::string& shard, uint64_t tree_size,
                                               const std::string& root_hash,
                                               int64_t timestamp_unix_milliseconds,
                                               uint64_t previous_tree_size,
                                               const std::vector<std::string>& consistency_proof,
                                               const std::vector<v1::RecordAtIndex>& records,
                                               CheckpointShortfall* shortfall) {
  absl::MutexLock lock(&mutex_);
  *shortfall = CheckpointShortfall();
  uint64_t* signer_tree_size = &shortfall->signer_tree_size;
  auto found = shards_.find(shard);
  const bool known =
      found != shards_.end() && found->second.durable.root_hash().size() == kMerkleHashBytes;
  if (known) {
    const v1::SignerShardState& last = found->second.durable;
    *signer_tree_size = last.tree_size();
    if (tree_size < last.tree_size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("shard '", shard, "' has a signed checkpoint of ", last.tree_size(),
                       " leaves; the signer does not sign the smaller tree of ", tree_size));
    }
    if (previous_tree_size != last.tree_size()) {
      shortfall->previous_tree_size_mismatch = true;
      return absl::AbortedError(absl::StrCat("the signer's last checkpoint of shard '", shard,
                                             "' has ", last.tree_size(), " leaves, not ",
                                             previous_tree_size));
    }
    absl::Status consistent = VerifyConsistency(last.tree_size(), tree_size, last.root_hash(),
                                                root_hash, consistency_proof);
    if (!consistent.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the tree of ", tree_size, " leaves (root ", ShortHex(root_hash),
                       ") is not proven to extend the signed tree of ", last.tree_size(),
                       " leaves (root ", ShortHex(last.root_hash()), "): ", consistent.message()));
    }
  } else if (previous_tree_size != 0 || !consistency_proof.empty()) {
    *signer_tree_size = 0;
    shortfall->previous_tree_size_mismatch = true;
    return absl::AbortedError(
        absl::StrCat("the signer has signed no checkpoint of shard '", shard, "' yet"));
  }
  Shard& state = shards_[shard];
  RETURN_IF_ERROR(
      CheckVouchedRecordsLocked(shard, state, tree_size, root_hash, records, shortfall));
  if (!shortfall->records_needed.empty() || !shortfall->unrecorded.empty()) {
    return absl::AbortedError(absl::StrCat(
        "the tree of ", tree_size, " leaves covers VDs the signer signed that it is not shown in: ",
        shortfall->records_needed.size(), " records missing, ", shortfall->unrecorded.size(),
        " VDs not in their record"));
  }
  const v1::SignerShardState before = state.durable;
  state.durable.set_log_shard_id(shard);
  state.durable.set_tree_size(tree_size);
  state.durable.set_root_hash(root_hash);
  state.durable.set_timestamp_unix_milliseconds(timestamp_unix_milliseconds);
  absl::Status persisted = PersistLocked();
  if (!persisted.ok()) {
    state.durable = before;
    return Annotate(persisted, "cannot record the checkpoint before signing it");
  }
  const bool covered_some = !state.uses.empty() && state.uses.begin()->first < tree_size;
  state.uses.erase(state.uses.begin(), state.uses.lower_bound(tree_size));
  if (covered_some) CompactJournalLocked();
  *signer_tree_size = tree_size;
  return absl::OkStatus();
}

void SignerLogState::CompactJournalLocked() {
  if (!journal_error_.ok()) return;
  std::string contents;
  for (const auto& [id, shard] : shards_) {
    for (const auto& [index, use] : shard.uses) {
      if (use.kind == IndexUse::Kind::kVouched) contents.append(EncodeJournalEntry(use.entry));
    }
  }
  // A checkpoint that failed to compact only leaves entries a checkpoint covers, which Open skips.
  absl::Status written = WriteFileAtomically(journal_path_, contents, 0600);
  if (!written.ok()) {
    MECAI_LOG(Warning) << "the VD journal keeps entries the checkpoint covers: " << written;
    return;
  }
  int reopened = open(journal_path_.c_str(), O_RDWR | O_CLOEXEC);
  if (reopened < 0) {
    journal_error_ = ErrnoError("cannot reopen", journal_path_);
    return;
  }
  close(journal_fd_);
  journal_fd_ = reopened;
  journal_end_ = contents.size();
  journal_capacity_ = contents.size() + kJournalChunkBytes;
  absl::Status extended = ZeroFill(journal_fd_, journal_end_, journal_capacity_, journal_path_);
  if (!extended.ok()) journal_error_ = extended;
  journal_dirty_ = false;  // The new file was synced whole.
}

uint64_t SignerLogState::TreeSize(const std::string& shard) const {
  absl::MutexLock lock(&mutex_);
  auto found = shards_.find(shard);
  return found == shards_.end() ? 0 : found->second.durable.tree_size();
}

size_t SignerLogState::UncheckpointedVouchingData(const std::string& shard) const {
  absl::MutexLock lock(&mutex_);
  auto found = shards_.find(shard);
  if (found == shards_.end()) return 0;
  return std::count_if(found->second.uses.begin(), found->second.uses.end(),
                       [](const auto& use) { return use.second.kind == IndexUse::Kind::kVouched; });
}

}  // namespace mecai
