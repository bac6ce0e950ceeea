#include "probe_agent/tls_fetcher.h"

#include <thread>  // NOLINT(build/c++11): the default FetchAsync of blocking fetchers.
#include <utility>

namespace mecai {
namespace probe_agent {

void TlsFetcher::FetchAsync(FetchRequest request, FetchCallback done) {
  // The thread touches `this` only before `done` runs; a caller that waits for `done` before
  // destroying the fetcher is therefore safe.
  std::thread([this, request = std::move(request), done = std::move(done)] {
    done(Fetch(request));
  }).detach();
}

absl::StatusOr<std::unique_ptr<EngineTlsFetcher>> EngineTlsFetcher::Create(
    const TlsEngineOptions& options) {
  absl::StatusOr<std::unique_ptr<TlsEngine>> engine = TlsEngine::Create(options);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<EngineTlsFetcher>(new EngineTlsFetcher(std::move(*engine)));
}

v1::AddressObservation EngineTlsFetcher::Fetch(const FetchRequest& request) {
  return engine_->Fetch(request);
}

void EngineTlsFetcher::FetchAsync(FetchRequest request, FetchCallback done) {
  engine_->Start(std::move(request), std::move(done));
}

}  // namespace probe_agent
}  // namespace mecai
