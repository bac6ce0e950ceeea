#include "client/testing/vd_vectors.h"

#include "absl/strings/str_cat.h"
#include "common/crypto/hashing.h"
#include "common/crypto/signed_object.h"

namespace mecai {
namespace vd_vectors {

absl::Time CertificatesNotBefore() { return absl::FromUnixSeconds(1767225600); }
absl::Time CertificatesNotAfter() { return absl::FromUnixSeconds(2398377600); }
absl::Time IssuedAt() { return absl::FromUnixSeconds(1772323200); }
absl::Time VerificationTime() { return IssuedAt() + absl::Hours(12); }

VdExpectation VectorExpectation(const std::string& server_leaf_der) {
  VdExpectation expected;
  expected.hostname = kHostname;
  expected.certificate_der = server_leaf_der;
  expected.now = VerificationTime();
  expected.max_age = kMaxAge;
  return expected;
}

v1::VouchingStatement ValidStatement(const std::string& server_leaf_der) {
  v1::VouchingStatement statement;
  statement.set_version(kVouchingStatementVersion);
  statement.set_va_id(kVaId);
  statement.set_trust_list(kTrustList);
  statement.set_hostname(kHostname);
  statement.set_port(kPort);
  statement.add_certificate_sha256(Sha256(server_leaf_der));
  statement.set_revocation_checked_at_unix_seconds(
      absl::ToUnixSeconds(IssuedAt() - absl::Seconds(120)));
  statement.set_revocation_source(v1::OCSP);
  statement.set_probed_at_unix_seconds(absl::ToUnixSeconds(IssuedAt() - absl::Seconds(60)));
  const char* const perspectives[][2] = {
      {"eu-central-1a", "eu-central-1"},
      {"us-east-1a", "us-east-1"},
      {"ap-southeast-1a", "ap-southeast-1"},
  };
  for (const auto& [id, region] : perspectives) {
    v1::Perspective* perspective = statement.add_perspectives();
    perspective->set_id(id);
    perspective->set_region(region);
  }
  statement.set_log_index(kLogIndex);
  statement.set_log_shard_id(kLogShardId);
  statement.set_issued_at_unix_seconds(absl::ToUnixSeconds(IssuedAt()));
  return statement;
}

std::string LoggedVectorRecordSha256(uint64_t index) {
  return Sha256(absl::StrCat("vector record ", index));
}

}  // namespace vd_vectors
}  // namespace mecai
