#include "approval/approval_metrics.h"

#include "absl/strings/ascii.h"

namespace mecai {

ApprovalMetrics::ApprovalMetrics(prometheus::Registry& registry)
    : submissions_(prometheus::BuildCounter()
                       .Name("mecai_approval_requests_submitted_total")
                       .Help("SubmitIssuanceRequest calls, by result.")
                       .Register(registry)),
      rdap_lookups_(prometheus::BuildCounter()
                        .Name("mecai_approval_rdap_lookups_total")
                        .Help("RDAP (RFC 9083) contact lookups, by result.")
                        .Register(registry)),
      calls_(prometheus::BuildCounter()
                 .Name("mecai_approval_calls_total")
                 .Help("Phone numbers called through the voice gateway, by outcome.")
                 .Register(registry)),
      gateway_requests_(prometheus::BuildCounter()
                            .Name("mecai_approval_voice_gateway_requests_total")
                            .Help("Requests to the voice gateway (retries included), by result.")
                            .Register(registry)),
      page_attempts_(prometheus::BuildCounter()
                         .Name("mecai_approval_page_attempts_total")
                         .Help("Approve or reject attempts on the certapproval page, by result.")
                         .Register(registry)),
      states_entered_(prometheus::BuildCounter()
                          .Name("mecai_approval_requests_entered_state_total")
                          .Help("Issuance requests that entered each state.")
                          .Register(registry)),
      signed_records_(prometheus::BuildCounter()
                          .Name("mecai_approval_signed_records_total")
                          .Help("Signed approval records handed out with GetIssuanceStatus.")
                          .Register(registry)
                          .Add({})) {}

void ApprovalMetrics::RecordSubmission(const std::string& result) {
  submissions_.Add({{"result", result}}).Increment();
}

void ApprovalMetrics::RecordRdapLookup(bool succeeded) {
  rdap_lookups_.Add({{"result", succeeded ? "ok" : "failed"}}).Increment();
}

void ApprovalMetrics::RecordCall(bool delivered) {
  calls_.Add({{"outcome", delivered ? "placed" : "failed"}}).Increment();
}

void ApprovalMetrics::RecordGatewayRequest(bool succeeded) {
  gateway_requests_.Add({{"result", succeeded ? "ok" : "failed"}}).Increment();
}

void ApprovalMetrics::RecordPageAttempt(const std::string& result) {
  page_attempts_.Add({{"result", result}}).Increment();
}

void ApprovalMetrics::RecordStateEntered(v1::IssuanceState state) {
  // "ISSUANCE_STATE_AWAITING_APPROVAL" -> "awaiting_approval".
  std::string name = v1::IssuanceState_Name(state);
  const std::string prefix = "ISSUANCE_STATE_";
  if (name.compare(0, prefix.size(), prefix) == 0) name = name.substr(prefix.size());
  states_entered_.Add({{"state", absl::AsciiStrToLower(name)}}).Increment();
}

void ApprovalMetrics::RecordSignedRecord() { signed_records_.Increment(); }

}  // namespace mecai
