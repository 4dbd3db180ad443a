#include "common/base64.h"

#include <gtest/gtest.h>

namespace pullfleet {
namespace {

TEST(Base64, EncodesPaddedForEveryRemainder) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("u"), "dQ==");
  EXPECT_EQ(Base64Encode("us"), "dXM=");
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(Base64Encode(std::string("\xff\x00\xfe", 3)), "/wD+");
}

TEST(Base64, DecodesPaddedAndUnpaddedText) {
  EXPECT_EQ(Base64DecodeLikeGo("dXNlcjpwYXNz"), "user:pass");
  EXPECT_EQ(Base64DecodeLikeGo("dQ=="), "u");
  EXPECT_EQ(Base64DecodeLikeGo("dQ"), "u");
  EXPECT_EQ(Base64DecodeLikeGo("dXM="), "us");
  EXPECT_EQ(Base64DecodeLikeGo("dXM"), "us");
  EXPECT_EQ(Base64DecodeLikeGo(""), "");
  EXPECT_EQ(Base64DecodeLikeGo("/wD+"), std::string("\xff\x00\xfe", 3));
}

TEST(Base64, IgnoresLineBreaksAsGoDoes) {
  EXPECT_EQ(Base64DecodeLikeGo("dXNl\ncjpw\r\nYXNz"), "user:pass");
  EXPECT_EQ(Base64DecodeLikeGo("dQ==\n"), "u");
}

TEST(Base64, RefusesWhatGoRefuses) {
  EXPECT_EQ(Base64DecodeLikeGo("dXNlc"), std::nullopt);     // one character past a quantum
  EXPECT_EQ(Base64DecodeLikeGo("dXM=="), std::nullopt);     // padded but not a whole quantum
  EXPECT_EQ(Base64DecodeLikeGo("d*M="), std::nullopt);      // outside the alphabet
  EXPECT_EQ(Base64DecodeLikeGo("dQ==dQ=="), std::nullopt);  // padding before the end
  EXPECT_EQ(Base64DecodeLikeGo(" dXM="), std::nullopt);     // blanks are not skipped
  EXPECT_EQ(Base64DecodeLikeGo("dX M="), std::nullopt);
}

}  // namespace
}  // namespace pullfleet
