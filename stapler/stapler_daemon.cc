#include "stapler/stapler_daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "absl/strings/str_cat.h"
#include "client/vd_verifier.h"
#include "common/base/config_loader.h"
#include "common/base/status.h"
#include "stapler/endpoint_failover.h"

namespace mecai {
namespace {

absl::Duration MillisecondsOr(uint64_t milliseconds, absl::Duration fallback) {
  return milliseconds == 0 ? fallback : absl::Milliseconds(static_cast<int64_t>(milliseconds));
}

}  // namespace

absl::Status ValidateStaplerConfig(const v1::StaplerConfig& config, const std::string& source) {
  ConfigErrors errors(source);
  for (const auto& [value, name] :
       {std::pair<std::string, const char*>{config.va_list_file(), "va_list_file"},
        {config.hostname(), "hostname"},
        {config.trust_list(), "trust_list"},
        {config.certificate_file(), "certificate_file"},
        {config.key_file(), "key_file"},
        {config.cache_directory(), "cache_directory"}}) {
    errors.Require(!value.empty(), name, "is required");
  }
  errors.Require(config.port() != 0 && config.port() <= 65535, "port", "must be 1..65535");
  errors.Require(config.jitter_percent() <= 50, "jitter_percent", "must be at most 50");
  errors.Require(config.next_key_file().empty() || !config.next_certificate_file().empty(),
                 "next_key_file", "needs next_certificate_file");
  // Serverinfo files for stock TLS servers (docs/TLS_EXTENSION.md §7).
  for (const auto& [path, name] :
       {std::pair<std::string, const char*>{config.serverinfo_file(), "serverinfo_file"},
        {config.next_serverinfo_file(), "next_serverinfo_file"}}) {
    errors.Require(path.empty() || path.front() == '/', name, "must be an absolute path");
  }
  errors.Require(config.next_serverinfo_file().empty() || !config.next_certificate_file().empty(),
                 "next_serverinfo_file", "needs next_certificate_file");
  errors.Require(config.next_serverinfo_file().empty() ||
                     config.next_serverinfo_file() != config.serverinfo_file(),
                 "next_serverinfo_file", "must differ from serverinfo_file");
  errors.Require(config.serverinfo_extension_type() <= 65535, "serverinfo_extension_type",
                 "must be a TLS extension code point, 0..65535 (0: 65280)");
  const bool has_serverinfo =
      !config.serverinfo_file().empty() || !config.next_serverinfo_file().empty();
  if (!config.reload_command().empty()) {
    errors.Require(has_serverinfo, "reload_command", "needs serverinfo_file");
    const std::string& program = config.reload_command(0);
    errors.Require(!program.empty() && program.front() == '/', "reload_command",
                   absl::StrCat("the program must be an absolute path (it runs without a shell "
                                "and without PATH), not '",
                                program, "'"));
  }
  errors.Require(config.reload_timeout_ms() == 0 || config.reload_command_size() > 0,
                 "reload_timeout_ms", "needs reload_command");
  errors.Require(config.reload_timeout_ms() <= 600000, "reload_timeout_ms",
                 "must be at most 600000 (10 minutes)");
  errors.Require(config.metrics_address().empty() ||
                     IsValidHostPort(config.metrics_address(), /*allow_port_zero=*/true),
                 "metrics_address", "must be host:port (port 0 picks a free port)");
  errors.Require(config.metrics_port_file().empty() || !config.metrics_address().empty(),
                 "metrics_port_file", "needs metrics_address");
  errors.Require(config.health_address().empty() ||
                     IsValidHostPort(config.health_address(), /*allow_port_zero=*/true),
                 "health_address", "must be host:port (port 0 picks a free port)");
  errors.Require(config.health_port_file().empty() || !config.health_address().empty(),
                 "health_port_file", "needs health_address");
  errors.Require(config.health_max_vd_age_ms() == 0 || !config.health_address().empty(),
                 "health_max_vd_age_ms", "needs health_address");
  errors.Require(config.health_max_vd_age_ms() == 0 || config.max_age_ms() == 0 ||
                     config.health_max_vd_age_ms() <= config.max_age_ms(),
                 "health_max_vd_age_ms", "must be at most max_age_ms");
  for (const v1::StaplerVouchingServer& server : config.vouching_servers()) {
    errors.Require(!server.vouching_server().address().empty(), "vouching_servers",
                   absl::StrCat("VA '", server.va_id(), "': an endpoint needs an address"));
  }
  return errors.ToStatus();
}

absl::StatusOr<std::unique_ptr<StaplerDaemon>> BuildStaplerDaemon(const v1::StaplerConfig& config,
                                                                  const Clock& clock,
                                                                  prometheus::Registry* registry) {
  RETURN_IF_ERROR(ValidateStaplerConfig(config, "StaplerConfig"));
  for (const auto& [path, name] :
       {std::pair<std::string, const char*>{config.serverinfo_file(), "serverinfo_file"},
        {config.next_serverinfo_file(), "next_serverinfo_file"}}) {
    struct stat directory;
    const std::string parent = path.substr(0, path.rfind('/') + 1);
    if (!path.empty() && (stat(parent.c_str(), &directory) != 0 || !S_ISDIR(directory.st_mode))) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": the directory ", parent, " does not exist"));
    }
  }
  if (!config.reload_command().empty() && access(config.reload_command(0).c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("reload_command: ", config.reload_command(0),
                                                   " is not an executable program"));
  }
  auto daemon = std::make_unique<StaplerDaemon>();
  ASSIGN_OR_RETURN(daemon->vas, VaList::Load(config.va_list_file()));
  ServerIdentity identity;
  identity.hostname = config.hostname();
  identity.port = config.port();
  identity.trust_list = config.trust_list();
  identity.certificate_file = config.certificate_file();
  identity.key_file = config.key_file();
  identity.next_certificate_file = config.next_certificate_file();
  identity.next_key_file = config.next_key_file();
  ASSIGN_OR_RETURN(daemon->fetcher, VouchingFetcher::Create(identity, clock));

  // Each VA's Vouching Server endpoints, in the order they are tried (stapler/endpoint_failover.h).
  std::map<std::string, std::vector<v1::PeerConfig>> peers;
  for (const v1::StaplerVouchingServer& server : config.vouching_servers()) {
    if (daemon->vas->Find(server.va_id()) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("vouching_servers: VA '", server.va_id(), "' is not in the VA list"));
    }
    peers[server.va_id()].push_back(server.vouching_server());
  }
  std::vector<std::string> va_ids;
  for (const VaList::Entry& entry : daemon->vas->entries()) {
    const std::string& va_id = entry.config.id();
    if (peers.count(va_id) == 0) {
      if (entry.config.endpoints().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "VA '", va_id, "' has no endpoints in the VA list and no vouching_servers entry"));
      }
      for (const std::string& address : entry.config.endpoints()) {
        v1::PeerConfig& peer = peers[va_id].emplace_back();
        peer.set_address(address);
        *peer.mutable_tls() = config.default_tls();
      }
    }
    va_ids.push_back(va_id);
  }

  StaplerOptions options;
  options.cache_directory = config.cache_directory();
  options.refresh_interval = MillisecondsOr(config.refresh_interval_ms(), absl::Hours(6));
  options.jitter = config.jitter_percent() == 0 ? 0.1 : config.jitter_percent() / 100.0;
  options.initial_backoff = MillisecondsOr(config.initial_backoff_ms(), absl::Minutes(1));
  options.max_backoff = MillisecondsOr(config.max_backoff_ms(), absl::Hours(1));
  const absl::Duration timeout = MillisecondsOr(config.request_timeout_ms(), absl::Seconds(60));
  const absl::Duration max_age = MillisecondsOr(config.max_age_ms(), kDefaultMaxVdAge);
  if (mkdir(options.cache_directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache_directory ", options.cache_directory, " cannot be created"));
  }

  StaplerDaemon* raw = daemon.get();
  const std::string hostname = config.hostname();
  const uint32_t port = config.port();
  auto random = std::make_shared<std::mt19937_64>(std::random_device{}());
  daemon->stapler = std::make_unique<Stapler>(
      options, va_ids, clock,
      [raw, peers, timeout, &clock](const std::string& va_id) {
        // Every endpoint gets an equal share of the fetch's deadline (stapler/endpoint_failover.h).
        const std::vector<v1::PeerConfig>& endpoints = peers.at(va_id);
        EndpointTimeouts timeouts;
        timeouts.overall = timeout;
        timeouts.per_endpoint = timeout / static_cast<int64_t>(endpoints.size());
        return FetchFromEndpoints(
            endpoints, timeouts, clock,
            [raw](const v1::PeerConfig& endpoint, absl::Duration attempt_timeout) {
              return raw->fetcher->Vouch(endpoint, attempt_timeout);
            });
      },
      // Staple only what a client asking this VA would accept, for every served certificate.
      [raw, hostname, port, max_age, &clock](const std::string& va_id,
                                             const v1::VouchingData& vd) -> absl::Status {
        for (const std::string& leaf : raw->fetcher->leaf_certificates_der()) {
          VdExpectation expected;
          expected.hostname = hostname;
          expected.port = port;
          expected.certificate_der = leaf;
          expected.candidate_vas = {va_id};
          expected.now = clock.Now();
          expected.max_age = max_age;
          auto statement = VerifyVouchingData(vd, *raw->vas, expected);
          if (!statement.ok()) return statement.status();
        }
        return absl::OkStatus();
      },
      [random] { return std::uniform_real_distribution<double>(0.0, 1.0)(*random); });
  RETURN_IF_ERROR(daemon->stapler->LoadCache());
  if (registry != nullptr) {
    daemon->metrics =
        std::make_shared<StaplerMetrics>(*registry, va_ids, *daemon->stapler, clock, max_age);
    StaplerMetrics* metrics = daemon->metrics.get();
    daemon->stapler->SetFetchObserver(
        [metrics](const std::string& va_id, const std::string& outcome) {
          metrics->RecordFetch(va_id, outcome);
        });
  }

  // Stock TLS servers staple from files (docs/TLS_EXTENSION.md §7), one per served certificate.
  const std::vector<std::string>& leaves = raw->fetcher->leaf_certificates_der();
  ServerinfoOptions serverinfo;
  if (!config.serverinfo_file().empty()) {
    serverinfo.files.push_back({config.serverinfo_file(), leaves.front()});
  }
  if (!config.next_serverinfo_file().empty() && leaves.size() > 1) {
    serverinfo.files.push_back({config.next_serverinfo_file(), leaves.back()});
  }
  if (!serverinfo.files.empty()) {
    if (config.serverinfo_extension_type() != 0) {
      serverinfo.extension_type = static_cast<uint16_t>(config.serverinfo_extension_type());
    }
    serverinfo.reload_command.assign(config.reload_command().begin(),
                                     config.reload_command().end());
    serverinfo.reload_timeout = MillisecondsOr(config.reload_timeout_ms(), absl::Seconds(30));
    daemon->serverinfo = std::make_unique<ServerinfoPublisher>(
        std::move(serverinfo),
        // What a client connecting to this server would accept, for this file's certificate.
        [raw, hostname, port, max_age, &clock](const v1::VouchingData& vd,
                                               const std::string& certificate_der) {
          VdExpectation expected;
          expected.hostname = hostname;
          expected.port = port;
          expected.certificate_der = certificate_der;
          expected.now = clock.Now();
          expected.max_age = max_age;
          return VerifyVouchingData(vd, *raw->vas, expected).status();
        },
        &RunReloadCommand, registry);
    ServerinfoPublisher* publisher = daemon->serverinfo.get();
    daemon->stapler->SetListener(
        [publisher](std::shared_ptr<const VdSet> set) { publisher->Update(*set); });
  }
  return daemon;
}

}  // namespace mecai
