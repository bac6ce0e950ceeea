#include "common/tls_extension/serverinfo_file.h"

#include <openssl/ssl.h>
#include <stdlib.h>

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/openssl_types.h"
#include "common/tls_extension/mecai_extension.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

using ::testing::HasSubstr;

std::string TempFile(const std::string& name) {
  const char* directory = getenv("TEST_TMPDIR");
  return absl::StrCat(directory != nullptr ? directory : "/tmp", "/", name);
}

// Exactly the bytes `mecai serverinfo` wrote before this library: context 0x1180, type, length,
// the list.
TEST(ServerinfoFileTest, ExactBytes) {
  const std::string list = EncodeVouchingDataList({"vd"});
  auto pem = EncodeServerinfoFile(65280, list);
  ASSERT_TRUE(pem.ok()) << pem.status();
  const std::string entry = std::string("\x00\x00\x11\x80\xff\x00\x00\x06", 8) + list;
  EXPECT_EQ(*pem, absl::StrCat("-----BEGIN SERVERINFOV2 FOR MECAI VOUCHING DATA-----\n",
                               absl::Base64Escape(entry),
                               "\n-----END SERVERINFOV2 FOR MECAI VOUCHING DATA-----\n"));
  auto decoded = DecodeServerinfoFile(*pem, 65280);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, list);
  EXPECT_EQ(DecodeServerinfoFile(*pem, 65283).status().code(), absl::StatusCode::kNotFound);
}

TEST(ServerinfoFileTest, LongListsWrapAt64ColumnsAndRoundTrip) {
  const std::string list = EncodeVouchingDataList({std::string(3000, 'a'), std::string(70, 'b')});
  auto pem = EncodeServerinfoFile(65290, list);
  ASSERT_TRUE(pem.ok());
  size_t longest = 0;
  for (absl::string_view line : absl::StrSplit(*pem, '\n'))
    longest = std::max(longest, line.size());
  EXPECT_EQ(longest, 64u);
  auto decoded = DecodeServerinfoFile(*pem, 65290);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, list);
}

TEST(ServerinfoFileTest, EncoderRefusesWhatNoEntryCanCarry) {
  EXPECT_EQ(EncodeServerinfoFile(65280, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeServerinfoFile(65280, std::string(65536, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// OpenSSL's own reader (SSL_CTX_use_serverinfo_file, what nginx and Apache call) accepts the file.
TEST(ServerinfoFileTest, OpenSslLoadsTheFile) {
  auto pem = EncodeServerinfoFile(65280, EncodeVouchingDataList({"a VD"}));
  ASSERT_TRUE(pem.ok());
  const std::string path = TempFile("mecai.serverinfo");
  FILE* file = fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  fputs(pem->c_str(), file);
  fclose(file);
  SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
  ASSERT_NE(context, nullptr);
  EXPECT_EQ(SSL_CTX_use_serverinfo_file(context.get(), path.c_str()), 1);
  // The same reader refuses a file that is not one.
  const std::string other = TempFile("other.serverinfo");
  file = fopen(other.c_str(), "w");
  ASSERT_NE(file, nullptr);
  fputs("not a serverinfo file\n", file);
  fclose(file);
  EXPECT_NE(SSL_CTX_use_serverinfo_file(context.get(), other.c_str()), 1);
}

// Files of other tools may hold several blocks and other extensions (e.g. RFC 6962 SCTs, 18).
TEST(ServerinfoFileTest, FindsTheEntryAmongOthers) {
  const std::string sct = std::string("\x00\x00\x11\x80\x00\x12\x00\x03xyz", 11);
  const std::string mecai = std::string("\x00\x00\x11\x80\xff\x00\x00\x02", 8) + "ok";
  const std::string pem = absl::StrCat(
      "-----BEGIN SERVERINFOV2 FOR CT-----\r\n", absl::Base64Escape(sct),
      "\r\n-----END SERVERINFOV2 FOR CT-----\r\n\n-----BEGIN SERVERINFOV2 FOR X-----\n",
      absl::Base64Escape(mecai), "\n-----END SERVERINFOV2 FOR X-----\n");
  auto decoded = DecodeServerinfoFile(pem, 65280);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "ok");
  decoded = DecodeServerinfoFile(pem, 18);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "xyz");
}

TEST(ServerinfoFileTest, DecoderRejectsMalformedFiles) {
  const auto block = [](const std::string& data) {
    return absl::StrCat("-----BEGIN SERVERINFOV2 FOR MECAI VOUCHING DATA-----\n",
                        absl::Base64Escape(data),
                        "\n-----END SERVERINFOV2 FOR MECAI VOUCHING DATA-----\n");
  };
  const std::string entry = std::string("\x00\x00\x11\x80\xff\x00\x00\x02", 8) + "ok";
  const struct {
    std::string pem;
    std::string error;
  } kCases[] = {
      {"", "no SERVERINFOV2 PEM block"},
      {"\n\n", "no SERVERINFOV2 PEM block"},
      {"hello\n" + block(entry), "expected a SERVERINFOV2 PEM block, found 'hello'"},
      {block(entry) + "trailing text\n", "found 'trailing text'"},
      {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "found '-----BEGIN"},
      {"-----BEGIN SERVERINFOV2 FOR MECAI VOUCHING DATA-----\nAAAA\n", "block 1 has no END"},
      {"-----BEGIN SERVERINFOV2 FOR A-----\nAAAA\n-----END SERVERINFOV2 FOR B-----\n",
       "block 1 has no END"},
      {"-----BEGIN SERVERINFOV2 FOR A-----\n!!!!\n-----END SERVERINFOV2 FOR A-----\n",
       "block 1 is not base64"},
      {block(std::string("\x00\x00\x11\x80\xff", 5)), "truncated entry header"},
      {block(std::string("\x00\x00\x11\x80\xff\x00\x00\x05", 8) + "ok"),
       "entry of extension 65280 length 5 exceeds the 2 bytes left"},
      {block(entry + entry), "two entries of extension 65280"},
      {block(entry) + block(entry), "two entries of extension 65280"},
  };
  for (const auto& c : kCases) {
    auto decoded = DecodeServerinfoFile(c.pem, 65280);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << c.error;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(c.error));
  }
}

}  // namespace
}  // namespace mecai
