// A TLS server on 127.0.0.1 that holds every connection `--delay_milliseconds` before its
// handshake (bench/delayed_tls_target.h), as its own process, for tests and benchmarks that start
// it after their cluster has issued its certificate:
//
//   delayed_tls_target_server --certificate_chain F --key F --delay_milliseconds 1000 --port_file F
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/delayed_tls_target.h"
#include "common/base/files.h"

int main(int argc, char** argv) {
  std::string chain, key, port_file;
  int delay_milliseconds = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--certificate_chain") {
      chain = value;
    } else if (flag == "--key") {
      key = value;
    } else if (flag == "--port_file") {
      port_file = value;
    } else if (flag != "--delay_milliseconds" || !absl::SimpleAtoi(value, &delay_milliseconds)) {
      std::fprintf(stderr, "unknown flag or bad value: %s %s\n", flag.c_str(), value.c_str());
      return 2;
    }
  }
  if (chain.empty() || key.empty() || port_file.empty()) {
    std::fprintf(stderr,
                 "usage: delayed_tls_target_server --certificate_chain F --key F "
                 "[--delay_milliseconds N] --port_file F\n");
    return 2;
  }
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::fprintf(stderr, "cannot listen: %s\n", std::strerror(errno));
    return 69;
  }
  absl::Status written =
      mecai::WriteFileAtomically(port_file, absl::StrCat(ntohs(address.sin_port), "\n"));
  if (!written.ok()) {
    std::fprintf(stderr, "%s\n", std::string(written.message()).c_str());
    return 1;
  }
  mecai::ServeDelayedTlsTarget(listener, chain, key, absl::Milliseconds(delay_milliseconds));
}
