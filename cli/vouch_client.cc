#include "cli/vouch_client.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "common/base/clock.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/pem.h"
#include "common/crypto/signature.h"
#include "common/evidence/vouching_request.h"
#include "common/rpc/grpc_channel.h"
#include "proto/mecai/v1/vouching.grpc.pb.h"
#include "stapler/vouching_fetcher.h"

namespace mecai {
absl::StatusOr<v1::VouchResponse> RequestVouching(const VouchOptions& options) {
  ASSIGN_OR_RETURN(auto fetcher, VouchingFetcher::Create(options.server, SystemClock::Get()));
  return fetcher->Vouch(options.vouching_server, options.timeout);
}

absl::StatusOr<v1::VouchingStatement> VerifyVouchingDataFile(const VerifyOptions& options) {
  ASSIGN_OR_RETURN(std::string serialized, ReadFile(options.vouching_data_file, 1 << 20));
  v1::VouchingData vd;
  if (!vd.ParseFromString(serialized)) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.vouching_data_file, " is not a serialized VouchingData"));
  }
  ASSIGN_OR_RETURN(auto vas, VaList::Load(options.va_list_file));
  ASSIGN_OR_RETURN(auto certificates, LoadPemCertificatesAsDer(options.certificate_file));
  VdExpectation expected;
  expected.hostname = options.hostname;
  expected.certificate_der = certificates.front();
  expected.candidate_vas = options.candidate_vas;
  expected.now = absl::Now();
  expected.max_age = options.max_age;
  expected.require_out_of_band_approval = options.require_out_of_band_approval;
  return VerifyVouchingData(vd, *vas, expected);
}

}  // namespace mecai
