// The public Vouch endpoint (docs/PROTOCOL.md "The public endpoint"): VRs from any TLS server, over
// server-authenticated TLS with no client certificate, as gRPC (VouchingService.Vouch) and as an
// HTTPS POST of the serialized VR answered with the serialized VouchResponse (the HTTP binding,
// after the OCSP HTTP binding of RFC 6960 Appendix A). The VR's signature by its certificate's key
// is the authentication (the MECAI proposal, "VS behaviour": the VR "must be signed using the
// server's certificate"); nothing else is served there: audit, trust-list administration and the
// rest stay on the mutual-TLS listener (trust rule 7).
//
// Order of the checks, each refusal said at once: the size (before anything is parsed), for HTTP
// the path, method and media type, then admission (the client address's share, the VRs decided at
// once, a bounded queue with a time limit, coordinator/admission.h), then the coordinator's own
// (Coordinator::Vouch). Every refusal is counted by binding and reason
// (coordinator/public_endpoint_metrics.h).
#ifndef MECAI_COORDINATOR_PUBLIC_ENDPOINT_H_
#define MECAI_COORDINATOR_PUBLIC_ENDPOINT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/net/http_binding.h"
#include "common/net/http_server.h"
#include "common/rpc/grpc_server.h"
#include "coordinator/admission.h"
#include "coordinator/public_endpoint_metrics.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"

namespace mecai {

enum class PublicBinding { kGrpc, kHttp };

// Thread-safe. `vouch` and `metrics` must outlive it.
// The longest one admitted VR may take on the public endpoint: waiting in admission's queue, then
// a whole decision (revocation fetches, approval, the probe round, the signer), with 5 s to spare.
// The HTTPS binding's connections live this long past their request.
absl::Duration DecisionTime(const v1::CoordinatorConfig& config);

class PublicEndpoint {
 public:
  // Decides one VR by `deadline` and calls `done` once with the answer, holding no thread while it
  // waits: Coordinator::VouchAsync.
  using VouchDone = std::function<void(absl::StatusOr<v1::VouchResponse>)>;
  using VouchFunction = std::function<void(const std::string& serialized_request,
                                           absl::Time deadline, VouchDone done)>;
  // A VouchFunction that calls `decide` on the caller's thread (for a stand-in coordinator).
  static VouchFunction Inline(
      std::function<absl::StatusOr<v1::VouchResponse>(const std::string&)> decide);

  // `max_request_bytes`: the largest VR accepted (CoordinatorConfig.max_request_bytes). `metrics`
  // may be null.
  // `http_decision_time`: how long a VR of the HTTP binding may take from its request's arrival
  // (DecisionTime); it ends then, before the connection's lifetime does.
  PublicEndpoint(size_t max_request_bytes, const AdmissionLimits& admission, VouchFunction vouch,
                 PublicEndpointMetrics* metrics,
                 absl::Duration http_decision_time = absl::InfiniteDuration());
  // The limits of `config` (defaults filled, validated), which must have public_listen.
  static std::unique_ptr<PublicEndpoint> FromConfig(const v1::CoordinatorConfig& config,
                                                    VouchFunction vouch,
                                                    PublicEndpointMetrics* metrics);

  // The answer to one VR, whichever the binding.
  struct Answer {
    // The coordinator's answer (issued, or refused as data: trust rule 2), or the status the
    // binding reports: a limit (RESOURCE_EXHAUSTED), an empty VR (INVALID_ARGUMENT), or a fault
    // of the system from the coordinator.
    absl::StatusOr<v1::VouchResponse> response;
    // For a refusal on a limit: the HTTP status (413, 429, 503), and when to try again.
    int http_status = 200;
    std::optional<absl::Duration> retry_after;
  };

  // One VR from `client_address` (numeric IP) over `binding`, waiting for the answer.
  Answer Vouch(PublicBinding binding, const std::string& client_address,
               const std::string& serialized_request);
  // The same without a thread that waits, in admission's queue or for the decision: `done` is
  // called exactly once with the answer (the gRPC binding, on gRPC's callback API; the HTTPS
  // binding, on HttpServer's asynchronous handler). `deadline` is the caller's.
  void VouchAsync(PublicBinding binding, const std::string& client_address,
                  std::string serialized_request, absl::Time deadline,
                  std::function<void(Answer)> done);

  // The HTTP binding: HttpServer's asynchronous handler. `respond` is called exactly once, on the
  // caller's thread for a request refused on its shape, else when the VR is answered; no thread
  // waits for it.
  void HandleHttpAsync(const HttpServerRequest& request, HttpRespond respond);
  // The same, waiting for the answer.
  HttpServerResponse HandleHttp(const HttpServerRequest& request);
  // What HttpServer refused itself (HttpServerOptions.on_refusal): counted under binding "http".
  void CountHttpServerRefusal(HttpServerRefusal refusal);
  // The gRPC binding: mecai.v1.VouchingService with Vouch only.
  grpc::Service& grpc_service() { return *grpc_service_; }

 private:
  // The HTTP binding's response to `answer`: the serialized VouchingData alone when the client
  // accepts it and the VR was issued.
  static HttpServerResponse HttpAnswer(Answer answer, bool wants_vouching_data);
  // Counts the answer of an admitted VR and gives its HTTP status.
  Answer Decided(PublicBinding binding, absl::StatusOr<v1::VouchResponse> response);
  // Counts and builds a refusal on a limit.
  Answer Refuse(PublicBinding binding, const std::string& reason, absl::StatusCode code,
                int http_status, std::string message,
                std::optional<absl::Duration> retry_after = std::nullopt);

  const size_t max_request_bytes_;
  const absl::Duration http_decision_time_;
  AdmissionControl admission_;
  const VouchFunction vouch_;
  PublicEndpointMetrics* const metrics_;
  std::unique_ptr<grpc::Service> grpc_service_;
};

// The public endpoint's servers, running: the gRPC binding on public_listen.address and the HTTPS
// binding on public_listen.http_address (each when configured; port files written). Destruction
// stops both.
struct PublicEndpointServers {
  std::unique_ptr<RunningServer> grpc;
  std::unique_ptr<HttpServer> http;
};

// Starts the servers of `config.public_listen` (defaults filled, validated) for `endpoint`, which
// must outlive them. Errors: an address cannot be bound, the certificate or key cannot be read.
absl::StatusOr<PublicEndpointServers> StartPublicEndpoint(const v1::CoordinatorConfig& config,
                                                          PublicEndpoint& endpoint);

}  // namespace mecai

#endif  // MECAI_COORDINATOR_PUBLIC_ENDPOINT_H_
