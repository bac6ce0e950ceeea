// In-memory TLS for tests and benchmarks: a client and a server SSL joined by a BIO pair, driven
// in one thread, and VDs signed with the golden-vector VA key of testdata/vd/.
#ifndef MECAI_STAPLER_TESTING_TLS_PAIR_H_
#define MECAI_STAPLER_TESTING_TLS_PAIR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/openssl_types.h"
#include "common/testing/in_memory_handshake.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace testing_tls {

// The path of a file of testdata/vd/ in the test's runfiles.
std::string VectorPath(const std::string& name);

// A server SSL_CTX serving `chain_file` (PEM, leaf first) and `key_file`, limited to
// `tls_version` (TLS1_2_VERSION or TLS1_3_VERSION).
absl::StatusOr<SslCtxPtr> MakeServerContext(const std::string& chain_file,
                                            const std::string& key_file, int tls_version);
// A client SSL_CTX limited to `tls_version`, without certificate verification (MECAI is checked
// by MecaiTlsClient; the tests' certificates chain to a test root).
SslCtxPtr MakeClientContext(int tls_version);

// The handshake over a BIO pair (common/testing/in_memory_handshake.h).
using ::mecai::HandshakeInMemory;

// A VD from va-example (testdata/vd/va.pem, signed with va.key.pem), or from va-other
// (other-va.pem, other-va.key.pem) when `va_id` names it, for `hostname`, vouching for the leaf
// certificates `leaf_files` (PEM), issued at `issued_at`.
absl::StatusOr<std::string> SignVouchingData(const std::string& hostname,
                                             const std::vector<std::string>& leaf_files,
                                             absl::Time issued_at,
                                             const std::string& va_id = "va-example");

}  // namespace testing_tls
}  // namespace mecai

#endif  // MECAI_STAPLER_TESTING_TLS_PAIR_H_
