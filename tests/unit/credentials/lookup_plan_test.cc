// The lookup plan of `pullfleet creds lookup`: order of sources and keys, problems, anonymous
// fallback, and that neither the plan nor its rendering holds a username or password.
#include "credentials/lookup_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pullfleet::credentials {
namespace {

image::Reference Ref(const std::string& text) {
  Result<image::Reference> ref = image::ParseReference(text);
  EXPECT_TRUE(ref.ok()) << text;
  return ref.ok() ? *ref : image::Reference{};
}

DockerKeyring Keyring(const std::string& json, const std::string& source) {
  Result<DockerKeyring> keyring = DockerKeyring::FromJson(json, source);
  EXPECT_TRUE(keyring.ok()) << (keyring.ok() ? "" : keyring.error().message());
  return keyring.ok() ? *keyring : DockerKeyring();
}

PodKeyring PodSecrets() {
  pb::Secret secret;
  secret.mutable_metadata()->set_namespace_("team-a");
  secret.mutable_metadata()->set_name("regcred");
  secret.set_type("kubernetes.io/dockerconfigjson");
  (*secret.mutable_data())[".dockerconfigjson"] =
      R"({"auths":{"127.0.0.1:5000/pf":{"username":"SECRET-USER","password":"SECRET-PASS"}}})";
  return BuildPodKeyring("team-a", {"regcred", "gone"},
                         [&](std::string_view, std::string_view name) {
                           return name == "regcred" ? &secret : nullptr;
                         });
}

CredentialProviderConfig Providers() {
  ProviderConfig p;
  p.name = "example";
  p.match_images = {"*.example.com", "127.0.0.1:5000"};
  p.api_version = std::string(kProviderApiV1);
  CredentialProviderConfig config;
  config.providers = {p};
  return config;
}

std::vector<std::string> Steps(const LookupPlan& plan) {
  std::vector<std::string> out;
  for (const LookupStep& s : plan.steps) out.push_back(s.source + " | " + s.key);
  return out;
}

TEST(LookupPlanTest, PodSecretsThenNodeConfigThenProviders) {
  PodKeyring pod = PodSecrets();
  DockerKeyring node = Keyring(
      R"({"auths":{"127.0.0.1:5000":{"auth":"bm9kZS11c2VyOk5PREUtUEFTUw=="},
                   "other.io":{"username":"x","password":"y"}}})",
      "docker config /etc/pullfleet/config.json");
  CredentialProviderConfig providers = Providers();
  LookupSources sources;
  sources.pod_secrets = &pod;
  sources.node_config = &node;
  sources.providers = &providers;
  LookupPlan plan = BuildLookupPlan(Ref("127.0.0.1:5000/pf/app:v1"), sources);

  EXPECT_EQ(plan.image, "127.0.0.1:5000/pf/app:v1");
  EXPECT_EQ(Steps(plan),
            (std::vector<std::string>{"secret team-a/regcred | 127.0.0.1:5000/pf",
                                      "docker config /etc/pullfleet/config.json | 127.0.0.1:5000",
                                      "credential provider example | 127.0.0.1:5000"}));
  EXPECT_EQ(plan.steps[0].kind, LookupStep::Kind::kPullSecret);
  EXPECT_EQ(plan.steps[1].kind, LookupStep::Kind::kNodeConfig);
  EXPECT_EQ(plan.steps[2].kind, LookupStep::Kind::kProvider);
  EXPECT_EQ(plan.problems,
            std::vector<std::string>{R"(secret "gone" in namespace "team-a" not found)"});

  const std::string text = RenderLookupPlan(plan);
  EXPECT_EQ(text,
            "Credentials for 127.0.0.1:5000/pf/app:v1, in the order a pull tries them:\n"
            "  1. secret team-a/regcred  key \"127.0.0.1:5000/pf\"\n"
            "  2. docker config /etc/pullfleet/config.json  key \"127.0.0.1:5000\"\n"
            "  3. credential provider example  matchImages \"127.0.0.1:5000\" (keys known when it "
            "runs)\n"
            "Problems:\n"
            "  secret \"gone\" in namespace \"team-a\" not found\n");
  for (const char* secret : {"SECRET-USER", "SECRET-PASS", "node-user", "NODE-PASS"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
}

TEST(LookupPlanTest, AnonymousWhenNothingMatches) {
  DockerKeyring node =
      Keyring(R"({"auths":{"other.io":{"username":"x","password":"y"}}})", "docker config n.json");
  LookupSources sources;
  sources.node_config = &node;
  sources.problems = {"docker config m.json: unreadable"};
  LookupPlan plan = BuildLookupPlan(Ref("busybox"), sources);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].kind, LookupStep::Kind::kAnonymous);
  EXPECT_EQ(RenderLookupPlan(plan),
            "Credentials for docker.io/library/busybox:latest, in the order a pull tries them:\n"
            "  1. anonymous (no credential matches this image)\n"
            "Problems:\n"
            "  docker config m.json: unreadable\n");
}

TEST(LookupPlanTest, ProvidersOnlyMayStillEndAnonymous) {
  CredentialProviderConfig providers = Providers();
  LookupSources sources;
  sources.providers = &providers;
  LookupPlan plan = BuildLookupPlan(Ref("a.example.com/x"), sources);
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].key, "*.example.com");
  EXPECT_EQ(plan.steps[1].kind, LookupStep::Kind::kAnonymous);
  EXPECT_NE(RenderLookupPlan(plan).find(
                "2. anonymous, if no credential provider answers with a matching key"),
            std::string::npos);
}

TEST(LookupPlanTest, DockerHubUsesIndexDockerIoKeys) {
  DockerKeyring node =
      Keyring(R"({"auths":{"https://index.docker.io/v1/":{"username":"x","password":"y"}}})",
              "docker config n.json");
  LookupSources sources;
  sources.node_config = &node;
  LookupPlan plan = BuildLookupPlan(Ref("busybox"), sources);
  EXPECT_EQ(Steps(plan), std::vector<std::string>{"docker config n.json | index.docker.io"});
}

}  // namespace
}  // namespace pullfleet::credentials
