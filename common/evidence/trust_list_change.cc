#include "common/evidence/trust_list_change.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signed_object.h"
#include "google/protobuf/unknown_field_set.h"

namespace mecai {

std::string MaintainerKeyFingerprint(EVP_PKEY* key) { return Sha256(PublicKeyToDer(key)); }

absl::StatusOr<MaintainerKeys> MaintainerKeys::Load(
    const google::protobuf::RepeatedPtrField<std::string>& files) {
  std::vector<EvpPkeyPtr> keys;
  for (int i = 0; i < files.size(); ++i) {
    absl::StatusOr<EvpPkeyPtr> key = LoadPemPublicKey(files.Get(i));
    const std::string field =
        absl::StrCat("trust_list_maintainer_key_files[", i, "] (", files.Get(i), ")");
    if (!key.ok()) return Annotate(key.status(), field);
    // Only keys that can sign (common/crypto/signature.h): a maintainer key of another kind could
    // never verify a change, and would say so only at the first change.
    absl::StatusOr<v1::SignatureAlgorithm> algorithm = AlgorithmForKey(key->get());
    if (!algorithm.ok()) return Annotate(algorithm.status(), field);
    keys.push_back(*std::move(key));
  }
  return FromKeys(std::move(keys));
}

MaintainerKeys MaintainerKeys::FromKeys(std::vector<EvpPkeyPtr> keys) {
  MaintainerKeys result;
  for (EvpPkeyPtr& key : keys) {
    std::string sha256 = MaintainerKeyFingerprint(key.get());
    result.keys_.push_back(Key{std::move(key), std::move(sha256)});
  }
  return result;
}

std::vector<std::string> MaintainerKeys::Fingerprints() const {
  std::vector<std::string> fingerprints;
  for (const Key& key : keys_) fingerprints.push_back(key.sha256);
  return fingerprints;
}

absl::StatusOr<std::string> MaintainerKeys::Verify(const v1::Signature& signature,
                                                   absl::string_view tbs) const {
  if (keys_.empty()) {
    return absl::PermissionDeniedError(
        "no trust-list maintainer key is configured (trust_list_maintainer_key_files): every "
        "trust-list change is refused");
  }
  if (signature.value().empty()) {
    return absl::PermissionDeniedError(
        "the trust-list change is not signed; only a change signed by a trust-list maintainer "
        "key is applied");
  }
  for (const Key& key : keys_) {
    if (VerifyObject(key.key.get(), SignedObject::kTrustListChange, signature, tbs).ok()) {
      return key.sha256;
    }
  }
  return absl::PermissionDeniedError(
      "the trust-list change's signature does not verify under any configured trust-list "
      "maintainer key (trust_list_maintainer_key_files)");
}

absl::StatusOr<v1::SignedTrustListChange> SignTrustListChange(const v1::TrustListChangeBody& body,
                                                              SigningKey& key) {
  v1::SignedTrustListChange change;
  change.set_tbs(body.SerializeAsString());
  ASSIGN_OR_RETURN(*change.mutable_signature(),
                   SignObject(key, SignedObject::kTrustListChange, change.tbs()));
  return change;
}

v1::TrustListChange VerifiedTrustListChange::ToRecord() const {
  v1::TrustListChange record;
  record.set_action(body.action());
  record.set_trust_list(body.trust_list());
  record.set_root_sha256(body.root_sha256());
  record.set_root_certificate_der(body.root_certificate_der());
  record.set_reason(body.reason());
  record.set_sequence(body.sequence());
  record.set_maintainer_key_sha256(maintainer_key_sha256);
  *record.mutable_signed_change() = signed_change;
  return record;
}

std::string VerifiedTrustListChange::Describe() const {
  return absl::StrCat(v1::TrustListChange::Action_Name(body.action()), " ",
                      ShortHex(body.root_sha256()), " in '", body.trust_list(), "' (sequence ",
                      body.sequence(), ")");
}

absl::StatusOr<VerifiedTrustListChange> VerifyTrustListChange(
    const v1::SignedTrustListChange& change, const MaintainerKeys& keys) {
  VerifiedTrustListChange verified;
  // The signature first, over the exact bytes (trust rule 1); nothing is parsed before.
  ASSIGN_OR_RETURN(verified.maintainer_key_sha256, keys.Verify(change.signature(), change.tbs()));
  v1::TrustListChangeBody& body = verified.body;
  RETURN_IF_ERROR(ParseSignedBytes(change.tbs(), "the trust-list change", &body));
  auto invalid = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("the trust-list change ", what));
  };
  if (body.version() != 1) {
    return invalid(absl::StrCat("has version ", body.version(), "; only version 1 is known"));
  }
  if (body.action() != v1::TrustListChange::ADD_ROOT &&
      body.action() != v1::TrustListChange::REMOVE_ROOT) {
    return invalid("names no action (ADD_ROOT or REMOVE_ROOT)");
  }
  if (body.trust_list().empty()) return invalid("names no trust list");
  if (body.sequence() == 0) return invalid("has no sequence (sequences start at 1)");
  if (body.root_sha256().size() != 32) return invalid("has a root_sha256 that is not 32 bytes");
  if (body.action() == v1::TrustListChange::ADD_ROOT) {
    if (body.root_certificate_der().empty()) {
      return invalid("adds a root but carries no certificate");
    }
    if (Sha256(body.root_certificate_der()) != body.root_sha256()) {
      return invalid("has a root_sha256 that is not the SHA-256 of its certificate");
    }
  } else if (!body.root_certificate_der().empty()) {
    return invalid("removes a root but carries a certificate");
  }
  if (body.reason().size() > kMaxTrustListChangeReasonBytes) {
    return invalid(
        absl::StrCat("has a reason longer than ", kMaxTrustListChangeReasonBytes, " bytes"));
  }
  verified.signed_change = change;
  return verified;
}

absl::StatusOr<std::unique_ptr<TrustListChangeLedger>> TrustListChangeLedger::Restore(
    absl::string_view persisted, absl::string_view what, MaintainerKeys keys, TrustLists& lists,
    Persist persist) {
  std::unique_ptr<TrustListChangeLedger> ledger(
      new TrustListChangeLedger(std::move(keys), lists, std::move(persist)));
  v1::TrustListChanges history;
  if (!history.ParseFromArray(persisted.data(), static_cast<int>(persisted.size()))) {
    return absl::DataLossError(absl::StrCat(what, " does not parse as mecai.v1.TrustListChanges"));
  }
  const google::protobuf::UnknownFieldSet& unknown =
      history.GetReflection()->GetUnknownFields(history);
  for (int i = 0; i < unknown.field_count(); ++i) {
    if (unknown.field(i).number() == 1) {
      return absl::DataLossError(absl::StrCat(
          what,
          " holds unsigned trust-list changes of an earlier version, which are no longer "
          "accepted: have the maintainers sign them (mecai trust-list) and remove the file"));
    }
  }
  absl::Status strict = RefuseUnknownFields(history, what);
  if (!strict.ok()) return absl::DataLossError(strict.message());
  absl::MutexLock lock(&ledger->mutex_);
  for (int i = 0; i < history.signed_changes_size(); ++i) {
    auto error = [&](absl::string_view problem) {
      return absl::DataLossError(
          absl::StrCat(what, ": trust-list change #", i + 1, " ", problem,
                       "; the recorded history was altered, or was signed with a key no longer "
                       "in trust_list_maintainer_key_files"));
    };
    absl::StatusOr<VerifiedTrustListChange> change =
        VerifyTrustListChange(history.signed_changes(i), ledger->keys_);
    if (!change.ok()) return error(absl::StrCat("does not verify: ", change.status().message()));
    const uint64_t last = ledger->last_sequence_[change->body.trust_list()];
    if (change->body.sequence() <= last) {
      return error(absl::StrCat("(", change->Describe(), ") does not follow sequence ", last,
                                " of its list"));
    }
    absl::Status applied = lists.RestoreChange(change->ToRecord());
    if (applied.code() == absl::StatusCode::kNotFound) {
      MECAI_LOG_EVENT(Warning, "trust_list_change_not_applied")
          << what << ": trust-list change #" << i + 1 << " (" << change->Describe()
          << ") is kept but not applied: " << applied.message();
    } else if (!applied.ok()) {
      return absl::DataLossError(absl::StrCat(what, ": trust-list change #", i + 1, " (",
                                              change->Describe(),
                                              ") cannot be applied: ", applied.message()));
    }
    ledger->RecordLocked(*change);
  }
  return ledger;
}

absl::StatusOr<VerifiedTrustListChange> TrustListChangeLedger::Check(
    const v1::SignedTrustListChange& change) const {
  absl::ReaderMutexLock lock(&mutex_);
  return CheckLocked(change);
}

absl::StatusOr<VerifiedTrustListChange> TrustListChangeLedger::CheckLocked(
    const v1::SignedTrustListChange& change) const {
  ASSIGN_OR_RETURN(VerifiedTrustListChange verified, VerifyTrustListChange(change, keys_));
  auto last = last_sequence_.find(verified.body.trust_list());
  if (applied_.count(Sha256(change.tbs())) != 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "the trust-list change ", verified.Describe(),
        " was already applied; applying it again changes nothing ('", verified.body.trust_list(),
        "' is at sequence ", last == last_sequence_.end() ? 0 : last->second, ")"));
  }
  if (last != last_sequence_.end() && verified.body.sequence() <= last->second) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the trust-list change ", verified.Describe(), " is a replayed or out-of-date change: '",
        verified.body.trust_list(), "' is at sequence ", last->second,
        " and takes only a change with a higher one"));
  }
  RETURN_IF_ERROR(Annotate(lists_.CheckChange(verified.ToRecord()),
                           absl::StrCat("the trust-list change ", verified.Describe())));
  return verified;
}

absl::StatusOr<VerifiedTrustListChange> TrustListChangeLedger::Apply(
    const v1::SignedTrustListChange& change) {
  absl::MutexLock lock(&mutex_);
  ASSIGN_OR_RETURN(VerifiedTrustListChange verified, CheckLocked(change));
  // Kept before it takes effect: a change in effect is never lost at a restart.
  v1::TrustListChanges history = history_;
  *history.add_signed_changes() = change;
  RETURN_IF_ERROR(Annotate(persist_(history.SerializeAsString()),
                           "the trust-list change was not applied: it could not be kept"));
  // Recorded even if applying fails below: the history holds it, and a restart applies it.
  RecordLocked(verified);
  RETURN_IF_ERROR(lists_.ApplyChange(verified.ToRecord()));
  return verified;
}

void TrustListChangeLedger::RecordLocked(const VerifiedTrustListChange& change) {
  *history_.add_signed_changes() = change.signed_change;
  last_sequence_[change.body.trust_list()] = change.body.sequence();
  applied_.insert(Sha256(change.signed_change.tbs()));
}

uint64_t TrustListChangeLedger::LastSequence(const std::string& trust_list) const {
  absl::ReaderMutexLock lock(&mutex_);
  auto it = last_sequence_.find(trust_list);
  return it == last_sequence_.end() ? 0 : it->second;
}

std::vector<v1::SignedTrustListChange> TrustListChangeLedger::Changes() const {
  absl::ReaderMutexLock lock(&mutex_);
  return std::vector<v1::SignedTrustListChange>(history_.signed_changes().begin(),
                                                history_.signed_changes().end());
}

}  // namespace mecai
