#include "node/image_verification.h"

#include <gtest/gtest.h>

#include "node/node_config.h"

namespace pullfleet::node {
namespace {

image::Reference Ref(const std::string& text) {
  auto ref = image::ParseReference(text);
  EXPECT_TRUE(ref.ok()) << text;
  return ref.ok() ? *ref : image::Reference{};
}

pb::ImageRecord Pulled(bool node_accessible, const std::string& fingerprint = "") {
  pb::ImageRecord record;
  record.set_record_version(2);
  record.set_node_accessible(node_accessible);
  if (!fingerprint.empty()) {
    auto* with = record.add_pulled_with();
    with->set_namespace_("team-a");
    with->set_name("regcred");
    with->set_uid("uid-a");
    with->set_fingerprint(fingerprint);
  }
  return record;
}

pb::ImageRecord Preloaded() {
  pb::ImageRecord record;
  record.set_record_version(2);
  record.set_preloaded(true);
  return record;
}

struct PolicyCase {
  const char* name;
  VerificationPolicy policy;
  pb::ImageRecord record;
  bool allowlisted;
  bool must_check;
};

class NeedsCredentialCheckTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(NeedsCredentialCheckTest, FollowsThePolicy) {
  const PolicyCase& c = GetParam();
  const std::vector<std::string> allowlist = {"registry.example.com/preloaded/*"};
  const auto ref = Ref(c.allowlisted ? "registry.example.com/preloaded/app:1"
                                     : "registry.example.com/private/app:1");
  EXPECT_EQ(NeedsCredentialCheck(c.record, c.policy, allowlist, ref), c.must_check);
}

using P = VerificationPolicy;
INSTANTIATE_TEST_SUITE_P(
    Table, NeedsCredentialCheckTest,
    ::testing::Values(
        PolicyCase{"never_verify_secret_pulled", P::kNeverVerify, Pulled(false, "fp"), false,
                   false},
        PolicyCase{"never_verify_preloaded", P::kNeverVerify, Preloaded(), false, false},
        PolicyCase{"default_secret_pulled", P::kNeverVerifyPreloadedImages, Pulled(false, "fp"),
                   false, true},
        PolicyCase{"default_anonymous", P::kNeverVerifyPreloadedImages, Pulled(true), false, false},
        PolicyCase{"default_preloaded", P::kNeverVerifyPreloadedImages, Preloaded(), false, false},
        PolicyCase{"allowlisted_policy_preloaded_listed", P::kNeverVerifyAllowlistedImages,
                   Preloaded(), true, false},
        PolicyCase{"allowlisted_policy_preloaded_unlisted", P::kNeverVerifyAllowlistedImages,
                   Preloaded(), false, true},
        PolicyCase{"allowlisted_policy_secret_pulled", P::kNeverVerifyAllowlistedImages,
                   Pulled(false, "fp"), true, true},
        PolicyCase{"always_preloaded", P::kAlwaysVerify, Preloaded(), true, true},
        PolicyCase{"always_secret_pulled", P::kAlwaysVerify, Pulled(false, "fp"), false, true},
        PolicyCase{"always_anonymous", P::kAlwaysVerify, Pulled(true), false, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(NeedsCredentialCheck, RecordsWithoutOriginCountAsPreloaded) {
  pb::ImageRecord old;
  old.set_record_version(1);
  const auto ref = Ref("registry.example.com/private/app:1");
  EXPECT_FALSE(NeedsCredentialCheck(old, P::kNeverVerifyPreloadedImages, {}, ref));
  EXPECT_TRUE(NeedsCredentialCheck(old, P::kAlwaysVerify, {}, ref));
}

TEST(PodMayUseWithoutPull, MatchesByCredentialFingerprint) {
  const pb::ImageRecord record = Pulled(false, "hmac-sha256:aaa");
  // The same credential in another Secret (another namespace) is enough.
  EXPECT_TRUE(PodMayUseWithoutPull(record, {{"team-b", "copy", "uid-b", "hmac-sha256:aaa"}}));
  // The same Secret with rotated content is not: the new credential is verified once.
  EXPECT_FALSE(PodMayUseWithoutPull(record, {{"team-a", "regcred", "uid-a", "hmac-sha256:bbb"}}));
  EXPECT_FALSE(PodMayUseWithoutPull(record, {}));
  // An empty fingerprint never matches anything.
  EXPECT_FALSE(PodMayUseWithoutPull(Pulled(false, ""), {{"team-a", "regcred", "uid-a", ""}}));
}

TEST(VerificationPolicy, ParsesTheKubeletSpellingsOnly) {
  for (auto policy : {P::kNeverVerify, P::kNeverVerifyPreloadedImages,
                      P::kNeverVerifyAllowlistedImages, P::kAlwaysVerify}) {
    auto parsed = ParseVerificationPolicy(ToString(policy));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, policy);
  }
  auto bad = ParseVerificationPolicy("alwaysverify");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("NeverVerifyPreloadedImages"), std::string::npos);
}

TEST(Allowlist, ExactRepositoryOrPathWildcard) {
  const std::vector<std::string> allowlist = {"registry.example.com/pause",
                                              "registry.example.com/system/*"};
  EXPECT_TRUE(AllowlistMatches(allowlist, Ref("registry.example.com/pause:3.9")));
  EXPECT_FALSE(AllowlistMatches(allowlist, Ref("registry.example.com/pause2:1")));
  EXPECT_TRUE(AllowlistMatches(allowlist, Ref("registry.example.com/system/dns/core:1")));
  EXPECT_FALSE(AllowlistMatches(allowlist, Ref("registry.example.com/systemd:1")));
  EXPECT_FALSE(AllowlistMatches(allowlist, Ref("other.example.com/pause:3.9")));
}

TEST(Allowlist, EntriesAreValidated) {
  EXPECT_TRUE(ValidateAllowlistEntry("registry.example.com/team/*").ok());
  EXPECT_TRUE(ValidateAllowlistEntry("registry.example.com/pause").ok());
  EXPECT_FALSE(ValidateAllowlistEntry("registry.example.com/pause:3.9").ok());
  EXPECT_FALSE(ValidateAllowlistEntry("Registry.example.com/Pause").ok());
  EXPECT_FALSE(ValidateAllowlistEntry("").ok());
}

TEST(NodeConfigVerification, ReadFromKubeletConfigurationAndValidated) {
  auto config = ParseNodeConfig(R"(
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages
preloadedImagesVerificationAllowlist:
  - registry.example.com/system/*
)",
                                "kubelet.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->verification_policy, P::kNeverVerifyAllowlistedImages);
  EXPECT_EQ(config->verification_allowlist,
            std::vector<std::string>{"registry.example.com/system/*"});

  auto defaults = ParseNodeConfig("", "empty.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->verification_policy, P::kNeverVerifyPreloadedImages);

  auto bad = ParseNodeConfig("imagePullCredentialsVerificationPolicy: Sometimes\n", "n.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("n.yaml"), std::string::npos);
  auto bad_entry = ParseNodeConfig("preloadedImagesVerificationAllowlist: [\"x.io/a:1\"]\n", "n");
  EXPECT_FALSE(bad_entry.ok());
  auto half = ParseNodeConfig("credentialProviderConfig: /etc/p.yaml\n", "n.yaml");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.error().message().find("credentialProviderBinDir"), std::string::npos);
}

}  // namespace
}  // namespace pullfleet::node
