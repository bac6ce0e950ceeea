// The approval service's Prometheus metrics (CONTRIBUTING.md rule 7; ARCHITECTURE.md §7): requests
// submitted, registry lookups, calls and gateway requests, attempts on the certapproval page, and
// the states requests enter. Labels are bounded enums; never a domain, number or transaction
// number.
#ifndef MECAI_APPROVAL_APPROVAL_METRICS_H_
#define MECAI_APPROVAL_APPROVAL_METRICS_H_

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "proto/mecai/v1/approval.pb.h"

namespace mecai {

// Thread-safe (prometheus-cpp metrics are).
class ApprovalMetrics {
 public:
  explicit ApprovalMetrics(prometheus::Registry& registry);

  // One SubmitIssuanceRequest: "accepted", "invalid" (a bad field), "duplicate" (transaction
  // number used before) or "error" (the store failed).
  void RecordSubmission(const std::string& result);
  void RecordRdapLookup(bool succeeded);
  // One phone number called: delivered or not after every attempt.
  void RecordCall(bool delivered);
  // One request to the voice gateway.
  void RecordGatewayRequest(bool succeeded);
  // One approve or reject attempt on the page: "approved", "rejected", "wrong_code", "locked",
  // "expired", "already_decided" or "unknown_transaction".
  void RecordPageAttempt(const std::string& result);
  // A request entered `state`.
  void RecordStateEntered(v1::IssuanceState state);
  // One GetIssuanceStatus answer carried a signed record.
  void RecordSignedRecord();

 private:
  prometheus::Family<prometheus::Counter>& submissions_;
  prometheus::Family<prometheus::Counter>& rdap_lookups_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Counter>& gateway_requests_;
  prometheus::Family<prometheus::Counter>& page_attempts_;
  prometheus::Family<prometheus::Counter>& states_entered_;
  prometheus::Counter& signed_records_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_APPROVAL_METRICS_H_
