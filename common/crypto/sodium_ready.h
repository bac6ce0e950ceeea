// libsodium's one-time initialization, shared by every caller of libsodium in this repository
// (common/crypto/ed25519_verify.h, common/crypto/ed25519_sign.h).
#ifndef MECAI_COMMON_CRYPTO_SODIUM_READY_H_
#define MECAI_COMMON_CRYPTO_SODIUM_READY_H_

namespace mecai {

// True once sodium_init() has succeeded, which picks the fastest implementations for this CPU;
// it runs once, whichever thread calls first. False if libsodium cannot initialize.
bool SodiumReady();

}  // namespace mecai

#endif  // MECAI_COMMON_CRYPTO_SODIUM_READY_H_
