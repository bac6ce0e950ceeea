// Tests of what an approval record covers (ARCHITECTURE.md §7, MECAI phone-approval proposal): the
// names the approver saw, matched as RFC 6125 §6.4.3 says, else the approved domain.
#include "common/evidence/approval_record.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

google::protobuf::RepeatedPtrField<std::string> Names(std::initializer_list<const char*> names) {
  google::protobuf::RepeatedPtrField<std::string> field;
  for (const char* name : names) field.Add(name);
  return field;
}

TEST(ApprovalScopeMismatchTest, NamedRequestsCoverOnlyTheirNames) {
  const bool kNamed = false;
  EXPECT_THAT(ApprovalScopeMismatch("TXN1", "example.com", Names({"www.example.com"}), kNamed,
                                    "www.example.com"),
              IsEmpty());
  EXPECT_THAT(
      ApprovalScopeMismatch("TXN1", "example.com", Names({"www.example.com", "*.api.example.com"}),
                            kNamed, "v2.api.example.com"),
      IsEmpty());
  EXPECT_EQ(ApprovalScopeMismatch("TXN1", "example.com", Names({"www.example.com"}), kNamed,
                                  "anything.example.com"),
            "the approval request TXN1 approves the names www.example.com, none of which is "
            "anything.example.com");
  // A CSR naming the domain itself approves the domain, not the names below it.
  EXPECT_THAT(ApprovalScopeMismatch("TXN1", "example.com", Names({"example.com"}), kNamed,
                                    "www.example.com"),
              HasSubstr("approves the names example.com, none of which is www.example.com"));
  // A record naming nothing and not for the whole domain covers nothing.
  EXPECT_THAT(ApprovalScopeMismatch("TXN1", "example.com", Names({}), kNamed, "www.example.com"),
              HasSubstr("names no host and is not for the whole domain example.com"));
}

TEST(ApprovalScopeMismatchTest, WholeDomainRequestsAreBoundedByTheDomain) {
  const bool kWholeDomain = true;
  EXPECT_THAT(ApprovalScopeMismatch("TXN2", "example.com", Names({"example.com"}), kWholeDomain,
                                    "anything.example.com"),
              IsEmpty());
  EXPECT_THAT(ApprovalScopeMismatch("TXN2", "example.com", Names({"example.com"}), kWholeDomain,
                                    "example.com"),
              IsEmpty());
  EXPECT_THAT(ApprovalScopeMismatch("TXN2", "example.com", Names({"example.com"}), kWholeDomain,
                                    "badexample.com"),
              HasSubstr("approves the domain example.com, which does not cover badexample.com"));
  // Names never widen the domain.
  EXPECT_THAT(ApprovalScopeMismatch("TXN2", "example.com", Names({"www.example.org"}), false,
                                    "www.example.org"),
              HasSubstr("which does not cover www.example.org"));
}

// The domain is compared as the names are (IsWithinDomain of common/net/dns_name.h): label-wise and
// ignoring case (RFC 4343).
TEST(ApprovalScopeMismatchTest, TheDomainIsComparedIgnoringCase) {
  EXPECT_THAT(
      ApprovalScopeMismatch("TXN3", "Example.COM", Names({"example.com"}), true, "www.example.com"),
      IsEmpty());
  EXPECT_THAT(ApprovalScopeMismatch("TXN3", "example.com", Names({"*.example.com"}), false,
                                    "WWW.Example.com"),
              IsEmpty());
  EXPECT_THAT(ApprovalScopeMismatch("TXN3", "example.com", Names({"example.com"}), true,
                                    "www.badExample.com"),
              HasSubstr("which does not cover www.badExample.com"));
}

}  // namespace
}  // namespace mecai
