#include "cli/record_observations.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/crypto/signed_object.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/probe.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class RecordObservationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    std::string lines = "# the VA's agents\n";
    for (const char* id : {"agent-1", "agent-2"}) {
      ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEcKey());
      ASSERT_OK(WriteFileAtomically(absl::StrCat(directory_, "/", id, ".pub"),
                                    PublicKeyToPem(key.get())));
      absl::StrAppend(&lines, id, " ", id, ".pub\n");
      ASSERT_OK_AND_ASSIGN(signers_[id], InMemorySigningKey::Create(std::move(key)));
    }
    agents_file_ = absl::StrCat(directory_, "/agents");
    ASSERT_OK(WriteFileAtomically(agents_file_, lines));
  }

  // An Observation of `id` for the record's VR, signed by `signer_id`'s key.
  v1::PerspectiveResult Observed(const std::string& id, const std::string& signer_id,
                                 const std::string& nonce = "round-1") {
    v1::ObservationBody body;
    body.mutable_perspective()->set_id(id);
    body.set_hostname("www.example.com");
    body.set_port(443);
    body.set_vouching_request_sha256(Sha256("the VR"));
    body.set_nonce(nonce);
    v1::PerspectiveResult result;
    result.mutable_perspective()->set_id(id);
    result.mutable_observation()->set_tbs(body.SerializeAsString());
    *result.mutable_observation()->mutable_signature() =
        *SignObject(*signers_[signer_id], SignedObject::kObservation, result.observation().tbs());
    return result;
  }

  v1::QuorumRecord Record(std::vector<v1::PerspectiveResult> results) {
    v1::QuorumRecord record;
    record.set_log_index(7);
    record.set_hostname("www.example.com");
    record.set_port(443);
    record.set_vouching_request_sha256(Sha256("the VR"));
    for (v1::PerspectiveResult& result : results) *record.add_perspectives() = std::move(result);
    return record;
  }

  std::string directory_;
  std::string agents_file_;
  std::map<std::string, std::unique_ptr<InMemorySigningKey>> signers_;
};

TEST_F(RecordObservationsTest, ObservationsOfTheEnrolledAgentsVerify) {
  ASSERT_OK_AND_ASSIGN(AgentKeys agents, LoadAgentKeys(agents_file_));
  std::vector<std::string> problems;
  v1::PerspectiveResult unreachable;
  unreachable.mutable_perspective()->set_id("agent-3");
  EXPECT_EQ(CheckRecordObservations(Record({Observed("agent-1", "agent-1"),
                                            Observed("agent-2", "agent-2"), unreachable}),
                                    agents, &problems),
            2u);
  EXPECT_THAT(problems, IsEmpty());
}

TEST_F(RecordObservationsTest, AForgedMovedOrForeignObservationIsNamed) {
  ASSERT_OK_AND_ASSIGN(AgentKeys agents, LoadAgentKeys(agents_file_));
  std::vector<std::string> problems;
  // agent-2's Observation signed with agent-1's key.
  EXPECT_EQ(CheckRecordObservations(Record({Observed("agent-2", "agent-1")}), agents, &problems),
            0u);
  // An Observation of another probe round beside the first.
  EXPECT_EQ(CheckRecordObservations(
                Record({Observed("agent-1", "agent-1"), Observed("agent-2", "agent-2", "round-2")}),
                agents, &problems),
            1u);
  // An Observation of another VR.
  v1::QuorumRecord other_vr = Record({Observed("agent-1", "agent-1")});
  other_vr.set_vouching_request_sha256(Sha256("another VR"));
  EXPECT_EQ(CheckRecordObservations(other_vr, agents, &problems), 0u);
  // An agent nobody enrolled.
  signers_["agent-9"] = std::move(signers_["agent-1"]);
  EXPECT_EQ(CheckRecordObservations(Record({Observed("agent-9", "agent-9")}), agents, &problems),
            0u);
  EXPECT_THAT(problems,
              ElementsAre(HasSubstr("record 7, perspective 'agent-2': the Observation is not "
                                    "signed by the agent's enrolled key"),
                          HasSubstr("of different probe rounds"),
                          HasSubstr("of another perspective, VR, hostname or port"),
                          HasSubstr("perspective 'agent-9': no key is enrolled")));
}

TEST_F(RecordObservationsTest, AMalformedAgentsFileIsRefusedNamingTheLine) {
  const std::string path = absl::StrCat(directory_, "/bad");
  ASSERT_OK(WriteFileAtomically(path, "agent-1 agent-1.pub\nagent-1 agent-2.pub\n"));
  EXPECT_THAT(LoadAgentKeys(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("line 2: agent 'agent-1' is listed twice")));
  ASSERT_OK(WriteFileAtomically(path, "agent-1\n"));
  EXPECT_THAT(LoadAgentKeys(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1: expected")));
  ASSERT_OK(WriteFileAtomically(path, "agent-1 missing.pub\n"));
  EXPECT_THAT(LoadAgentKeys(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1: ")));
}

}  // namespace
}  // namespace mecai
