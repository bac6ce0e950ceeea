// log_server --config FILE: one coordinator shard's log, public and read-only, as a C2SP tiled
// transparency log (docs/PUBLIC_LOG.md). Flags → config → wiring → serve.
#include <memory>
#include <string>
#include <thread>  // NOLINT(build/c++11): the catch-up loop.
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/metrics.h"
#include "common/base/service_main.h"
#include "common/base/shutdown_signal.h"
#include "common/base/status.h"
#include "common/net/http_server.h"
#include "common/net/http_server_config.h"
#include "common/transparency/note_key.h"
#include "log_server/log_server_config.h"
#include "log_server/log_server_metrics.h"
#include "log_server/store_follower.h"
#include "log_server/tlog_handler.h"

namespace mecai {
namespace log_server {
namespace {

constexpr char kUsage[] =
    "usage: log_server --config FILE\n"
    "\n"
    "Serves one coordinator shard's log, read-only and to anyone, as a C2SP tiled transparency\n"
    "log (https://c2sp.org/tlog-tiles): GET /checkpoint, /tile/<L>/<N>[.p/<W>] and\n"
    "/tile/entries/<N>[.p/<W>], and /evidence/<SHA-256 hex>. It follows the coordinator's record "
    "store as a RocksDB\n"
    "secondary and serves the newest checkpoint note the signer signed that verifies with the\n"
    "configured vkey. Stops on SIGINT or SIGTERM.\n"
    "\n"
    "  --config FILE  LogServerConfig in protobuf text format (proto/mecai/v1/config.proto)\n"
    "  --help         print this help and exit\n";

// Follows the store every `interval` until `stop` is notified.
void CatchUpLoop(StoreFollower& follower, absl::Duration interval, LogServerMetrics& metrics,
                 absl::Notification& stop) {
  absl::Status last = absl::OkStatus();
  while (!stop.WaitForNotificationWithTimeout(interval)) {
    absl::Status status = follower.CatchUp();
    const std::optional<ServedCheckpoint> served = follower.Checkpoint();
    metrics.RecordCatchUp(status.ok(), follower.LeavesRead(), served ? served->tree_size : 0);
    // Logged when it changes, not every interval.
    if (status.ToString() != last.ToString() && !status.ok()) {
      MECAI_LOG(Warning) << "following the record store: " << status;
    }
    last = std::move(status);
  }
}

absl::Status Run(const std::string& config_path) {
  ASSIGN_OR_RETURN(v1::LogServerConfig loaded, LoadConfig<v1::LogServerConfig>(config_path));
  const v1::LogServerConfig config = WithLogServerDefaults(std::move(loaded));
  RETURN_IF_ERROR(ValidateLogServerConfig(config, config_path));
  ASSIGN_OR_RETURN(NoteVerifierKey vkey, ParseVerifierKey(config.vkey()));
  const std::string origin = vkey.name;
  ASSIGN_OR_RETURN(std::unique_ptr<StoreFollower> follower,
                   StoreFollower::Open(config.store_path(), config.secondary_path(),
                                       config.log_shard_id(), std::move(vkey)));
  auto registry = std::make_shared<prometheus::Registry>();
  LogServerMetrics metrics(*registry);
  v1::ListenConfig metrics_listen;
  metrics_listen.set_metrics_address(config.metrics_address());
  metrics_listen.set_metrics_port_file(config.metrics_port_file());
  ASSIGN_OR_RETURN(auto metrics_server, MetricsServer::Start(metrics_listen, registry));

  TlogHandler handler(*follower, config.checkpoint_max_age_seconds(), &metrics);
  HttpServerOptions options;
  // GET only: no body.
  options.max_body_bytes = 0;
  options.max_connection_memory_bytes = 16 << 10;
  ASSIGN_OR_RETURN(
      std::unique_ptr<HttpServer> server,
      StartConfiguredHttpServer(
          config, [&handler](const HttpServerRequest& request) { return handler.Handle(request); },
          options));
  absl::Notification stop;
  std::thread catch_up(CatchUpLoop, std::ref(*follower),
                       absl::Milliseconds(config.catch_up_interval_milliseconds()),
                       std::ref(metrics), std::ref(stop));
  const std::optional<ServedCheckpoint> served = follower->Checkpoint();
  MECAI_LOG(Info) << "public log " << origin << " of shard " << config.log_shard_id()
                  << " ready on port " << server->port() << " ("
                  << (config.tls_certificate_chain_file().empty() ? "HTTP" : "HTTPS") << "); "
                  << follower->LeavesRead() << " leaves, checkpoint "
                  << (served ? absl::StrCat("of size ", served->tree_size) : "not yet signed");
  WaitForTerminationSignal();
  stop.Notify();
  catch_up.join();
  server.reset();
  return absl::OkStatus();
}

}  // namespace
}  // namespace log_server
}  // namespace mecai

int main(int argc, char** argv) {
  return mecai::ServiceMain(argc, argv, "log_server", mecai::log_server::kUsage,
                            mecai::log_server::Run);
}
