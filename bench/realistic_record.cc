#include "bench/realistic_record.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace mecai {

uint64_t DirectoryBytes(const std::string& path) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

std::string RandomBytes(std::mt19937_64& random, size_t n) {
  std::string bytes(n, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

v1::QuorumRecord RealisticRecord(uint64_t index, const std::string& shard) {
  std::mt19937_64 random(index);
  v1::QuorumRecord record;
  record.set_log_index(index);
  record.set_log_shard_id(shard);
  record.set_decision(v1::ISSUED);
  record.set_hostname(absl::StrCat("host-", index, ".example.com"));
  record.set_vouching_request(RandomBytes(random, 700));
  record.mutable_vouching_data()->set_statement(RandomBytes(random, 300));
  record.mutable_vouching_data()->mutable_signature()->set_value(RandomBytes(random, 72));
  for (int i = 0; i < 3; ++i) {
    record.add_perspectives()->mutable_observation()->set_tbs(RandomBytes(random, 250));
  }
  return record;
}

}  // namespace mecai
