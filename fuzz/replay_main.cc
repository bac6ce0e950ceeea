// Runs LLVMFuzzerTestOneInput over files, as a plain program: the fuzz targets' smoke test in the
// normal build (fuzz/fuzz.bzl). Arguments are files or directories (every regular file in them,
// in name order). Fails when no input was found; a crash or a sanitizer report fails it too.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::vector<std::string> ListFiles(const std::string& path) {
  if (!IsDirectory(path)) return {path};
  std::vector<std::string> files;
  DIR* directory = opendir(path.c_str());
  if (directory == nullptr) return files;
  while (dirent* entry = readdir(directory)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (!IsDirectory(path + "/" + name)) files.push_back(path + "/" + name);
  }
  closedir(directory);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    for (const std::string& file : ListFiles(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
        return 1;
      }
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), data.size());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      ++count;
    }
  }
  std::fprintf(stderr, "replay: %zu inputs ran\n", count);
  return count == 0 ? 1 : 0;
}
