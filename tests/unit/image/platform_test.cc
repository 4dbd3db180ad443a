// Table tests for platform parsing, normalisation and containerd's matching rules.
#include "image/platform.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace pullfleet::image {
namespace {

Platform P(const std::string& text) {
  Result<Platform> p = ParsePlatform(text);
  EXPECT_TRUE(p.ok()) << text << ": " << (p.ok() ? "" : p.error().message());
  return p.ok() ? *p : Platform{};
}

struct ParseCase {
  std::string text;
  std::string want;  // ToString of the normalised platform
};

class ParsePlatformTest : public testing::TestWithParam<ParseCase> {};

TEST_P(ParsePlatformTest, Normalises) {
  Result<Platform> p = ParsePlatform(GetParam().text);
  ASSERT_TRUE(p.ok()) << GetParam().text << ": " << p.error().message();
  EXPECT_EQ(p->ToString(), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParsePlatformTest,
    testing::Values(
        ParseCase{"linux/amd64", "linux/amd64"}, ParseCase{"linux/x86_64", "linux/amd64"},
        ParseCase{"linux/x86-64", "linux/amd64"}, ParseCase{"linux/amd64/v1", "linux/amd64"},
        ParseCase{"linux/amd64/v3", "linux/amd64/v3"}, ParseCase{"Linux/AMD64", "linux/amd64"},
        ParseCase{"linux/i386", "linux/386"}, ParseCase{"linux/aarch64", "linux/arm64"},
        ParseCase{"linux/arm64/v8", "linux/arm64"}, ParseCase{"linux/arm64/8", "linux/arm64"},
        ParseCase{"linux/arm64/v8.2", "linux/arm64/v8.2"}, ParseCase{"linux/arm", "linux/arm/v7"},
        ParseCase{"linux/arm/7", "linux/arm/v7"}, ParseCase{"linux/arm/6", "linux/arm/v6"},
        ParseCase{"linux/arm/v5", "linux/arm/v5"}, ParseCase{"linux/armhf", "linux/arm/v7"},
        ParseCase{"linux/armel", "linux/arm/v6"}, ParseCase{"macos/arm64", "darwin/arm64"},
        ParseCase{"windows/amd64", "windows/amd64"}, ParseCase{"linux/s390x", "linux/s390x"},
        ParseCase{"linux/ppc64le", "linux/ppc64le"}, ParseCase{"arm64", "linux/arm64"},
        ParseCase{"aarch64", "linux/arm64"}, ParseCase{"armhf", "linux/arm/v7"},
        ParseCase{"amd64", "linux/amd64"}));

TEST(ParsePlatformTest, OsAloneTakesTheHostArchitecture) {
  const Platform host = HostPlatform();
  EXPECT_EQ(P("linux"), host);
  EXPECT_EQ(P("windows").architecture, host.architecture);
}

TEST(ParsePlatformTest, RejectsBadSpecifiers) {
  struct Case {
    std::string text;
    std::string message;
  };
  for (const Case& c : {
           Case{"", "invalid platform \"\": os component \"\" must be letters, digits, '_' or '-'"},
           Case{"linux/*", "invalid platform \"linux/*\": wildcards are not supported"},
           Case{"linux/amd64/v1/x",
                "invalid platform \"linux/amd64/v1/x\": expected os/arch[/variant], got 4 "
                "components"},
           Case{"linux//v7",
                "invalid platform \"linux//v7\": component \"\" must be letters, digits, '.', '_' "
                "or '-'"},
           Case{"lin ux/amd64",
                "invalid platform \"lin ux/amd64\": os component \"lin ux\" must be letters, "
                "digits, '_' or '-'"},
           Case{"foo", "invalid platform \"foo\": unknown operating system or architecture"},
           Case{"windows(10.0)/amd64",
                "invalid platform \"windows(10.0)/amd64\": os versions and features "
                "(\"os(version)\") are not supported"},
       }) {
    Result<Platform> p = ParsePlatform(c.text);
    ASSERT_FALSE(p.ok()) << c.text << " parsed as " << p->ToString();
    EXPECT_EQ(p.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(p.error().message(), c.message);
  }
}

TEST(PlatformTest, HostPlatformIsNormalisedAndKnown) {
  const Platform host = HostPlatform();
  EXPECT_EQ(host.os, "linux");
  EXPECT_FALSE(host.architecture.empty());
  EXPECT_NE(host.architecture, "unknown");
  EXPECT_EQ(Normalize(host), host);
#if defined(__x86_64__)
  EXPECT_EQ(host.ToString(), "linux/amd64");
#elif defined(__aarch64__)
  EXPECT_EQ(host.ToString(), "linux/arm64");
#endif
}

TEST(PlatformTest, ToString) {
  EXPECT_EQ((Platform{"linux", "arm", "v7"}).ToString(), "linux/arm/v7");
  EXPECT_EQ((Platform{"linux", "amd64", ""}).ToString(), "linux/amd64");
  EXPECT_EQ((Platform{"", "amd64", ""}).ToString(), "unknown");
}

struct MatchCase {
  std::string want;
  std::string have;
  bool matches;
};

class MatchesTest : public testing::TestWithParam<MatchCase> {};

TEST_P(MatchesTest, FollowsContainerd) {
  const MatchCase& c = GetParam();
  EXPECT_EQ(Matches(P(c.want), P(c.have)), c.matches) << c.want << " runs " << c.have;
}

INSTANTIATE_TEST_SUITE_P(Table, MatchesTest,
                         testing::Values(MatchCase{"linux/amd64", "linux/amd64", true},
                                         MatchCase{"linux/amd64", "linux/386", true},
                                         MatchCase{"linux/amd64", "linux/amd64/v2", false},
                                         MatchCase{"linux/amd64", "linux/arm64", false},
                                         MatchCase{"linux/amd64", "windows/amd64", false},
                                         MatchCase{"linux/386", "linux/amd64", false},
                                         MatchCase{"linux/amd64/v3", "linux/amd64/v2", true},
                                         MatchCase{"linux/amd64/v3", "linux/amd64", true},
                                         MatchCase{"linux/amd64/v3", "linux/386", true},
                                         MatchCase{"linux/amd64/v3", "linux/amd64/v4", false},
                                         MatchCase{"linux/arm64", "linux/arm64", true},
                                         MatchCase{"linux/arm64", "linux/arm64/v8", true},
                                         MatchCase{"linux/arm64", "linux/aarch64", true},
                                         MatchCase{"linux/arm64", "linux/arm/v8", true},
                                         MatchCase{"linux/arm64", "linux/arm/v7", true},
                                         MatchCase{"linux/arm64", "linux/arm", true},
                                         MatchCase{"linux/arm64", "linux/arm/v6", true},
                                         MatchCase{"linux/arm64", "linux/arm/v5", true},
                                         MatchCase{"linux/arm64", "linux/amd64", false},
                                         MatchCase{"linux/arm64", "linux/arm64/v8.1", false},
                                         MatchCase{"linux/arm64/v8.2", "linux/arm64/v8.1", true},
                                         MatchCase{"linux/arm64/v8.2", "linux/arm64", true},
                                         MatchCase{"linux/arm64/v8.2", "linux/arm64/v8.3", false},
                                         MatchCase{"linux/arm64/v8.2", "linux/arm/v7", true},
                                         MatchCase{"linux/arm64/v9.1", "linux/arm64/v9", true},
                                         MatchCase{"linux/arm64/v9.1", "linux/arm64/v8.6", true},
                                         MatchCase{"linux/arm64/v9.1", "linux/arm64/v8.7", false},
                                         MatchCase{"linux/arm64/v9.1", "linux/arm64", true},
                                         MatchCase{"linux/arm64/v9.1", "linux/arm/v5", true},
                                         MatchCase{"linux/arm/v7", "linux/arm/v7", true},
                                         MatchCase{"linux/arm/v7", "linux/arm/v6", true},
                                         MatchCase{"linux/arm/v7", "linux/arm/v5", true},
                                         MatchCase{"linux/arm/v7", "linux/arm/v8", false},
                                         MatchCase{"linux/arm/v7", "linux/arm64", false},
                                         MatchCase{"linux/arm/v6", "linux/arm/v5", true},
                                         MatchCase{"linux/arm/v6", "linux/arm/v7", false},
                                         MatchCase{"linux/arm/v5", "linux/arm/v6", false},
                                         MatchCase{"linux/s390x", "linux/s390x", true},
                                         MatchCase{"linux/ppc64le", "linux/ppc64", false}));

TEST(MatchesTest, UnknownNeverMatches) {
  const Platform unknown{"unknown", "unknown", ""};
  EXPECT_FALSE(Matches(P("linux/amd64"), unknown));
  EXPECT_FALSE(Matches(unknown, unknown));
  EXPECT_FALSE(Matches(P("linux/amd64"), Platform{"linux", "unknown", ""}));
}

TEST(MatchesTest, AcceptedPlatformsInPreferenceOrder) {
  auto strings = [](const std::vector<Platform>& ps) {
    std::vector<std::string> out;
    for (const Platform& p : ps) out.push_back(Normalize(p).ToString());
    return out;
  };
  EXPECT_EQ(strings(AcceptedPlatforms(P("linux/arm64"))),
            (std::vector<std::string>{"linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6",
                                      "linux/arm/v5"}));
  EXPECT_EQ(
      strings(AcceptedPlatforms(P("linux/amd64/v3"))),
      (std::vector<std::string>{"linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"}));
  EXPECT_EQ(strings(AcceptedPlatforms(P("linux/arm/v7"))),
            (std::vector<std::string>{"linux/arm/v7", "linux/arm/v6", "linux/arm/v5"}));
}

struct BestCase {
  std::string name;
  std::string want;
  std::vector<Platform> candidates;
  std::optional<size_t> index;
};

class BestMatchTest : public testing::TestWithParam<BestCase> {};

TEST_P(BestMatchTest, PrefersExactThenClosest) {
  const BestCase& c = GetParam();
  EXPECT_EQ(BestMatch(P(c.want), c.candidates), c.index);
}

const Platform kAmd64{"linux", "amd64", ""};
const Platform k386{"linux", "386", ""};
const Platform kArm64V8{"linux", "arm64", "v8"};
const Platform kArmV7{"linux", "arm", "v7"};
const Platform kArmV6{"linux", "arm", "v6"};
const Platform kArmV5{"linux", "arm", "v5"};
const Platform kAttestation{"unknown", "unknown", ""};
const Platform kS390x{"linux", "s390x", ""};

INSTANTIATE_TEST_SUITE_P(
    Table, BestMatchTest,
    testing::Values(BestCase{"exact_first", "linux/amd64", {k386, kAmd64, kAttestation}, 1},
                    BestCase{"fallback_386", "linux/amd64", {kArm64V8, k386, kAttestation}, 1},
                    BestCase{"attestation_only", "linux/amd64", {kAttestation}, std::nullopt},
                    BestCase{"no_candidates", "linux/amd64", {}, std::nullopt},
                    BestCase{"none_fits", "linux/amd64", {kArm64V8, kS390x}, std::nullopt},
                    BestCase{"arm64_exact", "linux/arm64", {kArmV7, kArm64V8, kAmd64}, 1},
                    BestCase{"arm64_closest_32bit", "linux/arm64", {kArmV5, kArmV6, kArmV7}, 2},
                    BestCase{"armv7_prefers_v6", "linux/arm/v7", {kArmV5, kArmV6, kArm64V8}, 1},
                    BestCase{"armv6_takes_v5", "linux/arm/v6", {kArmV7, kArmV5}, 1},
                    BestCase{"first_of_equals", "linux/amd64", {kAttestation, kAmd64, kAmd64}, 1},
                    BestCase{"unnormalised_candidates",
                             "linux/arm64",
                             {Platform{"linux", "x86_64", ""}, Platform{"Linux", "AArch64", ""}},
                             1}),
    [](const testing::TestParamInfo<BestCase>& info) { return info.param.name; });

}  // namespace
}  // namespace pullfleet::image
