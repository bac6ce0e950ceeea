// Relays a maintainer-signed trust-list change to every signer replica. The coordinator cannot make
// a change (docs/PROTOCOL.md "Trust-list changes"), but it must deliver the ones it accepted to
// each replica that signs for the VA, not only to the one its signing connection lands on.
#ifndef MECAI_COORDINATOR_TRUST_LIST_RELAY_H_
#define MECAI_COORDINATOR_TRUST_LIST_RELAY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/signer.grpc.pb.h"

namespace mecai {

// Thread-safe.
class TrustListRelay {
 public:
  // `signer`: how the coordinator reaches the signer (CoordinatorConfig.signer); every replica is
  // reached with its TLS settings. `replica_addresses`: host:port of each replica; empty: every
  // address `signer.address()` resolves to, looked up again for every change. `timeout`: the
  // deadline of one call.
  TrustListRelay(v1::PeerConfig signer, std::vector<std::string> replica_addresses,
                 absl::Duration timeout);

  // Sends `change` to every replica. OK when each applied it or already had it (ALREADY_EXISTS);
  // otherwise the first failure, naming the replica (UNAVAILABLE or DEADLINE_EXCEEDED for one that
  // could not be reached, the signer's own code for one that refused). Every replica is tried.
  absl::Status Send(const v1::SignedTrustListChange& change);

  // host:port of every replica a change goes to now (numeric addresses when resolved).
  absl::StatusOr<std::vector<std::string>> Replicas() const;

 private:
  absl::StatusOr<v1::SignerService::Stub*> StubFor(const std::string& address);

  const v1::PeerConfig signer_;
  const std::vector<std::string> replica_addresses_;
  const absl::Duration timeout_;
  absl::Mutex mutex_;
  std::map<std::string, std::unique_ptr<v1::SignerService::Stub>> stubs_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mecai

#endif  // MECAI_COORDINATOR_TRUST_LIST_RELAY_H_
