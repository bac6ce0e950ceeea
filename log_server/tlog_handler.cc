#include "log_server/tlog_handler.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/base/logging.h"
#include "common/transparency/merkle.h"
#include "common/transparency/tile_path.h"
#include "common/transparency/tiles.h"

namespace mecai {
namespace {

HttpServerResponse Text(int status, absl::string_view body) {
  HttpServerResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.headers.emplace_back("Cache-Control", "no-store");
  response.body = absl::StrCat(body, "\n");
  return response;
}

// A failure of the store, logged; the client learns only that it failed.
HttpServerResponse StoreFailure(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kNotFound) return Text(404, "not found");
  MECAI_LOG(Error) << "public log: " << status;
  return Text(500, "the log cannot serve this resource");
}

inline constexpr char kEvidencePrefix[] = "/evidence/";

// The 32-byte hash a path "/evidence/<64 lower-case hex digits>" names; nullopt for any other
// spelling (upper case, another length, a trailing slash or query).
std::optional<std::string> EvidenceHashOfPath(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, kEvidencePrefix) || path.size() != 2 * kMerkleHashBytes) {
    return std::nullopt;
  }
  std::string hash(kMerkleHashBytes, '\0');
  for (size_t i = 0; i < path.size(); ++i) {
    const char digit = path[i];
    int value = 0;
    if (digit >= '0' && digit <= '9') {
      value = digit - '0';
    } else if (digit >= 'a' && digit <= 'f') {
      value = digit - 'a' + 10;
    } else {
      return std::nullopt;
    }
    hash[i / 2] = static_cast<char>((static_cast<unsigned char>(hash[i / 2]) << 4) | value);
  }
  return hash;
}

}  // namespace

HttpServerResponse TlogHandler::Handle(const HttpServerRequest& request) const {
  const char* resource = "other";
  HttpServerResponse response = Serve(request, &resource);
  // Anyone may read the log, from any web origin.
  response.headers.emplace_back("Access-Control-Allow-Origin", "*");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (metrics_ != nullptr) metrics_->RecordRequest(resource, response.status);
  return response;
}

HttpServerResponse TlogHandler::Serve(const HttpServerRequest& request,
                                      const char** resource) const {
  if (request.method != "GET") {
    HttpServerResponse response = Text(405, "only GET");
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  const std::string short_lived = absl::StrCat("public, max-age=", checkpoint_max_age_seconds_);
  if (request.path == "/checkpoint") {
    *resource = "checkpoint";
    std::optional<ServedCheckpoint> checkpoint = follower_.Checkpoint();
    if (!checkpoint) return Text(503, "the log has no signed checkpoint yet");
    HttpServerResponse response;
    response.content_type = "text/plain; charset=utf-8";
    response.headers.emplace_back("Cache-Control", short_lived);
    response.body = checkpoint->note;
    return response;
  }
  if (absl::StartsWith(request.path, kEvidencePrefix)) {
    *resource = "evidence";
    std::optional<std::string> hash = EvidenceHashOfPath(request.path);
    if (!hash) return Text(404, "not found");
    absl::StatusOr<std::string> evidence = follower_.Evidence(*hash);
    if (!evidence.ok()) return StoreFailure(evidence.status());
    HttpServerResponse response;
    response.content_type = "application/octet-stream";
    // Content-addressed: the bytes under a hash never change.
    response.headers.emplace_back("Cache-Control", kImmutableCacheControl);
    response.body = *std::move(evidence);
    return response;
  }
  if (!absl::StartsWith(request.path, "/tile/")) return Text(404, "not found");
  absl::StatusOr<TileCoordinates> tile = ParseTilePath(absl::string_view(request.path).substr(1));
  if (!tile.ok()) return Text(404, "not found");
  *resource = tile->entries ? "entries" : "tile";
  HttpServerResponse response;
  response.content_type = "application/octet-stream";
  response.headers.emplace_back("Cache-Control", tile->width == kTileWidth
                                                     ? std::string(kImmutableCacheControl)
                                                     : short_lived);
  if (tile->entries) {
    absl::StatusOr<std::vector<std::string>> entries = follower_.BundleEntries(*tile);
    if (!entries.ok()) return StoreFailure(entries.status());
    absl::StatusOr<std::string> bundle = EntryBundle(*entries);
    if (!bundle.ok()) return StoreFailure(bundle.status());
    response.body = *std::move(bundle);
    return response;
  }
  absl::StatusOr<std::string> hashes = follower_.TileHashes(*tile);
  if (!hashes.ok()) return StoreFailure(hashes.status());
  response.body = *std::move(hashes);
  return response;
}

}  // namespace mecai
