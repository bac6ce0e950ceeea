#include "common/base/clock.h"

namespace mecai {

SystemClock& SystemClock::Get() {
  static SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace mecai
