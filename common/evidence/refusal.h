// Refusals are data (trust rule 2): a reason code for machines and a sentence for people.
#ifndef MECAI_COMMON_EVIDENCE_REFUSAL_H_
#define MECAI_COMMON_EVIDENCE_REFUSAL_H_

#include <string>
#include <utility>

#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

inline v1::Refusal MakeRefusal(v1::RefusalReason reason, std::string explanation) {
  v1::Refusal refusal;
  refusal.set_reason(reason);
  refusal.set_explanation(std::move(explanation));
  return refusal;
}

// True when `refusal` says nothing was refused.
inline bool IsAccepted(const v1::Refusal& refusal) {
  return refusal.reason() == v1::REFUSAL_REASON_UNSPECIFIED;
}

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_REFUSAL_H_
