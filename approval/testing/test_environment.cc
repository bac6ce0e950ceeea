#include "approval/testing/test_environment.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace mecai {
namespace testing {

std::string RdapDomainJson(const std::string& domain,
                           const std::vector<std::string>& voice_numbers) {
  std::vector<std::string> tels;
  for (const std::string& number : voice_numbers) {
    tels.push_back(absl::StrCat(R"(["tel", {"type": ["voice", "work"]}, "uri", "tel:)", number,
                                R"(;ext=12"])"));
  }
  tels.push_back(R"(["tel", {"type": "fax"}, "uri", "tel:+49.30999999"])");
  // RFC 9083 §5.3 domain object; entities with jCards (RFC 7095).
  return absl::StrCat(R"({
  "objectClassName": "domain",
  "rdapConformance": ["rdap_level_0"],
  "handle": "TEST-1",
  "ldhName": ")",
                      domain, R"(",
  "entities": [
    {
      "objectClassName": "entity",
      "roles": ["registrant"],
      "vcardArray": ["vcard", [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", "Domain Owner"],
        )",
                      absl::StrJoin(tels, ",\n        "), R"(
      ]]
    },
    {
      "objectClassName": "entity",
      "roles": ["registrar"],
      "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Registrar"]]],
      "entities": [
        {
          "objectClassName": "entity",
          "roles": ["abuse"],
          "vcardArray": ["vcard", [
            ["version", {}, "text", "4.0"],
            ["tel", {"type": "voice"}, "text", "+1 555 0100 200"]
          ]]
        }
      ]
    }
  ]
})");
}

absl::StatusOr<std::unique_ptr<RdapServer>> RdapServer::Start(
    const std::string& directory, const std::map<std::string, std::string>& domains) {
  const std::string prefix = directory + "/nginx";
  for (const std::string& path :
       {prefix, prefix + "/www", prefix + "/www/rdap", prefix + "/www/rdap/domain"}) {
    if (mkdir(path.c_str(), 0700) != 0) return absl::InternalError("mkdir " + path);
  }
  for (const auto& [name, body] : domains) {
    RETURN_IF_ERROR(WriteFileAtomically(prefix + "/www/rdap/domain/" + name, body));
  }
  ASSIGN_OR_RETURN(int port, PickFreeTcpPort());
  const std::string config = absl::StrCat(
      // As root, nginx's workers would drop to an account that cannot read the test's files.
      geteuid() == 0 ? "user root;\n" : "", "worker_processes 1;\nerror_log stderr;\npid ", prefix,
      "/nginx.pid;\n", "events { worker_connections 64; }\nhttp {\n  access_log off;\n",
      "  client_body_temp_path ", prefix, "/body;\n  proxy_temp_path ", prefix, "/proxy;\n",
      "  fastcgi_temp_path ", prefix, "/fastcgi;\n  uwsgi_temp_path ", prefix, "/uwsgi;\n",
      "  scgi_temp_path ", prefix, "/scgi;\n", "  server {\n    listen 127.0.0.1:", port,
      ";\n    root ", prefix, "/www;\n    location /rdap/domain/ {\n",
      "      default_type application/rdap+json;\n",
      "      if ($http_accept != \"application/rdap+json\") { return 406; }\n    }\n",
      "    location /rdap/moved/ {\n      rewrite ^/rdap/moved/(.*)$ /rdap/$1 redirect;\n"
      "    }\n",
      "    location /rdap/loop/ {\n      rewrite ^/rdap/loop/(.*)$ /rdap/loop/$1 redirect;\n    "
      "}\n",
      "  }\n}\n");
  RETURN_IF_ERROR(WriteFileAtomically(prefix + "/nginx.conf", config));
  auto server = std::make_unique<RdapServer>();
  ASSIGN_OR_RETURN(server->nginx_,
                   ChildProcess::Start(
                       {"nginx", "-p", prefix, "-c", prefix + "/nginx.conf", "-g", "daemon off;"},
                       prefix + "/nginx.log"));
  absl::Status up = WaitForTcpPort("127.0.0.1", port, absl::Seconds(10));
  if (!up.ok()) return Annotate(up, TailOfFile(prefix + "/nginx.log"));
  server->base_url_ = absl::StrCat("http://127.0.0.1:", port, "/rdap/");
  return server;
}

absl::StatusOr<std::unique_ptr<VoiceGateway>> VoiceGateway::Start(int failures_before_success) {
  auto gateway = std::unique_ptr<VoiceGateway>(new VoiceGateway());
  gateway->failures_before_success_ = failures_before_success;
  VoiceGateway* raw = gateway.get();
  ASSIGN_OR_RETURN(gateway->server_,
                   HttpServer::Start("127.0.0.1:0", [raw](const HttpServerRequest& request) {
                     return raw->Handle(request);
                   }));
  return gateway;
}

std::string VoiceGateway::url() const {
  return absl::StrCat("http://127.0.0.1:", server_->port(), "/call");
}

std::vector<RecordedCall> VoiceGateway::calls() const {
  absl::MutexLock lock(&mutex_);
  return calls_;
}

int VoiceGateway::requests() const {
  absl::MutexLock lock(&mutex_);
  return requests_;
}

HttpServerResponse VoiceGateway::Handle(const HttpServerRequest& request) {
  HttpServerResponse response;
  response.content_type = "application/json";
  google::protobuf::Struct body;
  if (request.method != "POST" || request.path != "/call" ||
      request.headers.count("content-type") == 0 ||
      request.headers.at("content-type") != "application/json" ||
      !google::protobuf::util::JsonStringToMessage(request.body, &body).ok()) {
    response.status = 400;
    response.body = R"({"error": "bad request"})";
    return response;
  }
  auto field = [&body](const std::string& name) {
    return body.fields().count(name) ? body.fields().at(name).string_value() : std::string();
  };
  auto authorization = request.headers.find("authorization");
  RecordedCall call{field("to"), field("message"), field("extension"),
                    authorization == request.headers.end() ? "" : authorization->second};
  absl::MutexLock lock(&mutex_);
  ++requests_;
  if (attempts_[call.to]++ < failures_before_success_) {
    response.status = 503;
    response.body = R"({"error": "line busy"})";
    return response;
  }
  calls_.push_back(call);
  response.body = R"({"status": "queued"})";
  return response;
}

std::string SpokenApprovalCode(const std::string& message) {
  const std::string marker = "Approval code: ";
  const size_t start = message.find(marker);
  if (start == std::string::npos) return "";
  std::string code;
  for (size_t i = start + marker.size(); i < message.size() && message[i] != '.'; ++i) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(message[i]))) code.push_back(message[i]);
  }
  return code;
}

}  // namespace testing
}  // namespace mecai
