// End-to-end tests of issue 5: a fleet that survives killing. A coordinator process and node
// processes of the real binary, against the real registry (through a throttling relay where a
// pull must last long enough to be interrupted). Processes are killed (SIGKILL), frozen
// (SIGSTOP), restarted and added while pods run, and node actors are killed with
// `pullfleet chaos`; then every pod must reach the state it must, and the stores must be sound.
//
// Nothing here asserts on timing: every wait polls with a generous bound, and the detection
// and reconnect times are printed as figures only.
#include <openssl/evp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/cluster.h"
#include "tests/support/throttle_proxy.h"

namespace pullfleet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::RegistrySuite;
using testing::TempDir;
using testing::ThrottleProxy;

constexpr auto kLongWait = std::chrono::seconds(90);
// Short enough for the tests to watch a node be lost, long enough that a loaded machine never
// loses one by accident.
constexpr const char* kGraceSeconds = "4";
// Every node may be chaos-tested; backoffs and reconnects are short so recovery is quick.
constexpr const char* kNodeConfig = R"(allowChaos: true
imagePullBackOff: {initialSeconds: 1, maxSeconds: 2}
coordinatorReconnect: {initialSeconds: 0.1, maxSeconds: 1}
)";

// A pod of one container, pinned to `node` when it is not empty.
std::string PodManifest(const std::string& name, const std::string& image,
                        const std::string& node = "") {
  std::string text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
                     "\nspec:\n  containers:\n    - name: main\n      image: " + image + "\n";
  if (!node.empty()) text += "  nodeSelector:\n    kubernetes.io/hostname: " + node + "\n";
  return text;
}

std::string DeploymentManifest(const std::string& name, int replicas, const std::string& image) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
         "\nspec:\n  replicas: " + std::to_string(replicas) +
         "\n  selector:\n    matchLabels:\n      app: " + name +
         "\n  template:\n    metadata:\n      labels:\n        app: " + name +
         "\n    spec:\n      containers:\n        - name: main\n          image: " + image + "\n";
}

std::string NodeOf(const json& pod) {
  return pod.value("/spec/nodeName"_json_pointer, std::string());
}

std::string ConditionReason(const json& pod, const std::string& type) {
  for (const auto& c : pod.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == type) return c.value("reason", "");
  }
  return "";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A fleet started by deploy/local-fleet.sh: the coordinator and every node in a network
// namespace of its own, on a bridge this test creates. Stopped and removed when it dies.
class NamespacedFleet {
 public:
  NamespacedFleet() {
    // Names and a /24 of this process only, so parallel runs do not meet.
    const int pid = static_cast<int>(getpid());
    prefix_ = "pf" + std::to_string(pid % 100000);
    subnet_ = "10." + std::to_string(100 + pid % 100) + "." + std::to_string(pid / 100 % 250);
  }
  ~NamespacedFleet() {
    if (started_) Script("down");
  }

  Status Up(const std::string& data, int nodes, const std::string& node_config_file) {
    started_ = true;  // `down` cleans up whatever part of `up` happened
    CommandResult up = Script(
        "up --nodes " + std::to_string(nodes) + " --data " + testing::ShellQuote(data) +
        " --binary " + testing::ShellQuote(PULLFLEET_BINARY_DIR "/cmd/pullfleet") +
        " --node-config " + testing::ShellQuote(node_config_file) + " -- --node-grace-seconds 60");
    if (up.exit_code != 0) return Error(ErrorCode::kInternal, "local-fleet.sh up: " + up.output);
    return Status::Ok();
  }

  // The bridge's address in the root namespace: the nodes reach the test's relay there.
  std::string bridge() const { return subnet_ + ".254"; }
  CommandResult Script(const std::string& args) const {
    // The options go before `--`, which passes the rest to the coordinator.
    std::string line = args;
    const std::string tail = " --prefix " + prefix_ + " --subnet " + subnet_;
    const auto dashes = line.find(" -- ");
    if (dashes == std::string::npos) {
      line += tail;
    } else {
      line.insert(dashes, tail);
    }
    return testing::RunCommand(PULLFLEET_SOURCE_DIR "/deploy/local-fleet.sh " + line + " 2>&1");
  }
  CommandResult Client(const std::string& args) const {
    return testing::RunCommand("timeout -k 5 45 " PULLFLEET_BINARY_DIR "/cmd/pullfleet " + args +
                               " --server " + subnet_ + ".1:7400 2>&1");
  }
  std::map<std::string, std::string> NodeStates() const {
    std::map<std::string, std::string> states;
    std::istringstream lines(Client("get nodes").output);
    std::string name, state;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      if (words >> name >> state && name != "NAME") states[name] = state;
    }
    return states;
  }
  Result<json> Pods() const {
    CommandResult result = Client("get pods -o json");
    json parsed = json::parse(result.output, nullptr, false);
    if (result.exit_code != 0 || !parsed.is_object()) {
      return Error(ErrorCode::kInternal, "get pods: " + result.output);
    }
    return parsed;
  }

 private:
  std::string prefix_;
  std::string subnet_;
  bool started_ = false;
};

class SurvivalTest : public RegistrySuite<SurvivalTest> {
 protected:
  void StartCluster(int nodes, const std::string& node_config = kNodeConfig,
                    std::vector<std::string> node_args = {}) {
    ClusterOptions options;
    options.mode = ClusterMode::kProcesses;
    options.nodes = nodes;
    options.data_dir = data_.path();
    options.node_config_yaml = node_config;
    options.coordinator_args = {"--node-grace-seconds", kGraceSeconds};
    options.node_args = std::move(node_args);
    auto started = Cluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.error().message();
    cluster_ = std::move(started).value();
  }

  // A relay in front of the registry that releases `bytes_per_second` per connection.
  void StartSlowRelay(size_t bytes_per_second) {
    auto proxy = ThrottleProxy::Start(registry().host(), bytes_per_second);
    ASSERT_TRUE(proxy.ok()) << proxy.error().message();
    relay_ = std::move(proxy).value();
  }

  void Apply(const std::string& file, const std::string& yaml) {
    CommandResult applied = cluster_->Apply(file, yaml);
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
  }

  // Polls `get pods` until `done` holds; returns whether it did, the last list in `*last`.
  bool PollPods(const std::function<bool(const json&)>& done, json* last,
                std::chrono::milliseconds timeout = kLongWait) {
    return cluster_->PollPods(done, timeout, last, std::chrono::milliseconds(200));
  }

  bool AllReady(const json& pods, size_t count) { return AllImagesReady(pods, count); }

  bool WaitNodeState(const std::string& node, const std::string& state) {
    return WaitUntil([&] { return cluster_->NodeStates()[node] == state; }, kLongWait,
                     std::chrono::milliseconds(100));
  }

  // Applies pod "slow" of pf/big:1.0 through the relay, pinned to `node`, and returns once
  // its pull is under way (a MiB through the relay).
  void StartSlowPull(const std::string& node) {
    ASSERT_NO_FATAL_FAILURE(
        Apply("slow.yaml", PodManifest("slow", relay_->host() + "/pf/big:1.0", node)));
    ASSERT_TRUE(WaitUntil([&] { return relay_->bytes_relayed() > (1u << 20); }, kLongWait))
        << cluster_->LogTails();
  }

  // Waits until a line of `process`'s log holds every one of `parts`.
  bool WaitLogLine(const std::string& process, const std::vector<std::string>& parts) {
    const std::string log = cluster_->LogFile(process);
    return WaitUntil(
        [&] {
          std::istringstream lines(ReadAll(log));
          for (std::string line; std::getline(lines, line);) {
            bool all = true;
            for (const auto& part : parts) all = all && line.find(part) != std::string::npos;
            if (all) return true;
          }
          return false;
        },
        kLongWait);
  }

  // `chaos list|kill ... -o json`, parsed; null when the command failed.
  json Chaos(const std::string& args) {
    CommandResult result = cluster_->Client("chaos " + args + " -o json");
    if (result.exit_code != 0) {
      ADD_FAILURE() << "chaos " << args << ": " << result.output;
      return nullptr;
    }
    return json::parse(result.output, nullptr, false);
  }

  // Every blob in the node's store hashes to its name; returns how many were checked.
  int CheckBlobs(const std::string& node) {
    int checked = 0;
    const fs::path blobs = fs::path(cluster_->StoreDir(node)) / "blobs" / "sha256";
    if (!fs::exists(blobs)) return 0;
    for (const auto& entry : fs::directory_iterator(blobs)) {
      EXPECT_EQ(Sha256OfFile(entry.path()), entry.path().filename().string())
          << node << ": " << entry.path();
      ++checked;
    }
    return checked;
  }

  // Bytes in the node's ingest folder (partial blobs).
  int64_t PartialBytes(const std::string& node) {
    int64_t total = 0;
    const fs::path ingest = fs::path(cluster_->StoreDir(node)) / "ingest";
    std::error_code ec;
    if (!fs::exists(ingest, ec)) return 0;
    for (const auto& entry : fs::directory_iterator(ingest, ec)) {
      total += static_cast<int64_t>(entry.file_size(ec));
    }
    return total;
  }

  std::string Failure(const json& pods) {
    return "last pods: " + pods.dump(1).substr(0, 5000) + "\n" + cluster_->LogTails();
  }

  TempDir data_{"pf-survival-"};
  std::unique_ptr<ThrottleProxy> relay_;  // outlives nothing: the cluster stops first
  std::unique_ptr<Cluster> cluster_;
};

// A killed coordinator: its nodes go on pulling, reconnect when it is back, and the statuses
// and events it missed arrive; every pod it had is still there, and new pods flow again.
TEST_F(SurvivalTest, CoordinatorKilledNodesServeOnAndReconcile) {
  ASSERT_NO_FATAL_FAILURE(StartSlowRelay(8 << 20));  // the 40 MiB image takes about 5 s
  ASSERT_NO_FATAL_FAILURE(StartCluster(2));
  ASSERT_NO_FATAL_FAILURE(
      Apply("first.yaml", PodManifest("first", registry().host() + "/pf/busybox:1.36")));
  json pods;
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 1); }, &pods)) << Failure(pods);

  // The slow pull starts, then the coordinator dies under it.
  ASSERT_NO_FATAL_FAILURE(StartSlowPull("node-2"));
  ASSERT_TRUE(cluster_->Signal("coordinator", SIGKILL).ok());

  // The node finishes the pull on its own.
  ASSERT_TRUE(WaitLogLine("node-2", {"pf/big:1.0 ", " pulled in "})) << cluster_->LogTails();

  const auto restarted = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster_->Launch("coordinator").ok());
  ASSERT_TRUE(WaitNodeState("node-1", "Ready") && WaitNodeState("node-2", "Ready"))
      << cluster_->LogTails();
  std::cout << "[figures] both nodes registered again " << SecondsSince(restarted)
            << " s after the coordinator was restarted\n";

  // Both pods are there; the one that finished while the coordinator was away is reported.
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 2); }, &pods)) << Failure(pods);
  EXPECT_EQ(NodeOf(FindPod(pods, "slow")), "node-2");
  CommandResult events = cluster_->Client("get events -o json");
  ASSERT_EQ(events.exit_code, 0) << events.output;
  json list = json::parse(events.output, nullptr, false);
  bool pulled_event = false;
  for (const auto& event : list.value("items", json::array())) {
    pulled_event |= event.value("/involvedObject/name"_json_pointer, std::string()) == "slow" &&
                    event.value("reason", "") == "Pulled";
  }
  EXPECT_TRUE(pulled_event) << "the Pulled event of the pod that finished while the coordinator "
                               "was away is missing: "
                            << events.output.substr(0, 3000);

  // New work flows through the new connection.
  ASSERT_NO_FATAL_FAILURE(
      Apply("after.yaml", PodManifest("after", registry().host() + "/pf/sidecar:1.0", "node-1")));
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 3); }, &pods)) << Failure(pods);
  EXPECT_GT(CheckBlobs("node-2"), 0);
}

// Events a node sent while the coordinator was frozen sat in a socket buffer that died with
// the coordinator: the node believed them delivered. They must arrive all the same, once: at
// registration the coordinator says which of the pod's events it holds, and the node sends
// the rest.
TEST_F(SurvivalTest, EventsSentToACoordinatorThatThenDiedAreSentAgain) {
  ASSERT_NO_FATAL_FAILURE(StartSlowRelay(8 << 20));  // the 40 MiB image takes about 5 s
  // The node must not notice the freeze on its own: then it would hold the events back.
  ASSERT_NO_FATAL_FAILURE(
      StartCluster(1, kNodeConfig, {"--heartbeat-ms", "500", "--connection-timeout-ms", "60000"}));
  ASSERT_NO_FATAL_FAILURE(StartSlowPull("node-1"));
  ASSERT_TRUE(cluster_->Signal("coordinator", SIGSTOP).ok());

  ASSERT_TRUE(WaitLogLine("node-1", {"pf/big:1.0 ", " pulled in "})) << cluster_->LogTails();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the report is on its way
  ASSERT_TRUE(cluster_->Signal("coordinator", SIGKILL).ok());
  ASSERT_TRUE(cluster_->Launch("coordinator").ok());
  ASSERT_TRUE(WaitNodeState("node-1", "Ready")) << cluster_->LogTails();

  json pods;
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 1); }, &pods)) << Failure(pods);
  std::map<std::string, int64_t> counts;  // by reason, for the pod
  CommandResult events;
  ASSERT_TRUE(WaitUntil(
      [&] {
        events = cluster_->Client("get events -o json");
        json list = json::parse(events.output, nullptr, false);
        if (events.exit_code != 0 || !list.is_object()) return false;
        counts.clear();
        for (const auto& event : list.value("items", json::array())) {
          if (event.value("/involvedObject/name"_json_pointer, std::string()) != "slow") continue;
          counts[event.value("reason", "")] += event.value("count", int64_t{1});
        }
        return counts["Pulled"] > 0;
      },
      std::chrono::seconds(20)))
      << "the Pulled event sent to the frozen coordinator never arrived: "
      << events.output.substr(0, 3000) << cluster_->LogTails();
  EXPECT_EQ(counts["Pulling"], 1) << events.output.substr(0, 3000);  // sent again, kept once
  EXPECT_EQ(counts["Pulled"], 1) << events.output.substr(0, 3000);
}

// A frozen node is noticed by heartbeats; pods deleted and created for it meanwhile are
// reconciled when it thaws.
TEST_F(SurvivalTest, FrozenNodeIsDetectedAndReconcilesAfterThaw) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(2));
  ASSERT_NO_FATAL_FAILURE(
      Apply("keep.yaml", PodManifest("gone", registry().host() + "/pf/busybox:1.36", "node-2")));
  json pods;
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 1); }, &pods)) << Failure(pods);

  const auto frozen = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster_->Signal("node-2", SIGSTOP).ok());
  const bool detected = WaitNodeState("node-2", "NotReady");
  std::cout << "[figures] frozen node seen NotReady after " << SecondsSince(frozen)
            << " s (heartbeat 500 ms, connection timeout 2 s)\n";
  if (!detected) (void)cluster_->Signal("node-2", SIGCONT);
  ASSERT_TRUE(detected) << cluster_->LogTails();

  // While it is away: one of its pods is deleted, another is created for it.
  CommandResult deleted = cluster_->Client("delete pod gone");
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  ASSERT_NO_FATAL_FAILURE(
      Apply("new.yaml", PodManifest("new", registry().host() + "/pf/sidecar:1.0", "node-2")));

  const auto thawed = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster_->Signal("node-2", SIGCONT).ok());
  ASSERT_TRUE(WaitNodeState("node-2", "Ready")) << cluster_->LogTails();
  std::cout << "[figures] thawed node Ready again after " << SecondsSince(thawed) << " s\n";
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 1); }, &pods)) << Failure(pods);
  EXPECT_EQ(PodName(pods["items"][0]), "new");
  EXPECT_EQ(NodeOf(pods["items"][0]), "node-2");
  // The deleted pod's chain is gone from the node: one chain, the new pod's.
  json live = Chaos("list --node node-2");
  ASSERT_TRUE(live.is_object());
  EXPECT_EQ(live["live"].value("pod-chain", -1), 1) << live.dump();
}

// A frozen coordinator is noticed by its nodes' own pings (CAF's heartbeats are off in node
// processes); they keep serving, and register again once it thaws, with a pod applied before
// the freeze still ImagesReady.
TEST_F(SurvivalTest, FrozenCoordinatorIsNoticedByItsNodesWhichRegisterAgainAfterThaw) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(2));
  ASSERT_NO_FATAL_FAILURE(
      Apply("kept.yaml", PodManifest("kept", registry().host() + "/pf/busybox:1.36", "node-1")));
  json pods;
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 1); }, &pods)) << Failure(pods);
  auto log_count = [&](const std::string& node, const std::string& needle) {
    std::ifstream in(cluster_->LogFile(node));
    const std::string text(std::istreambuf_iterator<char>(in), {});
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  const int registrations_before = log_count("node-1", "registered with the coordinator");

  const auto frozen = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster_->Signal("coordinator", SIGSTOP).ok());
  const bool noticed = WaitUntil(
      [&] {
        return log_count("node-1", "no answer to a ping") > 0 &&
               log_count("node-2", "no answer to a ping") > 0;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
  const double noticed_after = SecondsSince(frozen);
  std::cout << "[figures] frozen coordinator noticed by both nodes after " << noticed_after
            << " s (pings every 500 ms, answer timeout 2 s)\n";
  ASSERT_TRUE(cluster_->Signal("coordinator", SIGCONT).ok());
  ASSERT_TRUE(noticed) << cluster_->LogTails();
  EXPECT_GE(noticed_after, 1.5);  // not before the answer timeout
  EXPECT_LE(noticed_after, 5.0);

  // Thawed: each node registers again, once, and the pod is still there and ready.
  ASSERT_TRUE(WaitUntil(
      [&] { return log_count("node-1", "registered with the coordinator") > registrations_before; },
      kLongWait))
      << cluster_->LogTails();
  ASSERT_TRUE(WaitNodeState("node-1", "Ready") && WaitNodeState("node-2", "Ready"))
      << cluster_->LogTails();
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 1); }, &pods)) << Failure(pods);
  EXPECT_EQ(PodName(pods["items"][0]), "kept");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(log_count("node-1", "registered with the coordinator"), registrations_before + 1)
      << "one registration per outage, not one per unanswered ping";
}

// A second process with a connected node's name is refused (it would take the node's pods);
// the first keeps working, and is still Ready after the second gave up.
TEST_F(SurvivalTest, ASecondProcessWithATakenNodeNameIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1));
  const std::string log = data_.path() + "/impostor.log";
  CommandResult impostor = testing::RunCommand(
      "timeout 4 " PULLFLEET_BINARY_DIR "/cmd/pullfleet node --name node-1 --coordinator " +
      cluster_->server() + " --data " + testing::ShellQuote(data_.path() + "/impostor") + " > " +
      testing::ShellQuote(log) + " 2>&1");
  EXPECT_EQ(impostor.exit_code, 124) << "the second process should run until the timeout";
  std::ifstream in(log);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(text.find("the coordinator refused the registration: node name node-1 is held by "
                      "another connected process"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("registered with the coordinator"), std::string::npos) << text;

  std::this_thread::sleep_for(std::chrono::seconds(3));  // past the connection timeout
  EXPECT_EQ(cluster_->NodeStates()["node-1"], "Ready") << cluster_->LogTails();
  ASSERT_NO_FATAL_FAILURE(
      Apply("after.yaml", PodManifest("after", registry().host() + "/pf/busybox:1.36", "node-1")));
  json pods;
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 1); }, &pods)) << Failure(pods);
}

// A node gone past the grace period: its own pods are reported NodeLost, the Deployment's are
// replaced on nodes that are up; a node added meanwhile takes pods; the lost node comes back
// with the pods that are still its own.
TEST_F(SurvivalTest, LostNodePodsReportedAndDeploymentKeepsReplicas) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  const std::string busybox = registry().host() + "/pf/busybox:1.36";
  // The replicas first, so that the least-loaded placement puts one on every node.
  ASSERT_NO_FATAL_FAILURE(Apply("workers.yaml", DeploymentManifest("workers", 3, busybox)));
  ASSERT_NO_FATAL_FAILURE(Apply("solo.yaml", PodManifest("solo", busybox, "node-3")));
  json pods;
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 4); }, &pods)) << Failure(pods);
  int workers_on_node_3 = 0;
  for (const auto& pod : pods["items"]) {
    workers_on_node_3 += PodName(pod) != "solo" && NodeOf(pod) == "node-3" ? 1 : 0;
  }
  ASSERT_EQ(workers_on_node_3, 1) << Failure(pods);

  ASSERT_TRUE(cluster_->Signal("node-3", SIGKILL).ok());
  const auto killed = std::chrono::steady_clock::now();
  auto settled = [&](const json& p) {
    int workers_ready = 0, workers = 0;
    bool solo_lost = false;
    for (const auto& pod : p["items"]) {
      if (PodName(pod) == "solo") {
        solo_lost = PodCondition(pod, "ImagesReady") == "Unknown" &&
                    ConditionReason(pod, "ImagesReady") == "NodeLost";
        continue;
      }
      ++workers;
      if (NodeOf(pod) == "node-3") return false;
      workers_ready += ImagesReady(pod) ? 1 : 0;
    }
    return solo_lost && workers == 3 && workers_ready == 3;
  };
  ASSERT_TRUE(PollPods(settled, &pods)) << Failure(pods);
  std::cout << "[figures] killed node's pods reported lost and replaced after "
            << SecondsSince(killed) << " s (grace " << kGraceSeconds << " s)\n";

  // The lost node comes back: its own pod is ready again, the replaced ones are not its any
  // more, and the Deployment still has three.
  ASSERT_TRUE(cluster_->Launch("node-3").ok());
  ASSERT_TRUE(WaitNodeState("node-3", "Ready")) << cluster_->LogTails();

  // A node joins while pods run and takes new ones.
  ASSERT_TRUE(cluster_->AddNode("node-4", kNodeConfig).ok()) << cluster_->LogTails();
  ASSERT_NO_FATAL_FAILURE(Apply("late.yaml", PodManifest("late", busybox, "node-4")));
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 5); }, &pods)) << Failure(pods);
  EXPECT_EQ(NodeOf(FindPod(pods, "late")), "node-4");
  EXPECT_EQ(NodeOf(FindPod(pods, "solo")), "node-3");
  json live = Chaos("list --node node-3");
  ASSERT_TRUE(live.is_object());
  EXPECT_EQ(live["live"].value("pod-chain", -1), 1) << live.dump();
}

// Every kind of node actor killed, again and again, while images are pulled: each is
// restarted, the work it held is retried, and every pod gets its images, with sound blobs.
TEST_F(SurvivalTest, ChaosKillsEveryKindAndEveryPodStillGetsItsImages) {
  ASSERT_NO_FATAL_FAILURE(StartSlowRelay(6 << 20));
  const int metrics_port = testing::FreeLoopbackPort();
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, std::string(kNodeConfig) + "serializeImagePulls: false\n",
                                       {"--metrics", "127.0.0.1:" + std::to_string(metrics_port)}));
  const std::string slow = relay_->host();
  ASSERT_NO_FATAL_FAILURE(
      Apply("pods.yaml", PodManifest("big", slow + "/pf/big:1.0") + "---\n" +
                             PodManifest("small", slow + "/pf/busybox:1.36") + "---\n" +
                             DeploymentManifest("web", 2, slow + "/pf/app:v1")));

  // Kill each kind a few times while the pulls run (bounded: 3 rounds).
  const std::vector<std::string> kinds = {"transfer", "pull-queue", "pod-chain",
                                          "credential-resolver", "backoff"};
  std::map<std::string, int> killed;
  ASSERT_TRUE(WaitUntil([&] { return relay_->bytes_relayed() > (2u << 20); }, kLongWait))
      << cluster_->LogTails();
  for (int round = 0; round < 3; ++round) {
    for (const auto& kind : kinds) {
      json reply = Chaos("kill --node node-1 --actor " + kind + (round == 1 ? " --all" : ""));
      ASSERT_TRUE(reply.is_object());
      killed[kind] += reply.value("killed", 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // pacing, not a wait
    }
  }

  json pods;
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 4); }, &pods)) << Failure(pods);

  // Every kind was killed at least once and restarted as often; one of each service is live.
  json live = Chaos("list --node node-1");
  ASSERT_TRUE(live.is_object());
  std::cout << "[figures] chaos kills:";
  for (const auto& kind : kinds) std::cout << " " << kind << "=" << killed[kind];
  std::cout << "; restarts: " << live["restarts"].dump() << "\n";
  for (const auto& kind : kinds) {
    if (kind == "transfer") continue;  // only while a pull runs; may have been between pulls
    EXPECT_GE(killed[kind], 1) << kind;
    EXPECT_EQ(live["restarts"].value(kind, -1), killed[kind]) << kind << " " << live.dump();
  }
  EXPECT_GE(killed["transfer"], 1) << "no transfer was running during any round";
  EXPECT_EQ(live["restarts"].value("transfer", -1), killed["transfer"]) << live.dump();
  EXPECT_EQ(live["live"].value("pull-queue", 0), 1);
  EXPECT_EQ(live["live"].value("backoff", 0), 1);
  EXPECT_EQ(live["live"].value("credential-resolver", 0), 1);
  EXPECT_EQ(live["live"].value("pod-chain", 0), 4);
  EXPECT_EQ(live["live"].value("transfer", -1), 0);

  // The restarts are counted in the node's metrics too.
  CommandResult metrics =
      testing::RunCommand("curl -sf http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics");
  ASSERT_EQ(metrics.exit_code, 0) << metrics.output;
  const std::string series = "pullfleet_actor_restarts_total{kind=\"pull-queue\",node=\"node-1\"} ";
  const auto at = metrics.output.find(series);
  ASSERT_NE(at, std::string::npos) << metrics.output.substr(0, 4000);
  EXPECT_EQ(std::stod(metrics.output.substr(at + series.size())), killed["pull-queue"]);
  EXPECT_GE(CheckBlobs("node-1"), 5);

  // "in X (Y including waiting)": however the pulls were interrupted, Y is never below X.
  CommandResult events = cluster_->Client("get events -o json");
  json list = json::parse(events.output, nullptr, false);
  ASSERT_TRUE(list.is_object()) << events.output;
  int pulled = 0;
  for (const auto& event : list.value("items", json::array())) {
    if (event.value("reason", "") != "Pulled") continue;
    const std::string message = event.value("message", "");
    if (message.find("Successfully pulled") == std::string::npos) continue;
    ++pulled;
    EXPECT_GE(WaitMillisOf(message), PullMillisOf(message)) << message;
    EXPECT_GE(PullMillisOf(message), 0) << message;
  }
  EXPECT_GE(pulled, 4) << events.output.substr(0, 3000);
}

TEST_F(SurvivalTest, ChaosIsRefusedUnlessTheNodeAllowsIt) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, "resyncSeconds: 1\n"));
  CommandResult refused = cluster_->Client("chaos kill --node node-1 --actor pull-queue");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("Forbidden"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("allowChaos"), std::string::npos) << refused.output;
  CommandResult unknown = cluster_->Client("chaos list --node node-9");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("NotFound"), std::string::npos) << unknown.output;
}

// kill -9 of a node in the middle of a pull, then a restart with the same data folder: the
// interrupted pull resumes from the bytes on disk (Range), completed blobs are not fetched
// again, and the pod gets its image.
TEST_F(SurvivalTest, NodeKilledMidPullResumesFromTheBytesOnDisk) {
  ASSERT_NO_FATAL_FAILURE(StartSlowRelay(4 << 20));  // about 10 s for the 40 MiB image
  ASSERT_NO_FATAL_FAILURE(StartCluster(1, std::string(kNodeConfig) + "maxConcurrentBlobs: 1\n"));
  const int64_t big_size = std::stoll(registry().Env("BIG_SIZE"));
  ASSERT_NO_FATAL_FAILURE(Apply("big.yaml", PodManifest("big", relay_->host() + "/pf/big:1.0")));
  // Kill it once about a third is on disk (in finished blobs and a partial one).
  ASSERT_TRUE(WaitUntil([&] { return relay_->bytes_relayed() > static_cast<size_t>(big_size / 3); },
                        kLongWait))
      << cluster_->LogTails();
  ASSERT_TRUE(cluster_->Signal("node-1", SIGKILL).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // lets the relay see the reset
  const size_t relayed_before = relay_->bytes_relayed();
  int64_t on_disk = PartialBytes("node-1");
  const fs::path blobs = fs::path(cluster_->StoreDir("node-1")) / "blobs" / "sha256";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(blobs, ec)) on_disk += entry.file_size(ec);
  ASSERT_GT(on_disk, big_size / 10) << "too little on disk to tell a resume from a restart";

  ASSERT_TRUE(cluster_->Launch("node-1").ok());
  json pods;
  ASSERT_TRUE(PollPods([&](const json& p) { return AllReady(p, 1); }, &pods)) << Failure(pods);
  const size_t fetched_after = relay_->bytes_relayed() - relayed_before;
  std::cout << "[figures] " << on_disk << " of " << big_size << " bytes were on disk at the kill; "
            << fetched_after << " bytes fetched after the restart\n";
  // Only what was missing (plus manifests, headers and a chunk in flight) came again.
  EXPECT_LT(static_cast<int64_t>(fetched_after), big_size - on_disk + (1 << 20));
  EXPECT_NE(ReadAll(cluster_->LogFile("node-1")).find("pull was interrupted"), std::string::npos)
      << "the leftover pull intent was not reported at start-up";
  EXPECT_EQ(PartialBytes("node-1"), 0);
  EXPECT_GE(CheckBlobs("node-1"), 5);
}

// Nodes on their own addresses, each in a network namespace (deploy/local-fleet.sh), pulling
// through a relay on the bridge. A node whose network is cut (iptables DROP in its namespace)
// is noticed by heartbeats, keeps its pods, and reconciles the pods deleted and created
// meanwhile once the network is back.
TEST_F(SurvivalTest, NetworkCutInANamespaceIsDetectedAndHealed) {
  if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  const std::string dir = data_.path() + "/fleet";
  fs::create_directories(dir);
  NamespacedFleet fleet;
  // The relay's address goes into the node config before the nodes start.
  const int port = testing::FreeLoopbackPort();
  const std::string relay = fleet.bridge() + ":" + std::to_string(port);
  const std::string config_file = dir + "/node.yaml";
  std::ofstream(config_file) << kNodeConfig << "registries:\n  \"" << relay
                             << "\": {plainHTTP: true}\n";
  ASSERT_TRUE(fleet.Up(dir, 2, config_file).ok()) << fleet.Script("status").output;
  auto proxy = ThrottleProxy::Start(registry().host(), 64 << 20, testing::ProxyFault::kNone,
                                    fleet.bridge(), static_cast<uint16_t>(port));
  ASSERT_TRUE(proxy.ok()) << proxy.error().message();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto states = fleet.NodeStates();
        return states["node-1"] == "Ready" && states["node-2"] == "Ready";
      },
      kLongWait))
      << fleet.Client("get nodes").output;

  auto apply = [&](const std::string& name, const std::string& yaml) {
    const std::string file = dir + "/" + name;
    std::ofstream(file) << yaml;
    return fleet.Client("apply -f " + file);
  };
  auto ready_pods = [&](std::set<std::string> want) {
    return WaitUntil(
        [&] {
          auto pods = fleet.Pods();
          if (!pods.ok() || (*pods)["items"].size() != want.size()) return false;
          for (const auto& pod : (*pods)["items"]) {
            if (want.count(PodName(pod)) == 0 || !ImagesReady(pod)) return false;
          }
          return true;
        },
        kLongWait, std::chrono::milliseconds(200));
  };
  ASSERT_EQ(apply("a.yaml", PodManifest("one", relay + "/pf/busybox:1.36", "node-1") + "---\n" +
                                PodManifest("two", relay + "/pf/sidecar:1.0", "node-2"))
                .exit_code,
            0);
  ASSERT_TRUE(ready_pods({"one", "two"})) << fleet.Client("get pods -o wide").output;

  const auto cut = std::chrono::steady_clock::now();
  ASSERT_EQ(fleet.Script("cut node-2").exit_code, 0);
  const bool detected = WaitUntil([&] { return fleet.NodeStates()["node-2"] == "NotReady"; },
                                  kLongWait, std::chrono::milliseconds(100));
  std::cout << "[figures] cut-off node seen NotReady after " << SecondsSince(cut) << " s\n";
  if (!detected) fleet.Script("heal node-2");
  ASSERT_TRUE(detected) << fleet.Client("get nodes").output;

  ASSERT_EQ(fleet.Client("delete pod two").exit_code, 0);
  ASSERT_EQ(apply("b.yaml", PodManifest("three", relay + "/pf/app:v1", "node-2")).exit_code, 0);
  const auto healed = std::chrono::steady_clock::now();
  ASSERT_EQ(fleet.Script("heal node-2").exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return fleet.NodeStates()["node-2"] == "Ready"; }, kLongWait))
      << fleet.Client("get nodes").output;
  std::cout << "[figures] healed node Ready again after " << SecondsSince(healed) << " s\n";
  ASSERT_TRUE(ready_pods({"one", "three"})) << fleet.Client("get pods -o wide").output;
  json live = json::parse(fleet.Client("chaos list --node node-2 -o json").output, nullptr, false);
  ASSERT_TRUE(live.is_object());
  EXPECT_EQ(live["live"].value("pod-chain", -1), 1) << live.dump();
}

// Node names become parts of pod names and storage keys: a node refuses to start with one
// Kubernetes would refuse, and says which rule it breaks.
TEST(NodeName, InvalidNamesAreRefusedAtStart) {
  TempDir data("pf-nodename-");
  for (const std::string& name :
       {std::string("x/y"), std::string(""), std::string("Bad Name"), std::string(300, 'a')}) {
    SCOPED_TRACE(name);
    CommandResult started = testing::RunCommand(
        "timeout 10 " PULLFLEET_BINARY_DIR "/cmd/pullfleet node --name " +
        testing::ShellQuote(name) + " --data " + data.path() + " --coordinator 127.0.0.1:9 2>&1");
    EXPECT_EQ(started.exit_code, 1) << started.output;
    EXPECT_NE(started.output.find("invalid node name (--name)"), std::string::npos)
        << started.output;
    EXPECT_NE(started.output.find("RFC 1123"), std::string::npos) << started.output;
  }
}

}  // namespace
}  // namespace pullfleet::e2e
