#include "common/testing/process_threads.h"

#include <cstdlib>
#include <fstream>
#include <string>

namespace mecai {

int ThreadsOfThisProcess() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return -1;
}

}  // namespace mecai
