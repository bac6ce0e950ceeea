#include "coordinator/trust_list_relay.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/rpc/grpc_channel.h"

namespace mecai {
namespace {

// Splits "host:port" or "[v6]:port".
absl::Status SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not host:port"));
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::OkStatus();
}

// Every address `address` resolves to, numeric "ip:port" / "[ip]:port", in resolver order,
// without repeats (getaddrinfo(3), TCP).
absl::StatusOr<std::vector<std::string>> Resolve(const std::string& address) {
  std::string host;
  std::string port;
  RETURN_IF_ERROR(SplitHostPort(address, &host, &port));
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int error = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (error != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve the signer replicas of ", address, ": ", gai_strerror(error)));
  }
  std::vector<std::string> addresses;
  for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    char numeric[NI_MAXHOST];
    if (getnameinfo(entry->ai_addr, entry->ai_addrlen, numeric, sizeof(numeric), nullptr, 0,
                    NI_NUMERICHOST) != 0) {
      continue;
    }
    const std::string replica = entry->ai_family == AF_INET6
                                    ? absl::StrCat("[", numeric, "]:", port)
                                    : absl::StrCat(numeric, ":", port);
    if (std::find(addresses.begin(), addresses.end(), replica) == addresses.end()) {
      addresses.push_back(replica);
    }
  }
  freeaddrinfo(found);
  if (addresses.empty()) {
    return absl::UnavailableError(absl::StrCat(address, " resolves to no address"));
  }
  return addresses;
}

}  // namespace

TrustListRelay::TrustListRelay(v1::PeerConfig signer, std::vector<std::string> replica_addresses,
                               absl::Duration timeout)
    : signer_(std::move(signer)),
      replica_addresses_(std::move(replica_addresses)),
      timeout_(timeout) {}

absl::StatusOr<std::vector<std::string>> TrustListRelay::Replicas() const {
  if (!replica_addresses_.empty()) return replica_addresses_;
  // A dns:/// target or an ipv4:/ipv6: list names its replicas' host:port
  // (common/rpc/grpc_channel.h).
  ASSIGN_OR_RETURN(std::vector<std::string> host_ports, ChannelTargetHostPorts(signer_.address()));
  std::vector<std::string> replicas;
  for (const std::string& host_port : host_ports) {
    ASSIGN_OR_RETURN(std::vector<std::string> resolved, Resolve(host_port));
    for (std::string& replica : resolved) {
      if (std::find(replicas.begin(), replicas.end(), replica) == replicas.end()) {
        replicas.push_back(std::move(replica));
      }
    }
  }
  return replicas;
}

absl::StatusOr<v1::SignerService::Stub*> TrustListRelay::StubFor(const std::string& address) {
  absl::MutexLock lock(&mutex_);
  auto found = stubs_.find(address);
  if (found != stubs_.end()) return found->second.get();
  // The replica's own address, with the identity its certificate carries (signer.tls).
  v1::PeerConfig replica = signer_;
  replica.set_address(address);
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(replica));
  auto stub = v1::SignerService::NewStub(channel);
  v1::SignerService::Stub* borrowed = stub.get();
  stubs_.emplace(address, std::move(stub));
  return borrowed;
}

absl::Status TrustListRelay::Send(const v1::SignedTrustListChange& change) {
  ASSIGN_OR_RETURN(std::vector<std::string> replicas, Replicas());
  v1::ApplyTrustListChangeRequest request;
  *request.mutable_signed_change() = change;
  absl::Status first_failure;
  for (const std::string& address : replicas) {
    absl::StatusOr<v1::SignerService::Stub*> stub = StubFor(address);
    absl::Status sent = stub.status();
    if (stub.ok()) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
      v1::ApplyTrustListChangeResponse response;
      sent = FromGrpcStatus((*stub)->ApplyTrustListChange(&context, request, &response),
                            absl::StrCat("signer replica ", address));
    }
    if (sent.ok() || sent.code() == absl::StatusCode::kAlreadyExists) continue;
    if (first_failure.ok()) first_failure = sent;
  }
  return first_failure;
}

}  // namespace mecai
