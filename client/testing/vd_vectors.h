// The fixed inputs of the golden Vouching Data vectors in testdata/vd/ (docs/VOUCHING_DATA.md
// "Golden vectors"): names, times and the statement, shared by the generator
// (make_vd_vectors.cc) and the test that checks the committed files (vd_vectors_test.cc), so the
// committed statement bytes can be rebuilt from the committed certificates.
#ifndef MECAI_CLIENT_TESTING_VD_VECTORS_H_
#define MECAI_CLIENT_TESTING_VD_VECTORS_H_

#include <string>

#include "absl/time/time.h"
#include "client/vd_verifier.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace vd_vectors {

// The VA the vectors are issued by, and a second VA of the list with its own CA.
inline constexpr char kVaId[] = "va-example";
inline constexpr char kOtherVaId[] = "va-other";
inline constexpr char kHostname[] = "www.example.com";
inline constexpr char kOtherHostname[] = "other.example.com";
inline constexpr uint32_t kPort = 443;
inline constexpr char kTrustList[] = "mozilla";
inline constexpr uint64_t kLogIndex = 1234;
inline constexpr char kLogShardId[] = "shard-2026a";
// The logged vector (docs/VOUCHING_DATA.md "Logged VDs"): the statement is entry kLogIndex of a
// log of kLoggedTreeSize entries; every other entry i is LoggedVectorEntry(i).
inline constexpr char kLogOriginPrefix[] = "log.example.net/mecai";
inline constexpr uint64_t kLoggedTreeSize = 2000;
// The record SHA-256 of entry i: SHA-256("vector record <i>").
std::string LoggedVectorRecordSha256(uint64_t index);

// Validity of every certificate of the vectors: 2026-01-01T00:00:00Z to 2046-01-01T00:00:00Z.
absl::Time CertificatesNotBefore();
absl::Time CertificatesNotAfter();
// When the VA signed the vector statements: 2026-03-01T00:00:00Z.
absl::Time IssuedAt();
// The time the vectors are verified at, 2026-03-01T12:00:00Z, with kMaxAge.
absl::Time VerificationTime();
inline constexpr absl::Duration kMaxAge = absl::Hours(24);

// The expectation README.md states for valid.vd and logged.vd: the vectors' hostname, the
// certificate `server_leaf_der` (server-leaf.pem), any listed VA, VerificationTime() and kMaxAge.
VdExpectation VectorExpectation(const std::string& server_leaf_der);

// The statement of valid.vd, vouching for the certificate whose DER is `server_leaf_der`.
v1::VouchingStatement ValidStatement(const std::string& server_leaf_der);

}  // namespace vd_vectors
}  // namespace mecai

#endif  // MECAI_CLIENT_TESTING_VD_VECTORS_H_
