#include "fuzz/embedded_file.h"

#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "google/protobuf/message_lite.h"  // SetLogHandler

namespace mecai {
namespace fuzz {

std::string EmbeddedContents(const EmbeddedFile* files, const std::string& name) {
  for (const EmbeddedFile* file = files; file->name != nullptr; ++file) {
    if (name == file->name) return file->contents;
  }
  std::fprintf(stderr, "fuzz: no embedded file %s\n", name.c_str());
  std::abort();
}

std::string WriteEmbeddedFiles(const EmbeddedFile* files) {
  const char* temp = getenv("TMPDIR");
  std::string pattern =
      std::string(temp != nullptr && *temp != '\0' ? temp : "/tmp") + "/mecai-fuzz-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("fuzz: mkdtemp");
    std::abort();
  }
  for (const EmbeddedFile* file = files; file->name != nullptr; ++file) {
    std::ofstream out(pattern + "/" + file->name, std::ios::binary);
    out << file->contents;
    if (!out.good()) {
      std::fprintf(stderr, "fuzz: cannot write %s/%s\n", pattern.c_str(), file->name);
      std::abort();
    }
  }
  return pattern;
}

void DiscardProtobufLogs() { google::protobuf::SetLogHandler(nullptr); }

}  // namespace fuzz
}  // namespace mecai
