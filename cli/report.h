// Human-readable summaries of vouching outcomes for the `mecai` command line.
#ifndef MECAI_CLI_REPORT_H_
#define MECAI_CLI_REPORT_H_

#include <string>

#include "proto/mecai/v1/vouching.pb.h"

namespace mecai {

// Who probed, what each perspective saw, and the decision.
std::string DescribeVouchResponse(const v1::VouchResponse& response);

// The fields of a VD's statement, one per line.
std::string DescribeStatement(const v1::VouchingStatement& statement);

// One Observation: resolved addresses and what each served.
std::string DescribeObservation(const v1::ObservationBody& body, const std::string& indent);

}  // namespace mecai

#endif  // MECAI_CLI_REPORT_H_
