// The steps an operator takes in docs/OPERATIONS.md's procedures, as the cross-service tests take
// them on a LocalCluster: edit a service's config file, send a fresh VR, wait until the cluster
// issues again, run a system command (pkcs11-tool, curl) and read a metric.
#ifndef MECAI_TESTS_SUPPORT_PROCEDURE_STEPS_H_
#define MECAI_TESTS_SUPPORT_PROCEDURE_STEPS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/audit_client.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "google/protobuf/text_format.h"
#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// Reads the config at `path`, lets `edit` change it, and writes it back: the operator's edit.
template <typename Config>
absl::Status EditConfig(const std::string& path, const std::function<void(Config&)>& edit) {
  ASSIGN_OR_RETURN(Config config, LoadConfig<Config>(path));
  edit(config);
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(config, &text)) {
    return absl::InternalError("cannot print the config");
  }
  return WriteFileAtomically(path, text);
}

// A fresh serialized VR for the cluster's target, with its served certificate and key.
absl::StatusOr<std::string> FreshRequest(const LocalCluster& cluster);

// One fresh VR to the cluster's coordinator, answered.
absl::StatusOr<v1::VouchResponse> VouchOnce(const LocalCluster& cluster);

// Sends fresh VRs (at most `timeout`) until one is answered (issued or refused), as an operator
// waits for a restarted coordinator; the last failure of the call otherwise.
absl::StatusOr<v1::VouchResponse> AwaitAnswer(const LocalCluster& cluster,
                                              absl::Duration timeout = absl::Seconds(30));

// Sends fresh VRs (at most `timeout`) until one is issued, as an operator checks a step before
// the next; returns it, or the last failure or refusal.
absl::StatusOr<v1::VouchResponse> AwaitIssued(const LocalCluster& cluster,
                                              absl::Duration timeout = absl::Seconds(30));

// Runs `argv` (at most 60 s) with `environment` added, its output in the cluster's
// logs/`name`-<run>.log; returns its output, or INTERNAL with the output when it exits other
// than 0.
absl::StatusOr<std::string> RunStep(const LocalCluster& cluster, const std::string& name,
                                    const std::vector<std::string>& argv,
                                    const std::vector<std::string>& environment = {});

// `mecai audit --verify` of the cluster's whole log against a freshly signed checkpoint, through
// the coordinator, with the cluster's VA list; its report (problems empty when the log verifies)
// and, in `output`, what the command prints.
absl::StatusOr<AuditReport> AuditWholeLog(const LocalCluster& cluster, std::string* output);

// The text of a service's /metrics ("coordinator", "signer", ...), fetched with curl.
absl::StatusOr<std::string> FetchMetrics(const LocalCluster& cluster, const std::string& service);

// The sum of the Prometheus samples of `name` in `text` that carry the label `label` (e.g.
// region="sa-east"), whatever their other labels, as the PromQL selector name{label} selects them
// (an empty `label`: every sample of `name`); -1 when there is none.
double SumOfSamples(const std::string& text, const std::string& name, const std::string& label);

// The overall status grpc.health.v1.Health/Check answers on the plaintext health port
// 127.0.0.1:`port` (a service's health_address, which Kubernetes probes ask): SERVING or
// NOT_SERVING, as the enum's name; the call's failure otherwise.
absl::StatusOr<std::string> HealthStatus(int port);

}  // namespace mecai

#endif  // MECAI_TESTS_SUPPORT_PROCEDURE_STEPS_H_
