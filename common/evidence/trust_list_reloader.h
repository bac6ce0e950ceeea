// Re-reads trust-list bundles when their files change (ARCHITECTURE.md §6: "TL files reload on
// change"), on a background thread, keeping administrative changes.
#ifndef MECAI_COMMON_EVIDENCE_TRUST_LIST_RELOADER_H_
#define MECAI_COMMON_EVIDENCE_TRUST_LIST_RELOADER_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/evidence/trust_lists.h"

namespace mecai {

// Thread-safe. Stops (and joins its thread) on destruction.
class TrustListReloader {
 public:
  TrustListReloader(TrustLists& lists, absl::Duration interval);
  ~TrustListReloader();

 private:
  void Run();
  TrustLists& lists_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace mecai

#endif  // MECAI_COMMON_EVIDENCE_TRUST_LIST_RELOADER_H_
