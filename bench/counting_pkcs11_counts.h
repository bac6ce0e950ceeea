// The counters bench/counting_pkcs11_module.cc keeps in a shared file, and how a benchmark creates
// and reads that file.
#ifndef MECAI_BENCH_COUNTING_PKCS11_COUNTS_H_
#define MECAI_BENCH_COUNTING_PKCS11_COUNTS_H_

#include <cstdint>

namespace mecai {

// The layout of the file: native-endian counters, each incremented atomically by every process
// that loaded the counting module. Only grows.
struct CountingPkcs11Counts {
  uint64_t sign_init_calls;   // C_SignInit.
  uint64_t sign_calls;        // C_Sign, whatever it returned (a length query too).
  uint64_t sign_final_calls;  // C_SignFinal, whatever it returned.
  uint64_t signatures;        // C_Sign or C_SignFinal that returned CKR_OK into a buffer.
};

}  // namespace mecai

#endif  // MECAI_BENCH_COUNTING_PKCS11_COUNTS_H_
