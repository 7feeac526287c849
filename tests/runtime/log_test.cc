// Log lines carry text from the server (array keys, message types, error
// reasons): it must not forge lines, drive the terminal or flood the log.
#include <gtest/gtest.h>

#include "pollen/runtime/log.h"

namespace pollen {
namespace {

TEST(LogSafeTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(log_safe("key\nERROR :     FORGED LINE"), "key\\nERROR :     FORGED LINE");
  EXPECT_EQ(log_safe("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(log_safe("a\tb\rc\x7f"), "a\\tb\\x0dc\\x7f");
  EXPECT_EQ(log_safe(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(log_safe("csi \xc2\x9b"
                     "31m"),
            "csi \\u009b31m");  // C1 control in UTF-8
}

TEST(LogSafeTest, OrdinaryTextAndUtf8AreKept) {
  EXPECT_EQ(log_safe("Received: train message 8300c493"), "Received: train message 8300c493");
  EXPECT_EQ(log_safe("Gr\xc3\xbc\xc3\x9f \xe2\x86\x92 \xc2\xb5s"),
            "Gr\xc3\xbc\xc3\x9f \xe2\x86\x92 \xc2\xb5s");
}

TEST(LogSafeTest, LongTextIsCutSayingHowMuchWasLeftOut) {
  const std::string key(70000, 'k');
  const std::string safe = log_safe("array '" + key + "': bad");
  EXPECT_LT(safe.size(), 4200u);
  EXPECT_NE(safe.find("... [65917 more bytes]"), std::string::npos) << safe.substr(4000);
  EXPECT_EQ(log_safe("abcdef", 3), "abc... [3 more bytes]");
}

}  // namespace
}  // namespace pollen
