// witness --config FILE: a C2SP transparency-log witness (https://c2sp.org/tlog-witness) that
// cosigns, with an Ed25519 key in the HSM (https://c2sp.org/tlog-cosignature cosignature/v1), the
// checkpoints of the logs it is configured for, each only when it extends the last one it
// cosigned of that log (docs/PUBLIC_LOG.md "Witnesses"). Flags → config → wiring → serve.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/metrics.h"
#include "common/base/service_main.h"
#include "common/base/shutdown_signal.h"
#include "common/base/status.h"
#include "common/net/http_server.h"
#include "common/net/http_server_config.h"
#include "common/pkcs11/pkcs11_key.h"
#include "common/transparency/cosignature.h"
#include "witness/witness.h"
#include "witness/witness_config.h"
#include "witness/witness_handler.h"
#include "witness/witness_metrics.h"
#include "witness/witness_state.h"

namespace mecai {
namespace witness {
namespace {

constexpr char kUsage[] =
    "usage: witness --config FILE\n"
    "\n"
    "A transparency-log witness (https://c2sp.org/tlog-witness): POST <prefix>/add-checkpoint\n"
    "with \"old <size>\", a consistency proof and a checkpoint note of a configured log; answers "
    "a\n"
    "cosignature/v1 line (https://c2sp.org/tlog-cosignature) made with the Ed25519 key in the\n"
    "HSM, once the checkpoint extends the last one cosigned of that log and is recorded in the\n"
    "state file. Stops on SIGINT or SIGTERM.\n"
    "\n"
    "  --config FILE  WitnessConfig in protobuf text format (proto/mecai/v1/config.proto)\n"
    "  --help         print this help and exit\n";

absl::Status Run(const std::string& config_path) {
  ASSIGN_OR_RETURN(v1::WitnessConfig loaded, LoadConfig<v1::WitnessConfig>(config_path));
  const v1::WitnessConfig config = WithWitnessDefaults(std::move(loaded));
  RETURN_IF_ERROR(ValidateWitnessConfig(config, config_path));
  ASSIGN_OR_RETURN(auto logs, WitnessedLogs(config));
  ASSIGN_OR_RETURN(std::unique_ptr<Pkcs11SigningKey> signer,
                   Pkcs11SigningKey::Open(config.pkcs11(), {v1::ED25519}));
  ASSIGN_OR_RETURN(EvpPkeyPtr public_key, signer->PublicKey());
  ASSIGN_OR_RETURN(NoteVerifierKey key, CosignerKey(config.witness_name(), public_key.get()));
  ASSIGN_OR_RETURN(std::unique_ptr<WitnessState> state, WitnessState::Open(config.state_file()));
  const std::string vkey = FormatCosignerVkey(key);
  if (!config.vkey_file().empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(config.vkey_file(), absl::StrCat(vkey, "\n")));
  }

  auto registry = std::make_shared<prometheus::Registry>();
  WitnessMetrics metrics(*registry);
  v1::ListenConfig metrics_listen;
  metrics_listen.set_metrics_address(config.metrics_address());
  metrics_listen.set_metrics_port_file(config.metrics_port_file());
  ASSIGN_OR_RETURN(auto metrics_server, MetricsServer::Start(metrics_listen, registry));

  SystemClock clock;
  const size_t log_count = logs.size();
  Witness witness(std::move(logs), key, *signer, *state, clock, &metrics);
  WitnessHandler handler(witness, config.submission_prefix(), &metrics);
  HttpServerOptions options;
  // c2sp.org/signed-note: a note of at most 64 KiB (kMaxSignedNoteBytes) and 63 proof lines.
  options.max_body_bytes = 64 << 10;
  options.max_connection_memory_bytes = 96 << 10;
  options.on_refusal = [&metrics](HttpServerRefusal refusal) {
    if (refusal == HttpServerRefusal::kBodyTooLarge) metrics.RecordRequest("too_large");
  };
  ASSIGN_OR_RETURN(
      std::unique_ptr<HttpServer> server,
      StartConfiguredHttpServer(
          config, [&handler](const HttpServerRequest& request) { return handler.Handle(request); },
          options));
  MECAI_LOG(Info) << "witness " << vkey << " ready on port " << server->port() << " ("
                  << (config.tls_certificate_chain_file().empty() ? "HTTP" : "HTTPS") << "), "
                  << log_count << " logs";
  WaitForTerminationSignal();
  server.reset();
  return absl::OkStatus();
}

}  // namespace
}  // namespace witness
}  // namespace mecai

int main(int argc, char** argv) {
  return mecai::ServiceMain(argc, argv, "witness", mecai::witness::kUsage, mecai::witness::Run);
}
