// Fuzzes the decoder of the server's mecai_vouching extension body, the VouchingDataList a client
// receives in a ServerHello or Certificate entry (docs/TLS_EXTENSION.md;
// common/tls_extension/mecai_extension.h), and parses each element as VouchingData as the client
// does. The input is the extension body. A body that decodes must encode back to exactly itself.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/tls_extension/mecai_extension.h"
#include "fuzz/embedded_file.h"
#include "proto/mecai/v1/vouching.pb.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mecai::fuzz::DiscardProtobufLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<std::string>> list = mecai::DecodeVouchingDataList(body);
  if (!list.ok()) return 0;
  for (const std::string& element : *list) {
    mecai::v1::VouchingData vouching_data;
    vouching_data.ParseFromString(element);
  }
  if (mecai::EncodeVouchingDataList(*list) != body) {
    std::fprintf(stderr, "a decoded VouchingDataList does not encode back to its body\n");
    std::abort();
  }
  return 0;
}
