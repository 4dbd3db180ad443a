// End-to-end tests of issue 8: manifests as projects publish them, applied as written to a
// running cluster (the real binary, the real registry of tests/support). Each test applies
// the project's own manifests of tests/data/manifests/e2e/ (REGISTRY there is replaced by the
// test registry's host) and checks what the workload controllers would have made of them:
// the pods, their names and nodes, the images pulled and the reasons of those that cannot be.
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/e2e/cluster.h"

namespace pullfleet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::RegistrySuite;
using testing::ShellQuote;
using testing::TempDir;

constexpr auto kPullTimeout = std::chrono::seconds(90);

// Short backoff so that failures show and retry within the tests' patience.
constexpr const char* kFastRetries = R"(imagePullBackOff:
  initialSeconds: 1
  maxSeconds: 2
neverPullRecheckSeconds: 1
)";

const std::string kManifests = std::string(PULLFLEET_SOURCE_DIR) + "/tests/data/manifests/e2e/";
const std::string kBinary = std::string(PULLFLEET_BINARY_DIR) + "/cmd/pullfleet";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The label `key` of a pod, "" when absent.
std::string Label(const json& pod, const std::string& key) {
  const json labels = pod.value("/metadata/labels"_json_pointer, json::object());
  return labels.value(key, "");
}

// "Kind/name" of the pod's controller, "" when it has none.
std::string Owner(const json& pod) {
  const json owners = pod.value("/metadata/ownerReferences"_json_pointer, json::array());
  if (owners.empty()) return "";
  return owners[0].value("kind", "") + "/" + owners[0].value("name", "");
}

std::string NodeOf(const json& pod) {
  return pod.value("/spec/nodeName"_json_pointer, std::string());
}

// The pods whose label `app` is `app`, by name.
std::map<std::string, json> PodsOfApp(const json& pods, const std::string& app) {
  std::map<std::string, json> out;
  for (const auto& pod : pods["items"]) {
    if (Label(pod, "app") == app) out[PodName(pod)] = pod;
  }
  return out;
}

std::set<std::string> Names(const std::map<std::string, json>& pods) {
  std::set<std::string> names;
  for (const auto& [name, pod] : pods) names.insert(name);
  return names;
}

std::set<std::string> NodesOf(const std::map<std::string, json>& pods) {
  std::set<std::string> nodes;
  for (const auto& [name, pod] : pods) nodes.insert(NodeOf(pod));
  return nodes;
}

// Lines of a command's output that contain `part`.
std::vector<std::string> LinesWith(const std::string& output, const std::string& part) {
  std::vector<std::string> out;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(part) != std::string::npos) out.push_back(line);
  }
  return out;
}

// The number after "line " in an error message, -1 if there is none.
int LineNumberIn(const std::string& message) {
  const size_t at = message.find("line ");
  if (at == std::string::npos) return -1;
  try {
    return std::stoi(message.substr(at + 5));
  } catch (const std::exception&) {
    return -1;
  }
}

// Milliseconds since the epoch of a metav1.MicroTime ("2026-12-03T21:40:19.826000Z").
int64_t ParseMicroTime(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return -1;
  int64_t micros = static_cast<int64_t>(timegm(&tm)) * 1'000'000;
  if (*rest == '.') micros += std::stoll(std::string(rest + 1, 6));
  return micros;
}

class ManifestsTest : public RegistrySuite<ManifestsTest> {
 protected:
  void StartCluster(int nodes, ClusterMode mode = ClusterMode::kEmbedded,
                    const std::string& node_config_yaml = kFastRetries) {
    ClusterOptions options;
    options.mode = mode;
    options.nodes = nodes;
    options.data_dir = data_.path();
    options.node_config_yaml = node_config_yaml;
    auto started = Cluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.error().message();
    cluster_ = std::move(started).value();
  }

  // The manifest tests/data/manifests/e2e/`name` with this suite's registry in it.
  std::string Manifest(const std::string& name) {
    return WithRegistry(ReadFile(kManifests + name), registry().host());
  }

  // Writes Manifest(`name`) into the data folder (same relative path); returns its path.
  std::string Stage(const std::string& name) {
    const fs::path path = fs::path(data_.path()) / "manifests" / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << Manifest(name);
    return path.string();
  }

  // `apply -f` of the manifest `name` as written; fails the test unless it exits 0.
  CommandResult ApplyOk(const std::string& name) {
    CommandResult applied = cluster_->Client("apply -f " + ShellQuote(Stage(name)));
    EXPECT_EQ(applied.exit_code, 0) << applied.output;
    return applied;
  }

  // Polls `get pods` until `done` holds for the list; returns the last list.
  json PollPods(const std::function<bool(const json&)>& done, bool* met,
                std::chrono::milliseconds timeout = kPullTimeout) {
    json last;
    *met = cluster_->PollPods(done, timeout, &last);
    return last;
  }

  // Waits until exactly `count` pods exist and every one is ImagesReady; returns the list.
  json WaitAllReady(size_t count, bool* met) {
    return PollPods([&](const json& pods) { return AllImagesReady(pods, count); }, met);
  }

  std::string Failure(const json& pods) {
    return "last pods: " + pods.dump(1).substr(0, 8000) + "\n" + cluster_->LogTails();
  }

  // The images of "Pulling" events of `pod`, in the order of their eventTime.
  std::vector<std::string> PullingOrder(const std::string& pod) {
    CommandResult listed = cluster_->Client("get events -o json");
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    json list = json::parse(listed.output, nullptr, false);
    std::vector<std::pair<int64_t, std::string>> pulls;
    if (list.is_discarded()) return {};
    for (const auto& item : list["items"]) {
      if (item.value("/involvedObject/name"_json_pointer, std::string()) != pod) continue;
      if (item.value("reason", "") != "Pulling") continue;
      const std::string message = item.value("message", "");
      const size_t open = message.find('"');
      const size_t close = message.rfind('"');
      if (open == std::string::npos || close <= open) continue;
      pulls.emplace_back(ParseMicroTime(item.value("eventTime", "")),
                         message.substr(open + 1, close - open - 1));
    }
    std::stable_sort(pulls.begin(), pulls.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> images;
    for (const auto& [at, image] : pulls) images.push_back(image);
    return images;
  }

  TempDir data_{"pf-e2e-manifests-"};
  std::unique_ptr<Cluster> cluster_;  // declared after data_: stopped before it is removed
};

// Deployment, ReplicaSet and ReplicationController keep `replicas` pods (1 when omitted), a
// StatefulSet names its pods NAME-0.., a DaemonSet puts one pod on each node its nodeSelector
// allows, a Job runs `parallelism` pods, and a CronJob gets a pre-pull pod on the nodes it
// selects; the Service between them is skipped.
TEST_F(ManifestsTest, WorkloadKindsMakeTheirControllersPods) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(2));
  CommandResult applied = ApplyOk("workloads.yaml");
  for (const char* line :
       {"deployment.apps/web created", "deployment.apps/solo created",
        "replicaset.apps/frontend created", "replicationcontroller/legacy created",
        "statefulset.apps/db created", "daemonset.apps/agent created",
        "daemonset.apps/pinned-agent created", "job.batch/batch created", "job.batch/once created",
        "cronjob.batch/nightly created", "skipped kinds pullfleet does not run: Service=1"}) {
    EXPECT_EQ(LinesWith(applied.output, line).size(), 1u) << line << "\n" << applied.output;
  }

  bool ready = false;
  const json pods = WaitAllReady(17, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  const std::map<std::string, size_t> counts = {
      {"web", 3},   {"solo", 1},         {"frontend", 2}, {"legacy", 1}, {"db", 3},
      {"agent", 2}, {"pinned-agent", 1}, {"batch", 2},    {"once", 1},   {"nightly", 1}};
  for (const auto& [app, count] : counts) {
    EXPECT_EQ(PodsOfApp(pods, app).size(), count) << app;
  }

  for (const auto& [name, pod] : PodsOfApp(pods, "web")) {
    // A Deployment's pods belong to its ReplicaSet NAME-<template hash>.
    EXPECT_EQ(Owner(pod).rfind("ReplicaSet/web-", 0), 0u) << name << ": " << Owner(pod);
    EXPECT_EQ(name.rfind(Owner(pod).substr(11) + "-", 0), 0u) << name;
  }
  const std::map<std::string, std::string> owners = {{"frontend", "ReplicaSet/frontend"},
                                                     {"legacy", "ReplicationController/legacy"},
                                                     {"db", "StatefulSet/db"},
                                                     {"agent", "DaemonSet/agent"},
                                                     {"batch", "Job/batch"},
                                                     {"once", "Job/once"},
                                                     {"nightly", "CronJob/nightly"}};
  for (const auto& [app, owner] : owners) {
    for (const auto& [name, pod] : PodsOfApp(pods, app)) EXPECT_EQ(Owner(pod), owner) << name;
  }
  EXPECT_EQ(Names(PodsOfApp(pods, "db")), (std::set<std::string>{"db-0", "db-1", "db-2"}));
  EXPECT_EQ(NodesOf(PodsOfApp(pods, "agent")), (std::set<std::string>{"node-1", "node-2"}));
  EXPECT_EQ(NodesOf(PodsOfApp(pods, "pinned-agent")), std::set<std::string>{"node-2"});

  // The CronJob runs nothing: its pod is a pre-pull, marked so, on the node it selects.
  const json prepull = FindPod(pods, "nightly-prepull-node-1");
  ASSERT_FALSE(prepull.is_null()) << Failure(pods);
  EXPECT_EQ(NodeOf(prepull), "node-1");
  EXPECT_EQ(Label(prepull, "pullfleet.io/prepull"), "true");
  EXPECT_EQ(StatusesByName(prepull)["report"].value("image", ""), registry().host() + "/pf/app:v2");

  // Deleting a workload (by any of kubectl's names for its kind) takes its pods with it and
  // leaves the others; a second delete finds nothing.
  for (const auto& [command, said] : std::vector<std::pair<std::string, std::string>>{
           {"delete deployment web", "deployment.apps \"web\" deleted"},
           {"delete sts db", "statefulset.apps \"db\" deleted"},
           {"delete cronjobs nightly", "cronjob.batch \"nightly\" deleted"}}) {
    CommandResult deleted = cluster_->Client(command);
    EXPECT_EQ(deleted.exit_code, 0) << command << ": " << deleted.output;
    EXPECT_NE(deleted.output.find(said), std::string::npos) << command << ": " << deleted.output;
  }
  bool gone = false;
  const json after = PollPods([](const json& p) { return p["items"].size() == 17u - 3 - 3 - 1; },
                              &gone, std::chrono::seconds(30));
  ASSERT_TRUE(gone) << Failure(after);
  EXPECT_TRUE(PodsOfApp(after, "web").empty() && PodsOfApp(after, "db").empty() &&
              PodsOfApp(after, "nightly").empty())
      << Failure(after);
  EXPECT_EQ(PodsOfApp(after, "frontend").size(), 2u);
  CommandResult again = cluster_->Client("delete deploy web");
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("Error from server (NotFound): deployments.apps \"web\" not found"),
            std::string::npos)
      << again.output;
}

// extensions/v1beta1, apps/v1beta2 and batch/v1beta1 objects are the same kinds.
TEST_F(ManifestsTest, OldApiVersionsAreReadAsTheSameKinds) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1));
  CommandResult applied = ApplyOk("old-versions.yaml");
  for (const char* line : {"deployment.apps/old-web created", "deployment.apps/beta2-web created",
                           "replicaset.apps/old-rs created", "statefulset.apps/old-db created",
                           "daemonset.apps/old-agent created", "cronjob.batch/old-cron created"}) {
    EXPECT_EQ(LinesWith(applied.output, line).size(), 1u) << line << "\n" << applied.output;
  }
  bool ready = false;
  const json pods = WaitAllReady(9, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  EXPECT_EQ(PodsOfApp(pods, "old-web").size(), 2u);
  for (const auto& [name, pod] : PodsOfApp(pods, "old-web")) {
    EXPECT_EQ(Owner(pod).rfind("ReplicaSet/old-web-", 0), 0u) << name;
  }
  EXPECT_EQ(PodsOfApp(pods, "beta2-web").size(), 1u);
  EXPECT_EQ(PodsOfApp(pods, "old-rs").size(), 2u);
  EXPECT_EQ(Names(PodsOfApp(pods, "old-db")), (std::set<std::string>{"old-db-0", "old-db-1"}));
  EXPECT_EQ(NodesOf(PodsOfApp(pods, "old-agent")), std::set<std::string>{"node-1"});
  EXPECT_EQ(Names(PodsOfApp(pods, "old-cron")), std::set<std::string>{"old-cron-prepull-node-1"});
}

// A node that joins a running cluster gets the pods of every DaemonSet whose nodeSelector
// allows it, and the pre-pull pod of such a CronJob; the first node's pods stay.
TEST_F(ManifestsTest, DaemonSetsAndCronJobsReachANodeThatJoinsLater) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, ClusterMode::kProcesses));
  ApplyOk("node-join.yaml");
  bool ready = false;
  json pods = WaitAllReady(1, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  const auto first = PodsOfApp(pods, "everywhere");
  ASSERT_EQ(NodesOf(first), std::set<std::string>{"node-1"}) << Failure(pods);

  Status added =
      cluster_->AddNode("node-edge", std::string(kFastRetries) + "labels:\n  tier: edge\n");
  ASSERT_TRUE(added.ok()) << added.error().message();
  pods = WaitAllReady(4, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  const auto everywhere = PodsOfApp(pods, "everywhere");
  EXPECT_EQ(NodesOf(everywhere), (std::set<std::string>{"node-1", "node-edge"}));
  EXPECT_EQ(everywhere.count(first.begin()->first), 1u) << "node-1's pod was replaced";
  EXPECT_EQ(NodesOf(PodsOfApp(pods, "edge-only")), std::set<std::string>{"node-edge"});
  const json prepull = FindPod(pods, "edge-report-prepull-node-edge");
  ASSERT_FALSE(prepull.is_null()) << Failure(pods);
  EXPECT_EQ(NodeOf(prepull), "node-edge");
  EXPECT_EQ(Label(prepull, "pullfleet.io/prepull"), "true");
  EXPECT_EQ(Owner(prepull), "CronJob/edge-report");
  // Its init container's image is pre-pulled too.
  EXPECT_TRUE(StatusesByName(prepull)["prepare"].value("ready", false)) << prepull.dump(1);
}

// A second apply scales a Deployment and a StatefulSet up and down, then changes the
// Deployment's image: scaling keeps the pods there are, scale-down removes some (a
// StatefulSet's highest ordinals), a new template replaces every pod, and the policy the
// first apply defaulted (Always, for an untagged image) stays when the new image is tagged.
TEST_F(ManifestsTest, SecondApplyScalesAndReplacesPodsAsControllersWould) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(2));
  ApplyOk("rollout-1.yaml");
  bool ready = false;
  json pods = WaitAllReady(6, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  const std::set<std::string> first = Names(PodsOfApp(pods, "shop"));
  ASSERT_EQ(first.size(), 3u);
  for (const auto& [name, pod] : PodsOfApp(pods, "shop")) {
    EXPECT_EQ(pod["spec"]["containers"][0].value("imagePullPolicy", ""), "Always") << name;
  }

  CommandResult applied = ApplyOk("rollout-2-up.yaml");
  EXPECT_EQ(LinesWith(applied.output, "deployment.apps/shop configured").size(), 1u)
      << applied.output;
  pods = WaitAllReady(9, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  const std::set<std::string> scaled_up = Names(PodsOfApp(pods, "shop"));
  EXPECT_EQ(scaled_up.size(), 5u);
  EXPECT_TRUE(std::includes(scaled_up.begin(), scaled_up.end(), first.begin(), first.end()))
      << "scaling up replaced pods";
  EXPECT_EQ(Names(PodsOfApp(pods, "cache")),
            (std::set<std::string>{"cache-0", "cache-1", "cache-2", "cache-3"}));

  ApplyOk("rollout-3-down.yaml");
  pods = WaitAllReady(3, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  const std::set<std::string> scaled_down = Names(PodsOfApp(pods, "shop"));
  EXPECT_EQ(scaled_down.size(), 2u);
  EXPECT_TRUE(
      std::includes(scaled_up.begin(), scaled_up.end(), scaled_down.begin(), scaled_down.end()))
      << "scaling down created pods";
  EXPECT_EQ(Names(PodsOfApp(pods, "cache")), std::set<std::string>{"cache-0"});
  const std::string cache_uid = FindPod(pods, "cache-0").value("/metadata/uid"_json_pointer, "");

  applied = ApplyOk("rollout-4-image.yaml");
  EXPECT_EQ(LinesWith(applied.output, "deployment.apps/shop configured").size(), 1u)
      << applied.output;
  EXPECT_EQ(LinesWith(applied.output, "statefulset.apps/cache unchanged").size(), 1u)
      << applied.output;
  const std::string v2 = registry().host() + "/pf/app:v2";
  pods = PollPods(
      [&](const json& list) {
        const auto shop = PodsOfApp(list, "shop");
        return list["items"].size() == 3 && shop.size() == 2 &&
               std::all_of(shop.begin(), shop.end(), [&](const auto& entry) {
                 return ImagesReady(entry.second) &&
                        entry.second["spec"]["containers"][0].value("image", "") == v2;
               });
      },
      &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  for (const auto& [name, pod] : PodsOfApp(pods, "shop")) {
    EXPECT_EQ(scaled_down.count(name), 0u) << name << " survived a new template";
    EXPECT_EQ(pod["spec"]["containers"][0].value("imagePullPolicy", ""), "Always") << name;
  }
  EXPECT_EQ(FindPod(pods, "cache-0").value("/metadata/uid"_json_pointer, ""), cache_uid);

  // The same manifest applied fresh would default the tagged image to IfNotPresent: the
  // Always above is the stored one, not the rule applied again.
  CommandResult planned = testing::RunCommand(ShellQuote(kBinary) + " images list -o json -f " +
                                              ShellQuote(Stage("rollout-4-image.yaml")));
  ASSERT_EQ(planned.exit_code, 0) << planned.output;
  const json plan = json::parse(planned.output, nullptr, false);
  ASSERT_FALSE(plan.is_discarded()) << planned.output;
  bool found = false;
  for (const auto& image : plan["images"]) {
    if (image.value("reference", "") != v2) continue;
    found = true;
    EXPECT_EQ(image["pullPolicies"], json::array({"IfNotPresent"})) << image.dump();
  }
  EXPECT_TRUE(found) << planned.output;
}

// A pod's image volume is pulled first, then its init containers in order (a native sidecar
// among them), then its containers; an image volume's pullPolicy is honoured.
TEST_F(ManifestsTest, ImageVolumesInitContainersAndSidecarsArePulledInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1));
  ApplyOk("pod-images.yaml");
  bool met = false;
  json pods = PollPods(
      [](const json& list) {
        const json layered = FindPod(list, "layered");
        const json never = FindPod(list, "never-volume");
        if (layered.is_null() || never.is_null() || !ImagesReady(layered)) return false;
        const json volumes = never["status"].value("imageVolumeStatuses", json::array());
        return !volumes.empty() && WaitingReason(volumes[0]) == "ErrImageNeverPull";
      },
      &met);
  ASSERT_TRUE(met) << Failure(pods);

  const json layered = FindPod(pods, "layered");
  const json volumes = layered["status"].value("imageVolumeStatuses", json::array());
  ASSERT_EQ(volumes.size(), 1u) << layered.dump(1);  // the emptyDir is no image
  EXPECT_EQ(volumes[0].value("name", ""), "assets");
  EXPECT_TRUE(volumes[0].value("ready", false));
  EXPECT_EQ(volumes[0].value("imageID", ""),
            registry().host() + "/pf/app@" + registry().Digest("APP_V2"));
  EXPECT_EQ(layered["spec"]["initContainers"][1].value("restartPolicy", ""), "Always");
  const std::string host = registry().host();
  EXPECT_EQ(PullingOrder("layered"),
            (std::vector<std::string>{host + "/pf/app:v2", host + "/pf/busybox:1.36",
                                      host + "/pf/sidecar:1.0", host + "/pf/app:v1"}));

  // Never, and the node lacks the image: the volume waits; the container's image is pulled.
  const json never = FindPod(pods, "never-volume");
  EXPECT_EQ(PodCondition(never, "ImagesReady"), "False");
  EXPECT_TRUE(StatusesByName(never)["app"].value("ready", false)) << never.dump(1);
  EXPECT_EQ(never["spec"]["volumes"][0]["image"].value("pullPolicy", ""), "Never");
}

// kind: List items, several documents in a file, and -f with files, a folder and `-`.
TEST_F(ManifestsTest, ListsDocumentsFoldersAndStdinAreApplied) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1));
  CommandResult applied = cluster_->Client("apply -f " + ShellQuote(Stage("paths/list.yaml")) +
                                           " -f " + ShellQuote(Stage("paths/multi.yaml")));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  for (const char* line : {"pod/list-a created", "deployment.apps/list-b created",
                           "pod/multi-a created", "pod/multi-b created", "pod/multi-c created"}) {
    EXPECT_EQ(LinesWith(applied.output, line).size(), 1u) << line << "\n" << applied.output;
  }

  Stage("paths/folder/one.yaml");
  Stage("paths/folder/two.yml");
  fs::copy_file(kManifests + "paths/folder/notes.txt",
                fs::path(data_.path()) / "manifests/paths/folder/notes.txt");
  applied = cluster_->Client("apply -f " + ShellQuote(data_.path() + "/manifests/paths/folder"));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_EQ(LinesWith(applied.output, "pod/folder-one created").size(), 1u) << applied.output;
  EXPECT_EQ(LinesWith(applied.output, "pod/folder-two created").size(), 1u) << applied.output;

  applied = testing::RunCommand("timeout -k 5 45 " + ShellQuote(kBinary) + " apply -f - --server " +
                                ShellQuote(cluster_->server()) + " < " +
                                ShellQuote(Stage("paths/stdin.yaml")));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_EQ(LinesWith(applied.output, "pod/from-stdin created").size(), 1u) << applied.output;

  bool ready = false;
  const json pods = WaitAllReady(9, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  for (const char* name :
       {"list-a", "multi-a", "multi-b", "multi-c", "folder-one", "folder-two", "from-stdin"}) {
    EXPECT_FALSE(FindPod(pods, name).is_null()) << name;
  }
  EXPECT_EQ(PodsOfApp(pods, "list-b").size(), 2u);
}

// Kinds pullfleet does not run are summarised in one line and nothing inside them is pulled,
// not the image-like values of a ConfigMap or a custom resource, nor a CloneSet's template.
TEST_F(ManifestsTest, OtherKindsAreSkippedInOneLineAndNothingInThemIsPulled) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1));
  CommandResult applied = ApplyOk("other-kinds.yaml");
  for (const char* line :
       {"namespace/tools created", "serviceaccount/builder created", "pod/toolbox created"}) {
    EXPECT_EQ(LinesWith(applied.output, line).size(), 1u) << line << "\n" << applied.output;
  }
  EXPECT_EQ(LinesWith(applied.output, "skipped"),
            std::vector<std::string>{"skipped kinds pullfleet does not run: CloneSet=1, "
                                     "ConfigMap=1, CustomResourceDefinition=1, ImageCache=1, "
                                     "Role=1, Service=1"})
      << applied.output;

  bool ready = false;
  const json pods = WaitAllReady(1, &ready);
  ASSERT_TRUE(ready) << Failure(pods);
  EXPECT_EQ(FindPod(pods, "toolbox").value("/metadata/namespace"_json_pointer, ""), "tools");
  CommandResult images = cluster_->Client("get images --node node-1 -o json");
  ASSERT_EQ(images.exit_code, 0) << images.output;
  EXPECT_NE(images.output.find("pf/busybox"), std::string::npos) << images.output;
  EXPECT_EQ(images.output.find("pf/sidecar"), std::string::npos) << images.output;
}

// Placeholders left in published manifests give their containers InvalidImageName; every
// other container and object of the file is applied and pulled.
TEST_F(ManifestsTest, PlaceholderImagesGiveInvalidImageNameAndTheRestApplies) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1));
  CommandResult applied = ApplyOk("invalid-images.yaml");
  EXPECT_EQ(LinesWith(applied.output, "deployment.apps/private-app created").size(), 1u)
      << applied.output;
  bool met = false;
  const json pods = PollPods(
      [](const json& list) {
        if (list["items"].size() != 4) return false;
        const auto apps = PodsOfApp(list, "private-app");
        const bool deployment_done =
            apps.size() == 2 && std::all_of(apps.begin(), apps.end(), [](const auto& entry) {
              auto statuses = StatusesByName(entry.second);
              return WaitingReason(statuses["app"]) == "InvalidImageName" &&
                     statuses["helper"].value("ready", false);
            });
        const json db = FindPod(list, "templated-db");
        const json plain = FindPod(list, "plain");
        return deployment_done && !db.is_null() &&
               WaitingReason(StatusesByName(db)["mysql"]) == "InvalidImageName" &&
               !plain.is_null() && ImagesReady(plain);
      },
      &met);
  ASSERT_TRUE(met) << Failure(pods);
  const auto app = StatusesByName(PodsOfApp(pods, "private-app").begin()->second)["app"];
  EXPECT_NE(WaitingMessage(app).find("<your-private-image>"), std::string::npos)
      << WaitingMessage(app);
  const auto mysql = StatusesByName(FindPod(pods, "templated-db"))["mysql"];
  EXPECT_NE(WaitingMessage(mysql).find("$imageMysql"), std::string::npos) << WaitingMessage(mysql);
}

// A document that is not YAML, or an object without metadata.name or kind, is reported with
// the file, the document and the line, and nothing of what was given is applied.
TEST_F(ManifestsTest, InvalidDocumentsAreReportedAndNothingIsApplied) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1));
  struct Case {
    std::string file;
    std::string document;
    std::string what;           // a word the error must contain
    int first_line, last_line;  // the lines of that document
  };
  const std::vector<Case> cases = {{"bad-yaml.yaml", "document 2", "", 10, 17},
                                   {"no-name.yaml", "document 2", "missing metadata.name", 10, 23},
                                   {"no-kind.yaml", "document 1", "missing kind", 1, 7}};
  for (const auto& c : cases) {
    const std::string path = Stage(c.file);
    CommandResult applied = cluster_->Client("apply -f " + ShellQuote(path));
    EXPECT_EQ(applied.exit_code, 1) << c.file << ": " << applied.output;
    EXPECT_NE(applied.output.find(path + ": " + c.document), std::string::npos)
        << c.file << ": " << applied.output;
    const size_t at = applied.output.find(c.document);
    const std::string error = at == std::string::npos ? "" : applied.output.substr(at);
    EXPECT_NE(error.find(c.what), std::string::npos) << c.file << ": " << applied.output;
    const int line = LineNumberIn(error);
    EXPECT_GE(line, c.first_line) << c.file << ": " << applied.output;
    EXPECT_LE(line, c.last_line) << c.file << ": " << applied.output;
    EXPECT_TRUE(LinesWith(applied.output, "created").empty()) << applied.output;
  }
  // A good file given with a bad one is not applied either.
  CommandResult applied = cluster_->Client("apply -f " + ShellQuote(Stage("paths/stdin.yaml")) +
                                           " -f " + ShellQuote(Stage("bad-yaml.yaml")));
  EXPECT_EQ(applied.exit_code, 1) << applied.output;

  auto pods = cluster_->GetPods();
  ASSERT_TRUE(pods.ok()) << pods.error().message();
  EXPECT_TRUE((*pods)["items"].empty()) << pods->dump(1);
}

// An image on a registry that cannot be reached (a loopback port where nothing listens) is a
// pull failure of its pod, ErrImagePull then ImagePullBackOff, not an error of `apply`.
TEST_F(ManifestsTest, UnreachableRegistryGivesErrImagePullThenImagePullBackOff) {
  // A resync slow enough to see ErrImagePull before the backoff shows.
  ASSERT_NO_FATAL_FAILURE(
      StartCluster(1, ClusterMode::kEmbedded,
                   "imagePullBackOff:\n  initialSeconds: 2\n  maxSeconds: 4\nresyncSeconds: 1\n"));
  const std::string port = std::to_string(testing::FreeLoopbackPort());
  std::string yaml = Manifest("unreachable.yaml");
  for (size_t at = yaml.find("DEADPORT"); at != std::string::npos; at = yaml.find("DEADPORT")) {
    yaml.replace(at, 8, port);
  }
  CommandResult applied = cluster_->Apply("unreachable.yaml", yaml);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_EQ(LinesWith(applied.output, "pod/unreachable created").size(), 1u) << applied.output;

  std::vector<std::string> reasons;  // as polled, repeats folded
  std::string error_message;
  bool met = false;
  const json pods = PollPods(
      [&](const json& list) {
        const json pod = FindPod(list, "unreachable");
        const json other = FindPod(list, "reachable");
        if (pod.is_null() || other.is_null()) return false;
        const auto status = StatusesByName(pod)["main"];
        const std::string reason = WaitingReason(status);
        if (reason == "ErrImagePull") error_message = WaitingMessage(status);
        if (reason == "ErrImagePull" || reason == "ImagePullBackOff") {
          if (reasons.empty() || reasons.back() != reason) reasons.push_back(reason);
        }
        return reasons.size() >= 2 && ImagesReady(other);
      },
      &met, std::chrono::seconds(45));
  ASSERT_TRUE(met) << Failure(pods);
  EXPECT_EQ(reasons[0], "ErrImagePull");
  EXPECT_EQ(reasons[1], "ImagePullBackOff");
  EXPECT_NE(error_message.find("127.0.0.1:" + port), std::string::npos) << error_message;
}

// `images list` plans a rollout from manifests alone: each image normalised, its defaulted
// policies, the objects using it and their pods, invalid names apart; ConfigMap values are no
// images. Files, stdin and JSON.
TEST_F(ManifestsTest, ImagesListPlansTheImagesOfManifests) {
  const std::string a = kManifests + "plan-a.yaml";
  const std::string b = kManifests + "plan-b.yaml";
  CommandResult listed = testing::RunCommand(ShellQuote(kBinary) + " images list -o json -f " +
                                             ShellQuote(a) + " -f - < " + ShellQuote(b));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  const json plan = json::parse(listed.output, nullptr, false);
  ASSERT_FALSE(plan.is_discarded()) << listed.output;

  std::map<std::string, json> images;
  for (const auto& image : plan["images"]) images[image.value("reference", "")] = image;
  ASSERT_EQ(images.size(), 2u) << plan.dump(1);
  const json busybox = images["docker.io/library/busybox:latest"];
  ASSERT_FALSE(busybox.is_null()) << plan.dump(1);
  EXPECT_EQ(busybox["written"], json::array({"busybox", "docker.io/library/busybox:latest",
                                             "index.docker.io/library/busybox"}));
  EXPECT_EQ(busybox["pullPolicies"], json::array({"Always"}));
  EXPECT_EQ(busybox.value("pods", -1), 4);  // the Deployment's 3 and the Pod
  EXPECT_EQ(busybox.value("podsPerNode", -1), 1);
  std::set<std::string> users;
  for (const auto& user : busybox["usedBy"]) {
    users.insert(user.value("namespace", "") + "/" + user.value("kind", "") + "/" +
                 user.value("name", ""));
  }
  EXPECT_EQ(users, (std::set<std::string>{"shop/Deployment/web", "default/DaemonSet/logs",
                                          "default/Pod/tool"}));

  const json web = images["registry.example.com/shop/web:2.1"];
  ASSERT_FALSE(web.is_null()) << plan.dump(1);
  EXPECT_EQ(web["pullPolicies"], json::array({"Always", "IfNotPresent"}));
  EXPECT_EQ(web.value("pods", -1), 3);
  EXPECT_TRUE(web.value("prePull", false));

  ASSERT_EQ(plan["invalidImages"].size(), 1u) << plan.dump(1);
  EXPECT_EQ(plan["invalidImages"][0].value("image", ""), "<YOUR-IMAGE>");

  CommandResult table = testing::RunCommand(ShellQuote(kBinary) + " images list -f " +
                                            ShellQuote(a) + " -f " + ShellQuote(b));
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_EQ(LinesWith(table.output, "docker.io/library/busybox:latest").size(), 1u) << table.output;
  EXPECT_EQ(table.output.find("never/pulled"), std::string::npos) << table.output;
}

// Input with no object at all is refused before any coordinator is asked (as kubectl does).
TEST(ApplyInput, NothingToApplyIsAnError) {
  for (const std::string& input :
       {std::string("/dev/null"), std::string("<(printf -- '---\\n')")}) {
    SCOPED_TRACE(input);
    CommandResult applied = testing::RunCommand(
        "bash -c \"" PULLFLEET_BINARY_DIR "/cmd/pullfleet apply -f - --server 127.0.0.1:9 < " +
        input + " 2>&1\"");
    EXPECT_EQ(applied.exit_code, 1) << applied.output;
    EXPECT_NE(applied.output.find("error: no objects passed to apply"), std::string::npos)
        << applied.output;
  }
}

}  // namespace
}  // namespace pullfleet::e2e
