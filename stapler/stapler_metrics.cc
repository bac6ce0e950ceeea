#include "stapler/stapler_metrics.h"

#include <openssl/x509.h>

#include <algorithm>
#include <limits>

#include "common/crypto/pem.h"
#include "common/revocation/revocation.h"

namespace mecai {
namespace {

// When `vd` stops being stapled: issued_at + max_age, or the VA certificate's notAfter when
// earlier (client/vd_verifier.h checks both).
absl::Time StaplableUntil(const v1::VouchingData& vd, absl::Duration max_age) {
  v1::VouchingStatement statement;
  if (!statement.ParseFromString(vd.statement())) return absl::InfinitePast();
  absl::Time until = absl::FromUnixSeconds(statement.issued_at_unix_seconds()) + max_age;
  if (!vd.va_certificate_chain_der().empty()) {
    auto certificate = ParseDerCertificate(vd.va_certificate_chain_der(0));
    if (!certificate.ok()) return absl::InfinitePast();
    until = std::min(until, Asn1TimeToAbslTime(X509_get0_notAfter(certificate->get())));
  }
  return until;
}

prometheus::ClientMetric GaugeOf(const std::string& va_id, double value) {
  prometheus::ClientMetric metric;
  metric.label.push_back({"va", va_id});
  metric.gauge.value = value;
  return metric;
}

}  // namespace

StaplerMetrics::StaplerMetrics(prometheus::Registry& registry,
                               const std::vector<std::string>& va_ids, const Stapler& stapler,
                               const Clock& clock, absl::Duration max_age)
    : va_ids_(va_ids), stapler_(stapler), clock_(clock), max_age_(max_age) {
  auto& family = prometheus::BuildCounter()
                     .Name("mecai_stapler_fetches_total")
                     .Help("Fetches of a VD from a VA's Vouching Server endpoints, by outcome")
                     .Register(registry);
  for (const std::string& va_id : va_ids_) {
    for (const char* outcome : kFetchOutcomes) {
      fetches_[va_id][outcome] = &family.Add({{"va", va_id}, {"outcome", outcome}});
    }
  }
}

void StaplerMetrics::RecordFetch(const std::string& va_id, const std::string& outcome) {
  auto va = fetches_.find(va_id);
  if (va == fetches_.end()) return;
  auto counter = va->second.find(outcome);
  if (counter != va->second.end()) counter->second->Increment();
}

std::vector<prometheus::MetricFamily> StaplerMetrics::Collect() const {
  const std::map<std::string, v1::VouchingData> held = stapler_.HeldVds();
  const absl::Time now = clock_.Now();
  prometheus::MetricFamily age{
      "mecai_stapler_vouching_data_age_seconds",
      "Age of the VD held for the VA (now minus its issued_at); +Inf while none is held",
      prometheus::MetricType::Gauge,
      {}};
  prometheus::MetricFamily expiry{
      "mecai_stapler_vouching_data_expiry_timestamp_seconds",
      "When the VD held for the VA stops being stapled (issued_at plus the maximum age, or the VA "
      "certificate's notAfter if earlier), Unix seconds; 0 while none is held",
      prometheus::MetricType::Gauge,
      {}};
  for (const std::string& va_id : va_ids_) {
    auto found = held.find(va_id);
    if (found == held.end()) {
      age.metric.push_back(GaugeOf(va_id, std::numeric_limits<double>::infinity()));
      expiry.metric.push_back(GaugeOf(va_id, 0));
      continue;
    }
    v1::VouchingStatement statement;
    statement.ParseFromString(found->second.statement());
    age.metric.push_back(GaugeOf(
        va_id,
        absl::ToDoubleSeconds(now - absl::FromUnixSeconds(statement.issued_at_unix_seconds()))));
    const absl::Time until = StaplableUntil(found->second, max_age_);
    expiry.metric.push_back(GaugeOf(va_id, until == absl::InfinitePast()
                                               ? 0
                                               : absl::ToDoubleSeconds(until - absl::UnixEpoch())));
  }
  return {std::move(age), std::move(expiry)};
}

}  // namespace mecai
