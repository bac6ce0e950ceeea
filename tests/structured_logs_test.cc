// The services' JSON logs (deploy/README.md "Logs") from a real cluster started with
// MECAI_LOG_FORMAT=json: every line of the coordinator's stderr is one JSON object with the
// documented members, and every line written while it decides a VR, issued or refused after a
// probe round, carries that VR's vr_id — the first 16 hex digits of the VR's SHA-256.
#include <stdlib.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/crypto/hashing.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

// One log line's JSON members; fails the test when the line is not a JSON object of strings.
std::map<std::string, std::string> Members(const std::string& line) {
  google::protobuf::Struct object;
  const auto parsed = google::protobuf::util::JsonStringToMessage(line, &object);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString() << ": " << line;
  std::map<std::string, std::string> members;
  for (const auto& [key, value] : object.fields()) {
    EXPECT_EQ(value.kind_case(), google::protobuf::Value::kStringValue) << key << " in " << line;
    members[key] = value.string_value();
  }
  return members;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class StructuredLogsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Inherited by every service the cluster starts.
    setenv("MECAI_LOG_FORMAT", "json", 1);
    LocalClusterOptions options;
    options.decision_reuse = false;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                         StartTestCluster("structured-logs", options));
    cluster_ = cluster.release();
    ASSERT_TRUE(cluster_->IssueServerCertificate(LocalCluster::kTargetHost, "unserved").ok());
  }
  static void TearDownTestSuite() {
    delete cluster_;
    unsetenv("MECAI_LOG_FORMAT");
  }

  std::string CoordinatorLog() const {
    return ReadFile(cluster_->Path("logs/coordinator.log"), 64 << 20).value_or("");
  }

  // Sends a fresh VR for the target with `certificate` (pki/<certificate>.pem) and returns the
  // coordinator's log lines written while it was decided, with the VR's expected id.
  void Decide(const std::string& certificate, v1::VouchResponse* response,
              std::vector<std::string>* lines, std::string* vr_id) {
    ASSERT_OK_AND_ASSIGN(std::string request,
                         SignedRequestFromFiles(cluster_->Path("pki/" + certificate + ".pem"),
                                                cluster_->Path("pki/" + certificate + ".key"),
                                                LocalCluster::kTargetHost,
                                                static_cast<uint32_t>(cluster_->target_port()),
                                                LocalCluster::kTrustList, absl::Now()));
    *vr_id = HexEncode(Sha256(request)).substr(0, 16);
    ASSERT_OK_AND_ASSIGN(auto channel, MakeChannel(cluster_->CoordinatorPeer()));
    const size_t before = CoordinatorLog().size();
    ASSERT_OK_AND_ASSIGN(*response, CallVouch(*channel, request));
    *lines = Lines(CoordinatorLog().substr(before));
  }

  static LocalCluster* cluster_;
};

LocalCluster* StructuredLogsTest::cluster_ = nullptr;

// Lines outside any decision (start-up) are JSON too, without a vr_id.
TEST_F(StructuredLogsTest, EveryLineIsAJsonObjectWithTheDocumentedMembers) {
  const std::vector<std::string> lines = Lines(CoordinatorLog());
  ASSERT_FALSE(lines.empty());
  bool saw_ready = false;
  for (const std::string& line : lines) {
    const auto members = Members(line);
    for (const char* member : {"time", "level", "component", "source", "message"}) {
      EXPECT_EQ(members.count(member), 1u) << member << " in " << line;
    }
    EXPECT_EQ(members.at("component"), "coordinator") << line;
    // RFC 3339, UTC, milliseconds.
    EXPECT_THAT(members.at("time"),
                ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                        "\\.[0-9]{3}Z"));
    if (absl::StrContains(members.at("message"), "coordinator shard ")) {
      saw_ready = true;
      EXPECT_EQ(members.count("vr_id"), 0u) << line;
    }
  }
  EXPECT_TRUE(saw_ready);
}

TEST_F(StructuredLogsTest, EveryLineOfADecisionCarriesItsVrId) {
  for (const auto& [certificate, issued] :
       std::vector<std::pair<std::string, bool>>{{"server", true}, {"unserved", false}}) {
    SCOPED_TRACE(certificate);
    v1::VouchResponse response;
    std::vector<std::string> lines;
    std::string vr_id;
    Decide(certificate, &response, &lines, &vr_id);
    ASSERT_EQ(response.has_vouching_data(), issued) << response.refusal().explanation();
    ASSERT_FALSE(lines.empty());
    bool saw_decision = false;
    for (const std::string& line : lines) {
      const auto members = Members(line);
      ASSERT_EQ(members.count("vr_id"), 1u) << line;
      EXPECT_EQ(members.at("vr_id"), vr_id) << line;
      if (absl::StrContains(members.at("message"),
                            absl::StrCat(issued ? " ISSUED record " : " REFUSED record ",
                                         response.log_index()))) {
        saw_decision = true;
      }
    }
    EXPECT_TRUE(saw_decision) << absl::StrJoin(lines, "\n");
  }
}

}  // namespace
}  // namespace mecai
