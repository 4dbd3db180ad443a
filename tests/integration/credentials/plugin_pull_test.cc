// Credentials from every source authenticate real pulls: the example credential provider
// plugin and a pull secret against the rig's htpasswd registry, in the order the node would
// try them (a wrong pod secret first, then the plugin's right credential).
#include <gtest/gtest.h>

#include <fstream>

#include "credentials/credential_providers.h"
#include "credentials/pull_secrets.h"
#include "pull/puller.h"
#include "store/content_store.h"
#include "tests/support/registry_fixture.h"

namespace pullfleet::credentials {
namespace {

using pullfleet::testing::RegistryAuth;
using pullfleet::testing::RegistryOptions;
using pullfleet::testing::RegistrySuite;
using pullfleet::testing::TempDir;

class PluginPullTest : public RegistrySuite<PluginPullTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions o;
    o.auth = RegistryAuth::kHtpasswd;
    o.images = "busybox";
    return o;
  }

 protected:
  // The candidates a node would try, in order, as the puller takes them.
  static std::vector<pull::CandidateCredential> Candidates(const DockerKeyring& keyring,
                                                           const image::Reference& ref) {
    std::vector<pull::CandidateCredential> out;
    for (const AuthConfig& auth : keyring.Lookup(ref)) {
      out.push_back({registry::Credentials{auth.username, auth.password},
                     auth.source + " key " + auth.matched_key});
    }
    return out;
  }
};

TEST_F(PluginPullTest, PluginCredentialsPullAfterAWrongPodSecret) {
  TempDir dir;
  const std::string credentials_file = dir.Join("registry-credentials.json");
  std::ofstream(credentials_file) << "{\"" << registry().host() << "\": {\"username\": \""
                                  << registry().user() << "\", \"password\": \""
                                  << registry().password() << "\"}}";

  ProviderConfig provider;
  provider.name = "pullfleet-file-credential-provider";
  provider.match_images = {registry().host()};
  provider.api_version = std::string(kProviderApiV1);
  provider.default_cache_duration = std::chrono::minutes(5);
  provider.args = {"--credentials-file", credentials_file};
  CredentialProviderConfig config;
  config.providers = {provider};
  CredentialProvidersOptions options;
  options.bin_dir = std::string(PULLFLEET_SOURCE_DIR) + "/deploy/credential-provider";
  auto providers = CredentialProviders::Create(config, options);
  ASSERT_TRUE(providers.ok()) << providers.error().message();

  pb::Secret secret;
  secret.mutable_metadata()->set_namespace_("team-a");
  secret.mutable_metadata()->set_name("stale");
  secret.set_type("kubernetes.io/dockerconfigjson");
  (*secret.mutable_data())[".dockerconfigjson"] = "{\"auths\":{\"" + registry().host() +
                                                  "/pf\":{\"username\":\"" + registry().user() +
                                                  "\",\"password\":\"stale-password\"}}}";
  PodKeyring pod = BuildPodKeyring("team-a", {"stale"},
                                   [&](std::string_view, std::string_view) { return &secret; });
  ASSERT_TRUE(pod.problems.empty());

  auto ref = image::ParseReference(registry().Ref("pf/busybox:1.36"));
  ASSERT_TRUE(ref.ok());
  ProviderAnswer answer = (*providers)->Provide(*ref);
  ASSERT_TRUE(answer.problems.empty()) << answer.problems[0].message();
  DockerKeyring all = CombineKeyrings(pod.keyring, DockerKeyring(), answer.keyring);

  auto store = store::ContentStore::Open(dir.Join("store"));
  ASSERT_TRUE(store.ok()) << store.error().message();
  pull::PullOptions pull;
  pull.reference = *ref;
  pull.platform = image::Platform{"linux", "amd64", ""};
  pull.credentials = Candidates(all, *ref);
  ASSERT_EQ(pull.credentials.size(), 2u);
  auto pulled = pull::Puller(**store).Pull(pull);
  ASSERT_TRUE(pulled.ok()) << pulled.error().message();
  EXPECT_EQ(pulled->resolved_digest, registry().Digest("BUSYBOX"));
  EXPECT_EQ(pulled->credential_source,
            "credential provider pullfleet-file-credential-provider key " + registry().host());

  // Only the stale secret: the pull fails as unauthorized, naming the secret, not its password.
  pull.credentials = Candidates(pod.keyring, *ref);
  auto store2 = store::ContentStore::Open(dir.Join("store2"));
  ASSERT_TRUE(store2.ok());
  auto refused = pull::Puller(**store2).Pull(pull);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnauthorized) << refused.error().message();
  EXPECT_EQ(refused.error().message().find("stale-password"), std::string::npos);
}

}  // namespace
}  // namespace pullfleet::credentials
