#include "common/revocation/revocation.h"

#include <openssl/asn1.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/hashing.h"
#include "common/crypto/openssl_error.h"
#include "common/crypto/pem.h"
#include "common/revocation/parsed_crl_cache.h"

namespace mecai {
namespace {

using OcspRequestPtr = OpenSslPtr<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspCertIdPtr = OpenSslPtr<OCSP_CERTID, OCSP_CERTID_free>;
using IssuingDistPointPtr = OpenSslPtr<ISSUING_DIST_POINT, ISSUING_DIST_POINT_free>;
using Asn1OctetStringPtr = OpenSslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Asn1EnumeratedPtr = OpenSslPtr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;

struct DistPointsDeleter {
  void operator()(STACK_OF(DIST_POINT) * points) const { CRL_DIST_POINTS_free(points); }
};
using DistPointsPtr = std::unique_ptr<STACK_OF(DIST_POINT), DistPointsDeleter>;

struct OpenSslStringStackDeleter {
  void operator()(STACK_OF(OPENSSL_STRING) * strings) const { X509_email_free(strings); }
};
using OpenSslStringStackPtr = std::unique_ptr<STACK_OF(OPENSSL_STRING), OpenSslStringStackDeleter>;

// A STACK_OF(X509) that borrows its elements.
struct BorrowedX509StackDeleter {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_free(stack); }
};
using BorrowedX509StackPtr = std::unique_ptr<STACK_OF(X509), BorrowedX509StackDeleter>;

RevocationVerdict Unusable(std::string detail) {
  RevocationVerdict verdict;
  verdict.status = RevocationStatus::kUnusable;
  verdict.detail = std::move(detail);
  return verdict;
}

// The verdict with `detail`, keeping the times already filled in.
RevocationVerdict UnusableWithTimes(RevocationVerdict verdict, std::string detail) {
  verdict.status = RevocationStatus::kUnusable;
  verdict.detail = std::move(detail);
  return verdict;
}

bool IsHttpUrl(absl::string_view uri) {
  const std::string prefix = absl::AsciiStrToLower(uri.substr(0, 8));
  return absl::StartsWith(prefix, "http://") || absl::StartsWith(prefix, "https://");
}

void AppendUnique(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

// Every uniformResourceIdentifier of a fullName DistributionPointName (RFC 5280 §4.2.1.13).
std::vector<std::string> FullNameUris(const DIST_POINT_NAME* name) {
  std::vector<std::string> uris;
  if (name == nullptr || name->type != 0 || name->name.fullname == nullptr) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(name->name.fullname); ++i) {
    const GENERAL_NAME* general_name = sk_GENERAL_NAME_value(name->name.fullname, i);
    if (general_name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = general_name->d.uniformResourceIdentifier;
    AppendUnique(uris, std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                                   static_cast<size_t>(ASN1_STRING_length(uri))));
  }
  return uris;
}

// Every URI of the certificate's CRL distribution points, of any scheme.
std::vector<std::string> AllCrlDistributionPointUris(X509* certificate) {
  std::vector<std::string> uris;
  DistPointsPtr points(static_cast<STACK_OF(DIST_POINT)*>(
      X509_get_ext_d2i(certificate, NID_crl_distribution_points, nullptr, nullptr)));
  if (points == nullptr) return uris;
  for (int i = 0; i < sk_DIST_POINT_num(points.get()); ++i) {
    for (std::string& uri : FullNameUris(sk_DIST_POINT_value(points.get(), i)->distpoint)) {
      AppendUnique(uris, std::move(uri));
    }
  }
  return uris;
}

// "keyCompromise", or "" when the reason is absent or unspecified.
std::string ReasonText(int reason) {
  if (reason < 0 || reason == OCSP_REVOKED_STATUS_UNSPECIFIED) return "";
  return OCSP_crl_reason_str(reason);
}

std::string RevokedDetail(absl::string_view source, absl::Time revoked_at, int reason) {
  std::string detail = absl::StrCat(source, " lists the certificate as revoked at ",
                                    FormatRevocationTime(revoked_at));
  const std::string reason_text = ReasonText(reason);
  if (!reason_text.empty()) absl::StrAppend(&detail, " (reason: ", reason_text, ")");
  return detail;
}

// RFC 5280 §5.2: a CRL with an unrecognised critical extension must not be used. Recognised here:
// the ones a complete, direct CRL carries.
std::string UnsupportedCrlExtension(X509_CRL* crl) {
  for (int i = 0; i < X509_CRL_get_ext_count(crl); ++i) {
    X509_EXTENSION* extension = X509_CRL_get_ext(crl, i);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(extension));
    if (nid == NID_delta_crl) {
      return "it is a delta CRL (RFC 5280 §5.2.4), which needs its base CRL";
    }
    if (!X509_EXTENSION_get_critical(extension)) continue;
    if (nid == NID_issuing_distribution_point || nid == NID_crl_number ||
        nid == NID_authority_key_identifier || nid == NID_issuer_alt_name) {
      continue;
    }
    char oid[80] = {};
    OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(extension), 1);
    return absl::StrCat("it has the unrecognised critical extension ", oid, " (RFC 5280 §5.2)");
  }
  return "";
}

// RFC 5280 §5.2.5 and §6.3.3 (b)(2): the scope of the CRL covers `certificate`. "" when it does,
// else why not.
std::string CrlScopeMismatch(X509_CRL* crl, X509* certificate) {
  int critical = 0;
  IssuingDistPointPtr idp(static_cast<ISSUING_DIST_POINT*>(
      X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &critical, nullptr)));
  if (idp == nullptr) {
    // -1: absent; -2: present more than once or malformed.
    if (critical == -1) return "";
    return "its IssuingDistributionPoint extension is malformed";
  }
  if (idp->indirectCRL) return "it is an indirect CRL (RFC 5280 §5.2.5), which is not supported";
  if (idp->onlyattr) return "it covers only attribute certificates";
  if (idp->onlysomereasons != nullptr) {
    return "it covers only some revocation reasons (onlySomeReasons, RFC 5280 §5.2.5)";
  }
  const bool is_ca = X509_check_ca(certificate) > 0;
  if (idp->onlyuser && is_ca) return "it covers only end-entity certificates";
  if (idp->onlyCA && !is_ca) return "it covers only CA certificates";
  if (idp->distpoint == nullptr) return "";
  if (idp->distpoint->type != 0) {
    return "its IssuingDistributionPoint names a relative distribution point, which is not "
           "supported";
  }
  const std::vector<std::string> scope = FullNameUris(idp->distpoint);
  const std::vector<std::string> certificate_uris = AllCrlDistributionPointUris(certificate);
  for (const std::string& uri : scope) {
    if (std::find(certificate_uris.begin(), certificate_uris.end(), uri) !=
        certificate_uris.end()) {
      return "";
    }
  }
  return absl::StrCat(
      "it is the CRL shard for ",
      scope.empty() ? std::string("a non-URI distribution point") : absl::StrJoin(scope, ", "),
      ", but the certificate names ",
      certificate_uris.empty() ? std::string("no CRL distribution point")
                               : absl::StrJoin(certificate_uris, ", "),
      " (RFC 5280 §5.2.5)");
}

// The reasonCode of a CRL entry (RFC 5280 §5.3.1), -1 when absent.
int CrlEntryReason(X509_REVOKED* entry) {
  int critical = 0;
  Asn1EnumeratedPtr reason(static_cast<ASN1_ENUMERATED*>(
      X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, nullptr)));
  if (reason == nullptr) return -1;
  return static_cast<int>(ASN1_ENUMERATED_get(reason.get()));
}

bool ValidAt(X509* certificate, absl::Time now) {
  const absl::Time not_before = Asn1TimeToAbslTime(X509_get0_notBefore(certificate));
  const absl::Time not_after = Asn1TimeToAbslTime(X509_get0_notAfter(certificate));
  return not_before != absl::InfinitePast() && not_after != absl::InfinitePast() &&
         not_before <= now && now <= not_after;
}

std::string SubjectText(X509* certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return "?";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int)
  return std::string(data, static_cast<size_t>(length));
}

// RFC 6960 §4.2.2.2: `signer` may sign responses about certificates `issuer` issued when it is the
// issuer, or is issued and signed by the issuer and carries id-kp-OCSPSigning. "" when
// authorised, else why not.
std::string ResponderNotAuthorised(X509* signer, X509* issuer, absl::Time now) {
  if (X509_cmp(signer, issuer) == 0) return "";
  const std::string name = SubjectText(signer);
  if (X509_NAME_cmp(X509_get_issuer_name(signer), X509_get_subject_name(issuer)) != 0 ||
      X509_verify(signer, X509_get0_pubkey(issuer)) != 1) {
    ClearOpenSslErrors();
    return absl::StrCat("the response is signed by \"", name,
                        "\", which is neither the certificate's issuer nor issued by it "
                        "(RFC 6960 §4.2.2.2)");
  }
  if ((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0) {
    return absl::StrCat("the delegated responder \"", name,
                        "\" does not carry id-kp-OCSPSigning (RFC 6960 §4.2.2.2)");
  }
  if ((X509_get_key_usage(signer) & KU_DIGITAL_SIGNATURE) == 0) {
    return absl::StrCat("the keyUsage of the delegated responder \"", name,
                        "\" does not allow digitalSignature");
  }
  if (!ValidAt(signer, now)) {
    return absl::StrCat("the delegated responder certificate \"", name, "\" is not valid at ",
                        FormatRevocationTime(now));
  }
  return "";
}

// OCSP_basic_verify with `issuer` as the only trust anchor (partial chain) at `now`: the signature,
// the responder's chain to the issuer, and OpenSSL's own responder authorisation check.
absl::Status VerifyBasicResponseSignature(OCSP_BASICRESP* basic, X509* issuer, absl::Time now) {
  X509StorePtr store(X509_STORE_new());
  if (store == nullptr) return OpenSslError("X509_STORE_new");
  if (X509_STORE_add_cert(store.get(), issuer) != 1) return OpenSslError("X509_STORE_add_cert");
  X509_VERIFY_PARAM* parameters = X509_STORE_get0_param(store.get());
  X509_VERIFY_PARAM_set_flags(parameters, X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_time(parameters, absl::ToTimeT(now));
  BorrowedX509StackPtr certificates(sk_X509_new_null());
  if (certificates == nullptr || sk_X509_push(certificates.get(), issuer) <= 0) {
    return OpenSslError("sk_X509_push");
  }
  ClearOpenSslErrors();
  if (OCSP_basic_verify(basic, certificates.get(), store.get(), 0) != 1) {
    return OpenSslError("the response signature or its signer does not verify",
                        absl::StatusCode::kInvalidArgument);
  }
  return absl::OkStatus();
}

// RFC 8954 §2.1: the nonce extension's value is an OCTET STRING holding the nonce. Some responders
// put the nonce bytes in directly; both forms are compared.
bool NonceMatches(const ASN1_OCTET_STRING* extension_value, absl::string_view expected) {
  const unsigned char* data = ASN1_STRING_get0_data(extension_value);
  const long length = ASN1_STRING_length(extension_value);  // NOLINT(runtime/int)
  const unsigned char* cursor = data;
  Asn1OctetStringPtr inner(d2i_ASN1_OCTET_STRING(nullptr, &cursor, length));
  if (inner != nullptr && cursor == data + length &&
      ConstantTimeEquals(
          absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner.get())),
                            ASN1_STRING_length(inner.get())),
          expected)) {
    return true;
  }
  ClearOpenSslErrors();
  return ConstantTimeEquals(
      absl::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(length)),
      expected);
}

}  // namespace

std::string FormatRevocationTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

absl::Time Asn1TimeToAbslTime(const ASN1_TIME* time) {
  if (time == nullptr) return absl::InfinitePast();
  struct tm broken_down = {};
  if (ASN1_TIME_to_tm(time, &broken_down) != 1) {
    ClearOpenSslErrors();
    return absl::InfinitePast();
  }
  return absl::FromTimeT(timegm(&broken_down));
}

absl::StatusOr<X509CrlPtr> ParseCrl(absl::string_view crl_der_or_pem) {
  ClearOpenSslErrors();
  const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(crl_der_or_pem);
  if (absl::StartsWith(trimmed, "-----BEGIN")) {
    BioPtr bio(BIO_new_mem_buf(trimmed.data(), static_cast<int>(trimmed.size())));
    if (bio == nullptr) return OpenSslError("BIO_new_mem_buf");
    X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (crl == nullptr) {
      return OpenSslError("the PEM CRL does not parse", absl::StatusCode::kInvalidArgument);
    }
    return crl;
  }
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(crl_der_or_pem.data());
  const unsigned char* end = cursor + crl_der_or_pem.size();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(crl_der_or_pem.size())));
  if (crl == nullptr) {
    return OpenSslError("the DER CRL does not parse", absl::StatusCode::kInvalidArgument);
  }
  if (cursor != end) {
    return absl::InvalidArgumentError(
        absl::StrCat("the DER CRL has ", end - cursor, " trailing bytes"));
  }
  return crl;
}

std::string CrlToDer(X509_CRL* crl) {
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(crl, &der);
  if (length <= 0) return "";
  std::string result(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return result;
}

RevocationVerdict CheckCrl(absl::string_view crl_der_or_pem, X509* certificate, X509* issuer,
                           absl::Time now) {
  absl::StatusOr<X509CrlPtr> crl = ParseCrl(crl_der_or_pem);
  if (!crl.ok()) return Unusable(std::string(crl.status().message()));
  return CheckParsedCrl(crl->get(), certificate, issuer, now);
}

std::string IssuerKeyDer(X509* issuer) {
  X509_PUBKEY* key = X509_get_X509_PUBKEY(issuer);
  unsigned char* der = nullptr;
  const int length = key == nullptr ? -1 : i2d_X509_PUBKEY(key, &der);
  if (length <= 0) {
    ClearOpenSslErrors();
    return "";
  }
  std::string encoded(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return encoded;
}

RevocationVerdict CheckParsedCrl(X509_CRL* crl, X509* certificate, X509* issuer, absl::Time now,
                                 absl::string_view verified_with) {
  RevocationVerdict verdict;
  verdict.this_update = Asn1TimeToAbslTime(X509_CRL_get0_lastUpdate(crl));
  verdict.next_update = Asn1TimeToAbslTime(X509_CRL_get0_nextUpdate(crl));

  // §6.3.3 (b)(1): a direct CRL is issued by the certificate's issuer.
  if (X509_NAME_cmp(X509_get_issuer_name(certificate), X509_get_subject_name(issuer)) != 0) {
    return UnusableWithTimes(verdict, "the issuer certificate given did not issue the certificate");
  }
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
    return UnusableWithTimes(verdict,
                             "the CRL is issued by another CA than the certificate's issuer");
  }
  // §4.2.1.3 and §6.3.3 (f): the issuer's key may sign CRLs.
  if ((X509_get_key_usage(issuer) & KU_CRL_SIGN) == 0) {
    return UnusableWithTimes(verdict, "the issuer's keyUsage does not allow cRLSign");
  }
  // §6.3.3 (g).
  const bool verified_before = !verified_with.empty() && IssuerKeyDer(issuer) == verified_with;
  ClearOpenSslErrors();
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  if (!verified_before && (issuer_key == nullptr || X509_CRL_verify(crl, issuer_key) != 1)) {
    ClearOpenSslErrors();
    return UnusableWithTimes(verdict, "the CRL's signature does not verify with the issuer's key");
  }
  // §5.1.2.4, §5.1.2.5, §6.3.3 (a).
  if (verdict.this_update == absl::InfinitePast()) {
    return UnusableWithTimes(verdict, "the CRL's thisUpdate does not parse");
  }
  if (verdict.this_update > now) {
    return UnusableWithTimes(
        verdict, absl::StrCat("the CRL's thisUpdate ", FormatRevocationTime(verdict.this_update),
                              " is in the future"));
  }
  if (X509_CRL_get0_nextUpdate(crl) == nullptr || verdict.next_update == absl::InfinitePast()) {
    return UnusableWithTimes(verdict, "the CRL has no nextUpdate (RFC 5280 §5.1.2.5)");
  }
  if (now >= verdict.next_update) {
    return UnusableWithTimes(
        verdict, absl::StrCat("the CRL expired at ", FormatRevocationTime(verdict.next_update)));
  }
  const std::string unsupported = UnsupportedCrlExtension(crl);
  if (!unsupported.empty()) {
    return UnusableWithTimes(verdict, absl::StrCat("the CRL cannot be used: ", unsupported));
  }
  const std::string scope_mismatch = CrlScopeMismatch(crl, certificate);
  if (!scope_mismatch.empty()) {
    return UnusableWithTimes(
        verdict, absl::StrCat("the CRL does not cover the certificate: ", scope_mismatch));
  }
  // §6.3.3 (j). OpenSSL sorts the entries once, under the CRL's lock, then searches in O(log n).
  X509_REVOKED* entry = nullptr;
  const int found = X509_CRL_get0_by_serial(
      crl, &entry, const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(certificate)));
  if (found == 1 && entry != nullptr) {
    verdict.status = RevocationStatus::kRevoked;
    verdict.revocation_time = Asn1TimeToAbslTime(X509_REVOKED_get0_revocationDate(entry));
    verdict.detail = RevokedDetail("the CRL", verdict.revocation_time, CrlEntryReason(entry));
    return verdict;
  }
  // 0: not listed; 2: listed with reason removeFromCRL (§5.3.1), which lifts a hold.
  verdict.status = RevocationStatus::kGood;
  verdict.detail =
      absl::StrCat("the CRL of ", FormatRevocationTime(verdict.this_update), " (valid until ",
                   FormatRevocationTime(verdict.next_update), ") does not list the certificate");
  return verdict;
}

RevocationVerdict CheckOcspResponse(absl::string_view response_der, X509* certificate, X509* issuer,
                                    absl::string_view expected_nonce, absl::Time now) {
  ClearOpenSslErrors();
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(response_der.data());
  const unsigned char* end = cursor + response_der.size();
  OcspResponsePtr response(
      d2i_OCSP_RESPONSE(nullptr, &cursor, static_cast<long>(response_der.size())));
  if (response == nullptr || cursor != end) {
    ClearOpenSslErrors();
    return Unusable("the OCSP response does not parse as DER");
  }
  // §4.2.1.
  const int response_status = OCSP_response_status(response.get());
  if (response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return Unusable(absl::StrCat("the OCSP responder answered \"",
                                 OCSP_response_status_str(response_status), "\""));
  }
  OcspBasicResponsePtr basic(OCSP_response_get1_basic(response.get()));
  if (basic == nullptr) {
    ClearOpenSslErrors();
    return Unusable("the OCSP response is not a basic response (RFC 6960 §4.2.1)");
  }

  // §4.2.2.2 and §4.2.2.3: who signed it, and may they.
  BorrowedX509StackPtr extra_certificates(sk_X509_new_null());
  if (extra_certificates == nullptr || sk_X509_push(extra_certificates.get(), issuer) <= 0) {
    return Unusable("out of memory");
  }
  X509* signer = nullptr;
  if (OCSP_resp_get0_signer(basic.get(), &signer, extra_certificates.get()) != 1 ||
      signer == nullptr) {
    ClearOpenSslErrors();
    return Unusable(
        "the OCSP response's ResponderID matches neither the issuer nor a certificate in the "
        "response (RFC 6960 §4.2.2.3)");
  }
  const std::string not_authorised = ResponderNotAuthorised(signer, issuer, now);
  if (!not_authorised.empty()) return Unusable(not_authorised);
  absl::Status signature = VerifyBasicResponseSignature(basic.get(), issuer, now);
  if (!signature.ok()) return Unusable(std::string(signature.message()));

  // RFC 8954 / RFC 6960 §4.4.1.
  const int nonce_index = OCSP_BASICRESP_get_ext_by_NID(basic.get(), NID_id_pkix_OCSP_Nonce, -1);
  if (nonce_index >= 0 && !expected_nonce.empty()) {
    X509_EXTENSION* nonce = OCSP_BASICRESP_get_ext(basic.get(), nonce_index);
    if (nonce == nullptr || !NonceMatches(X509_EXTENSION_get_data(nonce), expected_nonce)) {
      return Unusable("the OCSP response's nonce differs from the request's (RFC 8954)");
    }
  }

  // §4.1.1 CertID: SHA-1 as requested, or SHA-256 from responders that answer with it.
  OCSP_SINGLERESP* single = nullptr;
  for (const EVP_MD* digest : {EVP_sha1(), EVP_sha256()}) {
    OcspCertIdPtr id(OCSP_cert_to_id(digest, certificate, issuer));
    if (id == nullptr) continue;
    const int index = OCSP_resp_find(basic.get(), id.get(), -1);
    if (index >= 0) {
      single = OCSP_resp_get0(basic.get(), index);
      break;
    }
  }
  ClearOpenSslErrors();
  if (single == nullptr) {
    return Unusable("the OCSP response holds no status for this certificate");
  }
  int reason = -1;
  ASN1_GENERALIZEDTIME* revoked_at = nullptr;
  ASN1_GENERALIZEDTIME* this_update = nullptr;
  ASN1_GENERALIZEDTIME* next_update = nullptr;
  const int certificate_status =
      OCSP_single_get0_status(single, &reason, &revoked_at, &this_update, &next_update);

  // §4.2.2.1: the time window, with kOcspClockSkew either way.
  RevocationVerdict verdict;
  verdict.this_update = Asn1TimeToAbslTime(this_update);
  verdict.next_update = Asn1TimeToAbslTime(next_update);
  if (verdict.this_update == absl::InfinitePast()) {
    return UnusableWithTimes(verdict, "the OCSP response's thisUpdate does not parse");
  }
  if (verdict.this_update > now + kOcspClockSkew) {
    return UnusableWithTimes(
        verdict, absl::StrCat("the OCSP response's thisUpdate ",
                              FormatRevocationTime(verdict.this_update), " is in the future"));
  }
  if (next_update != nullptr) {
    if (verdict.next_update == absl::InfinitePast()) {
      return UnusableWithTimes(verdict, "the OCSP response's nextUpdate does not parse");
    }
    if (now >= verdict.next_update + kOcspClockSkew) {
      return UnusableWithTimes(verdict, absl::StrCat("the OCSP response is stale: it expired at ",
                                                     FormatRevocationTime(verdict.next_update)));
    }
  } else if (now >= verdict.this_update + kOcspMaximumAgeWithoutNextUpdate) {
    return UnusableWithTimes(
        verdict, absl::StrCat("the OCSP response is stale: it has no nextUpdate and was produced "
                              "at ",
                              FormatRevocationTime(verdict.this_update)));
  }

  switch (certificate_status) {
    case V_OCSP_CERTSTATUS_GOOD:
      verdict.status = RevocationStatus::kGood;
      verdict.detail = absl::StrCat("the OCSP response of ",
                                    FormatRevocationTime(verdict.this_update), " says good");
      return verdict;
    case V_OCSP_CERTSTATUS_REVOKED:
      verdict.status = RevocationStatus::kRevoked;
      verdict.revocation_time = Asn1TimeToAbslTime(revoked_at);
      verdict.detail = RevokedDetail("the OCSP response", verdict.revocation_time, reason);
      return verdict;
    case V_OCSP_CERTSTATUS_UNKNOWN:
      return UnusableWithTimes(verdict,
                               "the OCSP responder does not know the certificate (status unknown)");
    default:
      return UnusableWithTimes(verdict, "the OCSP response has an invalid certStatus");
  }
}

std::vector<std::string> CrlDistributionPointUrls(X509* certificate) {
  std::vector<std::string> urls;
  for (std::string& uri : AllCrlDistributionPointUris(certificate)) {
    if (IsHttpUrl(uri)) urls.push_back(std::move(uri));
  }
  return urls;
}

std::vector<std::string> OcspResponderUrls(X509* certificate) {
  std::vector<std::string> urls;
  OpenSslStringStackPtr responders(X509_get1_ocsp(certificate));
  if (responders == nullptr) return urls;
  for (int i = 0; i < sk_OPENSSL_STRING_num(responders.get()); ++i) {
    const char* uri = sk_OPENSSL_STRING_value(responders.get(), i);
    if (uri != nullptr && IsHttpUrl(uri)) AppendUnique(urls, uri);
  }
  return urls;
}

absl::StatusOr<std::string> BuildOcspRequest(X509* certificate, X509* issuer,
                                             absl::string_view nonce) {
  ClearOpenSslErrors();
  OcspRequestPtr request(OCSP_REQUEST_new());
  if (request == nullptr) return OpenSslError("OCSP_REQUEST_new");
  OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), certificate, issuer));
  if (id == nullptr) return OpenSslError("OCSP_cert_to_id");
  if (OCSP_request_add0_id(request.get(), id.get()) == nullptr) {
    return OpenSslError("OCSP_request_add0_id");
  }
  id.release();  // Owned by the request now.
  if (!nonce.empty() &&
      OCSP_request_add1_nonce(request.get(),
                              reinterpret_cast<unsigned char*>(const_cast<char*>(nonce.data())),
                              static_cast<int>(nonce.size())) != 1) {
    return OpenSslError("OCSP_request_add1_nonce");
  }
  unsigned char* der = nullptr;
  const int length = i2d_OCSP_REQUEST(request.get(), &der);
  if (length <= 0) return OpenSslError("i2d_OCSP_REQUEST");
  std::string result(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return result;
}

RevocationVerdict VerifyRevocationEvidence(const v1::RevocationEvidence& evidence,
                                           X509* certificate, X509* issuer, absl::Time now,
                                           ParsedCrlCache* crls) {
  if (!ConstantTimeEquals(evidence.certificate_sha256(), Sha256(CertificateToDer(certificate)))) {
    return Unusable(absl::StrCat("the revocation evidence is about certificate ",
                                 ShortHex(evidence.certificate_sha256()), ", not this one"));
  }
  // A hash names the response (as the log's records do); it is never a substitute for it.
  if (evidence.response_der().empty()) {
    return Unusable("the revocation evidence carries no response, only its hash");
  }
  if (evidence.source() == v1::CRL && crls != nullptr) {
    return crls->Check(evidence.response_sha256(), evidence.response_der(), certificate, issuer,
                       now);
  }
  if (!evidence.response_sha256().empty() &&
      !ConstantTimeEquals(evidence.response_sha256(), Sha256(evidence.response_der()))) {
    return Unusable("the revocation evidence's response_sha256 is not the SHA-256 of its response");
  }
  switch (evidence.source()) {
    case v1::CRL:
      return CheckCrl(evidence.response_der(), certificate, issuer, now);
    case v1::OCSP:
      return CheckOcspResponse(evidence.response_der(), certificate, issuer, "", now);
    default:
      return Unusable("the revocation evidence names no source (CRL or OCSP)");
  }
}

namespace {

const char* SourceName(v1::RevocationSource source) {
  switch (source) {
    case v1::CRL:
      return "CRL";
    case v1::OCSP:
      return "OCSP";
    default:
      return "evidence without a source";
  }
}

// "CRL http://…: <detail>".
std::string DescribeSource(v1::RevocationSource source, absl::string_view url,
                           absl::string_view detail) {
  return absl::StrCat(SourceName(source), url.empty() ? "" : " ", url, ": ", detail);
}

// Index of a source kind in per-kind arrays.
int SourceIndex(v1::RevocationSource source) { return source == v1::CRL ? 0 : 1; }

}  // namespace

RevocationJudgement CombineRevocationVerdicts(const std::vector<SourcedRevocationVerdict>& verdicts,
                                              X509* certificate, absl::Time now,
                                              const RevocationLimits& limits) {
  RevocationJudgement judgement;
  // Revoked anywhere refuses, at any age: a revocation is not undone by an older "good".
  for (const SourcedRevocationVerdict& sourced : verdicts) {
    if (sourced.verdict.status != RevocationStatus::kRevoked) continue;
    judgement.reason = v1::CERTIFICATE_REVOKED;
    judgement.source = sourced.source;
    judgement.explanation = DescribeSource(sourced.source, sourced.url, sourced.verdict.detail);
    return judgement;
  }

  // The newest good verdict of each source kind (CRL, OCSP) that is fresh enough to rely on.
  const SourcedRevocationVerdict* newest_good[2] = {nullptr, nullptr};
  bool presented[2] = {false, false};
  std::vector<std::string> descriptions;
  for (const SourcedRevocationVerdict& sourced : verdicts) {
    const RevocationVerdict& verdict = sourced.verdict;
    const bool known_source = sourced.source == v1::CRL || sourced.source == v1::OCSP;
    if (known_source) presented[SourceIndex(sourced.source)] = true;
    if (verdict.status != RevocationStatus::kGood || !known_source) {
      descriptions.push_back(DescribeSource(sourced.source, sourced.url, verdict.detail));
      continue;
    }
    if (verdict.this_update == absl::InfinitePast() ||
        now - verdict.this_update > limits.max_evidence_age) {
      descriptions.push_back(
          DescribeSource(sourced.source, sourced.url,
                         absl::StrCat("too old to rely on: its thisUpdate ",
                                      FormatRevocationTime(verdict.this_update), " is more than ",
                                      absl::FormatDuration(limits.max_evidence_age), " before ",
                                      FormatRevocationTime(now), " (", verdict.detail, ")")));
      continue;
    }
    descriptions.push_back(DescribeSource(sourced.source, sourced.url, verdict.detail));
    const SourcedRevocationVerdict*& newest = newest_good[SourceIndex(sourced.source)];
    if (newest == nullptr || verdict.this_update > newest->verdict.this_update) newest = &sourced;
  }

  // Which sources must say good: those the certificate names; any one when it names none.
  const std::vector<std::string> crl_urls = CrlDistributionPointUrls(certificate);
  const std::vector<std::string> ocsp_urls = OcspResponderUrls(certificate);
  std::vector<v1::RevocationSource> required;
  if (!crl_urls.empty()) required.push_back(v1::CRL);
  if (!ocsp_urls.empty()) required.push_back(v1::OCSP);
  bool missing = false;
  for (v1::RevocationSource source : required) {
    const int index = SourceIndex(source);
    if (newest_good[index] != nullptr) continue;
    missing = true;
    if (presented[index]) continue;  // What was presented is described above.
    descriptions.push_back(
        source == v1::CRL
            ? absl::StrCat("the certificate names the CRL distribution point ",
                           absl::StrJoin(crl_urls, ", "), ", and no CRL was presented")
            : absl::StrCat("the certificate names the OCSP responder ",
                           absl::StrJoin(ocsp_urls, ", "), ", and no OCSP response was presented"));
  }
  std::vector<v1::RevocationSource> relied_on = required;
  if (required.empty()) {
    for (v1::RevocationSource source : {v1::CRL, v1::OCSP}) {
      if (newest_good[SourceIndex(source)] != nullptr) relied_on.push_back(source);
    }
    missing = relied_on.empty();
  }
  judgement.explanation = absl::StrJoin(descriptions, "; ");
  if (missing) {
    judgement.reason = v1::REVOCATION_UNKNOWN;
    return judgement;
  }

  judgement.reason = v1::REFUSAL_REASON_UNSPECIFIED;
  judgement.source = relied_on.front();  // CRL when a CRL was relied on.
  judgement.ca_signed_at = absl::InfiniteFuture();
  for (v1::RevocationSource source : relied_on) {
    judgement.ca_signed_at =
        std::min(judgement.ca_signed_at, newest_good[SourceIndex(source)]->verdict.this_update);
  }
  return judgement;
}

RevocationJudgement JudgeRevocationEvidence(
    const google::protobuf::RepeatedPtrField<v1::RevocationEvidence>& evidence, X509* certificate,
    X509* issuer, absl::Time now, const RevocationLimits& limits, ParsedCrlCache* crls) {
  const std::string certificate_sha256 = Sha256(CertificateToDer(certificate));
  std::vector<SourcedRevocationVerdict> verdicts;
  for (const v1::RevocationEvidence& piece : evidence) {
    if (piece.certificate_sha256() != certificate_sha256) continue;
    SourcedRevocationVerdict& sourced = verdicts.emplace_back();
    sourced.source = piece.source();
    sourced.url = piece.url();
    sourced.verdict = VerifyRevocationEvidence(piece, certificate, issuer, now, crls);
  }
  return CombineRevocationVerdicts(verdicts, certificate, now, limits);
}

RevocationJudgement JudgeRevocationOfEveryCertificate(
    const google::protobuf::RepeatedPtrField<v1::RevocationEvidence>& evidence,
    const std::vector<std::vector<X509Ptr>>& validated_paths, absl::Time now,
    const RevocationLimits& limits, ParsedCrlCache* crls) {
  RevocationJudgement all;
  if (validated_paths.empty()) {
    all.explanation = "no certificate to check the revocation status of";
    return all;
  }
  std::vector<std::string> explanations;
  for (size_t i = 0; i < validated_paths.size(); ++i) {
    const std::vector<X509Ptr>& path = validated_paths[i];
    const std::string name = path.empty() ? "?" : ShortHex(Sha256(CertificateToDer(path[0].get())));
    if (path.size() < 2) {
      all.reason = v1::REVOCATION_UNKNOWN;
      all.explanation = absl::StrCat(
          "no valid revocation evidence for certificate ", name,
          " (its validated path has no issuer, so no CRL or OCSP response can be verified)");
      return all;
    }
    RevocationJudgement judgement =
        JudgeRevocationEvidence(evidence, path[0].get(), path[1].get(), now, limits, crls);
    if (judgement.reason == v1::CERTIFICATE_REVOKED) {
      judgement.explanation = absl::StrCat("the revocation evidence says certificate ", name,
                                           " is revoked: ", judgement.explanation);
      return judgement;
    }
    if (!judgement.good()) {
      judgement.explanation = absl::StrCat(
          "no valid revocation evidence for certificate ", name,
          judgement.explanation.empty() ? "" : absl::StrCat(" (", judgement.explanation, ")"));
      return judgement;
    }
    if (i == 0) {
      all.source = judgement.source;
      all.ca_signed_at = judgement.ca_signed_at;
    }
    all.ca_signed_at = std::min(all.ca_signed_at, judgement.ca_signed_at);
    explanations.push_back(absl::StrCat("certificate ", name, ": ", judgement.explanation));
  }
  all.reason = v1::REFUSAL_REASON_UNSPECIFIED;
  all.explanation = absl::StrJoin(explanations, "; ");
  return all;
}

}  // namespace mecai
