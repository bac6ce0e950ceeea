// mecai.v1.TrustListAdmin (DESIGN §6; seed 004, last "VS behaviour" paragraph: "Whenever the
// maintainers of a TL decide to revoke the trust of a root CA certificate ..., the VA shall
// immediately reconfigure the configuration used by all its VS to remove the revoked
// certificate"). A change is applied to the signer first, then to this coordinator, then recorded
// in the log and persisted, so that no VD for a removed root can be signed once the call returns.
#ifndef MECAI_COORDINATOR_TRUST_LIST_ADMIN_H_
#define MECAI_COORDINATOR_TRUST_LIST_ADMIN_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/trust_lists.h"
#include "coordinator/record_store.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "proto/mecai/v1/trust_list.grpc.pb.h"

namespace mecai {

// The key under which the store keeps every applied change (a v1::TrustListChanges).
inline constexpr char kTrustListChangesKey[] = "changes";

// Applies the recorded changes to `lists` and sends each to the signer (the coordinator does this
// at start, so a restarted signer catches up). Errors name the change that failed.
absl::Status ReplayTrustListChanges(RecordStore& store, TrustLists& lists,
                                    v1::SignerService::StubInterface& signer,
                                    absl::Duration signer_timeout);

// Thread-safe.
class TrustListAdminImpl final : public v1::TrustListAdmin::Service {
 public:
  TrustListAdminImpl(TrustLists& lists, RecordStore& store,
                     v1::SignerService::StubInterface& signer, const Clock& clock,
                     std::vector<std::string> admin_identities, absl::Duration signer_timeout);

  grpc::Status ListTrustLists(grpc::ServerContext* context,
                              const v1::ListTrustListsRequest* request,
                              v1::ListTrustListsResponse* response) override;
  grpc::Status RemoveRoot(grpc::ServerContext* context, const v1::RemoveRootRequest* request,
                          v1::RemoveRootResponse* response) override;
  grpc::Status AddRoot(grpc::ServerContext* context, const v1::AddRootRequest* request,
                       v1::AddRootResponse* response) override;

 private:
  // PERMISSION_DENIED unless the caller's mutual-TLS identity is an administrator's; sets
  // `identity` to the one that matched.
  grpc::Status Authorize(grpc::ServerContext* context, std::string* identity) const;
  // Signer, then this coordinator, then the log and the persisted list. Returns the log index.
  grpc::Status Apply(v1::TrustListChange change, uint64_t* log_index);

  TrustLists& lists_;
  RecordStore& store_;
  v1::SignerService::StubInterface& signer_;
  const Clock& clock_;
  const std::vector<std::string> admin_identities_;
  const absl::Duration signer_timeout_;
  absl::Mutex mutex_;  // One change at a time.
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_TRUST_LIST_ADMIN_H_
