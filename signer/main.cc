// signer --config FILE: signs Vouching Data with the VA key inside a PKCS#11 token, after checking
// the evidence itself (ARCHITECTURE.md §1). Flags → config → wiring → serve.
#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/logging.h"
#include "common/base/metrics.h"
#include "common/base/service_main.h"
#include "common/base/shutdown_signal.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/evidence/enrolled_agents.h"
#include "common/evidence/trust_list_change.h"
#include "common/evidence/trust_list_reloader.h"
#include "common/evidence/trust_lists.h"
#include "common/pkcs11/pkcs11_key.h"
#include "common/rpc/certificate_expiry_metrics.h"
#include "common/rpc/grpc_server.h"
#include "common/rpc/tls_credentials.h"
#include "signer/evidence_cache.h"
#include "signer/evidence_metrics.h"
#include "signer/evidence_upload.h"
#include "signer/log_state.h"
#include "signer/signer_config.h"
#include "signer/signer_service.h"
#include "signer/va_certificate.h"
#include "signer/vouching_signer.h"

namespace {

constexpr char kUsage[] =
    "usage: signer --config FILE\n"
    "\n"
    "Serves mecai.v1.SignerService over mutual TLS. Signs Vouching Data and log checkpoints with\n"
    "the VA key held in a PKCS#11 token (SoftHSM2 by default), only after re-checking the VR,\n"
    "every Observation and the quorum policy itself.\n"
    "FILE is a mecai.v1.SignerConfig in protobuf text format.\n";

absl::Status Run(const std::string& config_path) {
  ASSIGN_OR_RETURN(auto loaded, mecai::LoadConfig<mecai::v1::SignerConfig>(config_path));
  mecai::v1::SignerConfig config = mecai::WithSignerDefaults(loaded);
  RETURN_IF_ERROR(mecai::ValidateSignerConfig(config, config_path));
  ASSIGN_OR_RETURN(auto trust_lists, mecai::TrustLists::Load(config.trust_lists()));
  // Trust-list changes only from the maintainers, whose keys this configuration names;
  // every change kept from earlier runs is verified again before the signer serves.
  ASSIGN_OR_RETURN(mecai::MaintainerKeys maintainer_keys,
                   mecai::MaintainerKeys::Load(config.trust_list_maintainer_key_files()));
  const std::string changes_file = config.trust_list_changes_file();
  std::string kept_changes;
  if (!changes_file.empty()) {
    auto bytes = mecai::ReadFile(changes_file);
    if (bytes.ok()) {
      kept_changes = *std::move(bytes);
    } else if (bytes.status().code() != absl::StatusCode::kNotFound) {
      return mecai::Annotate(bytes.status(), "trust_list_changes_file");
    }
  }
  ASSIGN_OR_RETURN(
      auto trust_list_changes,
      mecai::TrustListChangeLedger::Restore(
          kept_changes, changes_file.empty() ? "trust_list_changes_file" : changes_file,
          std::move(maintainer_keys), *trust_lists, [changes_file](const std::string& bytes) {
            if (changes_file.empty()) {
              return absl::FailedPreconditionError("trust_list_changes_file is not set");
            }
            return mecai::WriteFileAtomically(changes_file, bytes, 0600);
          }));
  if (!trust_list_changes->Changes().empty()) {
    MECAI_LOG_EVENT(Info, "trust_list_changes_reapplied")
        << "re-applied " << trust_list_changes->Changes().size()
        << " maintainer-signed trust-list changes from " << changes_file;
  }
  ASSIGN_OR_RETURN(auto agents, mecai::EnrolledAgents::Load(config.agents()));
  ASSIGN_OR_RETURN(auto va_chain, mecai::LoadPemCertificates(config.va_certificate_chain_file()));
  // The VA key is EC P-256 or RSA ≥ 2048 bits (config.proto Pkcs11Config.key_label): the
  // signatures OCSP clients verify (MECAI proposal). An Ed25519 key, which the PKCS#11 layer opens
  // for probe agents, is refused by name.
  auto key = mecai::Pkcs11SigningKey::Open(
      config.pkcs11(),
      {mecai::v1::ECDSA_P256_SHA256, mecai::v1::RSA_PKCS1_SHA256, mecai::v1::RSA_PSS_SHA256});
  if (!key.ok()) return mecai::Annotate(key.status(), "PKCS#11 token");
  ASSIGN_OR_RETURN(auto ca_certificates, mecai::LoadPemCertificates(config.ca_certificate_file()));
  ASSIGN_OR_RETURN(mecai::EvpPkeyPtr token_key, (*key)->PublicKey());
  RETURN_IF_ERROR(
      mecai::CheckVaCertificate(va_chain, token_key.get(), ca_certificates, absl::Now()));
  // The log key signs checkpoints only (docs/VOUCHING_DATA.md "Keys"): another object in the same
  // token, P-256 or Ed25519, and never the VA key itself.
  mecai::v1::Pkcs11Config log_key_config = config.pkcs11();
  log_key_config.set_key_label(config.log_key_label());
  log_key_config.set_rsa_pss(false);
  auto log_key = mecai::Pkcs11SigningKey::Open(log_key_config,
                                               {mecai::v1::ECDSA_P256_SHA256, mecai::v1::ED25519});
  if (!log_key.ok()) return mecai::Annotate(log_key.status(), "PKCS#11 token, log_key_label");
  ASSIGN_OR_RETURN(mecai::EvpPkeyPtr log_public_key, (*log_key)->PublicKey());
  if (EVP_PKEY_eq(log_public_key.get(), token_key.get()) == 1) {
    return absl::InvalidArgumentError(
        "log_key_label: the log key is the VA key; checkpoints and VDs must be signed by "
        "different keys");
  }
  // A C2SP checkpoint note carries an Ed25519 signature (docs/PUBLIC_LOG.md).
  if (!config.log_origin_prefix().empty() && (*log_key)->algorithm() != mecai::v1::ED25519) {
    return absl::FailedPreconditionError(
        "log_origin_prefix: checkpoint notes need an Ed25519 log key (log_key_label); this one "
        "is not");
  }
  ASSIGN_OR_RETURN(auto log_state, mecai::SignerLogState::Open(config.log_state_file()));
  std::vector<std::string> va_chain_der;
  for (const auto& certificate : va_chain) {
    va_chain_der.push_back(mecai::CertificateToDer(certificate.get()));
  }
  auto registry = std::make_shared<prometheus::Registry>();
  mecai::GrpcServerMetrics grpc_metrics(*registry);
  mecai::SignerMetrics metrics(*registry);
  // The notAfter of the signer's TLS identity, its client CA and the VA certificate chain
  // (mecai_certificate_expiry_timestamp_seconds): a VA certificate that expires stops every VD.
  mecai::CertificateExpiryMetrics certificate_expiry(
      *registry, "signer",
      mecai::TlsReloadInterval(config.listen().tls().reload_interval_seconds()));
  RETURN_IF_ERROR(certificate_expiry.WatchListener(config.listen()));
  RETURN_IF_ERROR(
      certificate_expiry.Watch(mecai::kVaCertificate, config.va_certificate_chain_file()));
  // Serves /metrics when listen.metrics_address is set.
  ASSIGN_OR_RETURN(auto metrics_server, mecai::MetricsServer::Start(config.listen(), registry));
  // The approval service's record-signing key (ARCHITECTURE.md §7), when trust lists require
  // approval.
  mecai::EvpPkeyPtr approval_key;
  if (!config.approval_public_key_file().empty()) {
    auto loaded_key = mecai::LoadPemPublicKey(config.approval_public_key_file());
    if (!loaded_key.ok()) {
      return mecai::Annotate(loaded_key.status(), "approval_public_key_file");
    }
    approval_key = *std::move(loaded_key);
  }
  // Revocation responses requests name by hash (ARCHITECTURE.md §8 "Evidence by content hash").
  mecai::EvidenceMetrics evidence_metrics(*registry);
  mecai::EvidenceCache evidence_cache(static_cast<size_t>(config.evidence_cache_bytes()),
                                      &evidence_metrics);
  mecai::VouchingSigner signer(config, std::move(va_chain_der),
                               {**key, **log_key, log_public_key.get()}, *log_state, *agents,
                               *trust_lists, mecai::SystemClock::Get(), &metrics,
                               approval_key.get(), &evidence_cache);
  mecai::EvidenceUploadLimits upload_limits;
  upload_limits.max_bytes = config.max_evidence_upload_bytes();
  upload_limits.timeout = absl::Seconds(config.evidence_upload_timeout_seconds());
  mecai::SignerServiceImpl service(signer, trust_list_changes.get(),
                                   {&evidence_cache, upload_limits, &evidence_metrics});
  mecai::TrustListReloader reloader(*trust_lists,
                                    absl::Seconds(config.trust_list_reload_seconds()));
  ASSIGN_OR_RETURN(auto server, mecai::StartServer(config.listen(), {&service}, &grpc_metrics));
  MECAI_LOG(Info) << "log key '" << config.log_key_label() << "': SubjectPublicKeyInfo SHA-256 "
                  << mecai::HexEncode(mecai::Sha256(mecai::PublicKeyToDer(log_public_key.get())));
  MECAI_LOG(Info) << "signer for VA " << config.va_id() << " ready; token '"
                  << config.pkcs11().token_label() << "', " << agents->size() << " enrolled agents";
  mecai::ServeUntilSignal(*server);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) { return mecai::ServiceMain(argc, argv, "signer", kUsage, Run); }
