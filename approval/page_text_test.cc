// The page's text helpers: escaping, visible format characters (Unicode Technical Report #36,
// "Bidirectional Text Spoofing"), minutes.
#include "approval/page_text.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mecai {
namespace {

TEST(PageTextTest, MarkupIsEscaped) {
  EXPECT_EQ(HtmlEscape("<b a='1'>\"&\"</b>"), "&lt;b a=&#39;1&#39;&gt;&quot;&amp;&quot;&lt;/b&gt;");
  EXPECT_EQ(VisibleText("<script>"), "&lt;script&gt;");
}

TEST(PageTextTest, FormatAndControlCharactersAreShownVisibly) {
  // "Jane's Bakery <RLO>Ltd gnp" would read "Jane's Bakery png dtL".
  EXPECT_EQ(VisibleText("Jane\xE2\x80\x99s Bakery \xE2\x80\xAELtd gnp"),
            "Jane\xE2\x80\x99s Bakery [U+202E]Ltd gnp");
  EXPECT_EQ(VisibleText("a\xE2\x80\x8B"
                        "b"),
            "a[U+200B]b");                                    // Zero width space.
  EXPECT_EQ(VisibleText("\xEF\xBB\xBFx"), "[U+FEFF]x");       // BOM.
  EXPECT_EQ(VisibleText("x\xF3\xA0\x80\x81"), "x[U+E0001]");  // Language tag.
  EXPECT_EQ(VisibleText("a\nb\x7F"), "a[U+000A]b[U+007F]");
  EXPECT_EQ(VisibleText("B\xC3\xA4"
                        "ckerei M\xC3\xBCller"),
            "B\xC3\xA4"
            "ckerei M\xC3\xBCller");
  // Invalid UTF-8, an overlong '<' and a surrogate become U+FFFD, never markup.
  EXPECT_EQ(VisibleText("a\xFF"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(VisibleText("\xC0\xBC"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(VisibleText("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(PageTextTest, MinutesAreRoundedUp) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(MinutesLeft(now, absl::ToUnixMillis(now + absl::Seconds(61))), "2 minutes");
  EXPECT_EQ(MinutesLeft(now, absl::ToUnixMillis(now + absl::Seconds(60))), "1 minute");
  EXPECT_EQ(MinutesLeft(now, absl::ToUnixMillis(now + absl::Seconds(1))), "1 minute");
  EXPECT_EQ(MinutesLeft(now, absl::ToUnixMillis(now - absl::Seconds(1))), "0 minutes");
  EXPECT_EQ(MinutesText(absl::Minutes(50)), "50 minutes");
  EXPECT_EQ(FormatUtcTime(1'800'000'000'000), "2027-01-15 08:00 UTC");
}

}  // namespace
}  // namespace mecai
