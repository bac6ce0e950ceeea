#include "common/crypto/sodium_ready.h"

#include <sodium.h>

namespace mecai {

bool SodiumReady() {
  // A function-local static: initialized once, thread-safely. sodium_init() returns 0 when it
  // initialized now, 1 when it already was, -1 on failure.
  static const bool ready = sodium_init() >= 0;
  return ready;
}

}  // namespace mecai
