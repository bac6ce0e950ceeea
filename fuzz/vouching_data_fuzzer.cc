// Fuzzes client-side Vouching Data verification (client/vd_verifier.h; docs/VOUCHING_DATA.md) with
// the golden vectors' fixtures (testdata/vd/README.md): VA list va-list.textproto, hostname
// www.example.com, handshake certificate server-leaf.pem, time T = 2026-03-01T12:00:00Z, maximum
// age 24 h. The first input byte picks the form:
//   even: the rest is a serialized VouchingData, as a client finds it in the TLS extension;
//   odd:  the rest is VouchingStatement bytes, which the target signs with va.key.pem and sends
//         with the chain [va.pem], so mutations reach the checks behind the signature.
// The first candidate-VA choice comes from the second byte: any VA, or "va-example".
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/crypto/openssl_types.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "fuzz/embedded_file.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace fuzz {
extern const EmbeddedFile kVouchingDataFixtures[];
namespace {

struct Fixtures {
  std::unique_ptr<VaList> vas;
  std::unique_ptr<InMemorySigningKey> va_key;
  std::string va_certificate_der;
  std::string server_leaf_der;
};

std::string FirstCertificateDer(const std::string& name) {
  auto certificates = ParsePemCertificates(EmbeddedContents(kVouchingDataFixtures, name));
  if (!certificates.ok() || certificates->empty()) std::abort();
  return CertificateToDer((*certificates)[0].get());
}

const Fixtures& GetFixtures() {
  static const Fixtures* fixtures = [] {
    const std::string directory = WriteEmbeddedFiles(kVouchingDataFixtures);
    auto vas = VaList::Load(directory + "/va-list.textproto");
    auto key = ParsePemPrivateKey(EmbeddedContents(kVouchingDataFixtures, "va.key.pem"));
    if (!vas.ok() || !key.ok()) {
      std::fprintf(stderr, "fuzz: fixtures do not load\n");
      std::abort();
    }
    auto signer = InMemorySigningKey::Create(std::move(*key));
    if (!signer.ok()) std::abort();
    return new Fixtures{std::move(*vas), std::move(*signer), FirstCertificateDer("va.pem"),
                        FirstCertificateDer("server-leaf.pem")};
  }();
  return *fixtures;
}

}  // namespace
}  // namespace fuzz
}  // namespace mecai

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mecai::fuzz::DiscardProtobufLogs();
  mecai::fuzz::GetFixtures();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mecai::fuzz::GetFixtures;
  if (size < 2) return 0;
  const std::string rest(reinterpret_cast<const char*>(data + 2), size - 2);
  mecai::v1::VouchingData vouching_data;
  if (data[0] % 2 == 1) {
    absl::StatusOr<mecai::v1::Signature> signature =
        mecai::SignObject(*GetFixtures().va_key, mecai::SignedObject::kVouchingStatement, rest);
    if (!signature.ok()) std::abort();
    vouching_data.set_statement(rest);
    *vouching_data.mutable_signature() = *signature;
    vouching_data.add_va_certificate_chain_der(GetFixtures().va_certificate_der);
  } else if (!vouching_data.ParseFromString(rest)) {
    return 0;
  }
  mecai::VdExpectation expected;
  expected.hostname = "www.example.com";
  expected.certificate_der = GetFixtures().server_leaf_der;
  if (data[1] % 2 == 1) expected.candidate_vas = {"va-example"};
  expected.now = absl::FromUnixSeconds(1772366400);
  expected.max_age = absl::Hours(24);
  absl::StatusOr<mecai::v1::VouchingStatement> statement =
      mecai::VerifyVouchingData(vouching_data, *GetFixtures().vas, expected);
  if (getenv("MECAI_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "VD outcome: %s\n", statement.status().ToString().c_str());
  }
  if (statement.ok() && statement->hostname() != expected.hostname) {
    std::fprintf(stderr, "an accepted VD names hostname %s\n", statement->hostname().c_str());
    std::abort();
  }
  return 0;
}
