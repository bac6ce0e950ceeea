#include "cli/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/hashing.h"

namespace mecai {
namespace {

std::string FormatUnixSeconds(int64_t seconds) {
  if (seconds == 0) return "(none)";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(seconds),
                          absl::UTCTimeZone());
}

}  // namespace

std::string DescribeObservation(const v1::ObservationBody& body, const std::string& indent) {
  std::string text;
  absl::StrAppend(
      &text, indent, "resolved ", body.hostname(), " to ",
      body.resolved_addresses().empty() ? std::string("nothing")
                                        : absl::StrJoin(body.resolved_addresses(), ", "),
      " in ", body.resolution_milliseconds(), " ms",
      body.resolution_error().empty() ? "" : " (" + body.resolution_error() + ")", "\n");
  for (const v1::AddressObservation& address : body.addresses()) {
    // docs/PROTOCOL.md "Key-typed handshakes": which certificate this handshake asked for.
    const std::string asked =
        address.requested_key_type() == v1::CERTIFICATE_KEY_TYPE_UNSPECIFIED
            ? std::string()
            : absl::StrCat(" (asking for ", KeyTypeName(address.requested_key_type()), ")");
    if (address.outcome() == v1::PROBE_OK) {
      absl::StrAppend(&text, indent, "  ", address.address(), ":", body.port(), asked, " served ",
                      ShortHex(address.leaf_sha256(), 16), " over ", address.tls_version(), " (",
                      address.certificate_chain_der_size(), " certificates, handshake ",
                      address.handshake_milliseconds(), " ms)\n");
    } else {
      absl::StrAppend(&text, indent, "  ", address.address(), ":", body.port(), asked, " ",
                      v1::ProbeOutcome_Name(address.outcome()), ": ", address.error(), "\n");
    }
  }
  return text;
}

std::string DescribeVouchResponse(const v1::VouchResponse& response) {
  std::string text;
  if (response.perspectives().empty()) {
    absl::StrAppend(&text, "No perspective probed (refused before probing).\n");
  } else {
    absl::StrAppend(&text, "Perspectives:\n");
  }
  for (const v1::PerspectiveResult& result : response.perspectives()) {
    const bool agrees = result.disagreement() == v1::REFUSAL_REASON_UNSPECIFIED;
    absl::StrAppend(&text, "  ", result.perspective().id(), " (", result.perspective().region(),
                    "): ", agrees ? "agrees" : v1::RefusalReason_Name(result.disagreement()), " — ",
                    result.detail(), " [", result.round_trip_milliseconds(), " ms]\n");
    v1::ObservationBody body;
    if (!result.observation().tbs().empty() && body.ParseFromString(result.observation().tbs())) {
      absl::StrAppend(&text, DescribeObservation(body, "      "));
    }
  }
  if (response.has_vouching_data()) {
    absl::StrAppend(&text, "Decision: ISSUED (quorum record ", response.log_index(),
                    response.served_from_record() ? ", answered from the record" : "", ")\n");
  } else {
    absl::StrAppend(&text, "Decision: REFUSED — ",
                    v1::RefusalReason_Name(response.refusal().reason()), ": ",
                    response.refusal().explanation(), "\n");
  }
  return text;
}

std::string DescribeStatement(const v1::VouchingStatement& statement) {
  std::vector<std::string> hashes;
  for (const std::string& hash : statement.certificate_sha256()) hashes.push_back(HexEncode(hash));
  std::vector<std::string> perspectives;
  for (const v1::Perspective& perspective : statement.perspectives()) {
    perspectives.push_back(absl::StrCat(perspective.id(), "/", perspective.region()));
  }
  std::string text;
  absl::StrAppend(&text, "  VA:                  ", statement.va_id(), "\n");
  absl::StrAppend(&text, "  trust list:          ", statement.trust_list(), "\n");
  absl::StrAppend(&text, "  host:                ", statement.hostname(), ":", statement.port(),
                  "\n");
  absl::StrAppend(
      &text, "  certificate SHA-256: ", absl::StrJoin(hashes, "\n                       "), "\n");
  absl::StrAppend(&text, "  perspectives:        ", absl::StrJoin(perspectives, ", "), "\n");
  absl::StrAppend(&text,
                  "  probed at:           ", FormatUnixSeconds(statement.probed_at_unix_seconds()),
                  "\n");
  absl::StrAppend(
      &text, "  revocation:          ",
      statement.revocation_source() == v1::REVOCATION_SOURCE_UNSPECIFIED
          ? std::string("no revocation source in this VD")
          : absl::StrCat(v1::RevocationSource_Name(statement.revocation_source()), " at ",
                         FormatUnixSeconds(statement.revocation_checked_at_unix_seconds())),
      "\n");
  absl::StrAppend(&text, "  log:                 shard ", statement.log_shard_id(), " index ",
                  statement.log_index(), "\n");
  absl::StrAppend(&text,
                  "  issued at:           ", FormatUnixSeconds(statement.issued_at_unix_seconds()),
                  "\n");
  // ARCHITECTURE.md §7: set only for trust lists that require phone approval of the key.
  absl::StrAppend(
      &text, "  phone approval:      ",
      statement.issuance_approved_out_of_band() ? "approved out of band" : "none stated", "\n");
  return text;
}

}  // namespace mecai
