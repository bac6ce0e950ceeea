// Maintainer-signed trust-list changes (docs/PROTOCOL.md "Trust-list changes"): a root
// is added to or removed from a trust list only on a SignedTrustListChange that a trust-list
// maintainer's key signed, whose sequence is above the last change applied to its list. The
// signer and the coordinator each verify every change with the maintainer keys of their own
// configuration; the coordinator relays changes but cannot make one.
#ifndef MECAI_COMMON_EVIDENCE_TRUST_LIST_CHANGE_H_
#define MECAI_COMMON_EVIDENCE_TRUST_LIST_CHANGE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/signature.h"
#include "common/evidence/trust_lists.h"
#include "google/protobuf/repeated_field.h"
#include "proto/mecai/v1/trust_list.pb.h"

namespace mecai {

// The longest reason a change may carry, bytes.
inline constexpr size_t kMaxTrustListChangeReasonBytes = 1024;

// The trust-list maintainers' public keys. Immutable after Load; thread-safe.
class MaintainerKeys {
 public:
  // Each file: a PEM SubjectPublicKeyInfo or certificate. Errors name the field and file, as
  // "trust_list_maintainer_key_files[1] (/etc/mecai/maintainer.pub): ...".
  static absl::StatusOr<MaintainerKeys> Load(
      const google::protobuf::RepeatedPtrField<std::string>& files);
  // Keys already in memory (tests).
  static MaintainerKeys FromKeys(std::vector<EvpPkeyPtr> keys);

  MaintainerKeys() = default;
  MaintainerKeys(MaintainerKeys&&) = default;
  MaintainerKeys& operator=(MaintainerKeys&&) = default;

  bool empty() const { return keys_.empty(); }
  // SHA-256 of each key's DER SubjectPublicKeyInfo, in configuration order.
  std::vector<std::string> Fingerprints() const;

  // The fingerprint of the key under which `signature` over SignedMessage(kTrustListChange, tbs)
  // verifies; PERMISSION_DENIED when none does (or there is no signature, or no key).
  absl::StatusOr<std::string> Verify(const v1::Signature& signature, absl::string_view tbs) const;

 private:
  struct Key {
    EvpPkeyPtr key;
    std::string sha256;
  };
  std::vector<Key> keys_;
};

// SHA-256 of `key`'s DER SubjectPublicKeyInfo: how a maintainer key is named.
std::string MaintainerKeyFingerprint(EVP_PKEY* key);

// Serializes `body` and signs it with `key` as SignedObject::kTrustListChange.
absl::StatusOr<v1::SignedTrustListChange> SignTrustListChange(const v1::TrustListChangeBody& body,
                                                              SigningKey& key);

// A change whose signature verified under a maintainer key and whose body is well formed.
struct VerifiedTrustListChange {
  v1::TrustListChangeBody body;
  // The maintainer key that signed it (MaintainerKeyFingerprint).
  std::string maintainer_key_sha256;
  v1::SignedTrustListChange signed_change;

  // What TrustLists applies and the log records: the body's fields, the sequence, the key and the
  // signed change (administrator and applied_at are the relaying coordinator's to set).
  v1::TrustListChange ToRecord() const;
  // "REMOVE_ROOT 3f2a…9c01 in 'mozilla' (sequence 4)", for messages.
  std::string Describe() const;
};

// Checks `change`, in order: it carries a signature that verifies under one of `keys` (before
// anything is parsed: PERMISSION_DENIED otherwise); its bytes parse strictly as a
// TrustListChangeBody (no unknown field, common/crypto/signed_object.h) of version 1; the action is
// ADD_ROOT or REMOVE_ROOT; the list is named; the sequence is at least 1; root_sha256 has 32 bytes;
// an ADD_ROOT carries the certificate root_sha256 is the hash of and a REMOVE_ROOT carries none;
// the reason is at most kMaxTrustListChangeReasonBytes. INVALID_ARGUMENT names the failed check.
// Whether the root is a self-signed CA certificate, and whether the list exists, is
// TrustLists::CheckChange's to say.
absl::StatusOr<VerifiedTrustListChange> VerifyTrustListChange(
    const v1::SignedTrustListChange& change, const MaintainerKeys& keys);

// The signed changes applied so far, in order, with the last sequence of each list; applies new
// ones to a TrustLists after checking them, and persists the whole history through a callback
// before applying. Thread-safe: one change at a time.
class TrustListChangeLedger {
 public:
  // Stores the serialized v1::TrustListChanges durably (a file, the coordinator's store).
  using Persist = std::function<absl::Status(const std::string& serialized_changes)>;

  // Verifies every change of `persisted` (a serialized v1::TrustListChanges; empty: none) again
  // with `keys`, checks that each list's sequences increase, and applies each to `lists`. A change
  // that does not verify, or a sequence out of order, is an error naming the change's position
  // (DATA_LOSS: the history was altered, or a key it was signed with is no longer configured).
  // Lenient where the configuration moved on: a change to a list no longer configured is kept
  // but not applied, and a removed root no longer in its bundle stays excluded. `what` names the
  // source in errors, e.g. the file.
  static absl::StatusOr<std::unique_ptr<TrustListChangeLedger>> Restore(absl::string_view persisted,
                                                                        absl::string_view what,
                                                                        MaintainerKeys keys,
                                                                        TrustLists& lists,
                                                                        Persist persist);

  // Everything Apply checks, without applying or persisting: the signature and body
  // (VerifyTrustListChange), the sequence (ALREADY_EXISTS when this very change was applied
  // before; FAILED_PRECONDITION, naming the list's last sequence, for another change whose
  // sequence is not above it), then TrustLists::CheckChange.
  absl::StatusOr<VerifiedTrustListChange> Check(const v1::SignedTrustListChange& change) const;
  // Check, then persists the history with the change appended, then applies it to the lists.
  absl::StatusOr<VerifiedTrustListChange> Apply(const v1::SignedTrustListChange& change);

  // The sequence of the last change applied to `trust_list`; 0 when none.
  uint64_t LastSequence(const std::string& trust_list) const;
  // Every signed change, in the order applied.
  std::vector<v1::SignedTrustListChange> Changes() const;
  const MaintainerKeys& keys() const { return keys_; }

 private:
  TrustListChangeLedger(MaintainerKeys keys, TrustLists& lists, Persist persist)
      : keys_(std::move(keys)), lists_(lists), persist_(std::move(persist)) {}
  absl::StatusOr<VerifiedTrustListChange> CheckLocked(const v1::SignedTrustListChange& change) const
      ABSL_SHARED_LOCKS_REQUIRED(mutex_);
  void RecordLocked(const VerifiedTrustListChange& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const MaintainerKeys keys_;
  TrustLists& lists_;
  const Persist persist_;
  mutable absl::Mutex mutex_;
  v1::TrustListChanges history_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, uint64_t> last_sequence_ ABSL_GUARDED_BY(mutex_);
  // SHA-256 of the signed bytes of every change applied.
  std::set<std::string> applied_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_TRUST_LIST_CHANGE_H_
