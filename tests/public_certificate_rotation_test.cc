// The coordinator's public endpoint (docs/PROTOCOL.md "The public endpoint") follows its
// certificate and key files as the internal mutual-TLS identities do
// (common/rpc/tls_credentials.h): over the real coordinator, a renewed certificate moved into place
// (key first, then certificate) is presented to new connections of both bindings, gRPC and HTTPS,
// within the reload interval, without a restart, and
// mecai_certificate_expiry_timestamp_seconds{certificate="public"} follows.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cluster/local_cluster.h"
#include "common/rpc/certificate_expiry_metrics.h"
#include "common/rpc/grpc_channel.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/coordinator_calls.h"
#include "tests/support/procedure_steps.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

// The serial number (openssl's hexadecimal) of the certificate the TLS server on 127.0.0.1:`port`
// presents to a new connection that offers ALPN `alpn`, read with openssl s_client.
absl::StatusOr<std::string> ServedSerial(const LocalCluster& cluster, int port,
                                         const std::string& alpn) {
  ASSIGN_OR_RETURN(
      std::string output,
      RunStep(cluster, absl::StrCat("s_client-", port),
              {"sh", "-c",
               absl::StrCat("openssl s_client -connect 127.0.0.1:", port,
                            " -servername coordinator -alpn ", alpn,
                            " </dev/null 2>/dev/null | openssl x509 -noout -serial")}));
  absl::string_view line = absl::StripAsciiWhitespace(output);
  if (!absl::ConsumePrefix(&line, "serial=")) {
    return absl::InternalError(absl::StrCat("no certificate served on port ", port, ": ", output));
  }
  return std::string(line);
}

// openssl's hexadecimal serial number of the first certificate in `file`.
absl::StatusOr<std::string> FileSerial(const LocalCluster& cluster, const std::string& file) {
  ASSIGN_OR_RETURN(
      std::string output,
      RunStep(cluster, "x509-serial", {"openssl", "x509", "-noout", "-serial", "-in", file}));
  absl::string_view line = absl::StripAsciiWhitespace(output);
  if (!absl::ConsumePrefix(&line, "serial=")) return absl::InternalError(output);
  return std::string(line);
}

TEST(PublicCertificateRotationTest,
     ARenewedPublicCertificateIsServedToNewConnectionsWithoutRestart) {
  LocalClusterOptions options;
  options.public_endpoint_limits.set_reload_interval_seconds(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalCluster> cluster,
                       StartTestCluster("public-certificate-rotation", options));
  ASSERT_OK_AND_ASSIGN(pid_t coordinator, cluster->ProcessId("coordinator"));
  const std::string certificate_file = cluster->Path("internal/coordinator.pem");
  const std::string key_file = cluster->Path("internal/coordinator.key");
  ASSERT_OK_AND_ASSIGN(std::string old_serial, FileSerial(*cluster, certificate_file));
  EXPECT_EQ(ServedSerial(*cluster, cluster->coordinator_public_port(), "h2").value_or(""),
            old_serial);
  EXPECT_EQ(
      ServedSerial(*cluster, cluster->coordinator_public_http_port(), "http/1.1").value_or(""),
      old_serial);

  // Renewed for 60 days (the first was for 30), written beside the old files and moved into place,
  // key first (docs/OPERATIONS.md "Rotating the internal CA and the services' TLS identities").
  const std::string new_certificate = certificate_file + ".new";
  const std::string new_key = key_file + ".new";
  ASSERT_OK(cluster->IssueInternalIdentity("coordinator", {"serverAuth", "clientAuth"},
                                           absl::Hours(24 * 60), new_certificate, new_key));
  ASSERT_OK_AND_ASSIGN(std::string new_serial, FileSerial(*cluster, new_certificate));
  ASSERT_NE(new_serial, old_serial);
  ASSERT_OK_AND_ASSIGN(int64_t new_not_after, EarliestNotAfterUnixSeconds(new_certificate));
  ASSERT_OK(RunStep(*cluster, "mv-key", {"mv", new_key, key_file}).status());
  ASSERT_OK(
      RunStep(*cluster, "mv-certificate", {"mv", new_certificate, certificate_file}).status());

  // New connections of both bindings get the renewed certificate within a few reload intervals.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string grpc_serial, http_serial;
  while (absl::Now() < deadline) {
    grpc_serial = ServedSerial(*cluster, cluster->coordinator_public_port(), "h2").value_or("");
    http_serial =
        ServedSerial(*cluster, cluster->coordinator_public_http_port(), "http/1.1").value_or("");
    if (grpc_serial == new_serial && http_serial == new_serial) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(grpc_serial, new_serial) << "the gRPC binding";
  EXPECT_EQ(http_serial, new_serial) << "the HTTPS binding";

  // The endpoint vouches over a new connection, by the same process.
  ASSERT_OK_AND_ASSIGN(auto channel, MakeChannel(cluster->CoordinatorPublicPeer()));
  ASSERT_OK_AND_ASSIGN(std::string request, FreshRequest(*cluster));
  ASSERT_OK_AND_ASSIGN(v1::VouchResponse response, CallVouch(*channel, request));
  EXPECT_TRUE(response.has_vouching_data()) << response.refusal().explanation();
  EXPECT_EQ(cluster->ProcessId("coordinator").value_or(0), coordinator) << "restarted";

  // The expiry gauge follows the file.
  const std::string series = absl::StrCat(
      "mecai_certificate_expiry_timestamp_seconds{certificate=\"public\",component=\"coordinator\"}"
      " ",
      new_not_after, "\n");
  std::string metrics;
  const absl::Time gauge_deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < gauge_deadline) {
    metrics = FetchMetrics(*cluster, "coordinator").value_or("");
    if (metrics.find(series) != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_THAT(metrics, HasSubstr(series));
}

}  // namespace
}  // namespace mecai
