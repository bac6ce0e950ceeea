// The witness binary with its key in SoftHSM2, attacked over HTTP with crafted requests: every
// refusal is the status c2sp.org/tlog-witness names, with its exact text, and nothing refused
// changes what it cosigned; a SIGKILL in the middle of a run loses no cosigned tree.
#include <signal.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>  // NOLINT(build/c++11): a client running while the witness is killed.
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/base/files.h"
#include "common/crypto/signature.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/cosignature.h"
#include "common/transparency/signed_note.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "witness/add_checkpoint_request.h"
#include "witness/testing/test_log.h"
#include "witness/testing/witness_process.h"
#include "witness/witness_client.h"

namespace mecai {
namespace witness {
namespace {

using ::testing::HasSubstr;

constexpr char kOrigin[] = "log.a.example/mecai/shard-1";
constexpr char kWitnessName[] = "witness.b.example/w1";

class WitnessBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(log_, TestLog::Create(kOrigin));
    ASSERT_OK(log_->GrowTo(2000));
    ASSERT_OK_AND_ASSIGN(witness_, WitnessProcess::Create(directory_, kWitnessName));
    v1::WitnessedLog* log = witness_->config().add_logs();
    log->add_vkeys(log_->vkey());
    witness_->config().set_submission_prefix("/w");
    ASSERT_OK(witness_->Start());
  }

  WitnessAnswer Post(const std::string& body) {
    absl::StatusOr<WitnessAnswer> answer =
        PostToWitness(witness_->Url("/w/add-checkpoint"), body, absl::Seconds(20));
    EXPECT_OK(answer.status());
    return answer.ok() ? *answer : WitnessAnswer{};
  }
  WitnessAnswer Add(uint64_t old_size, uint64_t size) {
    absl::StatusOr<std::string> body = log_->Body(old_size, size);
    EXPECT_OK(body.status());
    return Post(*body);
  }
  void ExpectCosigned(const WitnessAnswer& answer, uint64_t size) {
    ASSERT_EQ(answer.status, 200) << answer.body;
    ASSERT_OK_AND_ASSIGN(std::string note, log_->Note(size));
    ASSERT_OK_AND_ASSIGN(ParsedNote parsed, ParseSignedNote(note + answer.body));
    ASSERT_EQ(parsed.signatures.size(), 2u);
    // The vkey the witness published verifies it.
    ASSERT_OK_AND_ASSIGN(std::string vkey_file, ReadFile(directory_ + "/vkey"));
    ASSERT_OK_AND_ASSIGN(NoteVerifierKey vkey,
                         ParseCosignerVkey(absl::StripTrailingAsciiWhitespace(vkey_file)));
    EXPECT_EQ(vkey.public_key, witness_->key().public_key);
    ASSERT_OK_AND_ASSIGN(uint64_t time,
                         VerifyCosignatureV1(parsed.text, vkey, parsed.signatures[1]));
    EXPECT_NEAR(static_cast<double>(time), absl::ToUnixSeconds(absl::Now()), 60);
  }
  void ExpectConflict(const WitnessAnswer& answer, uint64_t latest) {
    EXPECT_EQ(answer.status, 409) << answer.body;
    EXPECT_EQ(answer.content_type, "text/x.tlog.size");
    EXPECT_EQ(answer.body, absl::StrCat(latest, "\n"));
  }
  void ExpectRefused(const WitnessAnswer& answer, int status, const std::string& text) {
    EXPECT_EQ(answer.status, status) << answer.body;
    EXPECT_EQ(answer.body, text + "\n");
  }

  std::string directory_;
  std::unique_ptr<TestLog> log_;
  std::unique_ptr<WitnessProcess> witness_;
};

TEST_F(WitnessBinaryTest, CosignsAndRefusesEveryAttackWithItsStatus) {
  ExpectCosigned(Add(0, 300), 300);
  // Rollback: an older tree from the size it holds, or from an older size.
  ASSERT_OK_AND_ASSIGN(std::string old_note, log_->Note(100));
  ExpectRefused(Post(absl::StrCat("old 300\n\n", old_note)), 400,
                "the old size 300 is larger than the checkpoint's size 100");
  ExpectConflict(Add(50, 100), 300);
  // Fork: the log's key signs another tree of the same size, and of a larger one.
  ASSERT_OK_AND_ASSIGN(auto fork, TestLog::Create(kOrigin));
  ASSERT_OK(fork->GrowTo(400, "forked"));
  ASSERT_OK_AND_ASSIGN(std::string fork_text, fork->Text(300));
  ASSERT_OK_AND_ASSIGN(std::string log_note, log_->Note(300));
  // Another tree's text above the log's signature of 300: the signature does not verify (403).
  // (A fork signed by the log's own key is the next test.)
  ExpectRefused(
      Post(absl::StrCat("old 300\n\n", fork_text, log_note.substr(log_note.find("\n\n") + 1))), 403,
      absl::StrCat("no signature of ", kOrigin, "'s key verifies: the signature of note key ",
                   kOrigin, " does not verify"));
  // Bad proofs.
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> proof, log_->Proof(300, 1000));
  ASSERT_OK_AND_ASSIGN(std::string note, log_->Note(1000));
  AddCheckpointRequest bad{300, proof, note};
  bad.consistency_proof[1][0] ^= 1;
  ExpectRefused(Post(FormatAddCheckpointRequest(bad)), 422,
                "the consistency proof from 300 to 1000 does not verify");
  AddCheckpointRequest none{300, {}, note};
  ExpectRefused(Post(FormatAddCheckpointRequest(none)), 422,
                "the consistency proof from 300 to 1000 does not verify");
  // A note signed by the wrong key under the log's name.
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr wrong, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(auto wrong_signer, InMemorySigningKey::Create(std::move(wrong)));
  ASSERT_OK_AND_ASSIGN(std::string forged, log_->Note(1000, wrong_signer.get()));
  ExpectRefused(
      Post(FormatAddCheckpointRequest({300, proof, forged})), 403,
      absl::StrCat("no signature of ", kOrigin, "'s key verifies: the signature of note key ",
                   kOrigin, " does not verify"));
  // An unknown log.
  ASSERT_OK_AND_ASSIGN(auto stranger, TestLog::Create("log.c.example/x"));
  ASSERT_OK(stranger->GrowTo(5));
  ASSERT_OK_AND_ASSIGN(std::string strangers, stranger->Body(0, 5));
  ExpectRefused(Post(strangers), 404, "this witness does not witness the log log.c.example/x");
  // Garbage.
  ExpectRefused(Post("GET / HTTP/1.1\r\n\r\n"), 400,
                "the request begins with a line \"old <size>\"");
  ExpectRefused(Post(std::string(1000, '\xff')), 400,
                "the request begins with a line \"old <size>\"");
  ExpectRefused(Post("old 300\n\n\xe2\x80\x94\n"), 400,
                "the checkpoint note: a signed note has a blank line before its signatures");
  // Oversized: 64 KiB and one byte.
  WitnessAnswer oversized = Post(absl::StrCat("old 300\n\n", std::string(65536 - 9 + 1, 'a')));
  ExpectRefused(oversized, 413, "request body too large: at most 65536 bytes");
  // Another method, another path.
  absl::StatusOr<WitnessAnswer> wrong_path =
      PostToWitness(witness_->Url("/add-checkpoint"), "old 0\n\n", absl::Seconds(10));
  ASSERT_OK(wrong_path.status());
  EXPECT_EQ(wrong_path->status, 404);
  // Through all of it the witness holds 300, and extends it.
  ExpectCosigned(Add(300, 1000), 1000);
  ExpectConflict(Add(0, 2000), 1000);
}

TEST_F(WitnessBinaryTest, AForkSignedByTheLogsKeyIsAConflict) {
  ExpectCosigned(Add(0, 300), 300);
  // The log's key signs a second tree of 300 leaves (leaf 299 differs): the witness will not
  // cosign both views.
  ASSERT_OK_AND_ASSIGN(auto forked, TestLog::Create(kOrigin));
  ASSERT_OK(witness_->Kill(SIGTERM));
  witness_->config().mutable_logs(0)->add_vkeys(forked->vkey());
  ASSERT_OK(witness_->Start());
  ASSERT_OK(forked->GrowTo(300, "forked"));
  ASSERT_OK_AND_ASSIGN(std::string body, forked->Body(300, 300));
  ExpectConflict(Post(body), 300);
  ASSERT_OK(forked->GrowTo(500, "forked"));
  ASSERT_OK_AND_ASSIGN(body, forked->Body(300, 500));
  ExpectRefused(Post(body), 422, "the consistency proof from 300 to 500 does not verify");
  ExpectCosigned(Add(300, 500), 500);
}

TEST_F(WitnessBinaryTest, ASigkillLosesNoCosignedTree) {
  std::atomic<uint64_t> last_cosigned{0};
  std::atomic<uint64_t> last_tried{0};
  std::atomic<bool> stop{false};
  std::vector<std::string> bodies;
  for (uint64_t size = 1; size <= 2000; ++size) {
    ASSERT_OK_AND_ASSIGN(std::string body, log_->Body(size - 1, size));
    bodies.push_back(std::move(body));
  }
  std::thread client([&] {
    for (uint64_t size = 1; size <= 2000 && !stop; ++size) {
      last_tried = size;
      absl::StatusOr<WitnessAnswer> answer =
          PostToWitness(witness_->Url("/w/add-checkpoint"), bodies[size - 1], absl::Seconds(5));
      if (!answer.ok() || answer->status != 200) break;
      last_cosigned = size;
    }
  });
  // Let it cosign for a while, then kill the witness in the middle of requests.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (last_cosigned < 20 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_OK(witness_->Kill(SIGKILL));
  stop = true;
  client.join();
  const uint64_t cosigned = last_cosigned;
  ASSERT_GE(cosigned, 20u);
  ASSERT_OK(witness_->Start());
  // It holds the last tree it answered for, or the one it was recording when killed; never less.
  ASSERT_OK_AND_ASSIGN(std::string note, log_->Note(2000));
  WitnessAnswer held = Post(absl::StrCat("old 0\n\n", note));
  ASSERT_EQ(held.status, 409) << held.body;
  uint64_t size = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripTrailingAsciiWhitespace(held.body), &size)) << held.body;
  EXPECT_GE(size, cosigned);
  EXPECT_LE(size, last_tried.load());
  ExpectCosigned(Add(size, 2000), 2000);
}

TEST_F(WitnessBinaryTest, AnInvalidConfigExits78) {
  ASSERT_OK(witness_->Kill(SIGTERM));
  witness_->config().clear_logs();
  witness_->config().set_witness_name("has space");
  witness_->config().set_submission_prefix("w/");
  EXPECT_FALSE(witness_->Start().ok());
  EXPECT_EQ(witness_->process()->ExitCode(), 78);
  const std::string log = TailOfFile(witness_->log_path());
  EXPECT_THAT(
      log, HasSubstr("submission_prefix: must be empty or a path beginning, not ending, with '/'"));
  EXPECT_THAT(log, HasSubstr("witness_name: must be a note key name"));
  EXPECT_THAT(log, HasSubstr("logs: at least one log to witness"));
}

}  // namespace
}  // namespace witness
}  // namespace mecai
