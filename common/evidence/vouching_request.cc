#include "common/evidence/vouching_request.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/certificate_cache.h"
#include "common/crypto/certificate_key_type.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signed_object.h"
#include "common/evidence/refusal.h"
#include "common/net/dns_name.h"
#include "google/protobuf/util/message_differencer.h"

namespace mecai {
namespace {

// One VR of the request after its own signature was checked.
struct SignedBody {
  v1::VouchingRequestBody body;
  std::vector<X509Ptr> chain;
};

VouchingRequestCheck Refuse(v1::RefusalReason reason, std::string explanation) {
  VouchingRequestCheck check;
  check.refusal = MakeRefusal(reason, std::move(explanation));
  return check;
}

// Parses the body and chain of `signed_request`. The key that must have signed the body is inside
// it, so the body is parsed first; nothing parsed is acted on until VerifyOwnSignature succeeds.
absl::StatusOr<SignedBody> ParseSignedBody(const v1::SignedVouchingRequest& signed_request,
                                           const VouchingRequestLimits& limits,
                                           v1::RefusalReason* reason) {
  *reason = v1::MALFORMED_REQUEST;
  SignedBody result;
  absl::Status parsed = ParseSignedBytes(signed_request.tbs(), "the signed VR body", &result.body);
  if (!parsed.ok()) {
    if (!result.body.ParseFromString(signed_request.tbs())) {
      return absl::InvalidArgumentError("the signed VR body is not a VouchingRequestBody");
    }
    return parsed;
  }
  const auto& chain_der = result.body.certificate_chain_der();
  if (chain_der.empty()) return absl::InvalidArgumentError("the VR carries no certificate");
  if (static_cast<size_t>(chain_der.size()) > limits.max_chain_length) {
    *reason = v1::REQUEST_TOO_LARGE;
    return absl::InvalidArgumentError(absl::StrCat("the chain has ", chain_der.size(),
                                                   " certificates; the limit is ",
                                                   limits.max_chain_length));
  }
  for (int i = 0; i < chain_der.size(); ++i) {
    // Parsed once while cached: a server sends the same chain with every VR.
    auto certificate = CertificateCache::ForVouchingRequests().Parse(chain_der[i]);
    if (!certificate.ok()) {
      return Annotate(certificate.status(), absl::StrCat("certificate ", i, " of the chain"));
    }
    result.chain.push_back(std::move(*certificate));
  }
  return result;
}

// Verifies the signature of `signed_request` over its exact tbs bytes with the leaf's key
// (trust rule 1).
absl::Status VerifyOwnSignature(const v1::SignedVouchingRequest& signed_request, X509* leaf) {
  EvpPkeyPtr key(X509_get_pubkey(leaf));
  if (key == nullptr) return absl::InvalidArgumentError("the leaf certificate has no public key");
  return VerifyObject(key.get(), SignedObject::kVouchingRequestBody, signed_request.signature(),
                      signed_request.tbs());
}

// Verifies a rollover half's outer signature with `outer_key` and returns the inner VR.
absl::StatusOr<v1::SignedVouchingRequest> UnwrapRolloverHalf(
    const v1::WrappedVouchingRequest& wrapped, EVP_PKEY* outer_key) {
  RETURN_IF_ERROR(VerifyObject(outer_key, SignedObject::kVouchingRequestRolloverWrap,
                               wrapped.outer_signature(), wrapped.inner()));
  v1::SignedVouchingRequest inner;
  RETURN_IF_ERROR(ParseSignedBytes(wrapped.inner(), "a wrapped VR", &inner));
  return inner;
}

// Refuses UNSUPPORTED_KEY_TYPE unless `leaf`'s key is of a type the probe agents can ask a server
// for (docs/PROTOCOL.md "Key-typed handshakes"): a certificate no agent can select could never be
// vouched for, so the VR is refused before its signatures are even checked.
VouchingRequestCheck CheckLeafKeyType(X509* leaf, absl::string_view which) {
  absl::StatusOr<v1::CertificateKeyType> key_type = CertificateKeyTypeOf(leaf);
  if (key_type.ok()) return VouchingRequestCheck();
  return Refuse(v1::UNSUPPORTED_KEY_TYPE, absl::StrCat(which, key_type.status().message()));
}

bool SamePublicKey(X509* a, X509* b) {
  EvpPkeyPtr key_a(X509_get_pubkey(a));
  EvpPkeyPtr key_b(X509_get_pubkey(b));
  return key_a != nullptr && key_b != nullptr && EVP_PKEY_eq(key_a.get(), key_b.get()) == 1;
}

// Checks the body fields every form shares.
VouchingRequestCheck CheckBody(const v1::VouchingRequestBody& body,
                               const VouchingRequestLimits& limits, absl::Time now) {
  absl::Status hostname = ValidateVouchingRequestHostname(body.hostname());
  if (!hostname.ok()) return Refuse(v1::MALFORMED_REQUEST, std::string(hostname.message()));
  if (body.port() == 0 || body.port() > 65535) {
    return Refuse(v1::MALFORMED_REQUEST, absl::StrCat("port ", body.port(), " is out of range"));
  }
  if (body.trust_list().empty() || body.trust_list().size() > 64) {
    return Refuse(v1::MALFORMED_REQUEST, "the trust-list name is empty or too long");
  }
  if (body.nonce().size() > 64) {
    return Refuse(v1::REQUEST_TOO_LARGE, "the nonce is longer than 64 bytes");
  }
  // The MECAI proposal: "If the timestamp is not recent, the connection will be dropped."
  absl::Time stamped = absl::FromUnixSeconds(body.timestamp_unix_seconds());
  absl::Duration skew = absl::AbsDuration(now - stamped);
  if (skew > limits.freshness_window) {
    return Refuse(v1::STALE_TIMESTAMP,
                  absl::StrCat("the VR timestamp is ", absl::FormatDuration(now - stamped),
                               " away from now; the window is ±",
                               absl::FormatDuration(limits.freshness_window)));
  }
  return VouchingRequestCheck();
}

}  // namespace

absl::Status ValidateVouchingRequestHostname(absl::string_view hostname) {
  return ValidateHostname(hostname, hostname_rules::kVouchingRequest);
}

VouchingRequestCheck CheckVouchingRequestEnvelope(absl::string_view serialized_request,
                                                  const VouchingRequestLimits& limits,
                                                  absl::Time now) {
  if (serialized_request.size() > limits.max_request_bytes) {
    return Refuse(v1::REQUEST_TOO_LARGE,
                  absl::StrCat("the VR is ", serialized_request.size(), " bytes; the limit is ",
                               limits.max_request_bytes));
  }
  v1::VouchingRequest request;
  if (serialized_request.empty() || !request.ParseFromString(std::string(serialized_request))) {
    return Refuse(v1::MALFORMED_REQUEST, "the request is not a serialized VouchingRequest");
  }
  // Every byte of the VR is either signed or a signature: an envelope field this code does not
  // know (or the unsigned next-certificate chain of statement version 1, field 3) is refused.
  absl::Status known_fields = RefuseUnknownFields(request, "the VR");
  if (!known_fields.ok()) return Refuse(v1::MALFORMED_REQUEST, std::string(known_fields.message()));

  std::vector<SignedBody> bodies;
  v1::RefusalReason reason = v1::MALFORMED_REQUEST;
  if (request.has_single()) {
    auto body = ParseSignedBody(request.single(), limits, &reason);
    if (!body.ok()) return Refuse(reason, std::string(body.status().message()));
    // ARCHITECTURE.md §3 order: well-formed, then fresh, then a key the agents can ask for, then
    // signed.
    VouchingRequestCheck shape = CheckBody(body->body, limits, now);
    if (!shape.accepted()) return shape;
    VouchingRequestCheck key_type = CheckLeafKeyType(body->chain[0].get(), "");
    if (!key_type.accepted()) return key_type;
    absl::Status signature = VerifyOwnSignature(request.single(), body->chain[0].get());
    if (!signature.ok()) return Refuse(v1::BAD_SIGNATURE, std::string(signature.message()));
    bodies.push_back(std::move(*body));
    if (!bodies[0].body.same_key_next_certificate_chain_der().empty()) {
      // The MECAI proposal: "This additional complication can be avoided if both certificates
      // contain the same public key." The second certificate must carry the signing key.
      SignedBody next;
      next.body = bodies[0].body;
      next.body.clear_certificate_chain_der();
      next.body.clear_same_key_next_certificate_chain_der();
      for (const std::string& der : bodies[0].body.same_key_next_certificate_chain_der()) {
        auto certificate = CertificateCache::ForVouchingRequests().Parse(der);
        if (!certificate.ok()) {
          return Refuse(v1::MALFORMED_REQUEST,
                        absl::StrCat("next certificate chain: ", certificate.status().message()));
        }
        *next.body.add_certificate_chain_der() = der;
        next.chain.push_back(std::move(*certificate));
      }
      if (next.chain.size() > limits.max_chain_length) {
        return Refuse(v1::REQUEST_TOO_LARGE, "the next certificate chain is too long");
      }
      if (!SamePublicKey(bodies[0].chain[0].get(), next.chain[0].get())) {
        return Refuse(v1::BAD_SIGNATURE,
                      "the next certificate does not carry the key that signed the VR; use the "
                      "rollover form with four signatures");
      }
      bodies.push_back(std::move(next));
    }
  } else if (request.has_rollover()) {
    // The MECAI proposal, "Server behaviour": "If the VS fails to verify any of the 4 signatures,
    // it will drop the connection." Each inner VR is signed by its own key, each wrapper by the
    // other's.
    const auto& rollover = request.rollover();
    v1::SignedVouchingRequest old_inner;
    v1::SignedVouchingRequest new_inner;
    if (!ParseSignedBytes(rollover.old_certificate().inner(), "a wrapped VR", &old_inner).ok() ||
        !ParseSignedBytes(rollover.new_certificate().inner(), "a wrapped VR", &new_inner).ok()) {
      return Refuse(v1::MALFORMED_REQUEST, "a wrapped VR is not a SignedVouchingRequest");
    }
    auto old_body = ParseSignedBody(old_inner, limits, &reason);
    if (!old_body.ok()) {
      return Refuse(reason, absl::StrCat("old-certificate VR: ", old_body.status().message()));
    }
    auto new_body = ParseSignedBody(new_inner, limits, &reason);
    if (!new_body.ok()) {
      return Refuse(reason, absl::StrCat("new-certificate VR: ", new_body.status().message()));
    }
    for (const SignedBody* body : {&*old_body, &*new_body}) {
      VouchingRequestCheck shape = CheckBody(body->body, limits, now);
      if (!shape.accepted()) return shape;
      if (!body->body.same_key_next_certificate_chain_der().empty()) {
        return Refuse(v1::ROLLOVER_MISMATCH,
                      "a rollover VR names its two certificates itself; it carries no same-key "
                      "next certificate");
      }
    }
    for (const auto& [body, which] : {std::make_pair(&*old_body, "old-certificate VR: "),
                                      std::make_pair(&*new_body, "new-certificate VR: ")}) {
      VouchingRequestCheck key_type = CheckLeafKeyType(body->chain[0].get(), which);
      if (!key_type.accepted()) return key_type;
    }
    if (!VerifyOwnSignature(old_inner, old_body->chain[0].get()).ok()) {
      return Refuse(v1::BAD_SIGNATURE,
                    "the old-certificate VR is not signed by the old certificate's key");
    }
    if (!VerifyOwnSignature(new_inner, new_body->chain[0].get()).ok()) {
      return Refuse(v1::BAD_SIGNATURE,
                    "the new-certificate VR is not signed by the new certificate's key");
    }
    EvpPkeyPtr old_key(X509_get_pubkey(old_body->chain[0].get()));
    EvpPkeyPtr new_key(X509_get_pubkey(new_body->chain[0].get()));
    if (!UnwrapRolloverHalf(rollover.old_certificate(), new_key.get()).ok()) {
      return Refuse(v1::BAD_SIGNATURE,
                    "the old-certificate VR is not wrapped in a valid signature by the new key");
    }
    if (!UnwrapRolloverHalf(rollover.new_certificate(), old_key.get()).ok()) {
      return Refuse(v1::BAD_SIGNATURE,
                    "the new-certificate VR is not wrapped in a valid signature by the old key");
    }
    // "Both VRs must be identical, except the certificate and the signature."
    v1::VouchingRequestBody old_rest = old_body->body;
    v1::VouchingRequestBody new_rest = new_body->body;
    old_rest.clear_certificate_chain_der();
    new_rest.clear_certificate_chain_der();
    if (!google::protobuf::util::MessageDifferencer::Equals(old_rest, new_rest)) {
      return Refuse(v1::ROLLOVER_MISMATCH,
                    "the two VRs of the rollover differ in more than certificate and signature");
    }
    bodies.push_back(std::move(*old_body));
    bodies.push_back(std::move(*new_body));
  } else {
    return Refuse(v1::MALFORMED_REQUEST, "the VouchingRequest has neither form set");
  }

  VouchingRequestCheck check;
  check.request.body = bodies[0].body;
  check.request.request_sha256 = Sha256(serialized_request);
  for (SignedBody& body : bodies) {
    // A same-key next certificate carries the key checked above, so every leaf has a key type.
    absl::StatusOr<v1::CertificateKeyType> key_type = CertificateKeyTypeOf(body.chain[0].get());
    if (!key_type.ok()) {
      return Refuse(v1::UNSUPPORTED_KEY_TYPE, std::string(key_type.status().message()));
    }
    const std::string sha256 = Sha256(body.body.certificate_chain_der(0));
    check.request.leaf_sha256.push_back(sha256);
    check.request.vouched.push_back(VouchedCertificate{sha256, *key_type});
    check.request.chains.push_back(std::move(body.chain));
  }
  if (check.request.leaf_sha256.size() == 2 &&
      check.request.leaf_sha256[0] == check.request.leaf_sha256[1]) {
    return Refuse(v1::ROLLOVER_MISMATCH, "both certificates of the rollover are the same");
  }
  return check;
}

void CheckVouchingRequestCertificates(const TrustLists& trust_lists, absl::Time now,
                                      VouchingRequestCheck* check) {
  const VerifiedVouchingRequest& request = check->request;
  check->request.validated_paths.clear();
  for (size_t i = 0; i < request.chains.size(); ++i) {
    X509* leaf = request.chains[i][0].get();
    std::string which = request.chains.size() == 1 ? "the certificate"
                                                   : absl::StrCat("certificate ", i + 1, " of 2");
    if (!CertificateMatchesHostname(leaf, request.body.hostname())) {
      check->refusal = MakeRefusal(
          v1::HOSTNAME_MISMATCH,
          absl::StrCat(which, " is not valid for ", request.body.hostname(), " (RFC 6125)"));
      return;
    }
    if (!HasServerAuthUsage(leaf)) {
      check->refusal = MakeRefusal(
          v1::NOT_SERVER_AUTH,
          absl::StrCat(which, " lacks the serverAuth extended key usage (RFC 5280 §4.2.1.12)"));
      return;
    }
  }
  if (!trust_lists.Has(request.body.trust_list())) {
    check->refusal =
        MakeRefusal(v1::UNKNOWN_TRUST_LIST, absl::StrCat("this Vouching Server does not serve "
                                                         "trust list '",
                                                         request.body.trust_list(), "'"));
    return;
  }
  for (const auto& chain : request.chains) {
    std::vector<X509*> borrowed;
    for (const X509Ptr& certificate : chain) borrowed.push_back(certificate.get());
    ChainVerdict verdict = trust_lists.VerifyChain(request.body.trust_list(), borrowed, now);
    if (!IsAccepted(verdict.refusal)) {
      check->refusal = verdict.refusal;
      return;
    }
    v1::Refusal no_issuer = CheckPathHasIssuer(verdict.path);
    if (!IsAccepted(no_issuer)) {
      check->refusal = no_issuer;
      return;
    }
    check->request.validated_paths.push_back(std::move(verdict.path));
  }
}

std::vector<v1::CertificateKeyType> ProbeKeyTypes(const VerifiedVouchingRequest& request) {
  std::vector<v1::CertificateKeyType> key_types;
  for (const VouchedCertificate& vouched : request.vouched) key_types.push_back(vouched.key_type);
  std::sort(key_types.begin(), key_types.end());
  key_types.erase(std::unique(key_types.begin(), key_types.end()), key_types.end());
  return key_types;
}

v1::Refusal CheckPathHasIssuer(const std::vector<X509Ptr>& validated_path) {
  if (validated_path.size() >= 2) return v1::Refusal();
  if (validated_path.empty()) {
    return MakeRefusal(v1::REVOCATION_UNKNOWN, "no validated path; revocation cannot be checked");
  }
  return MakeRefusal(
      v1::REVOCATION_UNKNOWN,
      absl::StrCat("the certificate ", ShortHex(Sha256(CertificateToDer(validated_path[0].get()))),
                   " is its own trust anchor; its revocation cannot be checked"));
}

VouchingRequestCheck CheckVouchingRequest(absl::string_view serialized_request,
                                          const VouchingRequestLimits& limits,
                                          const TrustLists& trust_lists, absl::Time now) {
  VouchingRequestCheck check = CheckVouchingRequestEnvelope(serialized_request, limits, now);
  if (check.accepted()) CheckVouchingRequestCertificates(trust_lists, now, &check);
  return check;
}

absl::StatusOr<std::string> BuildVouchingRequest(v1::VouchingRequestBody body,
                                                 const std::vector<std::string>& chain_der,
                                                 SigningKey& key) {
  body.clear_certificate_chain_der();
  for (const std::string& der : chain_der) *body.add_certificate_chain_der() = der;
  v1::VouchingRequest request;
  v1::SignedVouchingRequest* single = request.mutable_single();
  single->set_tbs(body.SerializeAsString());
  ASSIGN_OR_RETURN(*single->mutable_signature(),
                   SignObject(key, SignedObject::kVouchingRequestBody, single->tbs()));
  return request.SerializeAsString();
}

absl::StatusOr<std::string> BuildRolloverVouchingRequest(
    const v1::VouchingRequestBody& body, const std::vector<std::string>& old_chain_der,
    SigningKey& old_key, const std::vector<std::string>& new_chain_der, SigningKey& new_key) {
  auto make_inner = [&](const std::vector<std::string>& chain,
                        SigningKey& own_key) -> absl::StatusOr<std::string> {
    v1::VouchingRequestBody own = body;
    own.clear_certificate_chain_der();
    for (const std::string& der : chain) *own.add_certificate_chain_der() = der;
    v1::SignedVouchingRequest inner;
    inner.set_tbs(own.SerializeAsString());
    ASSIGN_OR_RETURN(*inner.mutable_signature(),
                     SignObject(own_key, SignedObject::kVouchingRequestBody, inner.tbs()));
    return inner.SerializeAsString();
  };
  v1::VouchingRequest request;
  v1::RolloverVouchingRequest* rollover = request.mutable_rollover();
  ASSIGN_OR_RETURN(std::string old_inner, make_inner(old_chain_der, old_key));
  ASSIGN_OR_RETURN(std::string new_inner, make_inner(new_chain_der, new_key));
  rollover->mutable_old_certificate()->set_inner(old_inner);
  ASSIGN_OR_RETURN(*rollover->mutable_old_certificate()->mutable_outer_signature(),
                   SignObject(new_key, SignedObject::kVouchingRequestRolloverWrap, old_inner));
  rollover->mutable_new_certificate()->set_inner(new_inner);
  ASSIGN_OR_RETURN(*rollover->mutable_new_certificate()->mutable_outer_signature(),
                   SignObject(old_key, SignedObject::kVouchingRequestRolloverWrap, new_inner));
  return request.SerializeAsString();
}

}  // namespace mecai
