#include "log_server/log_server_config.h"

#include "absl/strings/str_cat.h"
#include "common/base/config_loader.h"
#include "common/net/http_server_config.h"
#include "common/transparency/note_key.h"

namespace mecai {

v1::LogServerConfig WithLogServerDefaults(v1::LogServerConfig config) {
  if (config.catch_up_interval_milliseconds() == 0) config.set_catch_up_interval_milliseconds(1000);
  if (!config.has_checkpoint_max_age_seconds()) config.set_checkpoint_max_age_seconds(5);
  FillServingDefaults(&config, /*max_connections=*/256, /*max_connections_per_address=*/16);
  return config;
}

absl::Status ValidateLogServerConfig(const v1::LogServerConfig& config, const std::string& source) {
  ConfigErrors errors(source);
  errors.Require(!config.store_path().empty(), "store_path", "required");
  errors.Require(!config.secondary_path().empty(), "secondary_path", "required");
  errors.Require(config.secondary_path().empty() || config.secondary_path() != config.store_path(),
                 "secondary_path", "must differ from store_path");
  errors.Require(!config.log_shard_id().empty(), "log_shard_id", "required");
  const absl::Status vkey = ParseVerifierKey(config.vkey()).status();
  errors.Require(
      vkey.ok(), "vkey",
      absl::StrCat("must be an Ed25519 verifier key (`mecai log vkey`): ", vkey.message()));
  errors.Require(IsValidHostPort(config.listen_address(), /*allow_port_zero=*/true),
                 "listen_address", "must be host:port");
  errors.Require(config.metrics_address().empty() ||
                     IsValidHostPort(config.metrics_address(), /*allow_port_zero=*/true),
                 "metrics_address", "must be host:port");
  errors.Require(config.catch_up_interval_milliseconds() >= 10 &&
                     config.catch_up_interval_milliseconds() <= 60000,
                 "catch_up_interval_milliseconds", "must be 10..60000");
  errors.Require(config.checkpoint_max_age_seconds() <= 60, "checkpoint_max_age_seconds",
                 "must be 0..60 (c2sp.org/tlog-tiles: no caching beyond a few seconds)");
  errors.Require(config.max_connections() <= 10000, "max_connections", "must be 1..10000");
  errors.Require(config.threads() <= 64, "threads", "must be 1..64");
  errors.Require(
      config.max_connections_per_address() == 0 ||
          config.max_connections_per_address() < config.max_connections() / config.threads(),
      "max_connections_per_address", "must be below max_connections / threads");
  errors.Require(config.idle_timeout_seconds() <= 300, "idle_timeout_seconds", "must be 1..300");
  errors.Require(config.request_timeout_seconds() <= 300, "request_timeout_seconds",
                 "must be 1..300");
  errors.Require(
      config.tls_certificate_chain_file().empty() == config.tls_private_key_file().empty(),
      "tls_private_key_file", "set both TLS files or neither");
  return errors.ToStatus();
}

}  // namespace mecai
