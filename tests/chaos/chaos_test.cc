// The chaos suite of issue 5: a coordinator and three node processes of the real binary pull
// real images from the real registry (through a throttling relay, so pulls last long enough to
// be hit) while the suite, for a bounded time, again and again
//   - kills node actors of every kind in turn, on random nodes (`pullfleet chaos kill`),
//   - SIGKILLs node processes and restarts them on the same data folder,
//   - replaces a node by a fresh machine (SIGKILL, data folder wiped, restart): a full re-pull,
//   - SIGKILLs the coordinator and restarts it,
//   - freezes a node with SIGSTOP for a moment,
//   - cuts the network of a node that runs in a network namespace of its own (root only: the
//     other nodes and the coordinator stay in the root namespace), then heals it,
//   - deletes Deployment pods (their controller replaces them).
// Then everything is healed and it checks that every pod reaches the state it must (ImagesReady,
// or ErrImagePull/ImagePullBackOff for the image that does not exist), that every blob in every
// store hashes to its name, and that the counts add up: one pod chain per pod on the node the
// coordinator names, restarts equal to the kills since each process started. It prints what it
// did and what held.
//
// PULLFLEET_CHAOS_SECONDS sets the chaos phase (default 25: the CI version); PULLFLEET_CHAOS_SEED
// replays a run (the seed is printed). tests/chaos/run-long.sh runs it for longer.
#include <openssl/evp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <set>
#include <thread>

#include "tests/e2e/cluster.h"
#include "tests/e2e/netns_host.h"
#include "tests/support/throttle_proxy.h"

namespace pullfleet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::RegistrySuite;
using testing::TempDir;
using testing::ThrottleProxy;

constexpr int kNodes = 3;
// The node that runs in a network namespace of its own (when the suite runs as root).
constexpr const char* kNamespacedNode = "node-3";
constexpr auto kSettleTimeout = std::chrono::seconds(240);
// Nodes are never lost during chaos: restarts and freezes are shorter than this.
constexpr const char* kGraceSeconds = "20";
// Transfers first: the first kill comes while the first pulls run.
const std::vector<std::string> kKinds = {"transfer", "pull-queue", "pod-chain",
                                         "credential-resolver", "backoff"};

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value == nullptr || *value == '\0' ? fallback : std::atoi(value);
}

std::string Manifests(const std::string& relay) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: spread\nspec:\n"
         "  replicas: 6\n  selector:\n    matchLabels: {app: spread}\n  template:\n"
         "    metadata:\n      labels: {app: spread}\n    spec:\n      containers:\n"
         "        - {name: big, image: " +
         relay + "/pf/big:1.0}\n---\n" +
         "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: apps\nspec:\n"
         "  replicas: 3\n  selector:\n    matchLabels: {app: apps}\n  template:\n"
         "    metadata:\n      labels: {app: apps}\n    spec:\n      containers:\n"
         "        - {name: app, image: " +
         relay + "/pf/app:v1}\n        - {name: sidecar, image: " + relay +
         "/pf/sidecar:1.0}\n---\n" +
         "apiVersion: v1\nkind: Pod\nmetadata:\n  name: multi\nspec:\n  initContainers:\n"
         "    - {name: init, image: " +
         relay + "/pf/busybox:1.36}\n  containers:\n    - {name: main, image: " + relay +
         "/pf/multiarch:1.0}\n---\n" +
         "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\nspec:\n  containers:\n"
         "    - {name: main, image: " +
         relay + "/pf/does-not-exist:1.0}\n";
}

// What the suite did, by action, and per node the kills since that node's process started.
struct Ledger {
  std::map<std::string, int> actions;
  std::map<std::string, std::map<std::string, int64_t>> kills_since_start;  // node -> kind -> n
  std::map<std::string, int64_t> kills;  // kind -> n, over the whole run
  // Kills in node lifetimes that ended by SIGKILL: their log lines may be missing.
  std::map<std::string, int64_t> maybe_unlogged;
  int chaos_refused = 0;  // the node was restarting: nothing killed
  int long_cuts = 0;      // network cuts long enough that the coordinator must notice
};

class ChaosSuite : public RegistrySuite<ChaosSuite> {
 protected:
  void SetUp() override {
    RegistrySuite::SetUp();
    if (HasFatalFailure()) return;
    seed_ = static_cast<uint64_t>(
        EnvInt("PULLFLEET_CHAOS_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
    rng_.seed(seed_);
    // As root, one node gets a network namespace (and so a network that can be cut); the
    // coordinator and the relay then listen on the bridge, where every node reaches them.
    std::string listen_host = "127.0.0.1";
    if (geteuid() == 0) {
      auto host = NetnsHost::Create("pfc");
      ASSERT_TRUE(host.ok()) << host.error().message();
      netns_ = std::move(host).value();
      listen_host = netns_->bridge_address();
    }
    auto proxy =
        ThrottleProxy::Start(registry().host(), 24 << 20, testing::ProxyFault::kNone, listen_host);
    ASSERT_TRUE(proxy.ok()) << proxy.error().message();
    relay_ = std::move(proxy).value();
    ClusterOptions options;
    options.mode = ClusterMode::kProcesses;
    options.nodes = kNodes;
    options.data_dir = data_.path();
    options.listen_host = listen_host;
    options.node_config_yaml =
        "allowChaos: true\nserializeImagePulls: false\n"
        "imagePullBackOff: {initialSeconds: 1, maxSeconds: 4}\n"
        "coordinatorReconnect: {initialSeconds: 0.1, maxSeconds: 1}\n";
    if (netns_) {
      // Not loopback: plain HTTP must be allowed by name.
      options.node_config_yaml += "registries:\n  \"" + relay_->host() + "\": {plainHTTP: true}\n";
      options.node_launchers[kNamespacedNode] = netns_->Launcher();
    }
    options.coordinator_args = {"--node-grace-seconds", kGraceSeconds};
    auto started = Cluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.error().message();
    cluster_ = std::move(started).value();
  }

  template <class T>
  const T& Pick(const std::vector<T>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng_)];
  }
  int Between(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }

  // A kill -9 can come before a killed actor's restart was logged.
  void Restarted(const std::string& node) {
    for (const auto& [kind, n] : ledger_.kills_since_start[node]) ledger_.maybe_unlogged[kind] += n;
    ledger_.kills_since_start[node].clear();
  }

  void KillActor(const std::string& kind) {
    const std::string node = Pick(cluster_->NodeNames());
    const bool all = Between(0, 2) == 0;
    CommandResult result = cluster_->Client("chaos kill --node " + node + " --actor " + kind +
                                            (all ? " --all" : "") + " -o json");
    json reply = json::parse(result.output, nullptr, false);
    if (result.exit_code != 0 || !reply.is_object()) {
      ++ledger_.chaos_refused;  // the node or the coordinator was away at that moment
      return;
    }
    ledger_.actions["kill " + kind] += reply.value("killed", 0);
    ledger_.kills[kind] += reply.value("killed", 0);
    ledger_.kills_since_start[node][kind] += reply.value("killed", 0);
  }

  void KillNode(bool wipe) {
    const std::string node = Pick(cluster_->NodeNames());
    ASSERT_TRUE(cluster_->Signal(node, SIGKILL).ok());
    if (wipe) fs::remove_all(fs::path(data_.path()) / "nodes" / node);
    std::this_thread::sleep_for(std::chrono::milliseconds(Between(100, 1500)));
    ASSERT_TRUE(cluster_->Launch(node).ok());
    Restarted(node);
    ledger_.actions[wipe ? "node replaced (SIGKILL, wiped)" : "node SIGKILL+restart"]++;
  }

  void KillCoordinator() {
    ASSERT_TRUE(cluster_->Signal("coordinator", SIGKILL).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(Between(100, 1500)));
    ASSERT_TRUE(cluster_->Launch("coordinator").ok());
    ledger_.actions["coordinator SIGKILL+restart"]++;
  }

  void FreezeNode() {
    const std::string node = Pick(cluster_->NodeNames());
    ASSERT_TRUE(cluster_->Signal(node, SIGSTOP).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(Between(500, 3500)));
    ASSERT_TRUE(cluster_->Signal(node, SIGCONT).ok());
    ledger_.actions["node SIGSTOP+SIGCONT"]++;
  }

  // Cuts the namespaced node off (packets dropped, no resets) for 0.5-4.5 s: long enough, at
  // times, for both sides to declare the link lost (connection timeout 2 s), always shorter
  // than the grace period after which its pods would count as lost.
  void CutNetwork() {
    if (!netns_) {
      ledger_.actions["network cut skipped (not root)"]++;
      return;
    }
    const int cut_ms = Between(500, 4500);
    ASSERT_TRUE(netns_->Cut().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(cut_ms));
    ASSERT_TRUE(netns_->Heal().ok());
    // The coordinator detects the loss within about 2-2.5 s (heartbeats of 500 ms, timeout
    // 2 s); a cut of 3.5 s or more must be seen.
    if (cut_ms >= 3500) ++ledger_.long_cuts;
    ledger_.actions["node network cut+healed (namespace)"]++;
  }

  void DeleteDeploymentPod() {
    auto pods = cluster_->GetPods();
    if (!pods.ok()) return;
    std::vector<std::string> names;
    for (const auto& pod : (*pods)["items"]) {
      const std::string name = PodName(pod);
      if (name.rfind("spread-", 0) == 0 || name.rfind("apps-", 0) == 0) names.push_back(name);
    }
    if (names.empty()) return;
    if (cluster_->Client("delete pod " + Pick(names)).exit_code == 0) {
      ledger_.actions["deployment pod deleted"]++;
    }
  }

  // The next action. Kinds and actions take turns, so that even the short CI run hits each
  // of them; which node, which moment and how long are random.
  void NextAction(int step) {
    static const std::vector<int> kSchedule = {0, 1, 0, 6, 0, 2, 0, 3, 0, 4, 0, 5};
    switch (kSchedule[step % kSchedule.size()]) {
      case 0:
        return KillActor(kKinds[(step / 2) % kKinds.size()]);
      case 1:
        return KillNode(false);
      case 2:
        return FreezeNode();
      case 3:
        return KillCoordinator();
      case 4:
        return DeleteDeploymentPod();
      case 5:
        return KillNode(true);
      default:
        return CutNetwork();
    }
  }

  // Every process runs, none is frozen, no network is cut.
  void Heal() {
    if (netns_) ASSERT_TRUE(netns_->Heal().ok());
    for (const auto& node : cluster_->NodeNames()) {
      if (cluster_->Running(node)) (void)cluster_->Signal(node, SIGCONT);
    }
  }

  // The state every pod must reach; `why` says what is still missing.
  bool Settled(const json& pods, std::string* why) {
    std::map<std::string, int> ready_by_owner;
    bool multi = false, broken = false;
    for (const auto& pod : pods["items"]) {
      const std::string name = PodName(pod);
      if (name == "broken") {
        for (const auto& [container, status] : StatusesByName(pod)) {
          const std::string reason = WaitingReason(status);
          broken = (reason == "ErrImagePull" || reason == "ImagePullBackOff") &&
                   WaitingMessage(status).find("does-not-exist") != std::string::npos;
        }
        continue;
      }
      if (!ImagesReady(pod)) {
        *why = name + " not ImagesReady";
        return false;
      }
      if (name == "multi") multi = true;
      if (name.rfind("spread-", 0) == 0) ready_by_owner["spread"]++;
      if (name.rfind("apps-", 0) == 0) ready_by_owner["apps"]++;
    }
    if (pods["items"].size() != 11) {
      *why = std::to_string(pods["items"].size()) + " pods, not 11";
      return false;
    }
    if (ready_by_owner["spread"] != 6 || ready_by_owner["apps"] != 3 || !multi || !broken) {
      *why = "spread " + std::to_string(ready_by_owner["spread"]) + "/6, apps " +
             std::to_string(ready_by_owner["apps"]) + "/3, multi " + (multi ? "ok" : "no") +
             ", broken " + (broken ? "ok" : "no");
      return false;
    }
    return true;
  }

  // Every node is registered again and Ready. A node whose network was cut can take a few
  // seconds more than the pods: its reconnect waits for the kernel's next SYN retransmission.
  bool NodesBack(std::string* why) {
    const auto states = cluster_->NodeStates();
    for (const auto& node : cluster_->NodeNames()) {
      auto it = states.find(node);
      if (it == states.end() || it->second != "Ready") {
        *why = node + (it == states.end() ? " not registered" : " " + it->second);
        return false;
      }
    }
    return true;
  }

  TempDir data_{"pf-chaos-"};
  // Declared before the cluster and the relay, so that it is removed after both are gone.
  std::unique_ptr<NetnsHost> netns_;
  std::unique_ptr<ThrottleProxy> relay_;
  std::unique_ptr<Cluster> cluster_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  Ledger ledger_;
};

TEST_F(ChaosSuite, EveryPodReachesItsStateAndEveryBlobIsSound) {
  const int seconds = EnvInt("PULLFLEET_CHAOS_SECONDS", 25);
  std::cout << "[chaos] seed " << seed_ << ", " << seconds << " s of chaos over " << kNodes
            << " nodes"
            << (netns_ ? std::string(", ") + kNamespacedNode + " in a network namespace"
                       : std::string(" (not root: no network cuts)"))
            << "\n";
  CommandResult applied = cluster_->Apply("fleet.yaml", Manifests(relay_->host()));
  ASSERT_EQ(applied.exit_code, 0) << applied.output;

  // The chaos phase: bounded by time, one action after another.
  const auto chaos_end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int steps = 0;
  while (std::chrono::steady_clock::now() < chaos_end) {
    ASSERT_NO_FATAL_FAILURE(NextAction(steps));
    ++steps;
    std::this_thread::sleep_for(std::chrono::milliseconds(Between(100, 600)));  // pacing
  }
  ASSERT_NO_FATAL_FAILURE(Heal());

  // Everything settles.
  const auto settle_start = std::chrono::steady_clock::now();
  json pods;
  std::string why;
  const bool settled = WaitUntil(
      [&] {
        auto listed = cluster_->GetPods();
        if (!listed.ok()) return false;
        pods = std::move(listed).value();
        return Settled(pods, &why) && NodesBack(&why);
      },
      kSettleTimeout, std::chrono::milliseconds(300));
  const double settle_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - settle_start).count();
  ASSERT_TRUE(settled) << why << "\n" << pods.dump(1).substr(0, 6000) << cluster_->LogTails();

  // Counts add up: one pod chain per pod, on the node the coordinator names; each node's
  // restarts are its kills since its process started.
  std::map<std::string, int> pods_on;
  for (const auto& pod : pods["items"]) {
    pods_on[pod.value("/spec/nodeName"_json_pointer, std::string())]++;
  }
  std::map<std::string, int64_t> restarts_total;
  int blobs = 0, partial_files = 0;
  for (const auto& node : cluster_->NodeNames()) {
    CommandResult listed = cluster_->Client("chaos list --node " + node + " -o json");
    ASSERT_EQ(listed.exit_code, 0) << listed.output << cluster_->LogTails();
    json live = json::parse(listed.output, nullptr, false);
    ASSERT_TRUE(live.is_object()) << listed.output;
    EXPECT_EQ(live["live"].value("pod-chain", -1), pods_on[node]) << node << " " << live.dump();
    for (const char* service : {"pull-queue", "backoff", "credential-resolver"}) {
      EXPECT_EQ(live["live"].value(service, 0), 1) << node << " " << service;
    }
    for (const auto& kind : kKinds) {
      EXPECT_EQ(live["restarts"].value(kind, int64_t{0}), ledger_.kills_since_start[node][kind])
          << node << " " << kind << " " << live.dump();
      restarts_total[kind] += live["restarts"].value(kind, int64_t{0});
    }

    // Every blob hashes to its name.
    const fs::path store = cluster_->StoreDir(node);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(store / "blobs" / "sha256", ec)) {
      EXPECT_EQ(Sha256OfFile(entry.path()), entry.path().filename().string()) << entry.path();
      ++blobs;
    }
    for (const auto& entry : fs::directory_iterator(store / "ingest", ec)) {
      (void)entry;
      ++partial_files;  // left by pulls whose pod moved away; never counted as present
    }
  }

  // The node logs (kept across restarts) tell the same story: one "died; restarting" per
  // killed actor, and how many pulls ended which way.
  std::string logs;
  for (const auto& node : cluster_->NodeNames()) {
    std::ifstream in(cluster_->LogFile(node));
    logs += std::string(std::istreambuf_iterator<char>(in), {});
  }
  auto count = [&](const std::string& needle) {
    int64_t n = 0;
    for (size_t at = logs.find(needle); at != std::string::npos; at = logs.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  const std::map<std::string, std::string> log_lines = {
      {"pull-queue", "actor pull-queue died"},
      {"backoff", "actor backoff died"},
      {"credential-resolver", "actor credential-resolver died"},
      {"pod-chain", "chain died"},
      {"transfer", "transfer killed; restarting it"}};
  for (const auto& [kind, line] : log_lines) {
    const int64_t logged = count(line);
    EXPECT_LE(logged, ledger_.kills[kind]) << kind << ": restarts nobody asked for";
    EXPECT_GE(logged, ledger_.kills[kind] - ledger_.maybe_unlogged[kind]) << kind;
  }
  std::cout << "[chaos] pulls: " << count(" pulled in ") << " finished, " << count("pull failed:")
            << " failed (the missing image, and pulls cut by chaos, retried), "
            << count("pull was interrupted") << " interrupted by a kill -9 and found at start-up, "
            << count("transfer killed; restarting it") << " transfers restarted, "
            << count("waited for the one it replaces") << " replacements that waited for the "
            << "cancelled transfer to stop (never two at once)\n";

  // Figures.
  std::cout << "[chaos] " << steps << " actions in " << seconds << " s:\n";
  for (const auto& [action, count] : ledger_.actions) {
    std::cout << "[chaos]   " << action << ": " << count << "\n";
  }
  std::cout << "[chaos]   chaos requests that found the node away: " << ledger_.chaos_refused
            << "\n[chaos] held: 11/11 pods in their state after " << settle_seconds
            << " s of settling; " << blobs << " blobs verified by SHA-256; " << partial_files
            << " partial files in ingest (not visible as blobs); pod chains = pods on every "
               "node; restarts since last process start:";
  for (const auto& [kind, count] : restarts_total) std::cout << " " << kind << "=" << count;
  std::cout << "; bytes through the relay " << relay_->bytes_relayed() << "\n";
  EXPECT_GT(blobs, 0);

  // The cuts were real: the coordinator saw the namespaced node go (its log survives restarts).
  if (netns_) {
    std::ifstream in(cluster_->LogFile("coordinator"));
    const std::string coordinator_log(std::istreambuf_iterator<char>(in), {});
    int64_t seen_down = 0;
    const std::string needle = std::string("node ") + kNamespacedNode + " is down";
    for (size_t at = coordinator_log.find(needle); at != std::string::npos;
         at = coordinator_log.find(needle, at + 1)) {
      ++seen_down;
    }
    std::cout << "[chaos] " << kNamespacedNode << " seen down by the coordinator " << seen_down
              << " times (network cuts of 3.5 s or more: " << ledger_.long_cuts
              << "; kills, freezes and coordinator restarts count too)\n";
    if (ledger_.long_cuts > 0) EXPECT_GE(seen_down, 1);
  }
}

}  // namespace
}  // namespace pullfleet::e2e
