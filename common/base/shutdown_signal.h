// Orderly shutdown of a service on SIGINT or SIGTERM (what Ctrl-C, systemd and Kubernetes send).
// The signals are blocked in every thread and received synchronously with sigwait(3) by the main
// thread, so no signal handler runs and gRPC's threads are never interrupted.
//
//   int main(int argc, char** argv) {
//     mecai::BlockTerminationSignals();  // First, before any thread exists.
//     ... load config, build the service, StartServer ...
//     mecai::ServeUntilSignal(*server);
//   }
#ifndef MECAI_COMMON_BASE_SHUTDOWN_SIGNAL_H_
#define MECAI_COMMON_BASE_SHUTDOWN_SIGNAL_H_

#include "common/rpc/grpc_server.h"

namespace mecai {

// Blocks SIGINT and SIGTERM in the calling thread. Threads inherit the signal mask of the thread
// that creates them, so calling this at the very start of main, before gRPC (or anything else)
// starts a thread, blocks them process-wide.
void BlockTerminationSignals();

// Waits for SIGINT or SIGTERM and logs which arrived, for a service without a gRPC server.
// REQUIRES: as ServeUntilSignal.
void WaitForTerminationSignal();

// Waits for SIGINT or SIGTERM, logs which arrived, and shuts `server` down (new calls refused,
// running ones given RunningServer::Shutdown's grace period). Returns once the server has stopped.
// REQUIRES: BlockTerminationSignals() ran first in main; otherwise a signal delivered to another
// thread takes its default action and ends the process at once.
void ServeUntilSignal(RunningServer& server);

}  // namespace mecai

#endif  // MECAI_COMMON_BASE_SHUTDOWN_SIGNAL_H_
