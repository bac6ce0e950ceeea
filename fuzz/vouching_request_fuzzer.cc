// Fuzzes the VR checks every coordinator and signer runs on untrusted input (ARCHITECTURE.md §3;
// trust rules 1 and 8): CheckVouchingRequest with a trust list "test-roots" holding one fixed test
// root (fuzz/testdata/vr-root.pem), at the fixed time FuzzNow(). The first input byte picks the
// form:
//   even: the rest is a serialized VouchingRequest, exactly as a TLS server sends it;
//   odd:  the rest is VouchingRequestBody bytes, which the target signs with the fixed leaf key
//         (fuzz/testdata/vr-leaf.key.pem) into a single-form VR, so mutations reach the checks
//         behind the signature.
// An accepted VR must have one or two chains, each with its leaf hash and validated path.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/trust_lists.h"
#include "common/evidence/vouching_request.h"
#include "fuzz/embedded_file.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace fuzz {
extern const EmbeddedFile kVouchingRequestFixtures[];
namespace {

struct Fixtures {
  std::unique_ptr<TrustLists> trust_lists;
  std::unique_ptr<InMemorySigningKey> leaf_key;
};

const Fixtures& GetFixtures() {
  static const Fixtures* fixtures = [] {
    const std::string directory = WriteEmbeddedFiles(kVouchingRequestFixtures);
    google::protobuf::RepeatedPtrField<v1::TrustListConfig> configs;
    v1::TrustListConfig* config = configs.Add();
    config->set_name("test-roots");
    config->set_pem_file(directory + "/vr-root.pem");
    auto trust_lists = TrustLists::Load(configs);
    auto key = ParsePemPrivateKey(EmbeddedContents(kVouchingRequestFixtures, "vr-leaf.key.pem"));
    if (!trust_lists.ok() || !key.ok()) {
      std::fprintf(stderr, "fuzz: fixtures do not load\n");
      std::abort();
    }
    auto signer = InMemorySigningKey::Create(std::move(*key));
    if (!signer.ok()) std::abort();
    return new Fixtures{std::move(*trust_lists), std::move(*signer)};
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
  if (size == 0) return 0;
  std::string request(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 1) {
    mecai::v1::VouchingRequest signed_request;
    absl::StatusOr<mecai::v1::Signature> signature = mecai::SignObject(
        *GetFixtures().leaf_key, mecai::SignedObject::kVouchingRequestBody, request);
    if (!signature.ok()) std::abort();
    signed_request.mutable_single()->set_tbs(request);
    *signed_request.mutable_single()->mutable_signature() = *signature;
    request = signed_request.SerializeAsString();
  }
  mecai::VouchingRequestCheck check = mecai::CheckVouchingRequest(
      request, mecai::VouchingRequestLimits(), *GetFixtures().trust_lists, mecai::fuzz::FuzzNow());
  if (getenv("MECAI_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "VR outcome: %s\n", check.refusal.ShortDebugString().c_str());
  }
  if (check.accepted()) {
    const mecai::VerifiedVouchingRequest& verified = check.request;
    const size_t chains = verified.chains.size();
    if (chains < 1 || chains > 2 || verified.leaf_sha256.size() != chains ||
        verified.validated_paths.size() != chains) {
      std::fprintf(stderr, "an accepted VR has %zu chains\n", chains);
      std::abort();
    }
  }
  return 0;
}
