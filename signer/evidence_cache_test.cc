#include "signer/evidence_cache.h"

#include <memory>
#include <string>

#include "common/crypto/hashing.h"
#include "common/testing/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "signer/evidence_metrics.h"
#include "signer/evidence_upload.h"

namespace mecai {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The value of the sample of `name` (with `label` = `value` when label is not empty) in `registry`;
// -1 when there is none.
double Sample(prometheus::Registry& registry, const std::string& name,
              const std::string& label = "", const std::string& value = "") {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      bool matches = label.empty();
      for (const prometheus::ClientMetric::Label& pair : metric.label) {
        if (pair.name == label && pair.value == value) matches = true;
      }
      if (!matches) continue;
      if (family.type == prometheus::MetricType::Gauge) return metric.gauge.value;
      if (family.type == prometheus::MetricType::Counter) return metric.counter.value;
    }
  }
  return -1;
}

// Uploads `bytes` in one piece under its own SHA-256.
absl::StatusOr<std::string> Put(EvidenceCache& cache, const std::string& bytes) {
  ASSIGN_OR_RETURN(std::unique_ptr<EvidenceUpload> upload,
                   EvidenceUpload::Begin(cache, Sha256(bytes), bytes.size()));
  RETURN_IF_ERROR(upload->Add(bytes));
  return upload->Finish();
}

TEST(EvidenceCacheTest, StoresUnderTheHashItComputesAndCountsTheBytes) {
  prometheus::Registry registry;
  EvidenceMetrics metrics(registry);
  EvidenceCache cache(1000, &metrics);
  const std::string crl(300, 'c');
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EvidenceUpload> upload,
                       EvidenceUpload::Begin(cache, Sha256(crl), crl.size()));
  // The declared size counts from the start.
  EXPECT_EQ(cache.HeldBytes(), 300u);
  ASSERT_OK(upload->Add(crl.substr(0, 100)));
  ASSERT_OK(upload->Add(crl.substr(100)));
  ASSERT_OK_AND_ASSIGN(std::string sha256, upload->Finish());
  upload.reset();
  EXPECT_EQ(sha256, Sha256(crl));
  std::shared_ptr<const std::string> found = cache.Find(Sha256(crl));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(*found, crl);
  EXPECT_EQ(cache.HeldBytes(), 300u);
  EXPECT_EQ(Sample(registry, "mecai_signer_evidence_cache_bytes"), 300);
  EXPECT_EQ(cache.Find(Sha256("another response")), nullptr);
}

TEST(EvidenceCacheTest, BytesUnderAFalseHashAreNotStored) {
  EvidenceCache cache(1000);
  const std::string crl(200, 'c');
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EvidenceUpload> upload,
                       EvidenceUpload::Begin(cache, Sha256("the CRL the caller claims"), 200));
  ASSERT_OK(upload->Add(crl));
  absl::StatusOr<std::string> stored = upload->Finish();
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(stored.status().message(), HasSubstr("not to the claimed"));
  upload.reset();
  EXPECT_EQ(cache.Find(Sha256(crl)), nullptr);
  EXPECT_EQ(cache.Find(Sha256("the CRL the caller claims")), nullptr);
  EXPECT_EQ(cache.HeldBytes(), 0u);
  EXPECT_EQ(cache.StoredCount(), 0u);
}

TEST(EvidenceCacheTest, MoreOrFewerBytesThanDeclaredAreRefused) {
  EvidenceCache cache(1000);
  const std::string crl(100, 'c');
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EvidenceUpload> upload,
                         EvidenceUpload::Begin(cache, Sha256(crl), 99));
    absl::Status added = upload->Add(crl);
    EXPECT_EQ(added.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(added.message(), HasSubstr("beyond the 99 bytes it declared"));
  }
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EvidenceUpload> upload,
                         EvidenceUpload::Begin(cache, Sha256(crl), 101));
    ASSERT_OK(upload->Add(crl));
    absl::StatusOr<std::string> stored = upload->Finish();
    EXPECT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(stored.status().message(), HasSubstr("ended after 100 of the 101 bytes"));
  }
  EXPECT_EQ(cache.HeldBytes(), 0u);
  EXPECT_EQ(cache.StoredCount(), 0u);
}

TEST(EvidenceCacheTest, EvictsTheLeastRecentlyUsedToStayWithinTheBudget) {
  prometheus::Registry registry;
  EvidenceMetrics metrics(registry);
  EvidenceCache cache(300, &metrics);
  const std::string a(100, 'a'), b(100, 'b'), c(100, 'c'), d(100, 'd');
  ASSERT_OK(Put(cache, a).status());
  ASSERT_OK(Put(cache, b).status());
  ASSERT_OK(Put(cache, c).status());
  // `a` is used again: `b` is now the least recently used.
  ASSERT_NE(cache.Find(Sha256(a)), nullptr);
  std::shared_ptr<const std::string> held_b = cache.Find(Sha256(b));
  ASSERT_NE(cache.Find(Sha256(c)), nullptr);
  ASSERT_NE(cache.Find(Sha256(a)), nullptr);
  ASSERT_OK(Put(cache, d).status());
  EXPECT_EQ(cache.Find(Sha256(b)), nullptr);
  EXPECT_NE(cache.Find(Sha256(a)), nullptr);
  EXPECT_NE(cache.Find(Sha256(c)), nullptr);
  EXPECT_NE(cache.Find(Sha256(d)), nullptr);
  EXPECT_EQ(cache.HeldBytes(), 300u);
  EXPECT_EQ(Sample(registry, "mecai_signer_evidence_evictions_total"), 1);
  // A response handed out before its eviction stays whole for its holder.
  EXPECT_EQ(*held_b, b);
}

TEST(EvidenceCacheTest, StoringTheSameResponseTwiceKeepsOneCopy) {
  EvidenceCache cache(300);
  const std::string a(100, 'a');
  ASSERT_OK(Put(cache, a).status());
  ASSERT_OK(Put(cache, a).status());
  EXPECT_EQ(cache.StoredCount(), 1u);
  EXPECT_EQ(cache.HeldBytes(), 100u);
}

TEST(EvidenceCacheTest, UploadsInProgressNeverTakeMoreThanTheBudget) {
  EvidenceCache cache(300);
  const std::string a(100, 'a');
  ASSERT_OK(Put(cache, a).status());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EvidenceUpload> first,
                       EvidenceUpload::Begin(cache, Sha256("x"), 250));
  // Room was made by evicting the stored response.
  EXPECT_EQ(cache.Find(Sha256(a)), nullptr);
  EXPECT_EQ(cache.HeldBytes(), 250u);
  absl::StatusOr<std::unique_ptr<EvidenceUpload>> second =
      EvidenceUpload::Begin(cache, Sha256("y"), 100);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(second.status().message(), HasSubstr("uploads in progress hold 250 of its 300"));
  absl::StatusOr<std::unique_ptr<EvidenceUpload>> huge =
      EvidenceUpload::Begin(cache, Sha256("z"), 301);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(cache.HeldBytes(), 250u);
  first.reset();
  EXPECT_EQ(cache.HeldBytes(), 0u);
}

TEST(ResolveEvidenceTest, FillsHeldResponsesAndNamesTheMissingOnce) {
  EvidenceCache cache(1000);
  const std::string held(50, 'h');
  ASSERT_OK(Put(cache, held).status());
  google::protobuf::RepeatedPtrField<v1::RevocationEvidence> evidence;
  evidence.Add()->set_response_sha256(Sha256(held));
  evidence.Add()->set_response_sha256(Sha256("missing"));
  evidence.Add()->set_response_sha256(Sha256("missing"));
  evidence.Add()->set_response_der("inline bytes");
  evidence.Add()->set_response_sha256("short");
  const ResolvedEvidence resolved = ResolveEvidence(evidence, &cache);
  EXPECT_THAT(resolved.missing, ElementsAre(Sha256("missing")));
  ASSERT_EQ(resolved.evidence.size(), 5);
  EXPECT_EQ(resolved.evidence[0].response_der(), held);
  EXPECT_EQ(resolved.evidence[3].response_der(), "inline bytes");
  EXPECT_EQ(resolved.evidence[4].response_der(), "");

  const ResolvedEvidence without_cache = ResolveEvidence(evidence, nullptr);
  EXPECT_TRUE(without_cache.missing.empty());
  EXPECT_EQ(without_cache.evidence[0].response_der(), "");
}

v1::UploadEvidenceRequest First(const std::string& bytes, uint64_t total) {
  v1::UploadEvidenceRequest message;
  message.set_response_sha256(Sha256(bytes));
  message.set_total_bytes(total);
  return message;
}

TEST(EvidenceUploadSessionTest, StoresAResponseSentInChunks) {
  EvidenceCache cache(4 << 20);
  EvidenceUploadSession session(cache, 2 << 20);
  const std::string crl(600 * 1024, 'c');
  v1::UploadEvidenceRequest message = First(crl, crl.size());
  for (size_t offset = 0; offset < crl.size(); offset += kMaxEvidenceChunkBytes) {
    message.set_chunk(crl.substr(offset, kMaxEvidenceChunkBytes));
    ASSERT_OK(session.OnMessage(message));
    message.Clear();
  }
  ASSERT_OK_AND_ASSIGN(v1::UploadEvidenceResponse response, session.OnEnd());
  EXPECT_EQ(response.response_sha256(), Sha256(crl));
  EXPECT_EQ(response.stored_bytes(), crl.size());
  EXPECT_STREQ(session.result(), kUploadStored);
  EXPECT_NE(cache.Find(Sha256(crl)), nullptr);
}

TEST(EvidenceUploadSessionTest, RefusesEachBrokenRuleWithNothingStored) {
  EvidenceCache cache(4 << 20);
  const std::string crl(1000, 'c');
  struct Case {
    const char* name;
    v1::UploadEvidenceRequest first;
    absl::StatusCode code;
    const char* says;
    const char* result;
  };
  v1::UploadEvidenceRequest no_hash;
  no_hash.set_total_bytes(1000);
  v1::UploadEvidenceRequest big_chunk = First(crl, 1000);
  big_chunk.set_chunk(std::string(kMaxEvidenceChunkBytes + 1, 'c'));
  v1::UploadEvidenceRequest too_large = First(crl, (2 << 20) + 1);
  v1::UploadEvidenceRequest unknown = First(crl, 1000);
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(99, 1);
  const Case cases[] = {
      {"no hash", no_hash, absl::StatusCode::kInvalidArgument, "32-byte response_sha256",
       kUploadMalformed},
      {"chunk over 256 KiB", big_chunk, absl::StatusCode::kInvalidArgument,
       "a chunk carries at most 262144 bytes", kUploadChunkTooLarge},
      {"total over the limit", too_large, absl::StatusCode::kResourceExhausted,
       "exceeds the signer's limit of 2097152 bytes", kUploadTooLarge},
      {"unknown field", unknown, absl::StatusCode::kInvalidArgument, "does not know",
       kUploadMalformed},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EvidenceUploadSession session(cache, 2 << 20);
    absl::Status status = session.OnMessage(c.first);
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_THAT(status.message(), HasSubstr(c.says));
    EXPECT_STREQ(session.result(), c.result);
    EXPECT_EQ(cache.HeldBytes(), 0u);
  }
  // A second message that claims again.
  EvidenceUploadSession session(cache, 2 << 20);
  ASSERT_OK(session.OnMessage(First(crl, 1000)));
  absl::Status again = session.OnMessage(First(crl, 1000));
  EXPECT_EQ(again.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(again.message(), HasSubstr("only the first message"));
  EXPECT_EQ(cache.HeldBytes(), 0u);
  // A stream that ends with a false hash.
  EvidenceUploadSession lying(cache, 2 << 20);
  v1::UploadEvidenceRequest message = First("another CRL", 1000);
  message.set_chunk(crl);
  ASSERT_OK(lying.OnMessage(message));
  absl::StatusOr<v1::UploadEvidenceResponse> ended = lying.OnEnd();
  EXPECT_EQ(ended.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_STREQ(lying.result(), kUploadHashMismatch);
  EXPECT_EQ(cache.HeldBytes(), 0u);
  EXPECT_EQ(cache.StoredCount(), 0u);
}

}  // namespace
}  // namespace mecai
