// The target of the probe agent's scale benchmarks, and a burst of fetches through the TLS engine
// (docs/PERFORMANCE.md, probe agent (b)): a TLS server on 127.0.0.1 that accepts every connection
// at once and answers each ClientHello only after a delay, as a slow server on the Internet would,
// so that every probe stays in flight that long.
#ifndef MECAI_BENCH_DELAYED_TLS_TARGET_H_
#define MECAI_BENCH_DELAYED_TLS_TARGET_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "probe_agent/testing/test_servers.h"
#include "probe_agent/tls_engine.h"

namespace mecai {

struct DelayedTlsTarget {
  pid_t pid = -1;
  int port = 0;
};

// Serves TLS on `listener` (a listening socket) for ever: each connection is held `delay` after it
// is accepted, then one of 64 threads completes its handshake with the PEM chain and key of the
// files (no session cache, no tickets), so at most 64 handshakes run at once and a connection may
// wait longer than `delay` for its turn; a client silent for 30 s loses its connection.
[[noreturn]] void ServeDelayedTlsTarget(int listener, const std::string& certificate_chain_file,
                                        const std::string& key_file, absl::Duration delay);

// Forks the target; call it before this process starts any thread (fork copies only the calling
// thread). The child serves as ServeDelayedTlsTarget does, with `certificate`. Stop it with
// StopDelayedTlsTarget.
absl::StatusOr<DelayedTlsTarget> StartDelayedTlsTarget(
    const test_support::TestCertificate& certificate, absl::Duration delay);

void StopDelayedTlsTarget(const DelayedTlsTarget& target);

// What a benchmark starts from: a scratch directory /tmp/<stem>_XXXXXX (also set as TEST_TMPDIR),
// a self-signed certificate for `dns_name` in it, and the delayed target serving that certificate
// with a one-second delay. The same rule as StartDelayedTlsTarget: before any thread starts.
struct DelayedTargetSetup {
  std::string directory;
  test_support::TestCertificate certificate;
  DelayedTlsTarget target;
};
absl::StatusOr<DelayedTargetSetup> SetUpDelayedTarget(const std::string& stem,
                                                      const std::string& dns_name);

// What a burst of fetches through a TlsEngine showed.
struct EngineBurstResult {
  int completed = 0;
  int ok = 0;                              // PROBE_OK.
  double started_seconds = 0;              // Until the last Start() returned.
  double all_done_seconds = 0;             // Until the last completion (or 60 s).
  std::vector<double> completion_seconds;  // Each completion, sorted.
};

// Starts `probes` fetches of `request` at once on `engine` and waits (at most 60 s) for all.
EngineBurstResult RunEngineBurst(probe_agent::TlsEngine& engine,
                                 const probe_agent::FetchRequest& request, int probes);

}  // namespace mecai

#endif  // MECAI_BENCH_DELAYED_TLS_TARGET_H_
