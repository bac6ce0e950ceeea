#include "common/base/shutdown_signal.h"

#include <pthread.h>
#include <signal.h>

#include "common/base/logging.h"

namespace mecai {
namespace {

sigset_t TerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

void BlockTerminationSignals() {
  const sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

void WaitForTerminationSignal() {
  const sigset_t signals = TerminationSignals();
  // Blocked here too: sigwait needs its signals blocked in the waiting thread.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int received = 0;
  while (sigwait(&signals, &received) != 0) {
  }
  MECAI_LOG(Info) << "received " << (received == SIGINT ? "SIGINT" : "SIGTERM")
                  << ", shutting down";
}

void ServeUntilSignal(RunningServer& server) {
  WaitForTerminationSignal();
  server.Shutdown();
  MECAI_LOG(Info) << "server stopped";
}

}  // namespace mecai
