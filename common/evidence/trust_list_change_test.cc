// Maintainer-signed trust-list changes (docs/PROTOCOL.md): what verifies, what does not, and the
// sequence that keeps a change from being applied twice or out of order.
#include "common/evidence/trust_list_change.h"

#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/crypto/pem.h"
#include "common/crypto/signed_object.h"
#include "common/pki/pki_builder.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/mecai/v1/config.pb.h"

namespace mecai {
namespace {

using ::mecai::test_pki::BuildTestPki;
using ::mecai::test_pki::FixtureNow;
using ::mecai::test_pki::IsNotRefused;
using ::mecai::test_pki::IsRefusal;
using ::mecai::test_pki::StatusIs;
using ::mecai::test_pki::TestPki;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kList[] = "test-roots";

std::vector<X509*> Borrow(const TestPki& pki) {
  return {pki.leaf.certificate.get(), pki.intermediate.certificate.get()};
}

class TrustListChangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = BuildTestPki("www.example.test");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    auto other = BuildTestPki("www.other.test");
    ASSERT_TRUE(other.ok()) << other.status();
    other_pki_ = std::make_unique<TestPki>(*std::move(other));
    lists_ = NewLists();
    maintainer_ = NewKey();
    outsider_ = NewKey();
  }

  std::unique_ptr<TrustLists> NewLists() const {
    v1::TrustListConfig config;
    config.set_name(kList);
    config.set_pem_file(pki_->root_pem_path);
    google::protobuf::RepeatedPtrField<v1::TrustListConfig> configs;
    *configs.Add() = config;
    auto lists = TrustLists::Load(configs);
    EXPECT_TRUE(lists.ok()) << lists.status();
    return lists.ok() ? *std::move(lists) : nullptr;
  }

  static std::unique_ptr<InMemorySigningKey> NewKey() {
    auto key = GenerateEd25519Key();
    EXPECT_TRUE(key.ok());
    auto signing_key = InMemorySigningKey::Create(std::move(*key));
    EXPECT_TRUE(signing_key.ok());
    return std::move(*signing_key);
  }

  // The maintainer keys a service would load: `maintainer_`'s public key.
  MaintainerKeys Keys() const {
    std::vector<EvpPkeyPtr> keys;
    keys.push_back(test_pki::ShareKey(maintainer_->key()));
    return MaintainerKeys::FromKeys(std::move(keys));
  }

  static v1::TrustListChangeBody Add(const std::string& root_der, uint64_t sequence) {
    v1::TrustListChangeBody body;
    body.set_version(1);
    body.set_action(v1::TrustListChange::ADD_ROOT);
    body.set_trust_list(kList);
    body.set_root_certificate_der(root_der);
    body.set_root_sha256(Sha256(root_der));
    body.set_reason("the maintainers admitted this root");
    body.set_sequence(sequence);
    body.set_issued_at_unix_milliseconds(absl::ToUnixMillis(FixtureNow()));
    return body;
  }

  static v1::TrustListChangeBody Remove(const std::string& root_der, uint64_t sequence) {
    v1::TrustListChangeBody body = Add(root_der, sequence);
    body.set_action(v1::TrustListChange::REMOVE_ROOT);
    body.clear_root_certificate_der();
    body.set_reason("the maintainers revoked trust in this root");
    return body;
  }

  v1::SignedTrustListChange Sign(const v1::TrustListChangeBody& body,
                                 SigningKey* key = nullptr) const {
    auto signed_change = SignTrustListChange(body, key != nullptr ? *key : *maintainer_);
    EXPECT_TRUE(signed_change.ok()) << signed_change.status();
    return signed_change.value_or(v1::SignedTrustListChange());
  }

  // A ledger over `lists_` that keeps its history in `persisted_`.
  std::unique_ptr<TrustListChangeLedger> NewLedger(const std::string& persisted = "") {
    auto ledger = TrustListChangeLedger::Restore(persisted, "test history", Keys(), *lists_,
                                                 [this](const std::string& bytes) {
                                                   persisted_ = bytes;
                                                   ++persist_calls_;
                                                   return absl::OkStatus();
                                                 });
    EXPECT_TRUE(ledger.ok()) << ledger.status();
    return ledger.ok() ? *std::move(ledger) : nullptr;
  }

  v1::Refusal ChainRefusal(const TestPki& pki) const {
    return lists_->VerifyChain(kList, Borrow(pki), FixtureNow()).refusal;
  }

  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<TestPki> other_pki_;
  std::unique_ptr<TrustLists> lists_;
  std::unique_ptr<InMemorySigningKey> maintainer_;
  std::unique_ptr<InMemorySigningKey> outsider_;
  std::string persisted_;
  int persist_calls_ = 0;
};

TEST_F(TrustListChangeTest, AChangeSignedByAMaintainerVerifies) {
  v1::SignedTrustListChange change = Sign(Add(other_pki_->root.der, 1));
  auto verified = VerifyTrustListChange(change, Keys());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->body.trust_list(), kList);
  EXPECT_EQ(verified->maintainer_key_sha256, MaintainerKeyFingerprint(maintainer_->key()));
  v1::TrustListChange record = verified->ToRecord();
  EXPECT_EQ(record.action(), v1::TrustListChange::ADD_ROOT);
  EXPECT_EQ(record.sequence(), 1u);
  EXPECT_EQ(record.root_sha256(), Sha256(other_pki_->root.der));
  EXPECT_EQ(record.signed_change().tbs(), change.tbs());
  // The signature is over the context string, then a zero byte, then the bytes.
  EXPECT_TRUE(VerifyObject(maintainer_->key(), SignedObject::kTrustListChange, change.signature(),
                           change.tbs())
                  .ok());
}

TEST_F(TrustListChangeTest, AnyConfiguredMaintainerKeyVerifies) {
  std::vector<EvpPkeyPtr> keys;
  keys.push_back(test_pki::ShareKey(outsider_->key()));
  keys.push_back(test_pki::ShareKey(maintainer_->key()));
  MaintainerKeys both = MaintainerKeys::FromKeys(std::move(keys));
  auto verified = VerifyTrustListChange(Sign(Add(other_pki_->root.der, 1)), both);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->maintainer_key_sha256, MaintainerKeyFingerprint(maintainer_->key()));
}

TEST_F(TrustListChangeTest, RefusesAnUnsignedChange) {
  v1::SignedTrustListChange change;
  change.set_tbs(Add(other_pki_->root.der, 1).SerializeAsString());
  EXPECT_THAT(VerifyTrustListChange(change, Keys()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not signed")));
}

TEST_F(TrustListChangeTest, RefusesAChangeSignedByAKeyThatIsNotAMaintainers) {
  EXPECT_THAT(
      VerifyTrustListChange(Sign(Add(other_pki_->root.der, 1), outsider_.get()), Keys()),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("does not verify under any configured trust-list maintainer key")));
}

TEST_F(TrustListChangeTest, RefusesEveryChangeWithoutMaintainerKeys) {
  EXPECT_THAT(VerifyTrustListChange(Sign(Add(other_pki_->root.der, 1)), MaintainerKeys()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("no trust-list maintainer key is configured")));
}

TEST_F(TrustListChangeTest, RefusesAChangeAlteredAfterSigning) {
  v1::SignedTrustListChange change = Sign(Remove(pki_->root.der, 1));
  v1::TrustListChangeBody body;
  ASSERT_TRUE(body.ParseFromString(change.tbs()));
  body.set_action(v1::TrustListChange::ADD_ROOT);
  body.set_root_certificate_der(pki_->root.der);
  change.set_tbs(body.SerializeAsString());
  EXPECT_THAT(VerifyTrustListChange(change, Keys()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
}

TEST_F(TrustListChangeTest, RefusesASignatureWithoutTheTrustListChangeContext) {
  // The maintainer's key signing the same bytes as another kind of object, or bare.
  const std::string tbs = Add(other_pki_->root.der, 1).SerializeAsString();
  v1::SignedTrustListChange change;
  change.set_tbs(tbs);
  auto other_kind = SignObject(*maintainer_, SignedObject::kApprovalRecord, tbs);
  ASSERT_TRUE(other_kind.ok());
  *change.mutable_signature() = *other_kind;
  EXPECT_THAT(VerifyTrustListChange(change, Keys()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
  auto bare = maintainer_->Sign(tbs);
  ASSERT_TRUE(bare.ok());
  *change.mutable_signature() = *bare;
  EXPECT_THAT(VerifyTrustListChange(change, Keys()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
}

TEST_F(TrustListChangeTest, RefusesASignedChangeCarryingAnUnknownField) {
  // Validly signed by the maintainer, but with field 31 this code does not know: nothing rides
  // along inside a signature unseen.
  std::string tbs = Add(other_pki_->root.der, 1).SerializeAsString();
  tbs += std::string("\xf8\x01\x01", 3);
  v1::SignedTrustListChange change;
  change.set_tbs(tbs);
  auto signature = SignObject(*maintainer_, SignedObject::kTrustListChange, tbs);
  ASSERT_TRUE(signature.ok());
  *change.mutable_signature() = *signature;
  EXPECT_THAT(VerifyTrustListChange(change, Keys()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field number 31")));
}

TEST_F(TrustListChangeTest, RefusesMalformedBodiesNamingTheCheck) {
  struct Case {
    std::string name;
    v1::TrustListChangeBody body;
    std::string message;
  };
  std::vector<Case> cases;
  {
    Case c{"version 2", Add(other_pki_->root.der, 1), "version 2"};
    c.body.set_version(2);
    cases.push_back(c);
  }
  {
    Case c{"no action", Add(other_pki_->root.der, 1), "names no action"};
    c.body.set_action(v1::TrustListChange::ACTION_UNSPECIFIED);
    cases.push_back(c);
  }
  {
    Case c{"no list", Add(other_pki_->root.der, 1), "names no trust list"};
    c.body.clear_trust_list();
    cases.push_back(c);
  }
  cases.push_back({"sequence 0", Add(other_pki_->root.der, 0), "has no sequence"});
  {
    Case c{"short hash", Remove(pki_->root.der, 1), "not 32 bytes"};
    c.body.set_root_sha256("short");
    cases.push_back(c);
  }
  {
    Case c{"add without certificate", Add(other_pki_->root.der, 1), "carries no certificate"};
    c.body.clear_root_certificate_der();
    cases.push_back(c);
  }
  {
    Case c{"hash of another certificate", Add(other_pki_->root.der, 1), "not the SHA-256"};
    c.body.set_root_sha256(Sha256(pki_->root.der));
    cases.push_back(c);
  }
  {
    Case c{"remove with certificate", Remove(pki_->root.der, 1), "carries a certificate"};
    c.body.set_root_certificate_der(pki_->root.der);
    cases.push_back(c);
  }
  {
    Case c{"long reason", Remove(pki_->root.der, 1), "reason longer than 1024"};
    c.body.set_reason(std::string(1025, 'x'));
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    EXPECT_THAT(VerifyTrustListChange(Sign(c.body), Keys()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.name;
  }
}

TEST_F(TrustListChangeTest, AppliesChangesInSequenceAndPersistsEachBeforeItTakesEffect) {
  auto ledger = NewLedger();
  ASSERT_NE(ledger, nullptr);
  EXPECT_THAT(ChainRefusal(*other_pki_), IsRefusal(v1::UNTRUSTED_CHAIN, ::testing::_));
  auto added = ledger->Apply(Sign(Add(other_pki_->root.der, 1)));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_THAT(ChainRefusal(*other_pki_), IsNotRefused());
  EXPECT_EQ(ledger->LastSequence(kList), 1u);
  EXPECT_EQ(persist_calls_, 1);

  // Sequences may skip (a list's maintainers sign for every VA; a VA that joined late never saw
  // the earlier ones).
  auto removed = ledger->Apply(Sign(Remove(other_pki_->root.der, 5)));
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(ChainRefusal(*other_pki_), IsRefusal(v1::ROOT_REMOVED, ::testing::_));
  EXPECT_EQ(ledger->LastSequence(kList), 5u);
  EXPECT_EQ(ledger->LastSequence("another-list"), 0u);
  v1::TrustListChanges history;
  ASSERT_TRUE(history.ParseFromString(persisted_));
  ASSERT_EQ(history.signed_changes_size(), 2);
  EXPECT_EQ(history.signed_changes(1).tbs(), removed->signed_change.tbs());
}

TEST_F(TrustListChangeTest, RefusesAReplayedChangeAndAnOlderOne) {
  auto ledger = NewLedger();
  ASSERT_NE(ledger, nullptr);
  const v1::SignedTrustListChange add = Sign(Add(other_pki_->root.der, 1));
  ASSERT_TRUE(ledger->Apply(add).ok());
  ASSERT_TRUE(ledger->Apply(Sign(Remove(other_pki_->root.der, 2))).ok());

  // The very change applied before: refused, and the root stays removed.
  EXPECT_THAT(ledger->Apply(add),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("was already applied")));
  // Signed anew with the same sequence, or an older one.
  for (uint64_t sequence : {1, 2}) {
    v1::TrustListChangeBody again = Add(other_pki_->root.der, sequence);
    again.set_reason("signed anew");
    EXPECT_THAT(
        ledger->Apply(Sign(again)),
        StatusIs(absl::StatusCode::kFailedPrecondition,
                 HasSubstr("replayed or out-of-date change: 'test-roots' is at sequence 2")))
        << sequence;
  }
  EXPECT_THAT(ChainRefusal(*other_pki_), IsRefusal(v1::ROOT_REMOVED, ::testing::_));
  EXPECT_EQ(persist_calls_, 2);
}

TEST_F(TrustListChangeTest, CheckRefusesWhatTheListsRefuseAndChangesNothing) {
  auto ledger = NewLedger();
  ASSERT_NE(ledger, nullptr);
  // A leaf certificate is not a self-signed CA.
  EXPECT_THAT(ledger->Apply(Sign(Add(pki_->leaf.der, 1))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("self-signed CA")));
  // A root the list does not have.
  EXPECT_THAT(ledger->Apply(Sign(Remove(other_pki_->root.der, 1))),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has no root")));
  v1::TrustListChangeBody other_list = Add(other_pki_->root.der, 1);
  other_list.set_trust_list("no-such-list");
  EXPECT_THAT(ledger->Apply(Sign(other_list)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no trust list named")));
  // Check alone applies nothing.
  ASSERT_TRUE(ledger->Check(Sign(Add(other_pki_->root.der, 1))).ok());
  EXPECT_EQ(ledger->LastSequence(kList), 0u);
  EXPECT_EQ(persist_calls_, 0);
  EXPECT_THAT(ChainRefusal(*other_pki_), IsRefusal(v1::UNTRUSTED_CHAIN, ::testing::_));
}

TEST_F(TrustListChangeTest, NothingTakesEffectWhenTheChangeCannotBeKept) {
  auto ledger = TrustListChangeLedger::Restore(
      "", "test history", Keys(), *lists_,
      [](const std::string&) { return absl::UnavailableError("disk full"); });
  ASSERT_TRUE(ledger.ok());
  EXPECT_THAT((*ledger)->Apply(Sign(Remove(pki_->root.der, 1))),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("could not be kept: disk full")));
  EXPECT_THAT(ChainRefusal(*pki_), IsNotRefused());
  EXPECT_EQ((*ledger)->LastSequence(kList), 0u);
}

TEST_F(TrustListChangeTest, RestoreReappliesTheHistoryAndKeepsTheSequence) {
  {
    auto ledger = NewLedger();
    ASSERT_TRUE(ledger->Apply(Sign(Add(other_pki_->root.der, 1))).ok());
    ASSERT_TRUE(ledger->Apply(Sign(Remove(pki_->root.der, 2))).ok());
  }
  // A restart: fresh lists from the bundle, the history from what was persisted.
  lists_ = NewLists();
  auto ledger = NewLedger(persisted_);
  ASSERT_NE(ledger, nullptr);
  EXPECT_THAT(ChainRefusal(*pki_), IsRefusal(v1::ROOT_REMOVED, ::testing::_));
  EXPECT_THAT(ChainRefusal(*other_pki_), IsNotRefused());
  EXPECT_EQ(ledger->LastSequence(kList), 2u);
  EXPECT_EQ(ledger->Changes().size(), 2u);
  EXPECT_THAT(ledger->Apply(Sign(Add(pki_->root.der, 2))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("at sequence 2")));
}

TEST_F(TrustListChangeTest, RestoreRefusesATamperedHistory) {
  {
    auto ledger = NewLedger();
    ASSERT_TRUE(ledger->Apply(Sign(Remove(pki_->root.der, 1))).ok());
  }
  v1::TrustListChanges history;
  ASSERT_TRUE(history.ParseFromString(persisted_));
  // The removal turned into an addition of the attacker's root, the signature kept.
  v1::TrustListChanges tampered = history;
  *tampered.mutable_signed_changes(0)->mutable_tbs() =
      Add(other_pki_->root.der, 1).SerializeAsString();
  auto restored = TrustListChangeLedger::Restore(tampered.SerializeAsString(), "changes.pb", Keys(),
                                                 *NewLists(), nullptr);
  EXPECT_THAT(restored, StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("changes.pb: trust-list change #1 does not verify")));
  // An entry signed by another key.
  v1::TrustListChanges foreign = history;
  *foreign.add_signed_changes() = Sign(Add(other_pki_->root.der, 2), outsider_.get());
  EXPECT_THAT(TrustListChangeLedger::Restore(foreign.SerializeAsString(), "changes.pb", Keys(),
                                             *NewLists(), nullptr),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("trust-list change #2")));
  // Sequences out of order.
  v1::TrustListChanges reordered = history;
  *reordered.add_signed_changes() = Sign(Add(other_pki_->root.der, 1));
  EXPECT_THAT(TrustListChangeLedger::Restore(reordered.SerializeAsString(), "changes.pb", Keys(),
                                             *NewLists(), nullptr),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not follow sequence 1")));
  // Not a TrustListChanges at all, and an unsigned history of an earlier version.
  EXPECT_THAT(
      TrustListChangeLedger::Restore("\xff\xff", "changes.pb", Keys(), *NewLists(), nullptr),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not parse")));
  v1::TrustListChange old_entry;
  old_entry.set_action(v1::TrustListChange::REMOVE_ROOT);
  const std::string old_bytes = "\x0a" +
                                std::string(1, static_cast<char>(old_entry.ByteSizeLong())) +
                                old_entry.SerializeAsString();
  EXPECT_THAT(TrustListChangeLedger::Restore(old_bytes, "changes.pb", Keys(), *NewLists(), nullptr),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unsigned trust-list changes")));
}

TEST_F(TrustListChangeTest, RestoreKeepsAChangeForAListNoLongerConfigured) {
  v1::TrustListChangeBody other_list = Add(other_pki_->root.der, 3);
  other_list.set_trust_list("retired-list");
  v1::TrustListChanges history;
  *history.add_signed_changes() = Sign(other_list);
  *history.add_signed_changes() = Sign(Remove(pki_->root.der, 1));
  auto ledger = NewLedger(history.SerializeAsString());
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->LastSequence("retired-list"), 3u);
  EXPECT_EQ(ledger->Changes().size(), 2u);
  EXPECT_THAT(lists_->RemovedRootHashes(kList), ElementsAre(Sha256(pki_->root.der)));
}

TEST_F(TrustListChangeTest, LoadNamesAnUnreadableKeyFile) {
  google::protobuf::RepeatedPtrField<std::string> files;
  *files.Add() = pki_->leaf_public_key_pem_path;
  *files.Add() = pki_->directory + "/no-such-key.pub";
  EXPECT_THAT(
      MaintainerKeys::Load(files),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("trust_list_maintainer_key_files[1] (" +
                                                      pki_->directory + "/no-such-key.pub)")));
  // A file that holds no public key.
  *files.Mutable(1) = pki_->leaf_key_pem_path;
  EXPECT_THAT(MaintainerKeys::Load(files),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trust_list_maintainer_key_files[1] (")));
  files.RemoveLast();
  auto keys = MaintainerKeys::Load(files);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->Fingerprints().size(), 1u);
  EXPECT_THAT(MaintainerKeys().Fingerprints(), IsEmpty());
}

}  // namespace
}  // namespace mecai
