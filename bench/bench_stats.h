// What the benchmarks under bench/ measure with and report (docs/PERFORMANCE.md): the calling
// thread's CPU time, and the median of the rounds.
#ifndef MECAI_BENCH_BENCH_STATS_H_
#define MECAI_BENCH_BENCH_STATS_H_

#include <vector>

namespace mecai {

// The calling thread's CPU time, in seconds (CLOCK_THREAD_CPUTIME_ID, clock_gettime(2)).
double ThreadCpuSeconds();

// The median of `values`: the middle one, or the mean of the two middle ones; 0 for none.
double Median(std::vector<double> values);

}  // namespace mecai

#endif  // MECAI_BENCH_BENCH_STATS_H_
