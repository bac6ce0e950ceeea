// The user PIN from its file or environment variable (common/pkcs11/pkcs11_pin.h). No token is
// needed: reading the PIN talks to no module.
#include "common/pkcs11/pkcs11_pin.h"

#include <stdlib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/files.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kUserPin[] = "314159";
// The environment variable these tests use; unset after every test.
constexpr char kPinVariable[] = "MECAI_PKCS11_TEST_USER_PIN";

class Pkcs11PinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* test_tmpdir = getenv("TEST_TMPDIR");
    directory_ = test_tmpdir != nullptr ? test_tmpdir : "/tmp";
    config_.set_pin_file(absl::StrCat(
        directory_, "/", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".pin"));
  }

  void TearDown() override { unsetenv(kPinVariable); }

  // Moves the PIN from the file to the environment variable kPinVariable.
  void UsePinFromEnvironment(const std::string& pin) {
    ASSERT_EQ(setenv(kPinVariable, pin.c_str(), /*overwrite=*/1), 0);
    config_.clear_pin_file();
    config_.set_pin_environment_variable(kPinVariable);
  }

  std::string directory_;
  v1::Pkcs11Config config_;
};

TEST_F(Pkcs11PinTest, ReadPinTakesTheVariableWithoutTrailingNewline) {
  UsePinFromEnvironment(absl::StrCat(kUserPin, "\n"));
  ASSERT_OK_AND_ASSIGN(std::string pin, ReadPin(config_));
  EXPECT_EQ(pin, kUserPin);
}

TEST_F(Pkcs11PinTest, EmptyPinVariableIsInvalidArgument) {
  UsePinFromEnvironment("");
  absl::StatusOr<std::string> pin = ReadPin(config_);
  EXPECT_EQ(pin.status().code(), absl::StatusCode::kInvalidArgument) << pin.status();
  EXPECT_THAT(pin.status().message(), HasSubstr(kPinVariable));
}

TEST_F(Pkcs11PinTest, PinFileLosesTrailingCrLfOnly) {
  ASSERT_OK(WriteFileAtomically(config_.pin_file(), absl::StrCat(" ", kUserPin, " \r\n"), 0600));
  ASSERT_OK_AND_ASSIGN(std::string pin, ReadPin(config_));
  EXPECT_EQ(pin, absl::StrCat(" ", kUserPin, " "));
}

TEST_F(Pkcs11PinTest, EmptyPinFileIsInvalidArgumentNamingIt) {
  ASSERT_OK(WriteFileAtomically(config_.pin_file(), "\n", 0600));
  absl::StatusOr<std::string> pin = ReadPinFile(config_.pin_file());
  EXPECT_EQ(pin.status().code(), absl::StatusCode::kInvalidArgument) << pin.status();
  EXPECT_THAT(pin.status().message(), HasSubstr(config_.pin_file()));
}

TEST_F(Pkcs11PinTest, MissingPinFileIsNotFoundNamingIt) {
  const std::string path = absl::StrCat(directory_, "/absent.pin");
  absl::StatusOr<std::string> pin = ReadPinFile(path);
  EXPECT_EQ(pin.status().code(), absl::StatusCode::kNotFound) << pin.status();
  EXPECT_THAT(pin.status().message(), AllOf(HasSubstr("PIN file"), HasSubstr("absent.pin")));
}

TEST_F(Pkcs11PinTest, BothOrNeitherSourceIsInvalidArgumentWithoutThePin) {
  ASSERT_OK(WriteFileAtomically(config_.pin_file(), kUserPin, 0600));
  ASSERT_EQ(setenv(kPinVariable, kUserPin, /*overwrite=*/1), 0);
  config_.set_pin_environment_variable(kPinVariable);
  absl::StatusOr<std::string> both = ReadPin(config_);
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument) << both.status();
  EXPECT_THAT(both.status().message(), AllOf(HasSubstr("both"), Not(HasSubstr(kUserPin))));

  config_.clear_pin_file();
  config_.clear_pin_environment_variable();
  absl::StatusOr<std::string> neither = ReadPin(config_);
  EXPECT_EQ(neither.status().code(), absl::StatusCode::kInvalidArgument) << neither.status();
  EXPECT_THAT(neither.status().message(), HasSubstr("neither"));
}

}  // namespace
}  // namespace mecai
