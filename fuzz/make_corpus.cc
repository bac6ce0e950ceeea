// Writes the seed corpora of the fuzz targets and the fixed keys and root they need:
//
//   bazel run //fuzz:make_corpus -- "$PWD/fuzz" "$PWD/testdata/vd"
//
// Into <fuzz>/testdata/: vr-root.pem and vr-leaf.key.pem (the VR target's trust-list root and the
// key of the seed VRs' leaf), agent.key.pem and agent.pub.pem (the enrolled Observation signer).
// Into <fuzz>/corpus/<target>/: a few valid inputs per target, each in every input form the target
// reads (see the comment at the top of each *_fuzzer.cc). The VD seeds are the golden vectors of
// <testdata/vd>. All keys are throwaway test keys, published on purpose. Running it again makes
// new keys and rewrites every seed that depends on them.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/vouching_request.h"
#include "common/pki/pki_builder.h"
#include "common/testing/test_pki.h"
#include "common/tls_extension/mecai_extension.h"
#include "fuzz/observation_expectation.h"
#include "proto/mecai/v1/probe.pb.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {
namespace {

constexpr char kHost[] = "www.example.test";

absl::Status Write(const std::string& path, const std::string& contents) {
  return WriteFileAtomically(path, contents);
}

// `form` then `payload`: the input layout of the targets that read a form byte.
std::string WithForm(char form, const std::string& payload) {
  return std::string(1, form) + payload;
}

v1::VouchingRequestBody RequestBody(absl::Time timestamp) {
  v1::VouchingRequestBody body;
  body.set_hostname(kHost);
  body.set_port(443);
  body.set_trust_list("test-roots");
  body.set_timestamp_unix_seconds(absl::ToUnixSeconds(timestamp));
  body.set_nonce("nonce-0123456789");
  return body;
}

absl::Status WriteVouchingRequestSeeds(const std::string& fuzz_directory) {
  ASSIGN_OR_RETURN(test_pki::TestPki pki, test_pki::BuildTestPki(kHost));
  ASSIGN_OR_RETURN(std::string root_pem, ReadFile(pki.root_pem_path));
  RETURN_IF_ERROR(Write(fuzz_directory + "/testdata/vr-root.pem", root_pem));
  RETURN_IF_ERROR(
      Write(fuzz_directory + "/testdata/vr-leaf.key.pem", PrivateKeyToPem(pki.leaf.key.get())));
  ASSIGN_OR_RETURN(test_pki::IssuedCertificate next, pki.IssueLeaf(kHost, test_pki::LeafOptions()));
  ASSIGN_OR_RETURN(auto leaf_signer, test_pki::SignerFor(pki.leaf.key.get()));
  ASSIGN_OR_RETURN(auto next_signer, test_pki::SignerFor(next.key.get()));
  const std::vector<std::string> chain = pki.ChainDer();
  const std::vector<std::string> next_chain = {next.der, pki.intermediate.der};
  const std::string directory = fuzz_directory + "/corpus/vouching_request/";

  const v1::VouchingRequestBody body = RequestBody(test_pki::FixtureNow());
  ASSIGN_OR_RETURN(std::string single, BuildVouchingRequest(body, chain, *leaf_signer));
  RETURN_IF_ERROR(Write(directory + "single", WithForm(0, single)));
  ASSIGN_OR_RETURN(std::string rollover, BuildRolloverVouchingRequest(body, chain, *leaf_signer,
                                                                      next_chain, *next_signer));
  RETURN_IF_ERROR(Write(directory + "rollover", WithForm(0, rollover)));
  // A renewal on the same key travels as the next chain of a single-form VR.
  ASSIGN_OR_RETURN(test_pki::IssuedCertificate renewed,
                   pki.IssueLeaf(kHost, test_pki::LeafOptions(), pki.leaf.key.get()));
  v1::VouchingRequestBody with_next_body = body;
  with_next_body.add_same_key_next_certificate_chain_der(renewed.der);
  with_next_body.add_same_key_next_certificate_chain_der(pki.intermediate.der);
  ASSIGN_OR_RETURN(std::string with_next,
                   BuildVouchingRequest(with_next_body, chain, *leaf_signer));
  RETURN_IF_ERROR(Write(directory + "single-with-next-chain", WithForm(0, with_next)));
  ASSIGN_OR_RETURN(std::string stale,
                   BuildVouchingRequest(RequestBody(test_pki::FixtureNow() - absl::Hours(1)), chain,
                                        *leaf_signer));
  RETURN_IF_ERROR(Write(directory + "stale", WithForm(0, stale)));

  v1::VouchingRequestBody signed_body = body;
  for (const std::string& der : chain) signed_body.add_certificate_chain_der(der);
  RETURN_IF_ERROR(
      Write(directory + "body-signed-by-target", WithForm(1, signed_body.SerializeAsString())));
  signed_body.set_hostname("other.example.test");
  RETURN_IF_ERROR(Write(directory + "body-other-hostname-signed-by-target",
                        WithForm(1, signed_body.SerializeAsString())));
  return absl::OkStatus();
}

absl::Status WriteObservationSeeds(const std::string& fuzz_directory) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateEcKey(256));
  RETURN_IF_ERROR(Write(fuzz_directory + "/testdata/agent.key.pem", PrivateKeyToPem(key.get())));
  RETURN_IF_ERROR(Write(fuzz_directory + "/testdata/agent.pub.pem", PublicKeyToPem(key.get())));
  const ObservationExpectation expected = fuzz::FuzzObservationExpectation();

  v1::ObservationBody body;
  body.mutable_perspective()->set_id(fuzz::kFuzzAgentId);
  body.mutable_perspective()->set_region(fuzz::kFuzzAgentRegion);
  body.set_hostname(expected.hostname);
  body.set_port(expected.port);
  body.set_vouching_request_sha256(expected.request_sha256);
  body.set_nonce(expected.nonce);
  body.set_started_at_unix_milliseconds(absl::ToUnixMillis(expected.now - absl::Seconds(3)));
  body.set_finished_at_unix_milliseconds(absl::ToUnixMillis(expected.now - absl::Seconds(2)));
  body.set_outcome(v1::PROBE_OK);
  body.set_a_resolution(v1::RESOLUTION_NOERROR);
  body.set_aaaa_resolution(v1::RESOLUTION_NODATA);
  body.add_resolved_addresses("192.0.2.1");
  v1::AddressObservation* address = body.add_addresses();
  address->set_address("192.0.2.1");
  address->set_outcome(v1::PROBE_OK);
  address->set_leaf_sha256(Sha256("leaf"));
  address->set_tls_version("TLSv1.3");

  const std::string directory = fuzz_directory + "/corpus/observation/";
  const std::string tbs = body.SerializeAsString();
  v1::SignedObservation observation;
  observation.set_tbs(tbs);
  ASSIGN_OR_RETURN(auto observation_signer, test_pki::SignerFor(key.get()));
  ASSIGN_OR_RETURN(*observation.mutable_signature(),
                   SignObject(*observation_signer, SignedObject::kObservation, tbs));
  RETURN_IF_ERROR(Write(directory + "signed", WithForm(0, observation.SerializeAsString())));
  RETURN_IF_ERROR(Write(directory + "body-signed-by-target", WithForm(1, tbs)));
  v1::ObservationBody mismatch = body;
  mismatch.mutable_addresses(0)->set_outcome(v1::PROBE_HANDSHAKE_FAILED);
  mismatch.mutable_addresses(0)->set_error_class(v1::TLS_ALERT);
  mismatch.mutable_addresses(0)->set_tls_alert(40);
  mismatch.set_outcome(v1::PROBE_HANDSHAKE_FAILED);
  RETURN_IF_ERROR(Write(directory + "handshake-failed-signed-by-target",
                        WithForm(1, mismatch.SerializeAsString())));
  return absl::OkStatus();
}

absl::Status WriteVouchingDataSeeds(const std::string& fuzz_directory,
                                    const std::string& vectors_directory) {
  const std::string directory = fuzz_directory + "/corpus/vouching_data/";
  for (const char* name :
       {"valid", "tampered-statement", "wrong-va-id", "no-ocsp-eku", "version-1", "version-3"}) {
    ASSIGN_OR_RETURN(std::string vd, ReadFile(absl::StrCat(vectors_directory, "/", name, ".vd")));
    // Any VA, then only va-example.
    RETURN_IF_ERROR(Write(directory + name, std::string(2, '\0') + vd));
    RETURN_IF_ERROR(Write(directory + name + "-candidate", std::string("\0\1", 2) + vd));
  }
  ASSIGN_OR_RETURN(std::string valid, ReadFile(vectors_directory + "/valid.vd"));
  v1::VouchingData vouching_data;
  if (!vouching_data.ParseFromString(valid)) return absl::InternalError("valid.vd does not parse");
  RETURN_IF_ERROR(Write(directory + "statement-signed-by-target",
                        std::string("\1\0", 2) + vouching_data.statement()));
  return absl::OkStatus();
}

absl::Status WriteExtensionSeeds(const std::string& fuzz_directory) {
  const std::string requests = fuzz_directory + "/corpus/mecai_request/";
  RETURN_IF_ERROR(Write(requests + "everything", ""));
  ASSIGN_OR_RETURN(std::string one, EncodeMecaiRequest({"", {"va-example"}}));
  RETURN_IF_ERROR(Write(requests + "one-candidate", one));
  ASSIGN_OR_RETURN(std::string two,
                   EncodeMecaiRequest({"mozilla", {"va-example", "va-other.example.org"}}));
  RETURN_IF_ERROR(Write(requests + "trust-list-two-candidates", two));

  const std::string feedback = fuzz_directory + "/corpus/feedback/";
  ASSIGN_OR_RETURN(std::string none,
                   EncodeFeedback({{"va-example", FeedbackReason::kNoVouchingData}}));
  RETURN_IF_ERROR(Write(feedback + "no-vouching-data", none));
  ASSIGN_OR_RETURN(std::string both,
                   EncodeFeedback({{"va-example", FeedbackReason::kInvalidVouchingData},
                                   {"va-other", FeedbackReason::kNoVouchingData}}));
  RETURN_IF_ERROR(Write(feedback + "two-entries", both));

  const std::string lists = fuzz_directory + "/corpus/vouching_data_list/";
  RETURN_IF_ERROR(Write(lists + "one", EncodeVouchingDataList({"\x0a\x03vd1"})));
  RETURN_IF_ERROR(Write(lists + "three", EncodeVouchingDataList({"a", "bb", "\x0a\x01x"})));
  return absl::OkStatus();
}

absl::Status Run(const std::string& fuzz_directory, const std::string& vectors_directory) {
  RETURN_IF_ERROR(WriteVouchingRequestSeeds(fuzz_directory));
  RETURN_IF_ERROR(WriteObservationSeeds(fuzz_directory));
  RETURN_IF_ERROR(WriteVouchingDataSeeds(fuzz_directory, vectors_directory));
  return WriteExtensionSeeds(fuzz_directory);
}

}  // namespace
}  // namespace mecai

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_corpus <fuzz directory> <testdata/vd directory>\n");
    return 2;
  }
  absl::Status status = mecai::Run(argv[1], argv[2]);
  if (!status.ok()) {
    std::fprintf(stderr, "make_corpus: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
