#include "witness/witness_config.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/config_loader.h"
#include "common/base/status.h"
#include "common/net/http_server_config.h"

namespace mecai {
namespace witness {

v1::WitnessConfig WithWitnessDefaults(v1::WitnessConfig config) {
  FillServingDefaults(&config, /*max_connections=*/64, /*max_connections_per_address=*/8);
  return config;
}

absl::Status ValidateWitnessConfig(const v1::WitnessConfig& config, const std::string& source) {
  ConfigErrors errors(source);
  errors.Require(IsValidHostPort(config.listen_address(), /*allow_port_zero=*/true),
                 "listen_address", "must be host:port");
  errors.Require(config.metrics_address().empty() ||
                     IsValidHostPort(config.metrics_address(), /*allow_port_zero=*/true),
                 "metrics_address", "must be host:port");
  errors.Require(
      config.tls_certificate_chain_file().empty() == config.tls_private_key_file().empty(),
      "tls_private_key_file", "set both TLS files or neither");
  const std::string& prefix = config.submission_prefix();
  errors.Require(prefix.empty() || (absl::StartsWith(prefix, "/") && !absl::EndsWith(prefix, "/") &&
                                    prefix.find_first_of("?# ") == std::string::npos),
                 "submission_prefix", "must be empty or a path beginning, not ending, with '/'");
  errors.Require(!config.pkcs11().module_path().empty(), "pkcs11.module_path", "required");
  errors.Require(!config.pkcs11().token_label().empty(), "pkcs11.token_label", "required");
  errors.Require(!config.pkcs11().key_label().empty(), "pkcs11.key_label",
                 "required (the witness's Ed25519 key)");
  const absl::Status name = CheckNoteKeyName(config.witness_name());
  errors.Require(name.ok(), "witness_name",
                 absl::StrCat("must be a note key name (a schema-less URL): ", name.message()));
  errors.Require(!config.state_file().empty(), "state_file", "required");
  errors.Require(config.logs_size() > 0 || !config.va_list_file().empty(), "logs",
                 "at least one log to witness");
  std::set<std::string> origins;
  for (int i = 0; i < config.logs_size(); ++i) {
    const v1::WitnessedLog& log = config.logs(i);
    const std::string field = absl::StrCat("logs[", i, "]");
    errors.Require(log.vkeys_size() > 0, field + ".vkeys", "at least one");
    std::string origin = log.origin();
    for (int j = 0; j < log.vkeys_size(); ++j) {
      absl::StatusOr<NoteVerifierKey> key = ParseVerifierKey(log.vkeys(j));
      errors.Require(key.ok(), absl::StrCat(field, ".vkeys[", j, "]"),
                     absl::StrCat("must be an Ed25519 note verifier key (`mecai log vkey`): ",
                                  key.status().message()));
      if (key.ok() && origin.empty() && j == 0) origin = key->name;
    }
    errors.Require(!origin.empty(), field + ".origin", "required when no vkey names it");
    errors.Require(origin.empty() || CheckNoteCharacters(origin).ok(), field + ".origin",
                   "must be one line of text");
    errors.Require(origin.empty() || origins.insert(origin).second, field + ".origin",
                   absl::StrCat("the log ", origin, " is listed twice"));
  }
  errors.Require(config.max_connections() <= 10000, "max_connections", "must be 1..10000");
  errors.Require(config.threads() <= 64, "threads", "must be 1..64");
  errors.Require(
      config.max_connections_per_address() == 0 ||
          config.max_connections_per_address() < config.max_connections() / config.threads(),
      "max_connections_per_address", "must be below max_connections / threads");
  errors.Require(config.idle_timeout_seconds() <= 300, "idle_timeout_seconds", "must be 1..300");
  errors.Require(config.request_timeout_seconds() <= 300, "request_timeout_seconds",
                 "must be 1..300");
  return errors.ToStatus();
}

absl::StatusOr<std::map<std::string, std::vector<NoteVerifierKey>>> WitnessedLogs(
    const v1::WitnessConfig& config) {
  std::map<std::string, std::vector<NoteVerifierKey>> logs;
  for (const v1::WitnessedLog& log : config.logs()) {
    std::vector<NoteVerifierKey> keys;
    for (const std::string& vkey : log.vkeys()) {
      ASSIGN_OR_RETURN(NoteVerifierKey key, ParseVerifierKey(vkey));
      keys.push_back(std::move(key));
    }
    if (keys.empty()) return absl::InvalidArgumentError("a witnessed log has no vkey");
    const std::string origin = log.origin().empty() ? keys[0].name : log.origin();
    logs[origin] = std::move(keys);
  }
  if (!config.va_list_file().empty()) {
    absl::StatusOr<v1::VaList> list = LoadConfig<v1::VaList>(config.va_list_file());
    if (!list.ok()) return Annotate(list.status(), "va_list_file");
    for (const v1::VaListEntry& va : list->vas()) {
      for (const std::string& vkey : va.log_vkeys()) {
        absl::StatusOr<NoteVerifierKey> key = ParseVerifierKey(vkey);
        if (!key.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("va_list_file ", config.va_list_file(),
                                                         ": VA '", va.id(),
                                                         "' log_vkeys: ", key.status().message()));
        }
        if (!logs.emplace(key->name, std::vector<NoteVerifierKey>{*key}).second) {
          return absl::InvalidArgumentError(absl::StrCat("va_list_file ", config.va_list_file(),
                                                         ": VA '", va.id(), "' log ", key->name,
                                                         " is already witnessed"));
        }
      }
    }
  }
  if (logs.empty()) return absl::InvalidArgumentError("logs: at least one log to witness");
  return logs;
}

}  // namespace witness
}  // namespace mecai
