// What the store benchmarks write and measure: records the size of real decisions, and the bytes
// a store takes on disk.
#ifndef MECAI_BENCH_REALISTIC_RECORD_H_
#define MECAI_BENCH_REALISTIC_RECORD_H_

#include <cstdint>
#include <random>
#include <string>

#include "proto/mecai/v1/record.pb.h"

namespace mecai {

// The bytes of every regular file under `path`.
uint64_t DirectoryBytes(const std::string& path);

// `n` bytes that do not compress, as signatures, keys and hashes do not.
std::string RandomBytes(std::mt19937_64& random, size_t n);

// A record the size of an issued decision with three perspectives (~2 KiB) at `index` of log shard
// `shard`: its VR, VD signature and Observations random bytes, the same for the same index.
v1::QuorumRecord RealisticRecord(uint64_t index, const std::string& shard);

}  // namespace mecai

#endif  // MECAI_BENCH_REALISTIC_RECORD_H_
