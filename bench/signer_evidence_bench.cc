// Bytes sent to the signer per VR when decisions rely on a large CRL (ARCHITECTURE.md §8
// "Evidence by content hash"): SignVouching requests that name the CRL by its SHA-256, plus the
// one upload of the CRL the signer asks for (UploadEvidence) and the round trip that asks, against
// the baseline, in the same run, of requests that each carry the CRL whole. The CRL is a real one:
// OpenSSL-signed by a CA, listing REVOKED_SERIALS 16-byte serial numbers with a reason code, as a
// large CA's does. The requests are the size of real decisions (bench/realistic_record.h). Also
// the coordinator's cost of naming the CRL: one SHA-256 of it per request.
//
// Usage: signer_evidence_bench [VRS [REVOKED_SERIALS]]  (default 1000 VRs, 48000 serials)
#include <stdlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/realistic_record.h"
#include "common/crypto/hashing.h"
#include "common/pki/pki_builder.h"
#include "coordinator/signer_evidence_upload.h"
#include "proto/mecai/v1/signer.pb.h"

namespace mecai {
namespace {

constexpr char kShard[] = "bench-shard";

// A CA's DER CRL listing `serials` revoked certificates.
absl::StatusOr<std::string> LargeCrl(int serials) {
  const absl::Time now = absl::Now();
  CertificateSpec spec;
  spec.common_name = "Bench Issuing CA";
  spec.is_certificate_authority = true;
  spec.not_before = now - absl::Hours(1);
  spec.not_after = now + absl::Hours(24 * 365);
  absl::StatusOr<EvpPkeyPtr> key = GenerateEcKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> ca = IssueCertificate(spec, key->get(), nullptr, key->get());
  if (!ca.ok()) return ca.status();
  CrlSpec crl;
  crl.this_update = now - absl::Minutes(5);
  crl.next_update = now + absl::Hours(24 * 7);
  for (int i = 0; i < serials; ++i) {
    std::string serial = Sha256(absl::StrCat("revoked serial ", i)).substr(0, 16);
    serial[0] = static_cast<char>((serial[0] & 0x7f) | 0x01);
    crl.revoked.push_back({nullptr, now - absl::Hours(1 + i % 1000), /*superseded*/ 4, serial});
  }
  return IssueCrlDer(crl, ca->get(), key->get());
}

// The SignVouchingRequest of decision `index` (its VR, three Observations, a nonce) and the
// revocation evidence it relied on: `crl`.
v1::SignVouchingRequest RequestFor(uint64_t index, std::vector<v1::RevocationEvidence>* evidence,
                                   const std::string& crl) {
  const v1::QuorumRecord record = RealisticRecord(index, kShard);
  v1::SignVouchingRequest request;
  request.set_vouching_request(record.vouching_request());
  for (const v1::PerspectiveResult& result : record.perspectives()) {
    *request.add_observations() = result.observation();
  }
  request.set_probe_nonce(std::string(32, 'n'));
  request.set_log_index(index);
  request.set_log_shard_id(kShard);
  evidence->clear();
  v1::RevocationEvidence& used = evidence->emplace_back();
  used.set_certificate_sha256(Sha256(absl::StrCat("certificate ", index)));
  used.set_source(v1::CRL);
  used.set_url("http://crl.example/issuing-ca.crl");
  used.set_obtained_at_unix_seconds(absl::ToUnixSeconds(absl::Now()));
  used.set_response_der(crl);
  return request;
}

// The bytes of the UploadEvidence messages that carry `der`, in the coordinator's chunks.
size_t UploadBytes(const std::string& der) {
  size_t bytes = 0;
  for (size_t offset = 0; offset < der.size(); offset += kSignerEvidenceChunkBytes) {
    v1::UploadEvidenceRequest message;
    if (offset == 0) {
      message.set_response_sha256(Sha256(der));
      message.set_total_bytes(der.size());
    }
    message.set_chunk(der.substr(offset, kSignerEvidenceChunkBytes));
    bytes += message.ByteSizeLong();
  }
  return bytes;
}

int Run(uint64_t vrs, int serials) {
  absl::StatusOr<std::string> crl = LargeCrl(serials);
  if (!crl.ok()) {
    std::fprintf(stderr, "%s\n", std::string(crl.status().message()).c_str());
    return 1;
  }
  size_t inline_bytes = 0;
  size_t by_hash_bytes = 0;
  absl::Duration hashing;
  std::vector<v1::RevocationEvidence> evidence;
  for (uint64_t i = 0; i < vrs; ++i) {
    const v1::SignVouchingRequest base = RequestFor(i, &evidence, *crl);
    v1::SignVouchingRequest carried = base;
    for (const v1::RevocationEvidence& item : evidence) *carried.add_revocation() = item;
    inline_bytes += carried.ByteSizeLong();
    v1::SignVouchingRequest named = base;
    const absl::Time started = absl::Now();
    AddEvidenceByHash(evidence, &named);
    hashing += absl::Now() - started;
    by_hash_bytes += named.ByteSizeLong();
  }
  // The first VR also costs the signer's answer that it lacks the CRL, the upload, and the same
  // request once more.
  std::vector<v1::RevocationEvidence> first_evidence;
  v1::SignVouchingRequest first = RequestFor(0, &first_evidence, *crl);
  AddEvidenceByHash(first_evidence, &first);
  v1::SignVouchingResponse needed;
  needed.mutable_evidence_needed()->add_response_sha256(Sha256(*crl));
  const size_t upload = UploadBytes(*crl);
  const size_t total_by_hash =
      by_hash_bytes + first.ByteSizeLong() + needed.ByteSizeLong() + upload;
  const double per_vr_inline = static_cast<double>(inline_bytes) / static_cast<double>(vrs);
  const double per_vr_by_hash = static_cast<double>(by_hash_bytes) / static_cast<double>(vrs);
  const double per_vr_total = static_cast<double>(total_by_hash) / static_cast<double>(vrs);
  std::printf(
      "| VRs | CRL bytes (revoked serials) | signing request, CRL inline | signing request, CRL by "
      "hash | ratio | bytes to the signer per VR, the one upload included | ratio |\n");
  std::printf("|--:|--:|--:|--:|--:|--:|--:|\n");
  std::printf("| %llu | %zu (%d) | %.0f | %.0f | %.0fx smaller | %.0f | %.1fx smaller |\n",
              static_cast<unsigned long long>(vrs), crl->size(), serials, per_vr_inline,
              per_vr_by_hash, per_vr_inline / per_vr_by_hash, per_vr_total,
              per_vr_inline / per_vr_total);
  std::printf("\n| coordinator: SHA-256 of the CRL per request | upload of the CRL, once |\n");
  std::printf("|--:|--:|\n");
  std::printf("| %.0f µs | %zu bytes in %zu messages |\n",
              absl::ToDoubleMicroseconds(hashing) / static_cast<double>(vrs), upload,
              (crl->size() + kSignerEvidenceChunkBytes - 1) / kSignerEvidenceChunkBytes);
  return 0;
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  uint64_t vrs = 1000;
  int serials = 48000;
  if (argc > 3 || (argc > 1 && (!absl::SimpleAtoi(argv[1], &vrs) || vrs == 0)) ||
      (argc > 2 && (!absl::SimpleAtoi(argv[2], &serials) || serials < 0))) {
    std::fprintf(stderr, "usage: signer_evidence_bench [VRS [REVOKED_SERIALS]]\n");
    return 2;
  }
  return mecai::Run(vrs, serials);
}
