// Fuzzes configuration loading (common/base/config_loader.h): protobuf text format parsed into
// every binary's configuration message. The first input byte picks the message (modulo their
// number); the rest is the file, written to a temporary file and read by LoadTextProtoFile as
// main() does.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "common/base/config_loader.h"
#include "fuzz/embedded_file.h"
#include "proto/mecai/v1/config.pb.h"

namespace {

std::unique_ptr<google::protobuf::Message> NewConfig(uint8_t selector) {
  switch (selector % 6) {
    case 0:
      return std::make_unique<mecai::v1::CoordinatorConfig>();
    case 1:
      return std::make_unique<mecai::v1::ProbeAgentConfig>();
    case 2:
      return std::make_unique<mecai::v1::SignerConfig>();
    case 3:
      return std::make_unique<mecai::v1::StaplerConfig>();
    case 4:
      return std::make_unique<mecai::v1::ApprovalConfig>();
    default:
      return std::make_unique<mecai::v1::VaList>();
  }
}

const std::string& ConfigPath() {
  static const std::string* path = [] {
    const char* temp = getenv("TMPDIR");
    return new std::string(std::string(temp != nullptr && *temp != '\0' ? temp : "/tmp") +
                           "/mecai-config-fuzzer-" + std::to_string(getpid()) + ".textproto");
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mecai::fuzz::DiscardProtobufLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::unique_ptr<google::protobuf::Message> config = NewConfig(data[0]);
  {
    std::ofstream out(ConfigPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
    if (!out.good()) std::abort();
  }
  absl::Status status = mecai::LoadTextProtoFile(ConfigPath(), config.get());
  if (status.ok()) {
    // What loaded must survive a round trip through the binary form unchanged.
    std::unique_ptr<google::protobuf::Message> copy(config->New());
    if (!copy->ParseFromString(config->SerializeAsString())) std::abort();
  }
  std::remove(ConfigPath().c_str());
  return 0;
}
