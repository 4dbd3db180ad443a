// End-to-end tests of issue 2: the real `pullfleet` binary against the real registry, in both
// modes (one `up` process with three nodes; a coordinator and two node processes). Each test
// starts its own cluster on a fresh data folder; the registry and its images are shared by the
// suite. Server logs are printed with every failed wait.
#include "tests/e2e/cluster.h"

#include <openssl/evp.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

namespace pullfleet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::RegistryFixture;
using testing::RegistrySuite;
using testing::TempDir;

constexpr auto kPullTimeout = std::chrono::seconds(60);

// Every container spec of a pod, keyed by name.
std::map<std::string, json> ContainersByName(const json& pod) {
  std::map<std::string, json> out;
  for (const char* key : {"initContainers", "containers"}) {
    for (const auto& container : pod["spec"].value(key, json::array())) {
      out[container.value("name", "")] = container;
    }
  }
  return out;
}

// name -> spec.nodeName of every pod.
std::map<std::string, std::string> Placement(const json& pods) {
  std::map<std::string, std::string> out;
  for (const auto& pod : pods["items"]) {
    out[PodName(pod)] = pod.value("/spec/nodeName"_json_pointer, std::string());
  }
  return out;
}

// A Pod with an init container and two app containers; policies: busybox:1.36 -> IfNotPresent,
// pf/app without a tag -> Always, an explicit Always on a tagged image is kept.
constexpr const char* kWebPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  initContainers:
    - name: fetch-config
      image: REGISTRY/pf/busybox:1.36
      command: ["sh", "-c", "echo configured"]
  containers:
    - name: app
      image: REGISTRY/pf/app
    - name: sidecar
      image: REGISTRY/pf/multiarch:1.0
      imagePullPolicy: Always
)";

// Six replicas of a 40 MB image, and a :latest image (Always).
constexpr const char* kWorkers = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: workers
spec:
  replicas: 6
  selector:
    matchLabels:
      app: workers
  template:
    metadata:
      labels:
        app: workers
    spec:
      containers:
        - name: worker
          image: REGISTRY/pf/big:1.0
        - name: shipper
          image: REGISTRY/pf/busybox:latest
)";

class ClusterTest : public RegistrySuite<ClusterTest>,
                    public ::testing::WithParamInterface<ClusterMode> {
 protected:
  int NodeCount() const { return GetParam() == ClusterMode::kEmbedded ? 3 : 2; }

  // Starts the cluster of this test (nodes share `node_config_yaml`); check cluster_ after.
  void StartCluster(const std::string& node_config_yaml = "") {
    ASSERT_FALSE(data_.path().empty());
    ClusterOptions options;
    options.mode = GetParam();
    options.nodes = NodeCount();
    options.data_dir = data_.path();
    options.node_config_yaml = node_config_yaml;
    auto started = Cluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.error().message();
    cluster_ = std::move(started).value();
  }

  CommandResult Apply(const std::string& file_name, const std::string& manifest) {
    return cluster_->Apply(file_name, WithRegistry(manifest, registry().host()));
  }

  // Polls `get pods` until `done` holds for the list; returns the last list. `*met` says
  // whether it held. A failing `get pods` counts as not done.
  json PollPods(const std::function<bool(const json&)>& done, std::chrono::milliseconds timeout,
                bool* met) {
    json last;
    *met = cluster_->PollPods(done, timeout, &last);
    return last;
  }

  // Waits until exactly `count` pods exist and all are ImagesReady; returns the list.
  json WaitAllReady(size_t count, bool* met) {
    return PollPods([&](const json& pods) { return AllImagesReady(pods, count); }, kPullTimeout,
                    met);
  }

  std::string Failure(const json& pods) {
    return "last pods: " + pods.dump(1).substr(0, 6000) + "\n" + cluster_->LogTails();
  }

  // "<host>/<repo>@<digest>" of a digest name of the fixture.
  std::string ImageId(const std::string& repo, const std::string& digest_name) {
    const std::string digest = registry().Digest(digest_name);
    EXPECT_FALSE(digest.empty()) << digest_name;
    return registry().host() + "/" + repo + "@" + digest;
  }

  TempDir data_{"pf-e2e-"};
  std::unique_ptr<Cluster> cluster_;  // declared after data_: stopped before it is removed
};

// 1. Pods reach ImagesReady, spread over the nodes, with the registry's digests as imageIDs and
//    the kubelet's defaulted pull policies.
TEST_P(ClusterTest, PodsReachImagesReady) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  CommandResult applied = Apply("apps.yaml", std::string(kWebPod) + "---\n" + kWorkers);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_NE(applied.output.find("pod/web created"), std::string::npos) << applied.output;
  EXPECT_NE(applied.output.find("deployment.apps/workers created"), std::string::npos)
      << applied.output;

  bool ready = false;
  json pods = WaitAllReady(7, &ready);
  ASSERT_TRUE(ready) << Failure(pods);

  // What each container must show: defaulted policy and imageID.
  struct Expected {
    std::string policy;
    std::string image_id;
  };
  const std::map<std::string, Expected> expected = {
      {"fetch-config", {"IfNotPresent", ImageId("pf/busybox", "BUSYBOX")}},
      {"app", {"Always", ImageId("pf/app", "APP_V1")}},  // no tag: latest, which is v1
      // An index: the imageID names the index the tag resolved to, as the kubelet's repo digest.
      {"sidecar", {"Always", ImageId("pf/multiarch", "MULTIARCH")}},
      {"worker", {"IfNotPresent", ImageId("pf/big", "BIG")}},
      {"shipper", {"Always", ImageId("pf/busybox", "BUSYBOX")}},
  };

  std::map<std::string, int> workers_per_node;
  std::map<std::string, int> pods_per_node;
  for (const auto& pod : pods["items"]) {
    const std::string name = PodName(pod);
    SCOPED_TRACE("pod " + name);
    EXPECT_EQ(PodCondition(pod, "ImagesReady"), "True");
    const std::string node = pod.value("/spec/nodeName"_json_pointer, std::string());
    EXPECT_FALSE(node.empty());
    pods_per_node[node]++;
    if (name.rfind("workers-", 0) == 0) workers_per_node[node]++;

    const auto containers = ContainersByName(pod);
    const auto statuses = StatusesByName(pod);
    EXPECT_EQ(containers.size(), name == "web" ? 3u : 2u);
    EXPECT_EQ(statuses.size(), containers.size());
    for (const auto& [container_name, container] : containers) {
      SCOPED_TRACE("container " + container_name);
      auto want = expected.find(container_name);
      ASSERT_NE(want, expected.end());
      EXPECT_EQ(container.value("imagePullPolicy", ""), want->second.policy);
      auto status = statuses.find(container_name);
      ASSERT_NE(status, statuses.end());
      EXPECT_EQ(status->second.value("image", ""), container.value("image", ""));
      EXPECT_EQ(status->second.value("imageID", ""), want->second.image_id);
      EXPECT_TRUE(status->second.value("ready", false));
      EXPECT_EQ(WaitingReason(status->second), "");
    }
  }

  // Spread: every node holds at least one replica, and pods are balanced within one.
  std::set<std::string> nodes;
  for (const auto& [node, count] : pods_per_node) nodes.insert(node);
  const auto all_nodes = cluster_->NodeNames();
  EXPECT_EQ(nodes, std::set<std::string>(all_nodes.begin(), all_nodes.end()));
  for (const auto& node : all_nodes) EXPECT_GE(workers_per_node[node], 1) << node;
  auto [least, most] =
      std::minmax_element(pods_per_node.begin(), pods_per_node.end(),
                          [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_LE(most->second - least->second, 1) << pods.dump().substr(0, 300);

  // As kubectl: one pod by name (a table row, or the Pod object itself), or NotFound.
  CommandResult one = cluster_->Client("get pods web");
  EXPECT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find("\nweb "), std::string::npos) << one.output;
  EXPECT_EQ(one.output.find("workers-"), std::string::npos) << one.output;
  CommandResult one_json = cluster_->Client("get pods web -o json");
  json object = json::parse(one_json.output, nullptr, false);
  ASSERT_TRUE(object.is_object()) << one_json.output;
  EXPECT_EQ(object.value("kind", ""), "Pod");
  EXPECT_EQ(PodName(object), "web");
  // -l selects by label; a selector that does not parse is refused before anything is asked.
  for (const auto& [selector, want] : std::vector<std::pair<std::string, size_t>>{
           {"app=workers", 6}, {"app!=workers", 1}, {"app", 7}, {"!app", 0}, {"app=none", 0}}) {
    CommandResult listed = cluster_->Client("get pods -l '" + selector + "' -o json");
    json list = json::parse(listed.output, nullptr, false);
    ASSERT_TRUE(list.is_object()) << selector << ": " << listed.output;
    EXPECT_EQ(list["items"].size(), want) << selector;
  }
  CommandResult bad = cluster_->Client("get pods -l 'app in (a,b)'");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("set-based requirements"), std::string::npos) << bad.output;

  CommandResult missing = cluster_->Client("get pods nope");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("Error from server (NotFound): pods \"nope\" not found"),
            std::string::npos)
      << missing.output;
}

// 2. Every blob in every node's store hashes to its name; no partial download is left.
TEST_P(ClusterTest, BlobsOnDiskHashToTheirNames) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  // One replica of the big image on every node, and the web pod somewhere.
  std::string workers = kWorkers;
  workers.replace(workers.find("replicas: 6"), 11, "replicas: " + std::to_string(NodeCount()));
  CommandResult applied = Apply("apps.yaml", std::string(kWebPod) + "---\n" + workers);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  bool ready = false;
  json pods = WaitAllReady(NodeCount() + 1, &ready);
  ASSERT_TRUE(ready) << Failure(pods);

  std::istringstream layer_list(registry().Env("BIG_LAYER_DIGESTS"));
  std::vector<std::string> big_layers{std::istream_iterator<std::string>(layer_list), {}};
  ASSERT_EQ(big_layers.size(), 3u);

  for (const auto& node : cluster_->NodeNames()) {
    SCOPED_TRACE(node);
    const fs::path store = cluster_->StoreDir(node);
    ASSERT_TRUE(fs::is_directory(store / "blobs" / "sha256")) << store;
    EXPECT_TRUE(fs::is_regular_file(store / "oci-layout"));
    EXPECT_TRUE(fs::is_regular_file(store / "index.json"));
    std::set<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(store / "blobs")) {
      const std::string file = entry.path().filename().string();
      EXPECT_EQ(file.find(".partial"), std::string::npos) << entry.path();
      if (!entry.is_regular_file() || entry.path().parent_path() != store / "blobs" / "sha256") {
        continue;
      }
      names.insert(file);
      EXPECT_EQ(Sha256OfFile(entry.path()), file) << entry.path();
    }
    // The node really holds the image of its replica: the test cannot pass on an empty store.
    EXPECT_EQ(names.count(registry().Digest("BIG").substr(7)), 1u);
    for (const auto& layer : big_layers) EXPECT_EQ(names.count(layer.substr(7)), 1u) << layer;
  }
}

// 3. A missing image: ErrImagePull, then ImagePullBackOff, with the kubelet's messages and
//    events.
TEST_P(ClusterTest, MissingImageGivesErrImagePullThenImagePullBackOff) {
  // Short backoff so a second attempt comes quickly; a resync slow enough to see ErrImagePull.
  ASSERT_NO_FATAL_FAILURE(
      StartCluster("imagePullBackOff:\n  initialSeconds: 2\n  maxSeconds: 4\nresyncSeconds: 1\n"));
  const std::string image = registry().Ref("pf/does-not-exist:1.0");
  CommandResult applied = Apply("missing.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: missing
spec:
  containers:
    - name: app
      image: REGISTRY/pf/does-not-exist:1.0
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.output;

  // The failure reasons as polled, consecutive repeats folded (other reasons, such as one
  // shown while a pull is in progress, are kept apart); the last message seen per reason.
  std::vector<std::string> reasons;
  std::string all_reasons;
  std::map<std::string, std::string> messages;
  bool seen = false;
  json pods = PollPods(
      [&](const json& list) {
        json pod = FindPod(list, "missing");
        if (pod.is_null()) return false;
        EXPECT_NE(PodCondition(pod, "ImagesReady"), "True");
        auto statuses = StatusesByName(pod);
        const std::string reason = WaitingReason(statuses["app"]);
        all_reasons += (reason.empty() ? "-" : reason) + " ";
        if (reason != "ErrImagePull" && reason != "ImagePullBackOff") return false;
        if (reasons.empty() || reasons.back() != reason) reasons.push_back(reason);
        messages[reason] = WaitingMessage(statuses["app"]);
        // Done after the retry: ErrImagePull, ImagePullBackOff, ErrImagePull.
        return std::count(reasons.begin(), reasons.end(), "ErrImagePull") >= 2;
      },
      std::chrono::seconds(30), &seen);
  ASSERT_TRUE(seen) << "reasons polled: " << all_reasons << "\n" << Failure(pods);
  EXPECT_EQ(reasons, (std::vector<std::string>{"ErrImagePull", "ImagePullBackOff", "ErrImagePull"}))
      << "reasons polled: " << all_reasons;
  EXPECT_NE(messages["ErrImagePull"].find("manifest unknown"), std::string::npos)
      << messages["ErrImagePull"];
  EXPECT_EQ(messages["ImagePullBackOff"].rfind("Back-off pulling image \"" + image + "\"", 0), 0u)
      << messages["ImagePullBackOff"];

  CommandResult described = cluster_->Client("describe pod missing");
  ASSERT_EQ(described.exit_code, 0) << described.output;
  for (const std::string& line :
       {"Pulling image \"" + image + "\"",
        "Failed to pull image \"" + image + "\": ", std::string("Error: ErrImagePull"),
        "Back-off pulling image \"" + image + "\"", std::string("Error: ImagePullBackOff")}) {
    EXPECT_NE(described.output.find(line), std::string::npos) << "missing event: " << line << "\n"
                                                              << described.output;
  }
  // The BackOff event names the error it is backing off from.
  const size_t backoff_at = described.output.find("Back-off pulling image");
  ASSERT_NE(backoff_at, std::string::npos);
  const std::string backoff_line =
      described.output.substr(backoff_at, described.output.find('\n', backoff_at) - backoff_at);
  EXPECT_NE(backoff_line.find("manifest unknown"), std::string::npos) << backoff_line;
  // Reasons as the kubelet files them.
  EXPECT_NE(described.output.find("Warning  Failed"), std::string::npos) << described.output;
  EXPECT_NE(described.output.find("Normal   BackOff"), std::string::npos) << described.output;
}

// 4. A second pod with the same image on the same node downloads no blob, whatever its policy.
TEST_P(ClusterTest, SecondPodWithSameImageOnSameNodeDownloadsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const std::string node = cluster_->NodeNames().back();
  auto before_first = registry().BlobGetCount();
  ASSERT_TRUE(before_first.ok()) << before_first.error().message();

  std::string first = R"(apiVersion: v1
kind: Pod
metadata:
  name: first
spec:
  nodeName: NODE
  containers:
    - name: app
      image: REGISTRY/pf/busybox:1.36
)";
  first.replace(first.find("NODE"), 4, node);
  CommandResult applied = Apply("first.yaml", first);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  bool ready = false;
  json pods = WaitAllReady(1, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  auto after_first = registry().BlobGetCount();
  ASSERT_TRUE(after_first.ok()) << after_first.error().message();
  // The counter sees this node's pull (config and layer): the check below can fail.
  EXPECT_GE(*after_first - *before_first, 2);

  // The same image by tag, by digest, and by :latest (policy Always: resolves the tag again).
  std::string second = R"(apiVersion: v1
kind: Pod
metadata:
  name: second
spec:
  nodeName: NODE
  containers:
    - name: by-tag
      image: REGISTRY/pf/busybox:1.36
    - name: by-digest
      image: REGISTRY/pf/busybox@DIGEST
    - name: latest
      image: REGISTRY/pf/busybox:latest
)";
  second.replace(second.find("DIGEST"), 6, registry().Digest("BUSYBOX"));
  second.replace(second.find("NODE"), 4, node);
  applied = Apply("second.yaml", second);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  pods = WaitAllReady(2, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  auto after_second = registry().BlobGetCount();
  ASSERT_TRUE(after_second.ok()) << after_second.error().message();
  EXPECT_EQ(*after_second, *after_first) << "the second pod downloaded blobs";

  EXPECT_EQ(Placement(pods)["first"], node);
  EXPECT_EQ(Placement(pods)["second"], node);
  CommandResult described = cluster_->Client("describe pod second");
  ASSERT_EQ(described.exit_code, 0) << described.output;
  EXPECT_NE(described.output.find("Container image \"" + registry().Ref("pf/busybox:1.36") +
                                  "\" already present on machine"),
            std::string::npos)
      << described.output;
}

// 5. The coordinator survives a restart with its pods intact: same pods on the same nodes,
//    ImagesReady again, and no blob downloaded again. Once after SIGTERM, once after SIGKILL.
TEST_P(ClusterTest, RestartKeepsPodsAndDownloadsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  std::string workers = kWorkers;
  workers.replace(workers.find("replicas: 6"), 11, "replicas: 4");
  CommandResult applied = Apply("apps.yaml", std::string(kWebPod) + "---\n" + workers);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  bool ready = false;
  json pods = WaitAllReady(5, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  const auto placement = Placement(pods);
  auto blobs_before = registry().BlobGetCount();
  ASSERT_TRUE(blobs_before.ok()) << blobs_before.error().message();

  for (int signal : {SIGTERM, SIGKILL}) {
    SCOPED_TRACE("restart after signal " + std::to_string(signal));
    // How cleanly the servers end is ServersExitCleanlyOnSigterm's business; here only what
    // survives counts.
    Status stopped = cluster_->Stop(signal, std::chrono::seconds(3));
    if (!stopped.ok()) std::cerr << "stop: " << stopped.error().message() << "\n";
    Status restarted = cluster_->Restart();
    ASSERT_TRUE(restarted.ok()) << restarted.error().message();

    // The pods are there at once (read from the database), on the nodes they had.
    auto listed = cluster_->GetPods();
    ASSERT_TRUE(listed.ok()) << listed.error().message();
    EXPECT_EQ(Placement(*listed), placement);

    pods = WaitAllReady(placement.size(), &ready);
    ASSERT_TRUE(ready) << Failure(pods);
    EXPECT_EQ(Placement(pods), placement);
    auto blobs_after = registry().BlobGetCount();
    ASSERT_TRUE(blobs_after.ok()) << blobs_after.error().message();
    EXPECT_EQ(*blobs_after, *blobs_before) << "blobs were downloaded again after the restart";
  }
}

// 6. `apply` of a file with an invalid document fails with exit code 1, names the file and the
//    document, and creates nothing (not even the valid document before it).
TEST_P(ClusterTest, ApplyWithInvalidDocumentFailsAndCreatesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const std::string file = data_.Join("broken.yaml");
  std::ofstream(file) << WithRegistry(R"(apiVersion: v1
kind: Pod
metadata:
  name: good
spec:
  containers:
    - name: app
      image: REGISTRY/pf/busybox:1.36
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers: [ {name: app, image: REGISTRY/pf/busybox:1.36
)",
                                      registry().host());
  CommandResult applied = cluster_->Client("apply -f " + testing::ShellQuote(file));
  EXPECT_EQ(applied.exit_code, 1) << applied.output;
  EXPECT_NE(applied.output.find(file), std::string::npos) << applied.output;
  EXPECT_NE(applied.output.find("document 2"), std::string::npos) << applied.output;
  EXPECT_EQ(applied.output.find("created"), std::string::npos) << applied.output;

  auto pods = cluster_->GetPods();
  ASSERT_TRUE(pods.ok()) << pods.error().message();
  EXPECT_TRUE((*pods)["items"].empty()) << pods->dump();
}

// Servers end cleanly (exit code 0) and promptly on SIGTERM, with pods assigned, as a service
// manager expects.
TEST_P(ClusterTest, ServersExitCleanlyOnSigterm) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  CommandResult applied = Apply("web.yaml", kWebPod);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  bool ready = false;
  json pods = WaitAllReady(1, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  Status stopped = cluster_->Stop(SIGTERM, std::chrono::seconds(5));
  EXPECT_TRUE(stopped.ok()) << stopped.error().message();
}

INSTANTIATE_TEST_SUITE_P(Modes, ClusterTest,
                         ::testing::Values(ClusterMode::kEmbedded, ClusterMode::kProcesses),
                         [](const ::testing::TestParamInfo<ClusterMode>& info) {
                           return ModeName(info.param);
                         });

}  // namespace
}  // namespace pullfleet::e2e
