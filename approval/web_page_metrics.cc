#include "approval/web_page_metrics.h"

namespace mecai {

const char* PageRefusalName(PageRefusal refusal) {
  switch (refusal) {
    case PageRefusal::kOrigin:
      return "origin";
    case PageRefusal::kCsrf:
      return "csrf";
    case PageRefusal::kBodyTooLarge:
      return "body_too_large";
    case PageRefusal::kTooManyAttempts:
      return "too_many_attempts";
  }
  return "unknown";
}

ApprovalPageMetrics::ApprovalPageMetrics(prometheus::Registry& registry)
    : refusals_(prometheus::BuildCounter()
                    .Name("mecai_approval_page_refusals_total")
                    .Help("POSTs the certapproval page refused before they reached a request, by "
                          "reason.")
                    .Register(registry)) {
  // Every reason is exported from the start, at 0, so that alerts see a series.
  for (PageRefusal refusal : {PageRefusal::kOrigin, PageRefusal::kCsrf, PageRefusal::kBodyTooLarge,
                              PageRefusal::kTooManyAttempts}) {
    refusals_.Add({{"reason", PageRefusalName(refusal)}});
  }
}

void ApprovalPageMetrics::RecordRefusal(PageRefusal refusal) {
  refusals_.Add({{"reason", PageRefusalName(refusal)}}).Increment();
}

}  // namespace mecai
