// The number of threads of the running process, for tests that show work holds no thread.
#ifndef MECAI_COMMON_TESTING_PROCESS_THREADS_H_
#define MECAI_COMMON_TESTING_PROCESS_THREADS_H_

namespace mecai {

// The threads of this process now (/proc/self/status "Threads:"), or -1 when it cannot be read.
int ThreadsOfThisProcess();

}  // namespace mecai

#endif  // MECAI_COMMON_TESTING_PROCESS_THREADS_H_
