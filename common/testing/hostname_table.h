// One table of hostnames with the verdict of each option set of common/net/dns_name.h, shared by
// //common/net:dns_name_test and the test that the coordinator's VR check and the probe agent's
// ProbeTask check agree (probe_agent/hostname_agreement_test.cc).
#ifndef MECAI_COMMON_TESTING_HOSTNAME_TABLE_H_
#define MECAI_COMMON_TESTING_HOSTNAME_TABLE_H_

#include <string>
#include <vector>

namespace mecai {
namespace test_hostnames {

struct HostnameCase {
  std::string name;
  // What each caller decides, true for accepted:
  bool vouching_request;  // ValidateHostname(name, hostname_rules::kVouchingRequest)
  bool probe_task;        // ValidateHostname(name, hostname_rules::kProbeTask)
  bool approval_domain;   // ValidateHostname(CanonicalHostname(name), kApprovalDomain)
  bool approval_name;     // ValidateHostname(CanonicalHostname(name), kApprovalName)
  // For a name kVouchingRequest refuses: a piece of its message that names the failed rule and,
  // where there is one, the offending label. Empty for an accepted name.
  std::string vouching_request_refusal;
};

// At least 40 rows: valid names, case, trailing dot, empty, length limits, hyphens, underscore,
// R-LDH and A-labels, non-ASCII bytes, wildcards, IP literals, numeric top-level labels.
const std::vector<HostnameCase>& HostnameCases();

// A name of exactly `octets` octets: labels of 63 "a"/"b"/"c"... joined by dots.
std::string NameOfLength(size_t octets);

}  // namespace test_hostnames
}  // namespace mecai

#endif  // MECAI_COMMON_TESTING_HOSTNAME_TABLE_H_
