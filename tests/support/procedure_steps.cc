#include "tests/support/procedure_steps.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/process/child_process.h"
#include "common/rpc/grpc_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/coordinator_calls.h"

namespace mecai {

absl::StatusOr<std::string> FreshRequest(const LocalCluster& cluster) {
  return SignedRequestFromFiles(
      cluster.ServerChainFile(), cluster.ServerKeyFile(), LocalCluster::kTargetHost,
      static_cast<uint32_t>(cluster.target_port()), LocalCluster::kTrustList, absl::Now());
}

absl::StatusOr<AuditReport> AuditWholeLog(const LocalCluster& cluster, std::string* output) {
  AuditOptions options;
  options.vouching_server = cluster.CoordinatorPeer();
  options.verify = true;
  options.va_list_file = cluster.VaListFile();
  std::ostringstream out;
  absl::StatusOr<AuditReport> report = RunAudit(options, out);
  *output = out.str();
  return report;
}

absl::StatusOr<v1::VouchResponse> VouchOnce(const LocalCluster& cluster) {
  ASSIGN_OR_RETURN(std::string request, FreshRequest(cluster));
  ASSIGN_OR_RETURN(auto channel, MakeChannel(cluster.CoordinatorPeer()));
  return CallVouch(*channel, request);
}

absl::StatusOr<v1::VouchResponse> AwaitAnswer(const LocalCluster& cluster, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::VouchResponse> response = VouchOnce(cluster);
  while (!response.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    response = VouchOnce(cluster);
  }
  return response;
}

absl::StatusOr<v1::VouchResponse> AwaitIssued(const LocalCluster& cluster, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no VR was answered");
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::VouchResponse> response = VouchOnce(cluster);
    if (response.ok() && response->has_vouching_data()) return response;
    last = response.ok() ? absl::AbortedError(absl::StrCat(
                               "refused ", v1::RefusalReason_Name(response->refusal().reason()),
                               ": ", response->refusal().explanation()))
                         : response.status();
    absl::SleepFor(absl::Milliseconds(200));
  }
  return last;
}

absl::StatusOr<std::string> RunStep(const LocalCluster& cluster, const std::string& name,
                                    const std::vector<std::string>& argv,
                                    const std::vector<std::string>& environment) {
  // A log of its own per run: a child's log file is appended to, never truncated.
  static std::atomic<int> runs{0};
  const std::string log = cluster.Path(absl::StrCat("logs/", name, "-", ++runs, ".log"));
  ASSIGN_OR_RETURN(auto process, ChildProcess::Start(argv, log, environment));
  if (!process->WaitForExit(absl::Seconds(60))) {
    return absl::DeadlineExceededError(absl::StrCat(argv.front(), " did not exit within 60 s"));
  }
  std::string output = ReadFile(log).value_or("");
  if (process->ExitCode() != 0) {
    return absl::InternalError(
        absl::StrCat(argv.front(), " ", process->ExitDescription(), ": ", output));
  }
  return output;
}

absl::StatusOr<std::string> FetchMetrics(const LocalCluster& cluster, const std::string& service) {
  ASSIGN_OR_RETURN(int port, cluster.MetricsPort(service));
  static int counter = 0;
  const std::string text_file = cluster.Path(absl::StrCat("metrics-", service, "-", ++counter));
  RETURN_IF_ERROR(
      RunStep(cluster, absl::StrCat("curl-", service, "-", counter),
              {"curl", "--silent", "--show-error", "--fail", "--max-time", "10", "--output",
               text_file, absl::StrCat("http://127.0.0.1:", port, "/metrics")})
          .status());
  return ReadFile(text_file);
}

double SumOfSamples(const std::string& text, const std::string& name, const std::string& label) {
  double sum = -1;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    double value = 0;
    if (label.empty() && absl::ConsumePrefix(&line, name + " ")) {
      if (absl::SimpleAtod(line, &value)) sum = (sum < 0 ? 0 : sum) + value;
      continue;
    }
    if (!absl::ConsumePrefix(&line, name + "{")) continue;
    const size_t end = line.find("} ");
    if (end == absl::string_view::npos) continue;
    const std::vector<std::string> labels = absl::StrSplit(line.substr(0, end), ',');
    if (!label.empty() && std::find(labels.begin(), labels.end(), label) == labels.end()) continue;
    if (!absl::SimpleAtod(line.substr(end + 2), &value)) continue;
    sum = (sum < 0 ? 0 : sum) + value;
  }
  return sum;
}

absl::StatusOr<std::string> HealthStatus(int port) {
  // grpc++ ships no health client: the call is made with the generic stub. HealthCheckRequest
  // {service: ""} is the empty message; the answer's field 1 is the status (1 SERVING,
  // 2 NOT_SERVING).
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&done](grpc::Status status) { done.set_value(std::move(status)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("Health/Check: ", status.error_message()));
  }
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::InternalError("unreadable answer");
  std::string serialized;
  for (const grpc::Slice& slice : slices) {
    serialized.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (serialized == std::string("\x08\x01", 2)) return std::string("SERVING");
  if (serialized == std::string("\x08\x02", 2)) return std::string("NOT_SERVING");
  return absl::InternalError(absl::StrCat("unexpected answer of ", serialized.size(), " bytes"));
}

}  // namespace mecai
