#include "witness/witness_handler.h"

namespace mecai {
namespace witness {
namespace {

HttpServerResponse Text(int status, std::string body) {
  HttpServerResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(body);
  return response;
}

}  // namespace

HttpServerResponse WitnessHandler::Handle(const HttpServerRequest& request) {
  if (request.path == add_checkpoint_path_) {
    if (request.method != "POST") {
      if (metrics_ != nullptr) metrics_->RecordRequest("malformed");
      HttpServerResponse response = Text(405, "add-checkpoint is POST\n");
      response.headers.emplace_back("Allow", "POST");
      return response;
    }
    AddCheckpointResult result = witness_.AddCheckpoint(request.body);
    HttpServerResponse response;
    response.status = result.status;
    response.content_type = result.content_type;
    response.body = std::move(result.body);
    return response;
  }
  if (request.path == "/health") {
    if (request.method != "GET") return Text(405, "health is GET\n");
    return Text(200, "ok\n");
  }
  return Text(404, "not found\n");
}

}  // namespace witness
}  // namespace mecai
