#include "common/rpc/grpc_status.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

// Every canonical code (absl/status/status.h, google.rpc.Code), OK excepted.
constexpr absl::StatusCode kErrorCodes[] = {
    absl::StatusCode::kCancelled,          absl::StatusCode::kUnknown,
    absl::StatusCode::kInvalidArgument,    absl::StatusCode::kDeadlineExceeded,
    absl::StatusCode::kNotFound,           absl::StatusCode::kAlreadyExists,
    absl::StatusCode::kPermissionDenied,   absl::StatusCode::kResourceExhausted,
    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kAborted,
    absl::StatusCode::kOutOfRange,         absl::StatusCode::kUnimplemented,
    absl::StatusCode::kInternal,           absl::StatusCode::kUnavailable,
    absl::StatusCode::kDataLoss,           absl::StatusCode::kUnauthenticated,
};

TEST(GrpcStatusTest, EveryCodeRoundTripsWithItsMessage) {
  for (absl::StatusCode code : kErrorCodes) {
    const std::string message = "what failed: " + absl::StatusCodeToString(code);
    const grpc::Status sent = ToGrpcStatus(absl::Status(code, message));
    EXPECT_EQ(static_cast<int>(sent.error_code()), static_cast<int>(code)) << message;
    EXPECT_EQ(sent.error_message(), message);
    EXPECT_FALSE(sent.ok());

    const absl::Status received = FromGrpcStatus(sent, "signer at 127.0.0.1:1");
    EXPECT_EQ(received.code(), code) << message;
    EXPECT_EQ(received.message(), "signer at 127.0.0.1:1: " + message);
  }
}

TEST(GrpcStatusTest, CodesKeepTheirGrpcNames) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::PermissionDeniedError("x")).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::DATA_LOSS, "x"), "peer").code(),
            absl::StatusCode::kDataLoss);
}

TEST(GrpcStatusTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::OkStatus()).error_message(), "");
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "peer").ok());
}

}  // namespace
}  // namespace mecai
