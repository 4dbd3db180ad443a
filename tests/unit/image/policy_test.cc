// Table tests for imagePullPolicy parsing and API-server defaulting.
#include "image/policy.h"

#include <gtest/gtest.h>

#include <string>

namespace pullfleet::image {
namespace {

const std::string kHex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct DefaultCase {
  std::string image;
  PullPolicy want;
};

class DefaultPullPolicyTest : public testing::TestWithParam<DefaultCase> {};

TEST_P(DefaultPullPolicyTest, MatchesApiServer) {
  EXPECT_EQ(ToString(DefaultPullPolicy(GetParam().image)), ToString(GetParam().want))
      << GetParam().image;
}

INSTANTIATE_TEST_SUITE_P(
    Table, DefaultPullPolicyTest,
    testing::Values(DefaultCase{"busybox", PullPolicy::kAlways},
                    DefaultCase{"busybox:latest", PullPolicy::kAlways},
                    DefaultCase{"docker.io/library/busybox:latest", PullPolicy::kAlways},
                    DefaultCase{"registry:5000/kubevirt/x", PullPolicy::kAlways},
                    DefaultCase{"busybox:1.36", PullPolicy::kIfNotPresent},
                    DefaultCase{"busybox:Latest", PullPolicy::kIfNotPresent},
                    DefaultCase{"busybox@sha256:" + kHex64, PullPolicy::kIfNotPresent},
                    // The kubelet looks at the tag only: latest@digest stays Always.
                    DefaultCase{"busybox:latest@sha256:" + kHex64, PullPolicy::kAlways},
                    DefaultCase{"busybox:1@sha256:" + kHex64, PullPolicy::kIfNotPresent},
                    DefaultCase{"localhost:5000", PullPolicy::kIfNotPresent},  // tag "5000"
                    // Unparseable names default to IfNotPresent and fail later.
                    DefaultCase{"<YOUR-CONTAINER>", PullPolicy::kIfNotPresent},
                    DefaultCase{"Busybox", PullPolicy::kIfNotPresent},
                    DefaultCase{"", PullPolicy::kIfNotPresent}));

TEST(PullPolicyTest, ParsesExactValues) {
  struct Case {
    std::string text;
    PullPolicy want;
  };
  for (const Case& c :
       {Case{"Always", PullPolicy::kAlways}, Case{"IfNotPresent", PullPolicy::kIfNotPresent},
        Case{"Never", PullPolicy::kNever}}) {
    Result<PullPolicy> policy = ParsePullPolicy(c.text);
    ASSERT_TRUE(policy.ok()) << c.text;
    EXPECT_EQ(*policy, c.want);
    EXPECT_EQ(ToString(*policy), c.text);
  }
}

TEST(PullPolicyTest, RejectsOtherSpellings) {
  for (const char* text :
       {"always", "ALWAYS", "ifnotpresent", "Ifnotpresent", "never", "", " Always", "Always "}) {
    Result<PullPolicy> policy = ParsePullPolicy(text);
    ASSERT_FALSE(policy.ok()) << text;
    EXPECT_EQ(policy.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(policy.error().message(),
              "unsupported imagePullPolicy \"" + std::string(text) +
                  "\": supported values: \"Always\", \"IfNotPresent\", \"Never\"");
  }
}

}  // namespace
}  // namespace pullfleet::image
