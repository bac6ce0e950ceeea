#include "log_server/log_server_config.h"

#include <string>

#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

constexpr char kSource[] = "log_server.textproto";

v1::LogServerConfig ValidConfig() {
  v1::LogServerConfig config;
  config.set_store_path("/var/lib/mecai/coordinator/store");
  config.set_secondary_path("/var/lib/mecai/log-server/secondary");
  config.set_log_shard_id("shard-eu-1");
  config.set_vkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  config.set_listen_address("0.0.0.0:8080");
  return WithLogServerDefaults(config);
}

TEST(LogServerConfigTest, AValidConfigPassesWithItsDefaults) {
  const v1::LogServerConfig config = ValidConfig();
  EXPECT_OK(ValidateLogServerConfig(config, kSource));
  EXPECT_EQ(config.catch_up_interval_milliseconds(), 1000u);
  EXPECT_EQ(config.checkpoint_max_age_seconds(), 5u);
  EXPECT_EQ(config.max_connections(), 256u);
  EXPECT_EQ(config.max_connections_per_address(), 16u);
  v1::LogServerConfig zero_age = ValidConfig();
  zero_age.set_checkpoint_max_age_seconds(0);
  EXPECT_EQ(WithLogServerDefaults(zero_age).checkpoint_max_age_seconds(), 0u);
}

TEST(LogServerConfigTest, EachBadFieldIsNamed) {
  struct Case {
    const char* field;
    void (*spoil)(v1::LogServerConfig*);
  };
  const Case cases[] = {
      {"store_path: required", [](v1::LogServerConfig* c) { c->clear_store_path(); }},
      {"secondary_path: required", [](v1::LogServerConfig* c) { c->clear_secondary_path(); }},
      {"secondary_path: must differ",
       [](v1::LogServerConfig* c) { c->set_secondary_path(c->store_path()); }},
      {"log_shard_id: required", [](v1::LogServerConfig* c) { c->clear_log_shard_id(); }},
      {"vkey: must be an Ed25519 verifier key",
       [](v1::LogServerConfig* c) {
         c->set_vkey("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
       }},
      {"listen_address: must be host:port",
       [](v1::LogServerConfig* c) { c->set_listen_address("8080"); }},
      {"metrics_address: must be host:port",
       [](v1::LogServerConfig* c) { c->set_metrics_address("metrics"); }},
      {"catch_up_interval_milliseconds: must be 10..60000",
       [](v1::LogServerConfig* c) { c->set_catch_up_interval_milliseconds(5); }},
      {"checkpoint_max_age_seconds: must be 0..60",
       [](v1::LogServerConfig* c) { c->set_checkpoint_max_age_seconds(3600); }},
      {"max_connections_per_address: must be below",
       [](v1::LogServerConfig* c) { c->set_max_connections_per_address(64); }},
      {"tls_private_key_file: set both",
       [](v1::LogServerConfig* c) { c->set_tls_certificate_chain_file("chain.pem"); }},
  };
  for (const Case& test : cases) {
    v1::LogServerConfig config = ValidConfig();
    test.spoil(&config);
    EXPECT_THAT(ValidateLogServerConfig(config, kSource),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(test.field)))
        << test.field;
  }
}

}  // namespace
}  // namespace mecai
