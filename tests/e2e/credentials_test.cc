// End-to-end tests of issue 4 on a running cluster (one `pullfleet up` process) against a real
// registry with htpasswd basic auth: every credential source a pull can use, in the kubelet's
// order, the "ensure secret pulled images" check across namespaces under each policy, the
// lookup and secret commands, and a search for the test password everywhere pullfleet writes.
#include <filesystem>
#include <fstream>

#include "tests/e2e/cluster.h"

namespace pullfleet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::RegistrySuite;
using testing::ShellQuote;
using testing::TempDir;

constexpr auto kWait = std::chrono::seconds(60);

constexpr const char* kFastRetries = R"(imagePullBackOff:
  initialSeconds: 1
  maxSeconds: 2
neverPullRecheckSeconds: 1
)";

std::string Base64(const std::string& text) {
  CommandResult encoded = testing::RunCommand("printf %s " + ShellQuote(text) + " | base64 -w0");
  return encoded.output;
}

// The helpers of every suite here; `Self` is the suite (RegistrySuite starts one registry per
// suite with Self::SuiteOptions()).
template <class Self>
class CredentialsBase : public RegistrySuite<Self> {
 protected:
  using RegistrySuite<Self>::registry;

  void StartCluster(const std::string& extra_config = "") {
    ClusterOptions options;
    options.mode = ClusterMode::kEmbedded;
    options.nodes = 1;
    options.data_dir = data_.path();
    options.node_config_yaml = std::string(kFastRetries) + extra_config;
    auto started = Cluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.error().message();
    cluster_ = std::move(started).value();
    ApplyOk("namespaces.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n---\n"
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n");
  }

  void ApplyOk(const std::string& file, const std::string& yaml) {
    CommandResult applied = cluster_->Apply(file, yaml);
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
  }

  // `create secret docker-registry NAME -n NS` for this registry, with `password`.
  void CreateSecret(const std::string& ns, const std::string& name, const std::string& password) {
    CommandResult created = cluster_->Client("create secret docker-registry " + name + " -n " + ns +
                                             " --docker-server " + registry().host() +
                                             " --docker-username " + ShellQuote(registry().user()) +
                                             " --docker-password " + ShellQuote(password));
    ASSERT_EQ(created.exit_code, 0) << "create secret failed";
    EXPECT_NE(created.output.find("secret/" + name), std::string::npos) << created.output;
  }

  // A docker config.json for this registry, written into the data folder; returns its path.
  std::string WriteDockerConfig(const std::string& password) {
    const std::string path = data_.Join("node-config.json");
    std::ofstream(path) << "{\"auths\":{\"" << registry().host() << "\":{\"auth\":\""
                        << Base64(registry().user() + ":" + password) << "\"}}}";
    return path;
  }

  std::string PodYaml(const std::string& ns, const std::string& name, const std::string& image,
                      const std::string& policy, const std::vector<std::string>& secrets = {},
                      const std::string& service_account = "") {
    std::string text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
                       "\n  namespace: " + ns + "\nspec:\n  nodeName: node-1\n";
    if (!service_account.empty()) text += "  serviceAccountName: " + service_account + "\n";
    if (!secrets.empty()) {
      text += "  imagePullSecrets:\n";
      for (const auto& secret : secrets) text += "    - name: " + secret + "\n";
    }
    return text + "  containers:\n    - name: main\n      image: " + image +
           "\n      imagePullPolicy: " + policy + "\n";
  }

  json Pod(const std::string& ns, const std::string& name) {
    auto pods = cluster_->GetPods();
    if (!pods.ok()) return json();
    for (const auto& item : (*pods)["items"]) {
      if (item["metadata"].value("namespace", "") == ns && PodName(item) == name) return item;
    }
    return json();
  }

  json Main(const std::string& ns, const std::string& name) {
    auto statuses = StatusesByName(Pod(ns, name));
    return statuses.count("main") ? statuses["main"] : json();
  }

  bool WaitReady(const std::string& ns, const std::string& name) {
    return WaitUntil([&] { return ImagesReady(Pod(ns, name)); }, kWait);
  }

  bool WaitReason(const std::string& ns, const std::string& name, const std::string& reason) {
    return WaitUntil([&] { return WaitingReason(Main(ns, name)) == reason; }, kWait);
  }

  std::string Describe(const std::string& ns, const std::string& name) {
    return cluster_->Client("describe pod " + name + " -n " + ns).output;
  }

  int BlobGets(const std::string& repo) {
    auto count = registry().BlobGetCount(repo);
    EXPECT_TRUE(count.ok());
    return count.ok() ? *count : -1;
  }

  TempDir data_{"pf-creds-"};
  std::unique_ptr<Cluster> cluster_;
};

class CredentialsTest : public CredentialsBase<CredentialsTest> {
 public:
  static testing::RegistryOptions SuiteOptions() {
    testing::RegistryOptions options;
    options.auth = testing::RegistryAuth::kHtpasswd;
    options.images = "busybox,app,sidecar";
    return options;
  }
};

// The same sources against a registry that wants Bearer tokens from a token server.
class TokenCredentialsTest : public CredentialsBase<TokenCredentialsTest> {
 public:
  static testing::RegistryOptions SuiteOptions() {
    testing::RegistryOptions options;
    options.auth = testing::RegistryAuth::kToken;
    options.images = "app";
    return options;
  }
};

// ---- sources ----------------------------------------------------------------------------------

TEST_F(CredentialsTest, PodSecretCreatedWithTheCliPullsFromThePrivateRegistry) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "regcred", registry().password()));
  ApplyOk("pod.yaml",
          PodYaml("team-a", "web", registry().Ref("pf/app:v1"), "IfNotPresent", {"regcred"}));
  ASSERT_TRUE(WaitReady("team-a", "web")) << Describe("team-a", "web") << cluster_->LogTails();
  EXPECT_EQ(Main("team-a", "web").value("imageID", ""),
            registry().host() + "/pf/app@" + registry().Digest("APP_V1"));
}

TEST_F(CredentialsTest, WithoutCredentialsThePullIsRefusedAndSaysSo) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ApplyOk("pod.yaml", PodYaml("team-a", "anon", registry().Ref("pf/app:v1"), "IfNotPresent"));
  ASSERT_TRUE(WaitReason("team-a", "anon", "ImagePullBackOff")) << cluster_->LogTails();
  const std::string described = Describe("team-a", "anon");
  EXPECT_NE(described.find("401"), std::string::npos) << described;
}

// A secret that is missing when the pod starts is an event, not a silent anonymous pull; once it
// exists, the next retry reads it and the pull succeeds.
TEST_F(CredentialsTest, MissingSecretIsReportedAndAPodRecoversWhenItIsCreated) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ApplyOk("pod.yaml",
          PodYaml("team-a", "late", registry().Ref("pf/app:v1"), "IfNotPresent", {"later"}));
  ASSERT_TRUE(WaitReason("team-a", "late", "ImagePullBackOff")) << cluster_->LogTails();
  const std::string described = Describe("team-a", "late");
  EXPECT_NE(described.find("FailedToRetrieveImagePullSecret"), std::string::npos) << described;
  EXPECT_NE(described.find("\"later\""), std::string::npos) << described;

  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "later", registry().password()));
  EXPECT_TRUE(WaitReady("team-a", "late")) << Describe("team-a", "late");
}

TEST_F(CredentialsTest, SecretOfAnotherTypeIsAClearEvent) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ApplyOk("opaque.yaml",
          "apiVersion: v1\nkind: Secret\nmetadata:\n  name: opaque\n  namespace: team-a\n"
          "type: Opaque\nstringData:\n  password: x\n");
  ApplyOk("pod.yaml",
          PodYaml("team-a", "typed", registry().Ref("pf/app:v1"), "IfNotPresent", {"opaque"}));
  ASSERT_TRUE(WaitReason("team-a", "typed", "ImagePullBackOff")) << cluster_->LogTails();
  const std::string described = Describe("team-a", "typed");
  EXPECT_NE(described.find("Opaque"), std::string::npos) << described;
}

TEST_F(CredentialsTest, SecretsOfTheServiceAccountAreUsed) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "sa-cred", registry().password()));
  ApplyOk("sa.yaml",
          "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: builder\n  namespace: team-a\n"
          "imagePullSecrets:\n  - name: sa-cred\n");
  ApplyOk("pod.yaml",
          PodYaml("team-a", "by-sa", registry().Ref("pf/app:v1"), "IfNotPresent", {}, "builder"));
  EXPECT_TRUE(WaitReady("team-a", "by-sa")) << Describe("team-a", "by-sa");
}

// Pod secrets are tried first; a refused one falls back to the node's docker config.
TEST_F(CredentialsTest, WrongPodSecretFallsBackToTheNodeDockerConfig) {
  const std::string config = WriteDockerConfig(registry().password());
  ASSERT_NO_FATAL_FAILURE(StartCluster("dockerConfig: " + config + "\n"));
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "stale", "not-the-password"));
  ApplyOk("pod.yaml",
          PodYaml("team-a", "fallback", registry().Ref("pf/app:v1"), "IfNotPresent", {"stale"}));
  EXPECT_TRUE(WaitReady("team-a", "fallback")) << Describe("team-a", "fallback");
}

TEST_F(CredentialsTest, CredentialProviderPluginSuppliesTheCredential) {
  const std::string config_path = data_.Join("providers.yaml");
  std::ofstream(config_path) << "apiVersion: kubelet.config.k8s.io/v1\n"
                                "kind: CredentialProviderConfig\nproviders:\n"
                                "  - name: pullfleet-file-credential-provider\n"
                                "    apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
                                "    matchImages: [\""
                             << registry().host() << "\"]\n    defaultCacheDuration: 0s\n"
                             << "    env:\n      - name: PF_REGISTRY_USERNAME\n        value: \""
                             << registry().user()
                             << "\"\n      - name: PF_REGISTRY_PASSWORD\n        value: \""
                             << registry().password() << "\"\n";
  ASSERT_NO_FATAL_FAILURE(StartCluster("credentialProviderConfig: " + config_path +
                                       "\ncredentialProviderBinDir: " PULLFLEET_SOURCE_DIR
                                       "/deploy/credential-provider\n"));
  ApplyOk("pod.yaml", PodYaml("team-a", "plugin", registry().Ref("pf/app:v1"), "IfNotPresent"));
  EXPECT_TRUE(WaitReady("team-a", "plugin"))
      << Describe("team-a", "plugin") << cluster_->LogTails();
}

TEST_F(CredentialsTest, NodeRefusesToStartWithAnInvalidProviderConfig) {
  const std::string config_path = data_.Join("providers.yaml");
  std::ofstream(config_path) << "apiVersion: kubelet.config.k8s.io/v1\n"
                                "kind: CredentialProviderConfig\nproviders:\n"
                                "  - name: no-such-plugin\n"
                                "    apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
                                "    matchImages: [\"x.example.com\"]\n"
                                "    defaultCacheDuration: 1m\n";
  ClusterOptions options;
  options.mode = ClusterMode::kEmbedded;
  options.nodes = 1;
  options.data_dir = data_.path();
  options.node_config_yaml = "credentialProviderConfig: " + config_path +
                             "\ncredentialProviderBinDir: " + data_.path() + "\n";
  auto started = Cluster::Start(options);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message().find("no-such-plugin"), std::string::npos)
      << started.error().message();
}

// ---- the cached-image check across namespaces --------------------------------------------------

// Under the default policy, a pod of team-b without credentials cannot start from the private
// image team-a's secret pulled onto the node: it must pull, and the registry refuses it.
TEST_F(CredentialsTest, DefaultPolicyMakesAnotherNamespaceProveItsCredentials) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "regcred", registry().password()));
  const std::string image = registry().Ref("pf/app:v1");
  ApplyOk("a.yaml", PodYaml("team-a", "owner", image, "IfNotPresent", {"regcred"}));
  ASSERT_TRUE(WaitReady("team-a", "owner")) << Describe("team-a", "owner");

  ApplyOk("b.yaml", PodYaml("team-b", "intruder", image, "IfNotPresent"));
  ASSERT_TRUE(WaitReason("team-b", "intruder", "ImagePullBackOff"))
      << Describe("team-b", "intruder");
  const json status = Main("team-b", "intruder");
  EXPECT_FALSE(status.value("ready", true));

  // Never forbids the verifying pull: ErrImageNeverPull saying why.
  ApplyOk("never.yaml", PodYaml("team-b", "never", image, "Never"));
  ASSERT_TRUE(WaitReason("team-b", "never", "ErrImageNeverPull")) << Describe("team-b", "never");
  EXPECT_NE(WaitingMessage(Main("team-b", "never")).find("credentials this pod does not have"),
            std::string::npos);

  // team-b with a secret of its own proves access with a manifest request: no blob download.
  const int blobs_before = BlobGets("pf/app");
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-b", "own", registry().password()));
  ApplyOk("b2.yaml", PodYaml("team-b", "member", image, "IfNotPresent", {"own"}));
  EXPECT_TRUE(WaitReady("team-b", "member")) << Describe("team-b", "member");
  EXPECT_EQ(BlobGets("pf/app"), blobs_before);
}

TEST_F(CredentialsTest, NeverVerifyLetsAnyPodUseAPresentImage) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("imagePullCredentialsVerificationPolicy: NeverVerify\n"));
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "regcred", registry().password()));
  const std::string image = registry().Ref("pf/app:v1");
  ApplyOk("a.yaml", PodYaml("team-a", "owner", image, "IfNotPresent", {"regcred"}));
  ASSERT_TRUE(WaitReady("team-a", "owner"));
  auto heads_before = registry().AccessLogCount("HEAD", "/v2/pf/app/manifests/");
  ASSERT_TRUE(heads_before.ok());
  ApplyOk("b.yaml", PodYaml("team-b", "neighbour", image, "IfNotPresent"));
  EXPECT_TRUE(WaitReady("team-b", "neighbour")) << Describe("team-b", "neighbour");
  EXPECT_EQ(*registry().AccessLogCount("HEAD", "/v2/pf/app/manifests/"), *heads_before);
}

// Images loaded onto the node (pre-pulled) are trusted by the default policy and verified by
// AlwaysVerify.
TEST_F(CredentialsTest, PreloadedImagesAreTrustedByDefaultAndVerifiedByAlwaysVerify) {
  TempDir layout("pf-layout-");
  CommandResult copied = testing::RunCommand(
      "skopeo copy --quiet --src-tls-verify=false --src-creds " +
      ShellQuote(registry().user() + ":" + registry().password()) + " docker://" +
      registry().Ref("pf/sidecar:1.0") + " oci:" + layout.path() + ":" +
      registry().Ref("pf/sidecar:1.0") + " 2>&1");
  ASSERT_EQ(copied.exit_code, 0) << "skopeo copy failed";

  for (const bool always : {false, true}) {
    SCOPED_TRACE(always ? "AlwaysVerify" : "NeverVerifyPreloadedImages");
    TempDir data("pf-creds-preload-");
    ClusterOptions options;
    options.mode = ClusterMode::kEmbedded;
    options.nodes = 1;
    options.data_dir = data.path();
    options.node_config_yaml =
        std::string(kFastRetries) +
        (always ? "imagePullCredentialsVerificationPolicy: AlwaysVerify\n" : "");
    auto started = Cluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.error().message();
    cluster_ = std::move(started).value();
    CommandResult loaded = cluster_->Client("images load --node node-1 " + layout.path());
    ASSERT_EQ(loaded.exit_code, 0) << loaded.output;
    ApplyOk("pod.yaml",
            PodYaml("default", "pre", registry().Ref("pf/sidecar:1.0"), "IfNotPresent"));
    if (always) {
      EXPECT_TRUE(WaitReason("default", "pre", "ImagePullBackOff")) << Describe("default", "pre");
    } else {
      EXPECT_TRUE(WaitReady("default", "pre")) << Describe("default", "pre");
    }
    cluster_.reset();
  }
}

// ---- commands and secrecy ---------------------------------------------------------------------

TEST_F(CredentialsTest, CredsLookupListsSourcesInOrderWithoutSecrets) {
  const std::string config = WriteDockerConfig(registry().password());
  const std::string node_yaml = data_.Join("lookup-node.yaml");
  std::ofstream(node_yaml) << "dockerConfig: " << config << "\n";
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "regcred", registry().password()));
  CommandResult plan = cluster_->Client("creds lookup " + registry().Ref("pf/app:v1") +
                                        " -n team-a --secret regcred --secret absent" +
                                        " --node-config " + node_yaml);
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  const size_t secret_at = plan.output.find("secret team-a/regcred");
  const size_t node_at = plan.output.find("docker config " + config);
  ASSERT_NE(secret_at, std::string::npos) << plan.output;
  ASSERT_NE(node_at, std::string::npos) << plan.output;
  EXPECT_LT(secret_at, node_at) << plan.output;
  EXPECT_NE(plan.output.find("absent"), std::string::npos) << plan.output;
  EXPECT_EQ(plan.output.find(registry().password()), std::string::npos);
}

// After pulls with every source, the password (and its base64 form) appears nowhere pullfleet
// writes: process logs, RocksDB files, node stores, events, describe, get pods, metrics.
TEST_F(CredentialsTest, NoSecretInLogsDatabasesEventsOrMetrics) {
  const std::string config = WriteDockerConfig(registry().password());
  const int metrics_port = testing::FreeLoopbackPort();
  ClusterOptions options;
  options.mode = ClusterMode::kEmbedded;
  options.nodes = 1;
  options.data_dir = data_.path();
  options.node_config_yaml = std::string(kFastRetries) + "dockerConfig: " + config + "\n";
  options.metrics_address = "127.0.0.1:" + std::to_string(metrics_port);
  auto started = Cluster::Start(options);
  ASSERT_TRUE(started.ok()) << started.error().message();
  cluster_ = std::move(started).value();
  ApplyOk("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n");
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "regcred", registry().password()));
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "stale", "stale-" + registry().password()));
  ApplyOk("pods.yaml",
          PodYaml("team-a", "one", registry().Ref("pf/app:v1"), "Always", {"stale", "regcred"}) +
              "---\n" + PodYaml("team-a", "two", registry().Ref("pf/sidecar:1.0"), "Always"));
  ASSERT_TRUE(WaitReady("team-a", "one")) << Describe("team-a", "one");
  ASSERT_TRUE(WaitReady("team-a", "two")) << Describe("team-a", "two");

  std::string shown =
      Describe("team-a", "one") + Describe("team-a", "two") +
      cluster_->Client("get pods -A -o json").output +
      cluster_->Client("get events -A -o json").output +
      testing::RunCommand("curl -s http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics")
          .output;
  ASSERT_NE(shown.find("pullfleet_"), std::string::npos) << "metrics were not scraped";
  const std::vector<std::string> secrets = {
      registry().password(), Base64(registry().user() + ":" + registry().password())};
  for (const auto& secret : secrets) {
    ASSERT_GE(secret.size(), 8u);
    EXPECT_EQ(shown.find(secret), std::string::npos) << "a secret is shown to users";
    // Every file under the data folder but the docker config this test wrote itself.
    CommandResult found = testing::RunCommand("grep -rlF --exclude=node-config.json " +
                                              ShellQuote(secret) + " " + ShellQuote(data_.path()));
    EXPECT_EQ(found.output, "") << "files holding a secret";
  }
}

// Tokens the registry's token server issued for a pod secret appear nowhere pullfleet writes
// (JWTs all start with the base64 of `{"`, "eyJ"), nor does the password that bought them.
TEST_F(TokenCredentialsTest, PodSecretPullsWithABearerTokenThatIsNeverWrittenDown) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(CreateSecret("team-a", "regcred", registry().password()));
  ApplyOk("pod.yaml", PodYaml("team-a", "tok", registry().Ref("pf/app:v1"), "Always", {"regcred"}));
  ASSERT_TRUE(WaitReady("team-a", "tok")) << Describe("team-a", "tok") << cluster_->LogTails();
  auto fetched = registry().TokenRequestCount();
  ASSERT_TRUE(fetched.ok());
  EXPECT_GT(*fetched, 0) << "no token was fetched";

  const std::string shown = Describe("team-a", "tok") +
                            cluster_->Client("get events -A -o json").output +
                            cluster_->Client("get pods -A -o json").output;
  EXPECT_EQ(shown.find(registry().password()), std::string::npos);
  EXPECT_EQ(shown.find("eyJ"), std::string::npos);
  for (const std::string& secret : {registry().password(), std::string("eyJ")}) {
    CommandResult found =
        testing::RunCommand("grep -rlF " + ShellQuote(secret) + " " + ShellQuote(data_.path()));
    EXPECT_EQ(found.output, "") << "files holding a secret";
  }
}

}  // namespace
}  // namespace pullfleet::e2e
