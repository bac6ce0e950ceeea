#include "stapler/stapler_health.h"

#include "absl/strings/str_cat.h"

namespace mecai {

StaplerHealth JudgeStaplerHealth(const std::map<std::string, v1::VouchingData>& held,
                                 const std::vector<std::string>& va_ids, absl::Time started,
                                 absl::Time now, absl::Duration max_vd_age) {
  StaplerHealth health;
  for (const std::string& va_id : va_ids) {
    auto found = held.find(va_id);
    v1::VouchingStatement statement;
    if (found == held.end() || !statement.ParseFromString(found->second.statement())) {
      if (now - started >= max_vd_age) {
        health.problems.push_back(absl::StrCat("no VD of VA '", va_id, "' held after ",
                                               absl::FormatDuration(now - started)));
      }
      continue;
    }
    const absl::Duration age = now - absl::FromUnixSeconds(statement.issued_at_unix_seconds());
    if (age >= max_vd_age) {
      health.problems.push_back(absl::StrCat("the VD of VA '", va_id, "' is ",
                                             absl::FormatDuration(age), " old, at least ",
                                             absl::FormatDuration(max_vd_age)));
    }
  }
  health.serving = health.problems.empty();
  return health;
}

}  // namespace mecai
