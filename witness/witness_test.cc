#include "witness/witness.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>  // NOLINT(build/c++11): concurrent requests.
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
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
#include "witness/witness_state.h"

namespace mecai {
namespace witness {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kOrigin[] = "log.a.example/mecai/shard-1";
const absl::Time kNow = absl::FromUnixSeconds(1790000000);

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(log_, TestLog::Create(kOrigin));
    ASSERT_OK(log_->GrowTo(1000));
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEd25519Key());
    ASSERT_OK_AND_ASSIGN(key_, CosignerKey("witness.b.example/w1", key.get()));
    ASSERT_OK_AND_ASSIGN(signer_, InMemorySigningKey::Create(std::move(key)));
    OpenWitness();
  }

  void OpenWitness() {
    witness_.reset();
    state_.reset();
    ASSERT_OK_AND_ASSIGN(state_, WitnessState::Open(directory_ + "/state"));
    witness_ = std::make_unique<Witness>(
        std::map<std::string, std::vector<NoteVerifierKey>>{{kOrigin, {log_->key()}}}, key_,
        *signer_, *state_, clock_, nullptr);
  }

  AddCheckpointResult Add(uint64_t old_size, uint64_t size) {
    absl::StatusOr<std::string> body = log_->Body(old_size, size);
    EXPECT_OK(body.status());
    return witness_->AddCheckpoint(*body);
  }

  // The answer is one cosignature line of this witness over the log's note of `size`.
  void ExpectCosigned(const AddCheckpointResult& result, uint64_t size) {
    ASSERT_EQ(result.status, 200) << result.body;
    EXPECT_STREQ(result.result, "cosigned");
    ASSERT_OK_AND_ASSIGN(std::string note, log_->Note(size));
    ASSERT_OK_AND_ASSIGN(ParsedNote parsed, ParseSignedNote(note + result.body));
    ASSERT_EQ(parsed.signatures.size(), 2u);
    ASSERT_OK_AND_ASSIGN(uint64_t time,
                         VerifyCosignatureV1(parsed.text, key_, parsed.signatures[1]));
    EXPECT_EQ(time, 1790000000u);
  }

  void ExpectConflict(const AddCheckpointResult& result, uint64_t latest) {
    EXPECT_EQ(result.status, 409);
    EXPECT_EQ(result.content_type, "text/x.tlog.size");
    EXPECT_EQ(result.body, absl::StrCat(latest, "\n"));
  }

  std::string directory_;
  FakeClock clock_{kNow};
  std::unique_ptr<TestLog> log_;
  NoteVerifierKey key_;
  std::unique_ptr<InMemorySigningKey> signer_;
  std::unique_ptr<WitnessState> state_;
  std::unique_ptr<Witness> witness_;
};

TEST_F(WitnessTest, CosignsAGrowingLog) {
  ExpectCosigned(Add(0, 10), 10);
  ExpectCosigned(Add(10, 300), 300);
  // The same tree again: cosigned again.
  ExpectCosigned(Add(300, 300), 300);
  ExpectCosigned(Add(300, 1000), 1000);
  EXPECT_EQ(state_->Get(kOrigin)->tree_size, 1000u);
}

TEST_F(WitnessTest, AnOldSizeOtherThanTheLastCosignedIsAConflict) {
  ExpectCosigned(Add(0, 10), 10);
  ExpectConflict(Add(0, 20), 10);
  ExpectConflict(Add(5, 20), 10);
  ExpectCosigned(Add(10, 20), 20);
}

TEST_F(WitnessTest, NeverRollsBack) {
  ExpectCosigned(Add(0, 300), 300);
  // A smaller tree from the size it holds: old > size.
  absl::StatusOr<std::string> note = log_->Note(100);
  ASSERT_OK(note.status());
  AddCheckpointResult rollback = witness_->AddCheckpoint(absl::StrCat("old 300\n\n", *note));
  EXPECT_EQ(rollback.status, 400);
  EXPECT_EQ(rollback.body, "the old size 300 is larger than the checkpoint's size 100\n");
  // From its own (smaller) old size: a conflict naming 300.
  ExpectConflict(Add(50, 100), 300);
  EXPECT_EQ(state_->Get(kOrigin)->tree_size, 300u);
}

TEST_F(WitnessTest, AForkOfTheSameSizeIsAConflict) {
  ExpectCosigned(Add(0, 300), 300);
  ASSERT_OK_AND_ASSIGN(auto fork, TestLog::Create(kOrigin));
  // A key the witness accepts for the origin signs another tree of the same size.
  ASSERT_OK(fork->GrowTo(300, "forked"));
  witness_.reset();
  witness_ = std::make_unique<Witness>(
      std::map<std::string, std::vector<NoteVerifierKey>>{{kOrigin, {log_->key(), fork->key()}}},
      key_, *signer_, *state_, clock_, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string body, fork->Body(300, 300));
  ExpectConflict(witness_->AddCheckpoint(body), 300);
  // A forked larger tree with a proof from the fork's own tree of 300: the proof fails.
  ASSERT_OK(fork->GrowTo(400, "forked"));
  ASSERT_OK_AND_ASSIGN(body, fork->Body(300, 400));
  AddCheckpointResult forked = witness_->AddCheckpoint(body);
  EXPECT_EQ(forked.status, 422);
  EXPECT_EQ(forked.body, "the consistency proof from 300 to 400 does not verify\n");
  EXPECT_EQ(state_->Get(kOrigin)->root_hash, *log_->Root(300));
}

TEST_F(WitnessTest, ABadProofIsUnprocessable) {
  ExpectCosigned(Add(0, 300), 300);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> proof, log_->Proof(300, 1000));
  ASSERT_OK_AND_ASSIGN(std::string note, log_->Note(1000));
  for (size_t i = 0; i < proof.size(); ++i) {
    AddCheckpointRequest request{300, proof, note};
    request.consistency_proof[i][7] ^= 0x10;
    AddCheckpointResult result = witness_->AddCheckpoint(FormatAddCheckpointRequest(request));
    EXPECT_EQ(result.status, 422) << i;
    EXPECT_STREQ(result.result, "bad_proof");
  }
  AddCheckpointRequest shorter{300, proof, note};
  shorter.consistency_proof.pop_back();
  EXPECT_EQ(witness_->AddCheckpoint(FormatAddCheckpointRequest(shorter)).status, 422);
  AddCheckpointRequest longer{300, proof, note};
  longer.consistency_proof.push_back(proof[0]);
  EXPECT_EQ(witness_->AddCheckpoint(FormatAddCheckpointRequest(longer)).status, 422);
  // A proof where none belongs: old 0, and equal trees.
  AddCheckpointRequest from_zero{0, {proof[0]}, note};
  OpenWitness();
  EXPECT_EQ(witness_->AddCheckpoint(FormatAddCheckpointRequest(from_zero)).status, 409);
  ASSERT_OK_AND_ASSIGN(std::string same, log_->Note(300));
  AddCheckpointRequest equal{300, {proof[0]}, same};
  AddCheckpointResult result = witness_->AddCheckpoint(FormatAddCheckpointRequest(equal));
  EXPECT_EQ(result.status, 422);
  EXPECT_EQ(result.body, "a proof between equal trees is empty\n");
  EXPECT_EQ(state_->Get(kOrigin)->tree_size, 300u);
}

TEST_F(WitnessTest, ANoteNotSignedByTheLogsKeyIsForbidden) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr other, GenerateEd25519Key());
  ASSERT_OK_AND_ASSIGN(auto other_signer, InMemorySigningKey::Create(std::move(other)));
  ASSERT_OK_AND_ASSIGN(std::string forged, log_->Note(10, other_signer.get()));
  AddCheckpointResult result = witness_->AddCheckpoint(absl::StrCat("old 0\n\n", forged));
  EXPECT_EQ(result.status, 403);
  EXPECT_EQ(result.body,
            absl::StrCat("no signature of ", kOrigin, "'s key verifies: the signature of note key ",
                         kOrigin, " does not verify\n"));
  // Signed by another log's key, under another name.
  ASSERT_OK_AND_ASSIGN(auto stranger, TestLog::Create("log.c.example/x"));
  ASSERT_OK(stranger->GrowTo(10));
  ASSERT_OK_AND_ASSIGN(std::string text, log_->Text(10));
  ASSERT_OK_AND_ASSIGN(std::string strangers, stranger->Note(10));
  // Its text is the stranger's; put our text above the stranger's signature line.
  const std::string line = strangers.substr(strangers.find("\n\n") + 2);
  result = witness_->AddCheckpoint(absl::StrCat("old 0\n\n", text, "\n", line));
  EXPECT_EQ(result.status, 403);
  EXPECT_EQ(result.body, absl::StrCat("no signature of ", kOrigin,
                                      "'s key verifies: no known key signed the note\n"));
  EXPECT_FALSE(state_->Get(kOrigin).has_value());
}

TEST_F(WitnessTest, AnUnknownLogIsNotFound) {
  ASSERT_OK_AND_ASSIGN(auto stranger, TestLog::Create("log.c.example/x"));
  ASSERT_OK(stranger->GrowTo(10));
  ASSERT_OK_AND_ASSIGN(std::string body, stranger->Body(0, 10));
  AddCheckpointResult result = witness_->AddCheckpoint(body);
  EXPECT_EQ(result.status, 404);
  EXPECT_EQ(result.body, "this witness does not witness the log log.c.example/x\n");
}

TEST_F(WitnessTest, GarbageIsABadRequest) {
  ASSERT_OK_AND_ASSIGN(std::string note, log_->Note(10));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the request begins with a line \"old <size>\""},
      {"old 0", "the request begins with a line \"old <size>\""},
      {"old 00\n\n" + note, "the old size is a decimal number without a sign or leading zero"},
      {"old -1\n\n" + note, "the old size is a decimal number without a sign or leading zero"},
      {"old 1 \n\n" + note, "the old size is a decimal number without a sign or leading zero"},
      {"Old 0\n\n" + note, "the request begins with a line \"old <size>\""},
      {"old 0\n" + note, "consistency proof line 1 is not base64 of a 32-byte hash"},
      {"old 0\nAAAA\n\n" + note, "consistency proof line 1 is not base64 of a 32-byte hash"},
      {"old 0\n\n", "the request carries no checkpoint"},
      {"old 0\n\nnot a note",
       "the checkpoint note: a signed note has a blank line before its "
       "signatures"},
      {"old 0\n\n" + note.substr(0, note.size() - 1),
       "the checkpoint note: a signed note ends with signature lines"},
      {"old 0\n\nno size\n\n" + note.substr(note.find("\n\n") + 2),
       "a checkpoint has an origin, a tree size and a root hash"},
  };
  for (const auto& [body, message] : cases) {
    AddCheckpointResult result = witness_->AddCheckpoint(body);
    EXPECT_EQ(result.status, 400) << body;
    EXPECT_EQ(result.body, message + "\n") << body;
    EXPECT_STREQ(result.result, "malformed");
  }
  // 64 proof lines: one more than a client may send.
  std::string many = "old 5\n";
  for (int i = 0; i < 64; ++i) absl::StrAppend(&many, std::string(43, 'A'), "=\n");
  AddCheckpointResult result = witness_->AddCheckpoint(absl::StrCat(many, "\n", note));
  EXPECT_EQ(result.status, 400);
  EXPECT_EQ(result.body, "a consistency proof has at most 63 lines\n");
  EXPECT_FALSE(state_->Get(kOrigin).has_value());
}

TEST_F(WitnessTest, TheStateSurvivesARestart) {
  ExpectCosigned(Add(0, 300), 300);
  OpenWitness();
  ExpectConflict(Add(0, 1000), 300);
  ExpectCosigned(Add(300, 1000), 1000);
  // A second process on the same state is refused.
  EXPECT_THAT(
      WitnessState::Open(directory_ + "/state"),
      test_pki::StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another process")));
}

TEST_F(WitnessTest, ConcurrentRequestsForOneLogAreSerialized) {
  // Every request claims the witness holds nothing (old 0): exactly one may succeed.
  std::vector<std::string> bodies;
  for (uint64_t size = 1; size <= 16; ++size) {
    ASSERT_OK_AND_ASSIGN(std::string body, log_->Body(0, size * 50));
    bodies.push_back(std::move(body));
  }
  std::atomic<int> cosigned{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (const std::string& body : bodies) {
    threads.emplace_back([&, body] {
      AddCheckpointResult result = witness_->AddCheckpoint(body);
      if (result.status == 200) ++cosigned;
      if (result.status == 409) ++conflicts;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(cosigned.load(), 1);
  EXPECT_EQ(conflicts.load(), 15);
  const uint64_t held = state_->Get(kOrigin)->tree_size;
  EXPECT_EQ(held % 50, 0u);
  // Each then extends from what the witness holds: all of the larger trees in turn.
  for (uint64_t size = held + 50; size <= 800; size += 50) {
    ExpectCosigned(Add(size - 50, size), size);
  }
}

}  // namespace
}  // namespace witness
}  // namespace mecai
