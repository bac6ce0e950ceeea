#include "witness/witness_config.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/crypto/signature.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/note_key.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace witness {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

class WitnessConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(NoteVerifierKey vkey, Ed25519VerifierKey("log.a.example/s1", key.get()));
    vkey_ = FormatVerifierKey(vkey);
    config_.set_listen_address("127.0.0.1:0");
    config_.mutable_pkcs11()->set_module_path("/usr/lib/softhsm/libsofthsm2.so");
    config_.mutable_pkcs11()->set_token_label("witness");
    config_.mutable_pkcs11()->set_key_label("witness-key");
    config_.set_witness_name("witness.b.example/w1");
    config_.set_state_file("/var/lib/mecai-witness/state.pb");
    config_.add_logs()->add_vkeys(vkey_);
  }

  absl::Status Validate() { return ValidateWitnessConfig(WithWitnessDefaults(config_), "w.txt"); }

  std::string vkey_;
  v1::WitnessConfig config_;
};

TEST_F(WitnessConfigTest, AcceptsAMinimalConfigAndNamesTheOriginAfterTheVkey) {
  EXPECT_OK(Validate());
  ASSERT_OK_AND_ASSIGN(auto logs, WitnessedLogs(config_));
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs.begin()->first, "log.a.example/s1");
  config_.mutable_logs(0)->set_origin("log.a.example/other");
  ASSERT_OK_AND_ASSIGN(logs, WitnessedLogs(config_));
  EXPECT_EQ(logs.begin()->first, "log.a.example/other");
}

TEST_F(WitnessConfigTest, NamesEveryOffendingField) {
  config_.set_listen_address("nowhere");
  config_.set_submission_prefix("/w/");
  config_.set_witness_name("a b");
  config_.clear_state_file();
  config_.mutable_pkcs11()->clear_key_label();
  config_.add_logs()->add_vkeys(vkey_);
  config_.add_logs()->add_vkeys("log.a.example/s2+00000000+AAAA");
  config_.set_tls_certificate_chain_file("chain.pem");
  const absl::Status status = Validate();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listen_address")));
  for (const char* field :
       {"submission_prefix: must be empty or a path beginning, not ending, with '/'",
        "witness_name: must be a note key name", "state_file: required",
        "pkcs11.key_label: required", "logs[1].origin: the log log.a.example/s1 is listed twice",
        "logs[2].vkeys[0]: must be an Ed25519 note verifier key",
        "tls_private_key_file: set both TLS files or neither"}) {
    EXPECT_THAT(status.message(), HasSubstr(field));
  }
}

TEST_F(WitnessConfigTest, WitnessesTheLogsOfAVaList) {
  ASSERT_OK_AND_ASSIGN(std::string directory, test_pki::MakeTempDirectory());
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey other, Ed25519VerifierKey("log.c.example/s1", key.get()));
  ASSERT_OK_AND_ASSIGN(std::string list,
                       test_pki::WriteTestFile(directory, "va-list.txt",
                                               absl::StrCat("vas { id: \"va-c\" log_vkeys: \"",
                                                            FormatVerifierKey(other), "\" }\n")));
  config_.set_va_list_file(list);
  EXPECT_OK(Validate());
  ASSERT_OK_AND_ASSIGN(auto logs, WitnessedLogs(config_));
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs.at("log.c.example/s1")[0].public_key, other.public_key);
  // The same log named by the config and the list: refused.
  config_.mutable_logs(0)->set_origin("log.c.example/s1");
  EXPECT_THAT(WitnessedLogs(config_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("VA 'va-c' log log.c.example/s1 is already witnessed")));
  // Only the list: enough.
  config_.clear_logs();
  EXPECT_OK(Validate());
  ASSERT_OK_AND_ASSIGN(logs, WitnessedLogs(config_));
  EXPECT_EQ(logs.size(), 1u);
}

TEST_F(WitnessConfigTest, RequiresALog) {
  config_.clear_logs();
  EXPECT_THAT(Validate(), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("logs: at least one log to witness")));
}

}  // namespace
}  // namespace witness
}  // namespace mecai
