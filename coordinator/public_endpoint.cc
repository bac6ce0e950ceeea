#include "coordinator/public_endpoint.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/status.h"
#include "common/net/client_address_key.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/tls_credentials.h"

namespace mecai {
namespace {

const char* BindingName(PublicBinding binding) {
  return binding == PublicBinding::kGrpc ? "grpc" : "http";
}

// The metric label of a VR refusal: the RefusalReason's name in lower case, "too_large" and
// "malformed" shared with the endpoint's own refusals of the same kind.
std::string RefusalLabel(v1::RefusalReason reason) {
  if (reason == v1::REQUEST_TOO_LARGE) return "too_large";
  if (reason == v1::MALFORMED_REQUEST) return "malformed";
  return absl::AsciiStrToLower(v1::RefusalReason_Name(reason));
}

// The numeric address of a gRPC peer, "ipv4:192.0.2.1:4711" or "ipv6:[2001:db8::1]:4711".
std::string PeerAddress(const std::string& peer) {
  absl::string_view rest = peer;
  const size_t scheme = rest.find(':');
  if (scheme == absl::string_view::npos) return peer;
  rest.remove_prefix(scheme + 1);
  if (absl::StartsWith(rest, "[")) {
    const size_t end = rest.find(']');
    return std::string(end == absl::string_view::npos ? rest : rest.substr(1, end - 1));
  }
  return std::string(rest.substr(0, rest.rfind(':')));
}

// The media type of a Content-Type or Accept entry: before any parameter, trimmed, lower case.
std::string MediaType(absl::string_view value) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(value.substr(0, value.find(';'))));
}

bool Accepts(const HttpServerRequest& request, absl::string_view media_type) {
  auto it = request.headers.find("accept");
  if (it == request.headers.end()) return false;
  for (absl::string_view entry : absl::StrSplit(it->second, ',')) {
    if (MediaType(entry) == media_type) return true;
  }
  return false;
}

// The HTTP status of a fault of the system (docs/PROTOCOL.md "The HTTP binding").
int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

HttpServerResponse PlainText(int status, std::string text) {
  HttpServerResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(text) + "\n";
  return response;
}

// Whole seconds, at least one: the Retry-After header (RFC 9110 §10.2.3).
int64_t RetryAfterSeconds(absl::Duration after) {
  return std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(after, absl::Seconds(1))));
}

absl::Time CallerDeadline(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// The gRPC binding: VouchingService.Vouch through the endpoint, on gRPC's callback API (no thread
// waits in admission's queue or for the decision, ARCHITECTURE.md §13).
class PublicVouchingService final : public v1::VouchingService::CallbackService {
 public:
  explicit PublicVouchingService(PublicEndpoint& endpoint) : endpoint_(endpoint) {}

  grpc::ServerUnaryReactor* Vouch(grpc::CallbackServerContext* context,
                                  const v1::VouchRequest* request,
                                  v1::VouchResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    // `response` lives until Finish.
    endpoint_.VouchAsync(PublicBinding::kGrpc, PeerAddress(context->peer()),
                         request->vouching_request(), CallerDeadline(*context),
                         [reactor, response](PublicEndpoint::Answer answer) {
                           if (!answer.response.ok()) {
                             reactor->Finish(ToGrpcStatus(answer.response.status()));
                             return;
                           }
                           *response = *std::move(answer.response);
                           reactor->Finish(grpc::Status::OK);
                         });
    return reactor;
  }

 private:
  PublicEndpoint& endpoint_;
};

}  // namespace

PublicEndpoint::PublicEndpoint(size_t max_request_bytes, const AdmissionLimits& admission,
                               VouchFunction vouch, PublicEndpointMetrics* metrics,
                               absl::Duration http_decision_time)
    : max_request_bytes_(max_request_bytes),
      http_decision_time_(http_decision_time),
      admission_(admission),
      vouch_(std::move(vouch)),
      metrics_(metrics),
      grpc_service_(std::make_unique<PublicVouchingService>(*this)) {}

PublicEndpoint::VouchFunction PublicEndpoint::Inline(
    std::function<absl::StatusOr<v1::VouchResponse>(const std::string&)> decide) {
  return [decide = std::move(decide)](const std::string& serialized_request, absl::Time,
                                      VouchDone done) { done(decide(serialized_request)); };
}

absl::Duration DecisionTime(const v1::CoordinatorConfig& config) {
  return absl::Milliseconds(config.public_listen().queue_timeout_milliseconds()) +
         absl::Milliseconds(config.revocation().fetch_timeout_milliseconds()) +
         absl::Milliseconds(config.approval_timeout_milliseconds()) +
         absl::Milliseconds(config.probe_timeout_milliseconds()) +
         absl::Milliseconds(config.signer_timeout_milliseconds()) + absl::Seconds(5);
}

std::unique_ptr<PublicEndpoint> PublicEndpoint::FromConfig(const v1::CoordinatorConfig& config,
                                                           VouchFunction vouch,
                                                           PublicEndpointMetrics* metrics) {
  const v1::PublicListenConfig& endpoint = config.public_listen();
  AdmissionLimits admission;
  admission.max_in_flight = endpoint.max_in_flight();
  admission.max_queued = endpoint.max_queued();
  admission.queue_timeout = absl::Milliseconds(endpoint.queue_timeout_milliseconds());
  admission.max_per_address = endpoint.max_in_flight_per_address();
  return std::make_unique<PublicEndpoint>(config.max_request_bytes(), admission, std::move(vouch),
                                          metrics, DecisionTime(config));
}

PublicEndpoint::Answer PublicEndpoint::Refuse(PublicBinding binding, const std::string& reason,
                                              absl::StatusCode code, int http_status,
                                              std::string message,
                                              std::optional<absl::Duration> retry_after) {
  if (metrics_ != nullptr) {
    metrics_->RecordRefusal(BindingName(binding), reason);
    metrics_->RecordRequest(BindingName(binding), "refused");
  }
  Answer answer;
  answer.response = absl::Status(code, std::move(message));
  answer.http_status = http_status;
  answer.retry_after = retry_after;
  return answer;
}

PublicEndpoint::Answer PublicEndpoint::Vouch(PublicBinding binding,
                                             const std::string& client_address,
                                             const std::string& serialized_request) {
  absl::Notification answered;
  Answer answer;
  VouchAsync(binding, client_address, serialized_request, absl::InfiniteFuture(),
             [&answered, &answer](Answer result) {
               answer = std::move(result);
               answered.Notify();
             });
  answered.WaitForNotification();
  return answer;
}

void PublicEndpoint::VouchAsync(PublicBinding binding, const std::string& client_address,
                                std::string serialized_request, absl::Time deadline,
                                std::function<void(Answer)> done) {
  // Trust rule 8: the size before anything is parsed.
  if (serialized_request.size() > max_request_bytes_) {
    return done(Refuse(binding, "too_large", absl::StatusCode::kResourceExhausted, 413,
                       absl::StrCat("the VR has ", serialized_request.size(), " bytes; at most ",
                                    max_request_bytes_, " are accepted")));
  }
  if (serialized_request.empty()) {
    return done(Refuse(binding, "malformed", absl::StatusCode::kInvalidArgument, 400,
                       "VouchRequest.vouching_request is empty"));
  }
  auto request = std::make_shared<const std::string>(std::move(serialized_request));
  // A client's VRs are counted by the key its HTTPS connections are (an IPv6 /64, an IPv4-mapped
  // address as IPv4), on both bindings.
  admission_.AdmitAsync(
      ClientAddressKeyOfText(client_address),
      [this, binding, request, deadline, done](AdmissionControl::Admission admission) {
        if (metrics_ != nullptr) metrics_->SetAdmission(admission_.InFlight(), admission_.Queued());
        if (admission.refusal.has_value()) {
          const AdmissionLimits& limits = admission_.limits();
          const absl::Duration retry_after = std::max(limits.queue_timeout, absl::Seconds(1));
          switch (*admission.refusal) {
            case AdmissionRefusal::kOverAddressLimit:
              return done(Refuse(
                  binding, "over_address_limit", absl::StatusCode::kResourceExhausted, 429,
                  absl::StrCat("this client address already has ", limits.max_per_address,
                               " VRs being decided or waiting; send the next when one is answered"),
                  retry_after));
            case AdmissionRefusal::kOverGlobalLimit:
              return done(Refuse(binding, "over_global_limit", absl::StatusCode::kResourceExhausted,
                                 503,
                                 absl::StrCat("the Vouching Server is deciding ",
                                              limits.max_in_flight, " VRs and ", limits.max_queued,
                                              " more are waiting; try again later"),
                                 retry_after));
            case AdmissionRefusal::kQueueTimeout:
              return done(Refuse(binding, "queue_timeout", absl::StatusCode::kResourceExhausted,
                                 503,
                                 absl::StrCat("no slot came free within ",
                                              absl::FormatDuration(limits.queue_timeout),
                                              " of waiting; try again later"),
                                 retry_after));
          }
        }
        // The slot is held until the decision is answered.
        auto ticket = std::make_shared<AdmissionControl::Ticket>(std::move(*admission.ticket));
        vouch_(*request, deadline,
               [this, binding, ticket, done](absl::StatusOr<v1::VouchResponse> response) mutable {
                 ticket.reset();
                 done(Decided(binding, std::move(response)));
               });
      });
}

PublicEndpoint::Answer PublicEndpoint::Decided(PublicBinding binding,
                                               absl::StatusOr<v1::VouchResponse> response) {
  Answer answer;
  answer.response = std::move(response);
  if (metrics_ != nullptr) {
    metrics_->SetAdmission(admission_.InFlight(), admission_.Queued());
    if (!answer.response.ok()) {
      metrics_->RecordRequest(BindingName(binding), "fault");
    } else if (answer.response->has_vouching_data()) {
      metrics_->RecordRequest(BindingName(binding), "issued");
    } else {
      metrics_->RecordRequest(BindingName(binding), "refused");
      metrics_->RecordRefusal(BindingName(binding),
                              RefusalLabel(answer.response->refusal().reason()));
    }
  }
  if (!answer.response.ok()) answer.http_status = HttpStatusOf(answer.response.status().code());
  return answer;
}

void PublicEndpoint::CountHttpServerRefusal(HttpServerRefusal refusal) {
  if (metrics_ == nullptr) return;
  const char* reason = "too_large";
  switch (refusal) {
    case HttpServerRefusal::kBodyTooLarge:
      reason = "too_large";
      break;
    case HttpServerRefusal::kRequestTimeout:
      reason = "request_timeout";
      break;
    case HttpServerRefusal::kConnectionLimit:
      reason = "connection_limit";
      break;
    case HttpServerRefusal::kAddressConnectionLimit:
      reason = "address_connection_limit";
      break;
    case HttpServerRefusal::kAddressHandshakeRate:
      reason = "address_handshake_rate";
      break;
    case HttpServerRefusal::kTlsHandshakeFailed:
      reason = "tls_handshake";
      break;
  }
  metrics_->RecordRefusal("http", reason);
}

HttpServerResponse PublicEndpoint::HandleHttp(const HttpServerRequest& request) {
  absl::Notification answered;
  HttpServerResponse answer;
  HandleHttpAsync(request, [&answered, &answer](HttpServerResponse response) {
    answer = std::move(response);
    answered.Notify();
  });
  answered.WaitForNotification();
  return answer;
}

void PublicEndpoint::HandleHttpAsync(const HttpServerRequest& request, HttpRespond respond) {
  // The shape of the request first: nothing else is served here.
  std::optional<HttpServerResponse> misshapen;
  if (request.path != kPublicVouchPath) {
    misshapen = PlainText(404, absl::StrCat("not found: POST VRs to ", kPublicVouchPath));
  } else if (request.method != "POST") {
    misshapen = PlainText(405, absl::StrCat("method ", request.method, " not allowed: POST"));
    misshapen->headers.push_back({"Allow", "POST"});
  } else {
    auto type = request.headers.find("content-type");
    if (type == request.headers.end() || MediaType(type->second) != kVouchingRequestMediaType) {
      misshapen = PlainText(415, absl::StrCat("the body must be a serialized VouchingRequest, "
                                              "Content-Type: ",
                                              kVouchingRequestMediaType));
    }
  }
  if (misshapen.has_value()) {
    if (metrics_ != nullptr) {
      metrics_->RecordRefusal("http", "malformed");
      metrics_->RecordRequest("http", "refused");
    }
    return respond(*std::move(misshapen));
  }
  // The VR ends by its decision time, before the TLS relay's lifetime of the connection does (and
  // the coordinator's max_vouch_deadline_milliseconds ends every VR in any case).
  const absl::Time deadline = http_decision_time_ == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + http_decision_time_;
  VouchAsync(PublicBinding::kHttp, request.remote_address, request.body, deadline,
             [wants_vouching_data = Accepts(request, kVouchingDataMediaType),
              respond = std::move(respond)](Answer answer) {
               respond(HttpAnswer(std::move(answer), wants_vouching_data));
             });
}

HttpServerResponse PublicEndpoint::HttpAnswer(Answer answer, bool wants_vouching_data) {
  if (!answer.response.ok()) {
    HttpServerResponse response = PlainText(
        answer.http_status, absl::StrCat(absl::StatusCodeToString(answer.response.status().code()),
                                         ": ", answer.response.status().message()));
    if (answer.retry_after.has_value()) {
      response.headers.push_back(
          {"Retry-After", absl::StrCat(RetryAfterSeconds(*answer.retry_after))});
    }
    return response;
  }
  // A decision, issued or refused, is 200 with the serialized VouchResponse (trust rule 2: a
  // refusal is data); the headers repeat it for scripts.
  HttpServerResponse response;
  response.status = 200;
  const v1::VouchResponse& decided = *answer.response;
  if (decided.has_vouching_data()) {
    response.headers.push_back({"MECAI-Decision", "issued"});
  } else {
    response.headers.push_back({"MECAI-Decision", "refused"});
    response.headers.push_back(
        {"MECAI-Refusal-Reason", v1::RefusalReason_Name(decided.refusal().reason())});
  }
  if (decided.has_vouching_data() && wants_vouching_data) {
    response.content_type = kVouchingDataMediaType;
    response.body = decided.vouching_data().SerializeAsString();
  } else {
    response.content_type = kVouchingResponseMediaType;
    response.body = decided.SerializeAsString();
  }
  return response;
}

absl::StatusOr<PublicEndpointServers> StartPublicEndpoint(const v1::CoordinatorConfig& config,
                                                          PublicEndpoint& endpoint) {
  const v1::PublicListenConfig& listen = config.public_listen();
  const absl::Duration request_timeout = absl::Milliseconds(listen.request_timeout_milliseconds());
  const absl::Duration handshake_timeout =
      absl::Milliseconds(listen.handshake_timeout_milliseconds());
  const absl::Duration decision_time = DecisionTime(config);
  PublicEndpointServers servers;
  if (!listen.address().empty()) {
    ServerAuthenticatedOptions options;
    options.address = listen.address();
    options.port_file = listen.port_file();
    options.certificate_file = listen.certificate_file();
    options.private_key_file = listen.private_key_file();
    options.reload_interval = TlsReloadInterval(listen.reload_interval_seconds());
    // gRPC refuses larger messages before they are parsed; between this and max_request_bytes the
    // endpoint refuses (and counts) them itself: the VouchRequest framing, a few bytes, and room
    // to count oversized VRs.
    options.max_receive_message_bytes = static_cast<int>(2 * config.max_request_bytes() + 64);
    // Vouch is on the callback API: no VR, admitted or waiting, holds one of these threads.
    options.max_threads = static_cast<int>(listen.max_in_flight() + listen.max_queued() + 4);
    options.handshake_timeout = handshake_timeout;
    options.max_connection_idle = absl::Seconds(listen.idle_timeout_seconds());
    options.max_connection_age = request_timeout;
    options.max_connection_age_grace = decision_time;
    options.max_concurrent_streams = static_cast<int>(listen.max_in_flight_per_address());
    ASSIGN_OR_RETURN(servers.grpc,
                     StartServerAuthenticatedServer(options, {&endpoint.grpc_service()}));
  }
  if (!listen.http_address().empty()) {
    HttpServerOptions options;
    options.max_body_bytes = config.max_request_bytes();
    options.max_connections = listen.max_connections();
    options.max_connections_per_address = listen.max_connections_per_address();
    options.idle_timeout = absl::Seconds(listen.idle_timeout_seconds());
    // The handler is asynchronous: a connection waiting for its VR's answer is suspended and holds
    // none of these threads (ARCHITECTURE.md §13).
    options.threads = std::min(4u, listen.max_connections());
    options.request_timeout = request_timeout;
    options.one_request_per_connection = true;
    HttpServerTls tls;
    tls.certificate_chain_file = listen.certificate_file();
    tls.private_key_file = listen.private_key_file();
    tls.handshake_timeout = handshake_timeout;
    tls.reload_interval = TlsReloadInterval(listen.reload_interval_seconds());
    // Unset (a config without the coordinator's defaults): no rate limit.
    tls.handshake_rate.per_second = listen.handshakes_per_second_per_address();
    tls.handshake_rate.burst = listen.handshake_burst_per_address();
    tls.max_connection_lifetime = handshake_timeout + request_timeout + decision_time;
    options.tls = tls;
    options.on_refusal = [&endpoint](HttpServerRefusal refusal) {
      endpoint.CountHttpServerRefusal(refusal);
    };
    ASSIGN_OR_RETURN(servers.http,
                     HttpServer::StartAsync(
                         listen.http_address(),
                         [&endpoint](const HttpServerRequest& request, HttpRespond respond) {
                           endpoint.HandleHttpAsync(request, std::move(respond));
                         },
                         options));
    if (!listen.http_port_file().empty()) {
      RETURN_IF_ERROR(
          WriteFileAtomically(listen.http_port_file(), absl::StrCat(servers.http->port(), "\n")));
    }
    MECAI_LOG(Info) << "serving the HTTPS binding of the public endpoint on "
                    << listen.http_address() << " (port " << servers.http->port() << "), POST "
                    << kPublicVouchPath;
  }
  return servers;
}

}  // namespace mecai
