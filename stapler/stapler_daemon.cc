#include "stapler/stapler_daemon.h"

#include <sys/stat.h>

#include <cerrno>
#include <map>

#include "absl/strings/str_cat.h"
#include "client/vd_verifier.h"
#include "common/base/status.h"

namespace mecai {
namespace {

absl::Duration MillisecondsOr(uint64_t milliseconds, absl::Duration fallback) {
  return milliseconds == 0 ? fallback : absl::Milliseconds(static_cast<int64_t>(milliseconds));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StaplerDaemon>> BuildStaplerDaemon(const v1::StaplerConfig& config,
                                                                  const Clock& clock) {
  for (const auto& [value, name] :
       {std::pair<std::string, const char*>{config.va_list_file(), "va_list_file"},
        {config.hostname(), "hostname"},
        {config.trust_list(), "trust_list"},
        {config.certificate_file(), "certificate_file"},
        {config.key_file(), "key_file"},
        {config.cache_directory(), "cache_directory"}}) {
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(name, " is required"));
  }
  if (config.port() == 0 || config.port() > 65535) {
    return absl::InvalidArgumentError("port must be 1..65535");
  }
  if (config.jitter_percent() > 50) {
    return absl::InvalidArgumentError("jitter_percent must be at most 50");
  }
  if (!config.next_key_file().empty() && config.next_certificate_file().empty()) {
    return absl::InvalidArgumentError("next_key_file needs next_certificate_file");
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

  // Each VA's Vouching Server.
  std::map<std::string, v1::PeerConfig> peers;
  for (const v1::StaplerVouchingServer& server : config.vouching_servers()) {
    if (daemon->vas->Find(server.va_id()) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("vouching_servers: VA '", server.va_id(), "' is not in the VA list"));
    }
    peers[server.va_id()] = server.vouching_server();
  }
  std::vector<std::string> va_ids;
  for (const VaList::Entry& entry : daemon->vas->entries()) {
    const std::string& va_id = entry.config.id();
    if (peers.count(va_id) == 0) {
      if (entry.config.endpoints().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "VA '", va_id, "' has no endpoints in the VA list and no vouching_servers entry"));
      }
      v1::PeerConfig peer;
      peer.set_address(entry.config.endpoints(0));
      *peer.mutable_tls() = config.default_tls();
      peers[va_id] = peer;
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
      [raw, peers, timeout](const std::string& va_id) {
        return raw->fetcher->Fetch(peers.at(va_id), timeout);
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
  return daemon;
}

}  // namespace mecai
