// The certapproval page's own Prometheus metrics (docs/APPROVAL.md "Behind a reverse proxy",
// "Limits"): POSTs the page refused before they reached a request. Labels are a bounded enum.
#ifndef MECAI_APPROVAL_WEB_PAGE_METRICS_H_
#define MECAI_APPROVAL_WEB_PAGE_METRICS_H_

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace mecai {

// Why the page refused a POST (the `reason` label).
enum class PageRefusal {
  // The Origin header is not the origin of approval_site_url.
  kOrigin,
  // No CSRF cookie, or a token that does not match it and the transaction number.
  kCsrf,
  // The body is larger than the web server accepts (413).
  kBodyTooLarge,
  // The client's network reached a wrong-code limit (429).
  kTooManyAttempts,
};

// "origin", "csrf", "body_too_large", "too_many_attempts".
const char* PageRefusalName(PageRefusal refusal);

// Thread-safe (prometheus-cpp metrics are).
class ApprovalPageMetrics {
 public:
  explicit ApprovalPageMetrics(prometheus::Registry& registry);

  void RecordRefusal(PageRefusal refusal);

 private:
  prometheus::Family<prometheus::Counter>& refusals_;
};

}  // namespace mecai

#endif  // MECAI_APPROVAL_WEB_PAGE_METRICS_H_
