// Table tests for pull secrets: which names a pod uses, how each Secret becomes keyring entries
// or a problem, the pod-before-node order, and that no problem text holds a secret.
#include "credentials/pull_secrets.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace pullfleet::credentials {
namespace {

image::Reference Ref(const std::string& text) {
  Result<image::Reference> ref = image::ParseReference(text);
  EXPECT_TRUE(ref.ok()) << text;
  return ref.ok() ? *ref : image::Reference{};
}

pb::Secret MakeSecret(const std::string& ns, const std::string& name, const std::string& type,
                      const std::map<std::string, std::string>& data,
                      const std::string& uid = "uid-1") {
  pb::Secret secret;
  secret.mutable_metadata()->set_namespace_(ns);
  secret.mutable_metadata()->set_name(name);
  secret.mutable_metadata()->set_uid(uid);
  secret.set_type(type);
  for (const auto& [key, value] : data) (*secret.mutable_data())[key] = value;
  return secret;
}

// A namespace-keyed store standing in for the coordinator's secrets.
class Store {
 public:
  void Put(pb::Secret secret) {
    secrets_[secret.metadata().namespace_() + "/" + secret.metadata().name()] = std::move(secret);
  }
  SecretLookup Lookup() const {
    return [this](std::string_view ns, std::string_view name) -> const pb::Secret* {
      auto it = secrets_.find(std::string(ns) + "/" + std::string(name));
      return it == secrets_.end() ? nullptr : &it->second;
    };
  }

 private:
  std::map<std::string, pb::Secret> secrets_;
};

const char kPassword[] = "s3cret-PASSWORD";

std::string ConfigJson(const std::string& key, const std::string& user) {
  return R"({"auths":{")" + key + R"(":{"username":")" + user + R"(","password":")" + kPassword +
         R"("}}})";
}

std::vector<std::string> Who(const std::vector<AuthConfig>& auths) {
  std::vector<std::string> out;
  for (const AuthConfig& a : auths) out.push_back(a.username + "@" + a.matched_key);
  return out;
}

// ---- names ----

TEST(EffectivePullSecretNamesTest, PodNamesWinOverServiceAccount) {
  pb::ServiceAccount sa;
  sa.add_image_pull_secrets("sa-one");
  sa.add_image_pull_secrets("sa-two");
  EXPECT_EQ(EffectivePullSecretNames({"pod"}, &sa), std::vector<std::string>{"pod"});
  EXPECT_EQ(EffectivePullSecretNames({}, &sa), (std::vector<std::string>{"sa-one", "sa-two"}));
  EXPECT_EQ(EffectivePullSecretNames({"", "a", "b", "a"}, nullptr),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(EffectivePullSecretNames({}, nullptr).empty());
}

// ---- one secret each: entries or a problem ----

struct SecretCase {
  std::string label;
  pb::Secret secret;
  bool usable;
  SecretProblem::Kind kind;  // when not usable
  std::string message_part;  // when not usable
};

void PrintTo(const SecretCase& c, std::ostream* out) {
  *out << c.label;
}

class SecretTableTest : public testing::TestWithParam<SecretCase> {};

TEST_P(SecretTableTest, ParsesOrExplains) {
  const SecretCase& c = GetParam();
  Store store;
  store.Put(c.secret);
  PodKeyring pod = BuildPodKeyring("team-a", {"regcred"}, store.Lookup());
  if (c.usable) {
    EXPECT_TRUE(pod.problems.empty()) << pod.problems[0].message;
    std::vector<AuthConfig> found = pod.keyring.Lookup(Ref("registry.example.com/team/app"));
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].username, "alice");
    EXPECT_EQ(found[0].password, kPassword);
    EXPECT_EQ(found[0].origin, CredentialOrigin::kPullSecret);
    EXPECT_EQ(found[0].secret, (SecretCoordinates{"team-a", "regcred", "uid-1"}));
    EXPECT_EQ(found[0].source, "secret team-a/regcred");
    EXPECT_TRUE(KeyringFromSecret(c.secret).ok());
    return;
  }
  ASSERT_EQ(pod.problems.size(), 1u);
  EXPECT_EQ(pod.problems[0].kind, c.kind);
  EXPECT_EQ(pod.problems[0].secret.name, "regcred");
  EXPECT_EQ(pod.problems[0].secret.namespace_name, "team-a");
  EXPECT_NE(pod.problems[0].message.find(c.message_part), std::string::npos)
      << pod.problems[0].message;
  EXPECT_EQ(pod.problems[0].message.find(kPassword), std::string::npos);
  EXPECT_EQ(pod.keyring.size(), 0u);
  Result<DockerKeyring> direct = KeyringFromSecret(c.secret);
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.error().code(), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SecretTableTest,
    testing::Values(
        SecretCase{"dockerconfigjson",
                   MakeSecret("team-a", "regcred", "kubernetes.io/dockerconfigjson",
                              {{".dockerconfigjson", ConfigJson("registry.example.com", "alice")}}),
                   true,
                   {},
                   ""},
        SecretCase{"dockercfg",
                   MakeSecret("team-a", "regcred", "kubernetes.io/dockercfg",
                              {{".dockercfg", R"({"https://registry.example.com":{"auth":")"
                                              "YWxpY2U6czNjcmV0LVBBU1NXT1JE"
                                              R"("}})"}}),
                   true,
                   {},
                   ""},
        SecretCase{"opaque",
                   MakeSecret("team-a", "regcred", "Opaque",
                              {{".dockerconfigjson", ConfigJson("registry.example.com", "alice")}}),
                   false, SecretProblem::Kind::kWrongType,
                   R"(secret "regcred" in namespace "team-a" has type "Opaque", want )"
                   "kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg"},
        SecretCase{"right type, key of the other type",
                   MakeSecret("team-a", "regcred", "kubernetes.io/dockerconfigjson",
                              {{".dockercfg", ConfigJson("registry.example.com", "alice")}}),
                   false, SecretProblem::Kind::kMissingKey,
                   R"(has no data under key ".dockerconfigjson")"},
        SecretCase{"empty key",
                   MakeSecret("team-a", "regcred", "kubernetes.io/dockercfg", {{".dockercfg", ""}}),
                   false, SecretProblem::Kind::kMissingKey, R"(key ".dockercfg")"},
        SecretCase{"not json",
                   MakeSecret("team-a", "regcred", "kubernetes.io/dockerconfigjson",
                              {{".dockerconfigjson", std::string("{\"auths\": ") + kPassword}}),
                   false, SecretProblem::Kind::kMalformed, "invalid JSON at line 1"},
        SecretCase{
            "bad auth field",
            MakeSecret("team-a", "regcred", "kubernetes.io/dockerconfigjson",
                       {{".dockerconfigjson", R"({"auths":{"r.io":{"auth":"bm8tY29sb24="}}})"}}),
            false, SecretProblem::Kind::kMalformed, "base64(username:password)"}),
    [](const testing::TestParamInfo<SecretCase>& info) {
      std::string name;
      for (char ch : info.param.label)
        name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return name;
    });

TEST(BuildPodKeyringTest, MissingSecretIsAProblem) {
  Store store;
  PodKeyring pod = BuildPodKeyring("team-a", {"regcred"}, store.Lookup());
  ASSERT_EQ(pod.problems.size(), 1u);
  EXPECT_EQ(pod.problems[0].kind, SecretProblem::Kind::kNotFound);
  EXPECT_EQ(pod.problems[0].message, R"(secret "regcred" in namespace "team-a" not found)");
}

TEST(BuildPodKeyringTest, NeverReadsAnotherNamespace) {
  Store store;
  store.Put(MakeSecret("team-b", "regcred", "kubernetes.io/dockerconfigjson",
                       {{".dockerconfigjson", ConfigJson("registry.example.com", "bob")}}));
  PodKeyring pod = BuildPodKeyring("team-a", {"regcred"}, store.Lookup());
  EXPECT_EQ(pod.keyring.size(), 0u);
  ASSERT_EQ(pod.problems.size(), 1u);
  EXPECT_EQ(pod.problems[0].kind, SecretProblem::Kind::kNotFound);

  // Even a lookup that ignores the namespace cannot hand team-b's secret to team-a.
  const pb::Secret& foreign = MakeSecret("team-b", "regcred", "kubernetes.io/dockerconfigjson",
                                         {{".dockerconfigjson", ConfigJson("r.io", "bob")}});
  PodKeyring sloppy = BuildPodKeyring("team-a", {"regcred"},
                                      [&](std::string_view, std::string_view) { return &foreign; });
  EXPECT_EQ(sloppy.keyring.size(), 0u);
  EXPECT_EQ(sloppy.problems.size(), 1u);
}

TEST(BuildPodKeyringTest, GoodSecretsStillCountNextToBadOnes) {
  Store store;
  store.Put(MakeSecret("team-a", "good", "kubernetes.io/dockerconfigjson",
                       {{".dockerconfigjson", ConfigJson("registry.example.com", "alice")}}));
  store.Put(MakeSecret("team-a", "opaque", "Opaque", {{"x", "y"}}));
  PodKeyring pod = BuildPodKeyring("team-a", {"missing", "good", "opaque"}, store.Lookup());
  EXPECT_EQ(pod.problems.size(), 2u);
  EXPECT_EQ(pod.problems[0].secret.name, "missing");
  EXPECT_EQ(pod.problems[1].secret.name, "opaque");
  EXPECT_EQ(Who(pod.keyring.Lookup(Ref("registry.example.com/x"))),
            std::vector<std::string>{"alice@registry.example.com"});
}

TEST(BuildPodKeyringTest, AllSecretsSortTogetherMostSpecificFirst) {
  Store store;
  store.Put(MakeSecret("team-a", "broad", "kubernetes.io/dockerconfigjson",
                       {{".dockerconfigjson", ConfigJson("registry.example.com", "broad")}}));
  store.Put(MakeSecret("team-a", "narrow", "kubernetes.io/dockerconfigjson",
                       {{".dockerconfigjson", ConfigJson("registry.example.com/team", "narrow")}}));
  PodKeyring pod = BuildPodKeyring("team-a", {"broad", "narrow"}, store.Lookup());
  EXPECT_EQ(
      Who(pod.keyring.Lookup(Ref("registry.example.com/team/app"))),
      (std::vector<std::string>{"narrow@registry.example.com/team", "broad@registry.example.com"}));
}

TEST(CombineKeyringsTest, PodSecretsBeforeNodeAndProvidersSortedTogether) {
  Store store;
  store.Put(MakeSecret("team-a", "pod", "kubernetes.io/dockerconfigjson",
                       {{".dockerconfigjson", ConfigJson("registry.example.com", "pod")}}));
  PodKeyring pod = BuildPodKeyring("team-a", {"pod"}, store.Lookup());
  Result<DockerKeyring> node = DockerKeyring::FromJson(
      ConfigJson("registry.example.com/team/app", "node"), "docker config /n.json");
  ASSERT_TRUE(node.ok());
  DockerKeyring providers;
  AuthConfig plugin;
  plugin.username = "plugin";
  plugin.source = "credential provider p";
  plugin.origin = CredentialOrigin::kProvider;
  providers.AddEntry("registry.example.com/team", plugin);

  DockerKeyring all = CombineKeyrings(pod.keyring, *node, providers);
  std::vector<AuthConfig> found = all.Lookup(Ref("registry.example.com/team/app"));
  // The pod's broad key still comes first; the node group sorts node and plugin keys.
  EXPECT_EQ(Who(found), (std::vector<std::string>{"pod@registry.example.com",
                                                  "node@registry.example.com/team/app",
                                                  "plugin@registry.example.com/team"}));
  EXPECT_EQ(found[0].origin, CredentialOrigin::kPullSecret);
  EXPECT_EQ(found[1].origin, CredentialOrigin::kDockerConfig);
  EXPECT_EQ(found[2].origin, CredentialOrigin::kProvider);

  // Without pod secrets the node group alone.
  EXPECT_EQ(Who(CombineKeyrings({}, *node, providers).Lookup(Ref("registry.example.com/team/x"))),
            std::vector<std::string>{"plugin@registry.example.com/team"});
}

}  // namespace
}  // namespace pullfleet::credentials
