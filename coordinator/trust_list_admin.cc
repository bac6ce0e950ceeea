#include "coordinator/trust_list_admin.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/rpc/grpc_channel.h"
#include "common/rpc/grpc_server.h"
#include "common/rpc/grpc_status.h"

namespace mecai {
namespace {

bool SignerUnreachable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrustListChangeLedger>> RestoreTrustListChanges(
    RecordStore& store, MaintainerKeys keys, TrustLists& lists, TrustListRelay& relay) {
  std::string kept;
  auto bytes = store.GetTrustListState(kSignedTrustListChangesKey);
  if (bytes.ok()) {
    kept = *std::move(bytes);
  } else if (bytes.status().code() != absl::StatusCode::kNotFound) {
    return bytes.status();
  }
  if (store.GetTrustListState(kUnsignedTrustListChangesKey).ok()) {
    MECAI_LOG_EVENT(Warning, "trust_list_changes_ignored")
        << "the store holds unsigned trust-list changes of an earlier version; "
           "they are no longer applied (have the trust-list maintainers sign "
           "them: mecai trust-list)";
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TrustListChangeLedger> ledger,
                   TrustListChangeLedger::Restore(
                       kept, "the store's trust-list changes", std::move(keys), lists,
                       [&store](const std::string& serialized) {
                         return store.PutTrustListState(kSignedTrustListChangesKey, serialized);
                       }));
  const std::vector<v1::SignedTrustListChange> changes = ledger->Changes();
  for (size_t i = 0; i < changes.size(); ++i) {
    absl::Status sent = relay.Send(changes[i]);
    if (sent.ok() || sent.code() == absl::StatusCode::kAlreadyExists) continue;
    const std::string what = absl::StrCat("recorded trust-list change #", i + 1);
    if (SignerUnreachable(sent)) {
      // The coordinator serves while a peer is down (docs/ARCHITECTURE.md "Peers and load"); the
      // signer re-applies the changes it kept itself (SignerConfig.trust_list_changes_file).
      MECAI_LOG(Warning) << "the signer is unreachable; " << what << " and later ones were not "
                         << "re-sent to it: " << sent.message();
      break;
    }
    MECAI_LOG_EVENT(Error, "trust_list_change_refused")
        << "the signer refused " << what << ": " << sent.message();
  }
  if (!changes.empty()) {
    MECAI_LOG_EVENT(Info, "trust_list_changes_reapplied")
        << "re-applied " << changes.size()
        << " maintainer-signed trust-list changes here and sent them to every signer "
           "replica";
  }
  return ledger;
}

TrustListAdminImpl::TrustListAdminImpl(TrustListChangeLedger& changes, TrustLists& lists,
                                       RecordStore& store, TrustListRelay& relay,
                                       const Clock& clock,
                                       std::vector<std::string> admin_identities)
    : changes_(changes),
      lists_(lists),
      store_(store),
      relay_(relay),
      clock_(clock),
      admin_identities_(std::move(admin_identities)) {}

grpc::Status TrustListAdminImpl::Authorize(grpc::ServerContext* context,
                                           std::string* identity) const {
  if (context->auth_context() != nullptr) {
    for (const std::string& peer : PeerIdentities(*context->auth_context())) {
      if (std::find(admin_identities_.begin(), admin_identities_.end(), peer) !=
          admin_identities_.end()) {
        *identity = peer;
        return grpc::Status::OK;
      }
    }
  }
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      "trust-list administration needs an administrator identity "
                      "(admin_identities)");
}

grpc::Status TrustListAdminImpl::ListTrustLists(grpc::ServerContext* context,
                                                const v1::ListTrustListsRequest* /*request*/,
                                                v1::ListTrustListsResponse* response) {
  std::string identity;
  grpc::Status authorized = Authorize(context, &identity);
  if (!authorized.ok()) return authorized;
  for (const std::string& name : lists_.Names()) {
    v1::TrustListInfo* info = response->add_trust_lists();
    info->set_name(name);
    for (const std::string& hash : lists_.RootHashes(name)) info->add_root_sha256(hash);
    for (const std::string& hash : lists_.RemovedRootHashes(name)) {
      info->add_removed_root_sha256(hash);
    }
    info->set_last_sequence(changes_.LastSequence(name));
  }
  for (const std::string& key : changes_.keys().Fingerprints()) {
    response->add_maintainer_key_sha256(key);
  }
  return grpc::Status::OK;
}

grpc::Status TrustListAdminImpl::SubmitTrustListChange(
    grpc::ServerContext* context, const v1::SubmitTrustListChangeRequest* request,
    v1::SubmitTrustListChangeResponse* response) {
  std::string administrator;
  grpc::Status authorized = Authorize(context, &administrator);
  if (!authorized.ok()) return authorized;
  if (!request->has_signed_change()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the request carries no signed trust-list change");
  }
  absl::MutexLock lock(&mutex_);
  // What the signer will check, checked here first: a change the signer would refuse is not
  // relayed, and a refusal names its reason without a round trip.
  absl::StatusOr<VerifiedTrustListChange> checked = changes_.Check(request->signed_change());
  if (!checked.ok()) {
    MECAI_LOG_EVENT(Warning, "trust_list_change_refused")
        << "refused a trust-list change submitted by " << administrator << ": "
        << checked.status().message();
    return ToGrpcStatus(checked.status());
  }
  // The signer first: once it has the change, no VD for a removed root can be signed anywhere.
  // It verifies the change itself; one it already has (a resubmission after a failure below) is
  // in effect there.
  absl::Status signer = relay_.Send(request->signed_change());
  if (!signer.ok() && signer.code() != absl::StatusCode::kAlreadyExists) {
    return ToGrpcStatus(Annotate(signer, "not applied"));
  }
  v1::TrustListChange record = checked->ToRecord();
  record.set_administrator(administrator);
  record.set_applied_at_unix_milliseconds(clock_.NowUnixMilliseconds());
  auto logged = store_.Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
    v1::QuorumRecord administrative;
    administrative.set_log_index(index);
    administrative.set_log_shard_id(store_.shard_id());
    administrative.set_decided_at_unix_milliseconds(record.applied_at_unix_milliseconds());
    *administrative.mutable_trust_list_change() = record;
    return administrative;
  });
  if (!logged.ok()) {
    return ToGrpcStatus(
        Annotate(logged.status(), "applied by the signer, but not recorded here; submit it again"));
  }
  absl::StatusOr<VerifiedTrustListChange> applied = changes_.Apply(request->signed_change());
  if (!applied.ok()) {
    return ToGrpcStatus(
        Annotate(applied.status(), absl::StrCat("applied by the signer and recorded at log index ",
                                                logged->log_index(), ", but not applied here")));
  }
  MECAI_LOG_EVENT(Warning, "trust_list_changed")
      << "trust list '" << record.trust_list()
      << "': " << v1::TrustListChange::Action_Name(record.action()) << " "
      << HexEncode(record.root_sha256()) << ", sequence " << record.sequence()
      << ", signed by maintainer key " << ShortHex(record.maintainer_key_sha256())
      << ", submitted by " << administrator << " (" << record.reason() << "), log index "
      << logged->log_index();
  response->set_log_index(logged->log_index());
  *response->mutable_change() = std::move(record);
  return grpc::Status::OK;
}

}  // namespace mecai
