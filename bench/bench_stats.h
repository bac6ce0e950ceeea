// What the benchmarks under bench/ measure with and report (docs/PERFORMANCE.md): the calling
// thread's or another process's CPU time, and the median of the rounds.
#ifndef MECAI_BENCH_BENCH_STATS_H_
#define MECAI_BENCH_BENCH_STATS_H_

#include <sys/types.h>

#include <vector>

namespace mecai {

// The calling thread's CPU time, in seconds (CLOCK_THREAD_CPUTIME_ID, clock_gettime(2)).
double ThreadCpuSeconds();

// CPU seconds (user + system) of process `pid` so far, from /proc/<pid>/stat (proc(5): fields
// 14 and 15, in clock ticks); 0 when it cannot be read.
double ProcessCpuSeconds(pid_t pid);

// The median of `values`: the middle one, or the mean of the two middle ones; 0 for none.
double Median(std::vector<double> values);

}  // namespace mecai

#endif  // MECAI_BENCH_BENCH_STATS_H_
