// mecai.v1.TrustListAdmin (ARCHITECTURE.md §6; MECAI proposal, last "VS behaviour" paragraph:
// "Whenever the maintainers of a TL decide to revoke the trust of a root CA certificate ..., the VA
// shall immediately reconfigure the configuration used by all its VS to remove the revoked
// certificate"). An administrator submits a change a trust-list maintainer signed
// (`mecai trust-list`); this coordinator verifies it with the maintainer keys of its own
// configuration, relays it to the signer (which verifies it again and decides alone), records it
// in the log, applies it here and keeps it in its store, so that no VD for a removed root can be
// signed once the call returns and a restart forgets nothing. The coordinator cannot make a change.
#ifndef MECAI_COORDINATOR_TRUST_LIST_ADMIN_H_
#define MECAI_COORDINATOR_TRUST_LIST_ADMIN_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/evidence/trust_list_change.h"
#include "common/evidence/trust_lists.h"
#include "coordinator/record_store.h"
#include "coordinator/trust_list_relay.h"
#include "proto/mecai/v1/signer.grpc.pb.h"
#include "proto/mecai/v1/trust_list.grpc.pb.h"

namespace mecai {

// The key under which the store keeps every applied signed change (a v1::TrustListChanges).
inline constexpr char kSignedTrustListChangesKey[] = "signed-changes";
// Where versions before maintainer signatures kept their unsigned changes; no longer applied.
inline constexpr char kUnsignedTrustListChangesKey[] = "changes";

// At start: verifies every change kept in `store` again with `keys` and applies it to `lists`,
// then sends each to every signer replica, so that a replica that lost changes catches up. One the
// signer already has (ALREADY_EXISTS) is fine; one it refuses otherwise is logged (the signer
// decides alone), and so is a signer that cannot be reached (it re-applies the changes it kept
// itself). Errors: a kept change that does not verify (DATA_LOSS, naming it). The ledger returned
// keeps later changes in `store`.
absl::StatusOr<std::unique_ptr<TrustListChangeLedger>> RestoreTrustListChanges(
    RecordStore& store, MaintainerKeys keys, TrustLists& lists, TrustListRelay& relay);

// Thread-safe.
class TrustListAdminImpl final : public v1::TrustListAdmin::Service {
 public:
  TrustListAdminImpl(TrustListChangeLedger& changes, TrustLists& lists, RecordStore& store,
                     TrustListRelay& relay, const Clock& clock,
                     std::vector<std::string> admin_identities);

  grpc::Status ListTrustLists(grpc::ServerContext* context,
                              const v1::ListTrustListsRequest* request,
                              v1::ListTrustListsResponse* response) override;
  // The maintainer's signature, the sequence and the change are checked here first (as the
  // signer will), then: the signer, the log, this coordinator's lists and store.
  grpc::Status SubmitTrustListChange(grpc::ServerContext* context,
                                     const v1::SubmitTrustListChangeRequest* request,
                                     v1::SubmitTrustListChangeResponse* response) override;

 private:
  // PERMISSION_DENIED unless the caller's mutual-TLS identity is an administrator's; sets
  // `identity` to the one that matched.
  grpc::Status Authorize(grpc::ServerContext* context, std::string* identity) const;

  TrustListChangeLedger& changes_;
  TrustLists& lists_;
  RecordStore& store_;
  TrustListRelay& relay_;
  const Clock& clock_;
  const std::vector<std::string> admin_identities_;
  absl::Mutex mutex_;  // One change at a time, from the check to the store.
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_TRUST_LIST_ADMIN_H_
