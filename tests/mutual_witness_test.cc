// Two VAs that witness each other (docs/PUBLIC_LOG.md "Witnesses", "Two VAs witnessing each
// other"): VA A and VA B each run a whole cluster of the real binaries (own CA, VA key and log key
// in its own SoftHSM2 token, own record store) and a real witness (its key in a token of its
// own) configured with the VA list both VAs publish, so that each witnesses the other's log; each
// coordinator asks the other VA's witness. A client whose VA list requires one cosignature
// (VaList.min_cosignatures) accepts a logged VD only when a witness of another VA of its list
// cosigned its checkpoint; a VA's own witness does not count. A witness killed with SIGKILL costs
// only its own cosignature; back from its state file, it cosigns again from the size it holds.
// `mecai audit` checks the VA's public log (log_server) with the other VA's witness required.
#include <signal.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/va_list.h"
#include "client/vd_verifier.h"
#include "cluster/local_cluster.h"
#include "common/base/config_loader.h"
#include "common/base/files.h"
#include "common/crypto/pem.h"
#include "common/process/child_process.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/cosigned_checkpoint.h"
#include "common/transparency/note_key.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"
#include "proto/mecai/v1/vouching.pb.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/procedure_steps.h"
#include "witness/testing/witness_process.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kWitnessA[] = "witness.va-a.example/w1";
constexpr char kWitnessB[] = "witness.va-b.example/w1";
// A witness's whole round may take this long before a logged VD goes out without its line.
constexpr uint32_t kWitnessTimeoutMilliseconds = 2000;

std::string RunfilesBinary(const std::string& path) {
  const char* runfiles = getenv("TEST_SRCDIR");
  return absl::StrCat(runfiles != nullptr ? runfiles : ".", "/mecai/", path);
}

// One VA: its witness, its cluster, and what a client and an auditor know of it.
struct Va {
  std::string id;
  std::string witness_name;
  std::string log_origin_prefix;
  std::unique_ptr<witness::WitnessProcess> witness;
  int witness_port = 0;
  std::unique_ptr<LocalCluster> cluster;
  std::string log_vkey;
  NoteVerifierKey log_key;
  std::string server_der;

  std::string WitnessUrl() const { return absl::StrCat("http://127.0.0.1:", witness_port); }
  std::string WitnessVkey() const { return FormatCosignerVkey(witness->key()); }
  std::string Origin() const {
    return absl::StrCat(log_origin_prefix, "/", LocalCluster::kShardId);
  }
  // How a coordinator asks this VA's witness (CoordinatorConfig.witnesses).
  v1::WitnessEndpoint Endpoint() const {
    v1::WitnessEndpoint endpoint;
    endpoint.set_url(WitnessUrl());
    endpoint.set_vkey(WitnessVkey());
    endpoint.set_timeout_milliseconds(kWitnessTimeoutMilliseconds);
    return endpoint;
  }
};

// What a command printed and how it ended.
struct CommandOutcome {
  int exit_code = -1;
  std::string output;
};

class MutualWitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, MakeTestDirectory(Name()));
    a_.id = "va-a";
    a_.witness_name = kWitnessA;
    a_.log_origin_prefix = "log.va-a.example/mecai";
    b_.id = "va-b";
    b_.witness_name = kWitnessB;
    b_.log_origin_prefix = "log.va-b.example/mecai";
    // Each VA's witness key first, in a token of its own: each cluster's token is made after them
    // (InitSoftHsmToken sets SOFTHSM2_CONF for the key generation that follows it).
    for (Va* va : {&a_, &b_}) {
      ASSERT_OK_AND_ASSIGN(std::string witness_directory,
                           MakeTestDirectory(absl::StrCat(Name(), "/witness-", va->id)));
      ASSERT_OK_AND_ASSIGN(va->witness,
                           witness::WitnessProcess::Create(witness_directory, va->witness_name));
    }
    ASSERT_NO_FATAL_FAILURE(StartCluster(a_));
    ASSERT_NO_FATAL_FAILURE(StartCluster(b_));

    // The VA list both VAs publish: each VA's entry from its own cluster (CA, VA key pin, log key,
    // log_vkeys) with its witness's vkey. Clients hold it with min_cosignatures 1 (or 0), and
    // both witnesses witness the logs it names.
    v1::VaList published;
    for (Va* va : {&a_, &b_}) {
      ASSERT_OK_AND_ASSIGN(v1::VaList own, LoadConfig<v1::VaList>(va->cluster->VaListFile()));
      ASSERT_EQ(own.vas_size(), 1);
      ASSERT_EQ(own.vas(0).id(), va->id);
      ASSERT_THAT(own.vas(0).log_vkeys(), ElementsAre(va->log_vkey));
      v1::VaListEntry* entry = published.add_vas();
      *entry = own.vas(0);
      entry->set_witness_vkey(va->WitnessVkey());
    }
    for (uint32_t k : {0u, 1u}) {
      published.set_min_cosignatures(k);
      std::string text;
      ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(published, &text));
      ASSERT_OK(WriteFileAtomically(ListFile(k), text));
    }
    for (Va* va : {&a_, &b_}) {
      va->witness->config().set_va_list_file(ListFile(1));
      // Port 0: the witness binds a free port and writes it to its port file.
      ASSERT_OK(va->witness->Start());
      va->witness_port = va->witness->port();
      // From now on the same port: the other VA's coordinator names it.
      va->witness->config().set_listen_address(absl::StrCat("127.0.0.1:", va->witness_port));
      ASSERT_OK_AND_ASSIGN(std::string vkey_file, ReadFile(va->witness->config().vkey_file()));
      ASSERT_EQ(absl::StripTrailingAsciiWhitespace(vkey_file), va->WitnessVkey());
    }
    // Each VA's operator adds the witnesses to its coordinator's config (CoordinatorConfig
    // .witnesses) and restarts it: A's asks B's witness, B's asks A's.
    ASSERT_NO_FATAL_FAILURE(AskWitnesses(a_, WitnessesOfA()));
    ASSERT_NO_FATAL_FAILURE(AskWitnesses(b_, {a_.Endpoint()}));
    ASSERT_OK_AND_ASSIGN(requiring_one_, VaList::Load(ListFile(1)));
    ASSERT_OK_AND_ASSIGN(requiring_none_, VaList::Load(ListFile(0)));
  }

  void TearDown() override {
    if (log_server_ != nullptr) log_server_->Stop();
    // The two clusters stop side by side: each waits for its own processes to exit.
    std::thread stop_b([this] {
      if (b_.cluster != nullptr) b_.cluster->Stop();
    });
    if (a_.cluster != nullptr) a_.cluster->Stop();
    stop_b.join();
  }

  // The witnesses A's coordinator asks: the mutual configuration asks B's.
  virtual std::vector<v1::WitnessEndpoint> WitnessesOfA() const { return {b_.Endpoint()}; }
  virtual std::string Name() const { return "mutual-witness"; }

  std::string ListFile(uint32_t min_cosignatures) const {
    return absl::StrCat(directory_, "/va-list-k", min_cosignatures, ".textproto");
  }

  // Starts `va`'s cluster: logged VDs, its own VA id and log origin.
  void StartCluster(Va& va) {
    LocalClusterOptions options;
    options.va_id = va.id;
    options.log_origin_prefix = va.log_origin_prefix;
    options.logged_vouching_data = true;
    options.batch_interval_milliseconds = 200;
    options.decision_reuse = false;  // Every VR a record of its own: the log grows with each.
    ASSERT_OK_AND_ASSIGN(va.cluster, StartTestCluster(absl::StrCat(Name(), "/", va.id), options));
    ASSERT_OK_AND_ASSIGN(std::string vkey, ReadFile(va.cluster->LogVkeyFile()));
    va.log_vkey = std::string(absl::StripTrailingAsciiWhitespace(vkey));
    ASSERT_OK_AND_ASSIGN(va.log_key, ParseVerifierKey(va.log_vkey));
    ASSERT_EQ(va.log_key.name, va.Origin());
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> leaf,
                         LoadPemCertificatesAsDer(va.cluster->ServerLeafFile()));
    va.server_der = leaf.front();
  }

  // The operator's change: `va`'s coordinator asks `witnesses` from its restart on.
  static void AskWitnesses(Va& va, const std::vector<v1::WitnessEndpoint>& witnesses) {
    ASSERT_OK(EditConfig<v1::CoordinatorConfig>(
        va.cluster->Path("coordinator.textproto"), [&](v1::CoordinatorConfig& config) {
          for (const v1::WitnessEndpoint& endpoint : witnesses) *config.add_witnesses() = endpoint;
        }));
    ASSERT_OK(va.cluster->Kill("coordinator", SIGTERM));
    ASSERT_OK(va.cluster->RestartCoordinator());
  }

  // A fresh VR to `va`, issued: its logged VD.
  static absl::StatusOr<v1::VouchingData> Issue(const Va& va) {
    ASSIGN_OR_RETURN(v1::VouchResponse response, VouchOnce(*va.cluster));
    if (!response.has_vouching_data()) {
      return absl::InternalError(absl::StrCat("not issued: ", response.DebugString()));
    }
    if (!response.vouching_data().has_log_proof()) {
      return absl::InternalError("the VD carries no log proof");
    }
    return response.vouching_data();
  }

  // The witnesses (of both VAs) whose cosignatures on the VD's checkpoint note verify, after the
  // note verified with `va`'s log key; and the checkpoint's tree size.
  std::vector<std::string> Cosigners(const Va& va, const v1::VouchingData& vd,
                                     uint64_t* tree_size = nullptr) const {
    absl::StatusOr<CosignedCheckpoint> cosigned = VerifyCosignedCheckpoint(
        vd.log_proof().checkpoint_note(), va.log_key, {a_.witness->key(), b_.witness->key()}, 0);
    EXPECT_TRUE(cosigned.ok()) << cosigned.status();
    if (!cosigned.ok()) return {"the note does not verify"};
    if (tree_size != nullptr) *tree_size = cosigned->checkpoint.tree_size;
    return cosigned->cosigners;
  }

  // The client: `va`'s VD, for its target's certificate, verified with `list`.
  static absl::StatusOr<v1::VouchingStatement> Verify(const Va& va, const v1::VouchingData& vd,
                                                      const VaList& list) {
    VdExpectation expected;
    expected.hostname = LocalCluster::kTargetHost;
    expected.port = static_cast<uint32_t>(va.cluster->target_port());
    expected.certificate_der = va.server_der;
    expected.now = absl::Now();
    return VerifyVouchingData(vd, list, expected);
  }

  // The tree size `witness` recorded for `origin` in its state file (WitnessConfig.state_file).
  static absl::StatusOr<uint64_t> WitnessedSize(const Va& witness, const std::string& origin) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(witness.witness->config().state_file()));
    v1::WitnessState state;
    if (!state.ParseFromString(bytes)) return absl::DataLossError("the state does not parse");
    for (const v1::WitnessState::Log& log : state.logs()) {
      if (log.origin() == origin) return log.tree_size();
    }
    return absl::NotFoundError(absl::StrCat("no state for ", origin));
  }

  // The sum of A's coordinator's mecai_coordinator_witness_cosignatures_total{result}; -1 for
  // none.
  static double CosignatureRequests(const Va& va, const std::string& result) {
    absl::StatusOr<std::string> metrics = FetchMetrics(*va.cluster, "coordinator");
    EXPECT_TRUE(metrics.ok()) << metrics.status();
    return SumOfSamples(metrics.value_or(""), "mecai_coordinator_witness_cosignatures_total",
                        absl::StrCat("result=\"", result, "\""));
  }

  // `va`'s public log: the real log_server over its coordinator's store (docs/PUBLIC_LOG.md §3).
  // Returns its URL.
  absl::StatusOr<std::string> StartLogServer(const Va& va) {
    const std::string directory = va.cluster->Path("public-log");
    v1::LogServerConfig config;
    config.set_store_path(va.cluster->Path("store/coordinator"));
    config.set_secondary_path(directory + "/secondary");
    config.set_log_shard_id(LocalCluster::kShardId);
    config.set_vkey(va.log_vkey);
    config.set_listen_address("127.0.0.1:0");
    config.set_port_file(directory + "/port");
    config.set_catch_up_interval_milliseconds(50);
    std::string text;
    google::protobuf::TextFormat::PrintToString(config, &text);
    if (mkdir(directory.c_str(), 0700) != 0) {
      return absl::InternalError(absl::StrCat("cannot create ", directory));
    }
    RETURN_IF_ERROR(WriteFileAtomically(directory + "/log-server.textproto", text));
    ASSIGN_OR_RETURN(log_server_,
                     ChildProcess::Start({RunfilesBinary("log_server/log_server"), "--config",
                                          directory + "/log-server.textproto"},
                                         va.cluster->Path("logs/log_server.log")));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      absl::StatusOr<std::string> port_text = ReadFile(config.port_file());
      int port = 0;
      if (port_text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*port_text), &port) &&
          port > 0) {
        RETURN_IF_ERROR(WaitForTcpPort("127.0.0.1", port, absl::Seconds(10), log_server_.get()));
        return absl::StrCat("http://127.0.0.1:", port);
      }
      if (!log_server_->Running()) {
        return absl::UnavailableError(absl::StrCat("log_server ", log_server_->ExitDescription(),
                                                   ": ", TailOfFile(log_server_->log_path())));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError("log_server did not write its port within 30 s");
  }

  // Waits (up to 30 s) until the log at `url` serves `note` at /checkpoint (curl).
  static absl::Status AwaitServedCheckpoint(const Va& va, const std::string& url,
                                            const std::string& note) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::string last;
    while (absl::Now() < deadline) {
      absl::StatusOr<std::string> served =
          RunStep(*va.cluster, "curl-checkpoint",
                  {"curl", "--silent", "--show-error", "--fail", "--max-time", "10",
                   absl::StrCat(url, "/checkpoint")});
      if (served.ok() && *served == note) return absl::OkStatus();
      last = served.ok() ? *served : served.status().ToString();
      absl::SleepFor(absl::Milliseconds(100));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("the log does not serve the VD's checkpoint note; last: ", last));
  }

  // Runs the real `mecai` with `arguments` (at most 60 s).
  static CommandOutcome Mecai(const Va& va, const std::vector<std::string>& arguments) {
    static int counter = 0;
    std::vector<std::string> argv = {RunfilesBinary("cli/mecai")};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    const std::string log = va.cluster->Path(absl::StrCat("logs/mecai-", ++counter, ".log"));
    CommandOutcome outcome;
    absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(argv, log);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return outcome;
    EXPECT_TRUE((*process)->WaitForExit(absl::Seconds(60))) << "mecai did not exit";
    outcome.exit_code = (*process)->ExitCode();
    outcome.output = ReadFile(log).value_or("");
    return outcome;
  }

  std::string directory_;
  Va a_;
  Va b_;
  std::unique_ptr<VaList> requiring_one_;
  std::unique_ptr<VaList> requiring_none_;
  std::unique_ptr<ChildProcess> log_server_;
};

TEST_F(MutualWitnessTest, EachVaIsCosignedByTheOtherAndAWitnessDownCostsOnlyItsLine) {
  // A's VD carries B's witness's cosignature, B's carries A's; the client requiring one accepts
  // both.
  ASSERT_OK_AND_ASSIGN(v1::VouchingData from_a, Issue(a_));
  uint64_t cosigned_size = 0;
  EXPECT_THAT(Cosigners(a_, from_a, &cosigned_size), ElementsAre(kWitnessB));
  ASSERT_OK_AND_ASSIGN(v1::VouchingData from_b, Issue(b_));
  EXPECT_THAT(Cosigners(b_, from_b), ElementsAre(kWitnessA));
  ASSERT_OK_AND_ASSIGN(v1::VouchingStatement statement, Verify(a_, from_a, *requiring_one_));
  EXPECT_EQ(statement.va_id(), "va-a");
  ASSERT_OK_AND_ASSIGN(statement, Verify(b_, from_b, *requiring_one_));
  EXPECT_EQ(statement.va_id(), "va-b");
  // What B's witness holds of A's log: the tree it cosigned, durable before its line left.
  ASSERT_OK_AND_ASSIGN(uint64_t witnessed, WitnessedSize(b_, a_.Origin()));
  EXPECT_EQ(witnessed, cosigned_size);
  ASSERT_OK_AND_ASSIGN(witnessed, WitnessedSize(a_, b_.Origin()));
  EXPECT_GE(witnessed, 1u);

  // B's witness dies: A goes on issuing, its VDs without any cosignature. The client requiring
  // one refuses them, one requiring none accepts them.
  ASSERT_OK(b_.witness->Kill(SIGKILL));
  const absl::Time asked = absl::Now();
  ASSERT_OK_AND_ASSIGN(v1::VouchingData witness_down, Issue(a_));
  const absl::Duration took = absl::Now() - asked;
  uint64_t down_size = 0;
  EXPECT_THAT(Cosigners(a_, witness_down, &down_size), IsEmpty());
  EXPECT_GT(down_size, cosigned_size);
  EXPECT_THAT(Verify(a_, witness_down, *requiring_one_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("the VD's checkpoint is not cosigned by enough other VAs' "
                                    "witnesses: 0 of the required 1 cosignatures: no signature of "
                                    "witness ",
                                    kWitnessB)));
  EXPECT_OK(Verify(a_, witness_down, *requiring_none_).status());
  EXPECT_GE(CosignatureRequests(a_, "unreachable"), 1);
  // A dead witness refuses connections at once: the VR waited for no timeout of it.
  EXPECT_LT(took, absl::Milliseconds(kWitnessTimeoutMilliseconds) + absl::Seconds(10));
  // B's own VDs do not depend on its witness: A's witness still cosigns them.
  ASSERT_OK_AND_ASSIGN(v1::VouchingData from_b_meanwhile, Issue(b_));
  EXPECT_THAT(Cosigners(b_, from_b_meanwhile), ElementsAre(kWitnessA));
  EXPECT_OK(Verify(b_, from_b_meanwhile, *requiring_one_).status());

  // B's witness comes back with its state file: it still holds the tree it last cosigned, and
  // cosigns A's next checkpoint once the consistency proof from that size verifies.
  ASSERT_OK_AND_ASSIGN(witnessed, WitnessedSize(b_, a_.Origin()));
  EXPECT_EQ(witnessed, cosigned_size);
  ASSERT_OK(b_.witness->Start());
  ASSERT_OK_AND_ASSIGN(v1::VouchingData witness_back, Issue(a_));
  uint64_t back_size = 0;
  EXPECT_THAT(Cosigners(a_, witness_back, &back_size), ElementsAre(kWitnessB));
  EXPECT_GT(back_size, down_size);
  EXPECT_OK(Verify(a_, witness_back, *requiring_one_).status());
  ASSERT_OK_AND_ASSIGN(witnessed, WitnessedSize(b_, a_.Origin()));
  EXPECT_EQ(witnessed, back_size);
  // A's coordinator kept the size B's witness last cosigned: its first request after the restart
  // proved consistency from there, with no 409 to learn it.
  EXPECT_LE(CosignatureRequests(a_, "conflict"), 0);
  EXPECT_GE(CosignatureRequests(a_, "cosigned"), 2);

  // A's public log, audited with only its URL, its vkey and B's witness's vkey.
  ASSERT_OK_AND_ASSIGN(const std::string url, StartLogServer(a_));
  ASSERT_OK(AwaitServedCheckpoint(a_, url, witness_back.log_proof().checkpoint_note()));
  const CommandOutcome audit =
      Mecai(a_, {"audit", "--log", url, "--key", a_.log_vkey, "--witnesses", b_.WitnessVkey(),
                 "--min-cosignatures", "1"});
  EXPECT_EQ(audit.exit_code, 0) << audit.output;
  EXPECT_THAT(audit.output, HasSubstr(absl::StrCat("cosigned by ", kWitnessB, "\n")));
  EXPECT_THAT(audit.output,
              HasSubstr(absl::StrCat("verified ", a_.Origin(), ": ", back_size, " entries\n")));
  // A's own witness never cosigned A's log: an auditor who names it finds no cosignature.
  const CommandOutcome own = Mecai(a_, {"audit", "--log", url, "--key", a_.log_vkey, "--witnesses",
                                        a_.WitnessVkey(), "--min-cosignatures", "1"});
  EXPECT_EQ(own.exit_code, 3) << own.output;
  EXPECT_THAT(own.output, HasSubstr(absl::StrCat("PROBLEM: the checkpoint at ", url,
                                                 "/checkpoint is not cosigned as required: 0 of "
                                                 "the required 1 cosignatures: no signature of "
                                                 "witness ",
                                                 kWitnessA, "\n")));
}

// A VA whose coordinator asks its own witness (which the published list makes witness its log
// too): its VDs carry a cosignature, but one the client does not count. The same witness's line
// on the other VA's VDs counts.
class OwnWitnessTest : public MutualWitnessTest {
 protected:
  std::vector<v1::WitnessEndpoint> WitnessesOfA() const override { return {a_.Endpoint()}; }
  std::string Name() const override { return "own-witness"; }
};

TEST_F(OwnWitnessTest, AVdCosignedOnlyByItsOwnVasWitnessIsRefused) {
  ASSERT_OK_AND_ASSIGN(v1::VouchingData from_a, Issue(a_));
  EXPECT_THAT(Cosigners(a_, from_a), ElementsAre(kWitnessA));
  EXPECT_THAT(Verify(a_, from_a, *requiring_one_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("the VD's checkpoint is not cosigned by enough other VAs' "
                                    "witnesses: 0 of the required 1 cosignatures: no signature of "
                                    "witness ",
                                    kWitnessB)));
  EXPECT_OK(Verify(a_, from_a, *requiring_none_).status());
  ASSERT_OK_AND_ASSIGN(v1::VouchingData from_b, Issue(b_));
  EXPECT_THAT(Cosigners(b_, from_b), ElementsAre(kWitnessA));
  EXPECT_OK(Verify(b_, from_b, *requiring_one_).status());
}

}  // namespace
}  // namespace mecai
