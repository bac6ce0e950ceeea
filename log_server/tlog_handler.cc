#include "log_server/tlog_handler.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/logging.h"
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
