// The revocation fetcher's metrics as the coordinator exports them: transfers in flight, and
// transfers refused for lack of room, read from the registry while a real CurlHttpFetcher with
// room for one transfer waits on a loopback server that never answers.
#include "coordinator/coordinator_metrics.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/net/address_policy.h"
#include "common/net/http_fetcher.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace mecai {
namespace {

// The value of the unlabelled metric `name` (a counter or a gauge); -1 when absent.
double Value(prometheus::Registry& registry, const std::string& name) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name || family.metric.size() != 1) continue;
    return family.type == prometheus::MetricType::Gauge ? family.metric[0].gauge.value
                                                        : family.metric[0].counter.value;
  }
  return -1;
}

// A loopback TCP server that never accepts: the kernel completes connections into its backlog,
// and whatever is sent there is never answered.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        listen(fd_, 16) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~SilentServer() {
    if (fd_ >= 0) close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// How each asynchronous fetch ended. Thread-safe.
class Endings {
 public:
  HttpFetcher::FetchDone Done() {
    return [this](absl::StatusOr<std::string> body) {
      absl::MutexLock lock(&mutex_);
      codes_.push_back(body.status().code());
    };
  }
  std::vector<absl::StatusCode> codes() {
    absl::MutexLock lock(&mutex_);
    return codes_;
  }

 private:
  absl::Mutex mutex_;
  std::vector<absl::StatusCode> codes_ ABSL_GUARDED_BY(mutex_);
};

TEST(RevocationFetchMetricsTest, TransfersInFlightAndRefusedForRoomAreExported) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry);
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_in_flight"), 0);
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_refused_total"), 0);

  SilentServer server;
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8"});
  ASSERT_TRUE(policy.ok()) << policy.status();
  CurlHttpFetcher fetcher(*policy, /*max_async_transfers=*/1, metrics.RevocationFetchObserver());
  HttpRequest request;
  request.url = absl::StrCat("http://127.0.0.1:", server.port(), "/ca.crl");
  request.timeout = absl::Seconds(30);
  Endings endings;

  fetcher.FetchAsync(request, absl::ZeroDuration(), endings.Done());
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_in_flight"), 1);
  // No room for a second: refused at once, ABORTED, and counted.
  fetcher.FetchAsync(request, absl::ZeroDuration(), endings.Done());
  fetcher.FetchAsync(request, absl::Seconds(1), endings.Done());
  EXPECT_EQ(endings.codes(), (std::vector<absl::StatusCode>{absl::StatusCode::kAborted,
                                                            absl::StatusCode::kAborted}));
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_refused_total"), 2);
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_in_flight"), 1);

  // Stopping ends the one in flight (ABORTED too), which is not a refusal for room.
  fetcher.Stop();
  EXPECT_EQ(endings.codes().size(), 3u);
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_in_flight"), 0);
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_refused_total"), 2);
  // Nor is one asked for after the stop.
  fetcher.FetchAsync(request, absl::ZeroDuration(), endings.Done());
  EXPECT_EQ(endings.codes().size(), 4u);
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_refused_total"), 2);
}

// A transfer that ends by itself (here: its connection is refused) leaves the gauge as it found
// it.
TEST(RevocationFetchMetricsTest, AFinishedTransferIsNoLongerInFlight) {
  prometheus::Registry registry;
  CoordinatorMetrics metrics(registry);
  absl::StatusOr<AddressPolicy> policy = AddressPolicy::Create({"127.0.0.0/8"});
  ASSERT_TRUE(policy.ok()) << policy.status();
  CurlHttpFetcher fetcher(*policy, /*max_async_transfers=*/4, metrics.RevocationFetchObserver());
  int port = 0;
  {
    // A port nothing listens on: the connection is refused at once.
    SilentServer closed;
    port = closed.port();
  }
  HttpRequest request;
  request.url = absl::StrCat("http://127.0.0.1:", port, "/ca.crl");
  request.timeout = absl::Seconds(10);
  absl::Mutex mutex;
  bool done = false;
  absl::Status ended;
  fetcher.FetchAsync(request, absl::ZeroDuration(), [&](absl::StatusOr<std::string> body) {
    absl::MutexLock lock(&mutex);
    ended = body.status();
    done = true;
  });
  {
    absl::MutexLock lock(&mutex);
    ASSERT_TRUE(mutex.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(20)));
    EXPECT_EQ(ended.code(), absl::StatusCode::kUnavailable) << ended;
  }
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_in_flight"), 0);
  EXPECT_EQ(Value(registry, "mecai_coordinator_revocation_fetches_refused_total"), 0);
}

}  // namespace
}  // namespace mecai
