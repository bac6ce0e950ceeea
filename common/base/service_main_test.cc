// ExitCodeFor: the exit status of a service that failed to start follows its status code
// (common/base/service_main.h), whatever the message says.
#include "common/base/service_main.h"

#include "gtest/gtest.h"

namespace mecai {
namespace {

TEST(ExitCodeForTest, ConfigurationErrorsAreExConfig) {
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("invalid config x: listen.address")), 78);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("the VA certificate lacks ...")), 78);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("cannot open /etc/mecai/tls/tls.key")), 78);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("wrong PIN")), 78);
  EXPECT_EQ(ExitCodeFor(absl::OutOfRangeError("file over the limit")), 78);
}

TEST(ExitCodeForTest, UnavailableResourcesAreExUnavailable) {
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("cannot listen on 127.0.0.1:1")), 69);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("no answer")), 69);
  EXPECT_EQ(ExitCodeFor(absl::ResourceExhaustedError("no file descriptors")), 69);
}

TEST(ExitCodeForTest, EverythingElseIsOne) {
  EXPECT_EQ(ExitCodeFor(absl::InternalError("invalid config")), 1);
  EXPECT_EQ(ExitCodeFor(absl::DataLossError("trust-list change #1 does not verify")), 1);
  EXPECT_EQ(ExitCodeFor(absl::UnknownError("?")), 1);
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
}

}  // namespace
}  // namespace mecai
