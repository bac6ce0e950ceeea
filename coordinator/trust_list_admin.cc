#include "coordinator/trust_list_admin.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc_channel.h"
#include "common/grpc_server.h"
#include "common/hashing.h"
#include "common/logging.h"
#include "common/status.h"

namespace mecai {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status SendToSigner(v1::SignerService::StubInterface& signer, absl::Duration timeout,
                          const v1::TrustListChange& change) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::ApplyTrustListChangeRequest request;
  *request.mutable_change() = change;
  v1::ApplyTrustListChangeResponse response;
  return FromGrpcStatus(signer.ApplyTrustListChange(&context, request, &response), "signer");
}

absl::StatusOr<v1::TrustListChanges> LoadChanges(RecordStore& store) {
  v1::TrustListChanges changes;
  auto bytes = store.GetTrustListState(kTrustListChangesKey);
  if (!bytes.ok()) {
    if (bytes.status().code() == absl::StatusCode::kNotFound) return changes;
    return bytes.status();
  }
  if (!changes.ParseFromString(*bytes)) {
    return absl::DataLossError("the stored trust-list changes do not parse");
  }
  return changes;
}

}  // namespace

absl::Status ReplayTrustListChanges(RecordStore& store, TrustLists& lists,
                                    v1::SignerService::StubInterface& signer,
                                    absl::Duration signer_timeout) {
  ASSIGN_OR_RETURN(v1::TrustListChanges changes, LoadChanges(store));
  for (const v1::TrustListChange& change : changes.changes()) {
    const std::string what =
        absl::StrCat(v1::TrustListChange::Action_Name(change.action()), " ",
                     ShortHex(change.root_sha256()), " in '", change.trust_list(), "'");
    RETURN_IF_ERROR(Annotate(lists.ApplyChange(change), "recorded trust-list change " + what));
    RETURN_IF_ERROR(Annotate(SendToSigner(signer, signer_timeout, change),
                             "recorded trust-list change " + what));
  }
  if (changes.changes_size() > 0) {
    MECAI_LOG(Info) << "re-applied " << changes.changes_size()
                    << " recorded trust-list changes here and in the signer";
  }
  return absl::OkStatus();
}

TrustListAdminImpl::TrustListAdminImpl(TrustLists& lists, RecordStore& store,
                                       v1::SignerService::StubInterface& signer, const Clock& clock,
                                       std::vector<std::string> admin_identities,
                                       absl::Duration signer_timeout)
    : lists_(lists),
      store_(store),
      signer_(signer),
      clock_(clock),
      admin_identities_(std::move(admin_identities)),
      signer_timeout_(signer_timeout) {}

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
  }
  return grpc::Status::OK;
}

grpc::Status TrustListAdminImpl::Apply(v1::TrustListChange change, uint64_t* log_index) {
  absl::MutexLock lock(&mutex_);
  change.set_applied_at_unix_milliseconds(clock_.NowUnixMilliseconds());
  absl::Status valid = lists_.CheckChange(change);
  if (!valid.ok()) return ToGrpc(valid);
  // The signer first: once it has the change, no VD for a removed root can be signed anywhere.
  absl::Status signer = SendToSigner(signer_, signer_timeout_, change);
  if (!signer.ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("not applied: ", signer.message()));
  }
  absl::Status applied = lists_.ApplyChange(change);
  if (!applied.ok()) return ToGrpc(applied);
  auto record = store_.Append([&](uint64_t index) -> absl::StatusOr<v1::QuorumRecord> {
    v1::QuorumRecord administrative;
    administrative.set_log_index(index);
    administrative.set_log_shard_id(store_.shard_id());
    administrative.set_decided_at_unix_milliseconds(change.applied_at_unix_milliseconds());
    *administrative.mutable_trust_list_change() = change;
    return administrative;
  });
  if (!record.ok()) return ToGrpc(Annotate(record.status(), "applied, but not recorded"));
  auto changes = LoadChanges(store_);
  if (!changes.ok()) return ToGrpc(changes.status());
  *changes->add_changes() = change;
  absl::Status persisted =
      store_.PutTrustListState(kTrustListChangesKey, changes->SerializeAsString());
  if (!persisted.ok()) return ToGrpc(persisted);
  MECAI_LOG(Warning) << "trust list '" << change.trust_list()
                     << "': " << v1::TrustListChange::Action_Name(change.action()) << " "
                     << HexEncode(change.root_sha256()) << " by " << change.administrator() << " ("
                     << change.reason() << "), log index " << record->log_index();
  *log_index = record->log_index();
  return grpc::Status::OK;
}

grpc::Status TrustListAdminImpl::RemoveRoot(grpc::ServerContext* context,
                                            const v1::RemoveRootRequest* request,
                                            v1::RemoveRootResponse* response) {
  v1::TrustListChange change;
  grpc::Status authorized = Authorize(context, change.mutable_administrator());
  if (!authorized.ok()) return authorized;
  change.set_action(v1::TrustListChange::REMOVE_ROOT);
  change.set_trust_list(request->trust_list());
  change.set_root_sha256(request->root_sha256());
  change.set_reason(request->reason().substr(0, 1024));
  uint64_t index = 0;
  grpc::Status status = Apply(std::move(change), &index);
  response->set_log_index(index);
  return status;
}

grpc::Status TrustListAdminImpl::AddRoot(grpc::ServerContext* context,
                                         const v1::AddRootRequest* request,
                                         v1::AddRootResponse* response) {
  v1::TrustListChange change;
  grpc::Status authorized = Authorize(context, change.mutable_administrator());
  if (!authorized.ok()) return authorized;
  change.set_action(v1::TrustListChange::ADD_ROOT);
  change.set_trust_list(request->trust_list());
  change.set_root_certificate_der(request->root_certificate_der());
  change.set_root_sha256(Sha256(request->root_certificate_der()));
  change.set_reason(request->reason().substr(0, 1024));
  uint64_t index = 0;
  grpc::Status status = Apply(std::move(change), &index);
  response->set_log_index(index);
  return status;
}

}  // namespace mecai
