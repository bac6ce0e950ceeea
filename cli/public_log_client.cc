#include "cli/public_log_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/transparency/merkle.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tiles.h"

namespace mecai {
namespace {

std::string WithoutFinalSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

PublicLogClient::PublicLogClient(HttpFetcher& fetcher, std::string url_prefix,
                                 absl::Duration timeout)
    : fetcher_(fetcher), url_prefix_(WithoutFinalSlash(std::move(url_prefix))), timeout_(timeout) {}

std::string PublicLogClient::UrlOf(const std::string& path) const {
  return absl::StrCat(url_prefix_, "/", path);
}

absl::StatusOr<std::string> PublicLogClient::Get(const std::string& path, size_t max_bytes) const {
  HttpRequest request;
  request.url = UrlOf(path);
  request.timeout = timeout_;
  request.max_response_bytes = max_bytes;
  absl::StatusOr<std::string> body = fetcher_.Fetch(request);
  if (!body.ok()) return Annotate(body.status(), absl::StrCat("GET ", request.url));
  return body;
}

absl::StatusOr<std::string> PublicLogClient::Checkpoint() const {
  return Get("checkpoint", kMaxSignedNoteBytes);
}

absl::StatusOr<std::string> PublicLogClient::Tile(const TileCoordinates& tile) const {
  const std::string path = TilePath(tile);
  if (tile.entries) return Get(path, tile.width * (2 + kMaxBundleEntryBytes));
  ASSIGN_OR_RETURN(std::string hashes, Get(path, tile.width * kMerkleHashBytes));
  if (hashes.size() != tile.width * kMerkleHashBytes) {
    return absl::DataLossError(absl::StrCat("GET ", UrlOf(path), ": ", hashes.size(),
                                            " bytes, not the ", tile.width * kMerkleHashBytes,
                                            " of ", tile.width, " hashes"));
  }
  return hashes;
}

absl::StatusOr<std::string> PublicLogClient::Evidence(const std::string& sha256) const {
  return Get(absl::StrCat("evidence/", HexEncode(sha256)), kMaxPublicLogEvidenceBytes);
}

}  // namespace mecai
