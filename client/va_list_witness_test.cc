// The VA list's witnesses (docs/PUBLIC_LOG.md "Witnesses"): each VA's witness_vkey and the list's
// min_cosignatures, checked at load.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/va_list.h"
#include "common/crypto/pem.h"
#include "common/pki/pki_builder.h"
#include "common/testing/status_macros.h"
#include "common/testing/test_pki.h"
#include "common/transparency/cosignature.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::mecai::test_pki::StatusIs;
using ::testing::HasSubstr;

class VaListWitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(directory_, test_pki::MakeTempDirectory());
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr root_key, GenerateEcKey());
    CertificateSpec spec;
    spec.common_name = "Witness Test Root";
    spec.is_certificate_authority = true;
    spec.not_before = absl::Now() - absl::Hours(1);
    spec.not_after = absl::Now() + absl::Hours(24);
    ASSERT_OK_AND_ASSIGN(X509Ptr root,
                         IssueCertificate(spec, root_key.get(), nullptr, root_key.get()));
    ASSERT_OK(
        test_pki::WriteTestFile(directory_, "root.pem", CertificateToPem(root.get())).status());
    for (const char* id : {"va-a", "va-b", "va-c"}) {
      ASSERT_OK_AND_ASSIGN(EvpPkeyPtr va_key, GenerateEcKey());
      v1::VaListEntry* entry = list_.add_vas();
      entry->set_id(id);
      entry->set_ca_certificate_file("root.pem");
      entry->add_va_spki_sha256(VaKeyPin(va_key.get()));
    }
  }

  std::string Witness(const std::string& name) {
    absl::StatusOr<EvpPkeyPtr> key = GenerateEd25519Key();
    absl::StatusOr<NoteVerifierKey> cosigner = CosignerKey(name, key->get());
    EXPECT_OK(cosigner.status());
    return FormatCosignerVkey(*cosigner);
  }

  absl::StatusOr<std::unique_ptr<VaList>> Load() {
    std::string text;
    google::protobuf::TextFormat::PrintToString(list_, &text);
    ASSIGN_OR_RETURN(std::string file, test_pki::WriteTestFile(directory_, "va-list.txt", text));
    return VaList::Load(file);
  }

  std::string directory_;
  v1::VaList list_;
};

TEST_F(VaListWitnessTest, LoadsTheWitnessesAndThePolicy) {
  list_.mutable_vas(0)->set_witness_vkey(Witness("witness.a.example/w"));
  list_.mutable_vas(2)->set_witness_vkey(Witness("witness.c.example/w"));
  list_.set_min_cosignatures(2);
  ASSERT_OK_AND_ASSIGN(auto vas, Load());
  ASSERT_EQ(vas->witness_keys().size(), 2u);
  EXPECT_EQ(vas->witness_keys()[0].name, "witness.a.example/w");
  EXPECT_EQ(vas->witness_keys()[1].name, "witness.c.example/w");
  EXPECT_EQ(vas->min_cosignatures(), 2u);
  EXPECT_TRUE(vas->Find("va-a")->witness_key.has_value());
  EXPECT_FALSE(vas->Find("va-b")->witness_key.has_value());
}

TEST_F(VaListWitnessTest, RefusesABadWitnessKeyOrAnImpossiblePolicy) {
  list_.mutable_vas(1)->set_witness_vkey("witness.b.example/w+00000000+AAAA");
  EXPECT_THAT(Load(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("VA 'va-b' witness_vkey: ")));
  list_.mutable_vas(1)->set_witness_vkey(Witness("witness.b.example/w"));
  list_.mutable_vas(2)->set_witness_vkey(Witness("witness.b.example/w"));
  EXPECT_THAT(Load(), StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("VA 'va-c' witness_vkey: the witness name "
                                         "witness.b.example/w is listed twice")));
  list_.mutable_vas(2)->clear_witness_vkey();
  list_.set_min_cosignatures(2);
  EXPECT_THAT(Load(), StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("min_cosignatures 2 exceeds the 1 witnesses it lists")));
}

// cosignature/v1 does not sign the witness's name: one key under two names would be two witnesses.
TEST_F(VaListWitnessTest, RefusesOneWitnessKeyUnderTwoNames) {
  const std::string vkey = Witness("witness.a.example/w");
  ASSERT_OK_AND_ASSIGN(NoteVerifierKey key, ParseCosignerVkey(vkey));
  NoteVerifierKey alias = key;
  alias.name = "witness.b.example/w";
  alias.key_id = NoteKeyId(alias.name, kCosignatureV1SignatureType, alias.public_key);
  list_.mutable_vas(0)->set_witness_vkey(vkey);
  list_.mutable_vas(1)->set_witness_vkey(FormatCosignerVkey(alias));
  EXPECT_THAT(Load(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("VA 'va-b' witness_vkey: the witness key of "
                                 "witness.b.example/w is also that of witness.a.example/w")));
}

}  // namespace
}  // namespace mecai
