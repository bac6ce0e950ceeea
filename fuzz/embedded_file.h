// Text files compiled into a fuzz target (mecai_embedded_files in fuzz/fuzz.bzl), so a libFuzzer
// binary needs no data files beside it wherever it runs.
#ifndef MECAI_FUZZ_EMBEDDED_FILE_H_
#define MECAI_FUZZ_EMBEDDED_FILE_H_

#include <string>

#include "absl/time/time.h"

namespace mecai {
namespace fuzz {

// One file; an array of them ends with {nullptr, nullptr}.
struct EmbeddedFile {
  const char* name;
  const char* contents;
};

// The contents of the file called `name`; aborts when there is none (a build mistake).
std::string EmbeddedContents(const EmbeddedFile* files, const std::string& name);

// Writes every file into a fresh directory under $TMPDIR (or /tmp) and returns its path; aborts on
// failure. The directory is left behind: fuzz targets call this once per process.
std::string WriteEmbeddedFiles(const EmbeddedFile* files);

// The instant the seed corpora of the VR and Observation targets were built around
// (test_pki::FixtureNow(), 2025-06-15T14:40:00Z); those targets check at this time.
inline absl::Time FuzzNow() { return absl::FromUnixSeconds(1750000000); }

// Discards libprotobuf's log lines (for example "String field ... contains invalid UTF-8 data"
// for every mutated string field), which would otherwise slow fuzzing to a crawl. Its fatal
// checks still abort.
void DiscardProtobufLogs();

}  // namespace fuzz
}  // namespace mecai

#endif  // MECAI_FUZZ_EMBEDDED_FILE_H_
