// The HTTP binding of the public Vouch endpoint (docs/PROTOCOL.md "The HTTP binding", after the
// OCSP HTTP binding of RFC 6960 Appendix A): the path and the media types the coordinator serves
// and `mecai vouch --http` (and any curl script) uses.
#ifndef MECAI_COMMON_NET_HTTP_BINDING_H_
#define MECAI_COMMON_NET_HTTP_BINDING_H_

namespace mecai {

// A POST of one VR, to this path only.
inline constexpr char kPublicVouchPath[] = "/mecai/v1/vouch";
// The request body: a serialized mecai.v1.VouchingRequest.
inline constexpr char kVouchingRequestMediaType[] = "application/x-mecai-vouching-request";
// The answer to a decided VR: a serialized mecai.v1.VouchResponse, issued or refused.
inline constexpr char kVouchingResponseMediaType[] = "application/x-mecai-vouching-response";
// With "Accept: application/x-mecai-vouching-data", an issued VD alone: a serialized
// mecai.v1.VouchingData, what `mecai serverinfo --vd` and the stapler's cache hold.
inline constexpr char kVouchingDataMediaType[] = "application/x-mecai-vouching-data";

}  // namespace mecai

#endif  // MECAI_COMMON_NET_HTTP_BINDING_H_
