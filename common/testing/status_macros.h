// Test assertions on absl::Status and absl::StatusOr, in one place for every test.
#ifndef MECAI_COMMON_TESTING_STATUS_MACROS_H_
#define MECAI_COMMON_TESTING_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/status.h"
#include "gtest/gtest.h"

// Fails the test (and returns) unless `expression`, an absl::Status, is OK.
#define ASSERT_OK(expression)                                 \
  do {                                                        \
    const absl::Status assert_ok_status_ = (expression);      \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_; \
  } while (0)

// Fails the test (and goes on) unless `expression`, an absl::Status, is OK; for helpers that
// return a value.
#define EXPECT_OK(expression)                                 \
  do {                                                        \
    const absl::Status expect_ok_status_ = (expression);      \
    EXPECT_TRUE(expect_ok_status_.ok()) << expect_ok_status_; \
  } while (0)

// Fails the test (and returns) unless `expression`, an absl::StatusOr<T>, holds a value; moves it
// into `lhs`, which may be a declaration ("auto x") or an existing variable.
#define ASSERT_OK_AND_ASSIGN(lhs, expression) \
  ASSERT_OK_AND_ASSIGN_IMPL_(MECAI_STATUS_CONCAT_(statusor_, __LINE__), lhs, expression)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expression) \
  auto statusor = (expression);                               \
  ASSERT_TRUE(statusor.ok()) << statusor.status();            \
  lhs = std::move(statusor).value()

#endif  // MECAI_COMMON_TESTING_STATUS_MACROS_H_
