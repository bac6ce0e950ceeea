// The stapler's health (stapler/stapler_health.h) over the real binaries: the `stapler` process
// serves grpc.health.v1.Health on its health_address as the other services do; SERVING while it
// holds a fresh VD for the cluster's VA, NOT_SERVING once its VD passed health_max_vd_age_ms while
// the VA did not answer, and SERVING again once a fetch succeeds.
#include <signal.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cluster/local_cluster.h"
#include "common/base/files.h"
#include "common/process/child_process.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

// Polls HealthStatus(port) (at most `timeout`) until it answers `wanted`; returns the last answer.
std::string AwaitHealth(int port, const std::string& wanted, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> status = HealthStatus(port);
    last = status.ok() ? *status : status.status().ToString();
    if (last == wanted) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return last;
}

TEST(StaplerHealthTest, NotServingOnceItsVdIsOlderThanTheThresholdAndServingAfterAFetch) {
  LocalClusterOptions options;
  // Each refresh is a VD issued now, not a reused decision.
  options.decision_reuse = false;
  options.max_probe_rounds_per_hostname = 100000;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                       StartTestCluster("stapler-health", options));

  v1::StaplerConfig config;
  config.set_va_list_file(cluster->VaListFile());
  v1::StaplerVouchingServer* server = config.add_vouching_servers();
  server->set_va_id(LocalCluster::kVaId);
  *server->mutable_vouching_server() = cluster->CoordinatorPeer();
  config.set_hostname(LocalCluster::kTargetHost);
  config.set_port(static_cast<uint32_t>(cluster->target_port()));
  config.set_trust_list(LocalCluster::kTrustList);
  config.set_certificate_file(cluster->ServerChainFile());
  config.set_key_file(cluster->ServerKeyFile());
  config.set_cache_directory(cluster->Path("stapler-cache"));
  config.set_refresh_interval_ms(2000);
  config.set_initial_backoff_ms(500);
  config.set_max_backoff_ms(1000);
  config.set_request_timeout_ms(1000);
  config.set_health_address("127.0.0.1:0");
  config.set_health_port_file(cluster->Path("run/stapler.health-port"));
  config.set_health_max_vd_age_ms(5000);
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  const std::string config_file = cluster->Path("stapler.textproto");
  ASSERT_OK(WriteFileAtomically(config_file, text));
  const std::string log = cluster->Path("logs/stapler.log");
  ASSERT_OK_AND_ASSIGN(
      auto stapler,
      ChildProcess::Start(
          {absl::StrCat(getenv("TEST_SRCDIR"), "/mecai/stapler/stapler"), "--config", config_file},
          log));
  int port = 0;
  const absl::Time started = absl::Now() + absl::Seconds(30);
  while (absl::Now() < started && stapler->Running()) {
    auto port_text = ReadFile(config.health_port_file());
    if (port_text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*port_text), &port)) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GT(port, 0) << TailOfFile(log);

  // Fetched and refreshed every 2 s: SERVING, and still so after more than the threshold.
  const std::string cached =
      cluster->Path(absl::StrCat("stapler-cache/", LocalCluster::kVaId, ".vd"));
  const absl::Time fetched = absl::Now() + absl::Seconds(30);
  while (!ReadFile(cached).ok() && absl::Now() < fetched) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(ReadFile(cached).ok()) << TailOfFile(log);
  EXPECT_EQ(HealthStatus(port).value_or(""), "SERVING");
  absl::SleepFor(absl::Seconds(6));
  EXPECT_EQ(HealthStatus(port).value_or(""), "SERVING") << TailOfFile(log);

  // The VA stops answering (its coordinator is frozen): once the held VD is 5 s old, NOT_SERVING.
  ASSERT_OK(cluster->Signal("coordinator", SIGSTOP));
  const absl::Time frozen = absl::Now();
  EXPECT_EQ(AwaitHealth(port, "NOT_SERVING", absl::Seconds(20)), "NOT_SERVING") << TailOfFile(log);
  EXPECT_GE(absl::Now() - frozen, absl::Seconds(2)) << "turned before the VD aged";
  EXPECT_THAT(TailOfFile(log, 20000),
              HasSubstr(absl::StrCat("stapler health: NOT_SERVING: the VD of VA '",
                                     LocalCluster::kVaId, "' is ")));

  // The VA answers again: the next fetch brings a fresh VD, SERVING.
  ASSERT_OK(cluster->Signal("coordinator", SIGCONT));
  EXPECT_EQ(AwaitHealth(port, "SERVING", absl::Seconds(30)), "SERVING") << TailOfFile(log);

  // At shutdown the stapler exits cleanly.
  stapler->Stop();
  EXPECT_EQ(stapler->ExitDescription(), "exited with status 0") << TailOfFile(log);
}

}  // namespace
}  // namespace mecai
