// Cluster: a pullfleet cluster run from the real `pullfleet` binary, for end-to-end tests only.
// It starts the server processes itself (fork/exec, output to a log file each), talks to the
// coordinator through the binary's client subcommands, and kills every process it started when
// it is destroyed, so a failed assertion never leaves servers behind.
//
// Two layouts, the two modes the binary supports:
//   kEmbedded   one `pullfleet up --nodes N` process (nodes node-1..node-N);
//   kProcesses  one `pullfleet coordinator` process and one `pullfleet node` process per node
//               (also named node-1..node-N), joined over loopback.
// Ports are chosen once and kept across Stop()/Start(), so a restarted cluster is found where the
// old one was. Not thread safe: one test thread drives a Cluster.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "tests/support/registry_fixture.h"

namespace pullfleet::e2e {

enum class ClusterMode { kEmbedded, kProcesses };

// "Embedded" or "Processes", for test names.
std::string ModeName(ClusterMode mode);

struct ClusterOptions {
  ClusterMode mode = ClusterMode::kEmbedded;
  int nodes = 3;
  // The text of a node config YAML given to every node; empty: the binary's defaults.
  std::string node_config_yaml;
  // The data folder (must exist); kept by the caller so a restart finds the same state.
  std::string data_dir;
  // "HOST:PORT" for /metrics (`up --metrics`; the coordinator's in kProcesses); empty: none.
  std::string metrics_address;
  // Serve /metrics on a free port each: `up`, or the coordinator and every node.
  bool metrics = false;
  // Extra arguments of the coordinator (or `up`) process and of every node process.
  std::vector<std::string> coordinator_args;
  std::vector<std::string> node_args;
  // The address the coordinator listens on, which clients and nodes use: loopback, or the
  // bridge address of a NetnsHost when some nodes run in network namespaces.
  std::string listen_host = "127.0.0.1";
  // kProcesses: per node name, words put before that node's command line (NetnsHost::Launcher
  // runs it inside a network namespace). The process id stays the node's own.
  std::map<std::string, std::vector<std::string>> node_launchers;
};

class Cluster {
 public:
  // Starts the processes and waits (bounded) until every node is listed Ready by `get nodes`.
  // The error carries the tail of every process log.
  static Result<std::unique_ptr<Cluster>> Start(ClusterOptions options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const ClusterOptions& options() const { return options_; }
  // "HOST:PORT" of the coordinator's client API (HOST: options().listen_host).
  const std::string& server() const { return server_; }
  // node-1..node-N, then the nodes of AddNode.
  std::vector<std::string> NodeNames() const;
  // The OCI layout folder of a node's content store.
  std::string StoreDir(const std::string& node) const;
  // "HOST:PORT" of every /metrics endpoint (options().metrics or metrics_address), by process
  // name ("up"; or "coordinator" and the node names).
  const std::map<std::string, std::string>& MetricsAddresses() const { return metrics_; }

  // Sends `signal` to one process by name ("coordinator", "node-2", "up") and, for SIGKILL,
  // reaps it; the others keep running.
  Status Kill(const std::string& process, int signal);

  // Sends `signal` to every running process (nodes first, coordinator last) and waits up to
  // `grace` for each to exit, then kills it with SIGKILL. Fails if a process needed SIGKILL or
  // ended with an unexpected status (anything but 0 after SIGTERM/SIGINT). Every process is
  // gone when it returns, whatever the outcome.
  Status Stop(int signal, std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Starts the processes again (after Stop) on the same ports and data, and waits until ready.
  Status Restart();

  // kProcesses only: starts one more `pullfleet node` process named `name` (data in
  // DATA/nodes/NAME, its own node config `node_config_yaml`, empty: the defaults) and waits
  // until every node, this one too, is Ready. Stop() and Restart() include it from then on.
  Status AddNode(const std::string& name, const std::string& node_config_yaml);
  // One process by name ("coordinator", "up", "node-N"), for tests that kill, freeze or
  // restart it alone. Signal sends `signal`; after SIGKILL it also reaps the process. Launch
  // starts a process that is not running, without waiting for it to be ready.
  Status Signal(const std::string& process, int signal);
  Status Launch(const std::string& process);
  bool Running(const std::string& process) const;
  // name -> "Ready" | "NotReady" from `get nodes`; empty when the coordinator did not answer.
  std::map<std::string, std::string> NodeStates() const;
  // The log file of a process.
  std::string LogFile(const std::string& process) const;

  // Runs `pullfleet ARGS --server SERVER` (ARGS are shell words, already quoted).
  testing::CommandResult Client(const std::string& args) const;
  // `get pods -A -o json`, parsed.
  Result<nlohmann::json> GetPods() const;
  // Lists the pods every `interval` until `done` holds of the list or `timeout` passes;
  // returns whether it held, the last list in `*last`. A failing listing counts as not done.
  bool PollPods(const std::function<bool(const nlohmann::json&)>& done,
                std::chrono::milliseconds timeout, nlohmann::json* last,
                std::chrono::milliseconds interval = std::chrono::milliseconds(150)) const;
  // Applies manifest text: writes it to a file in the data folder and runs `apply -f`.
  testing::CommandResult Apply(const std::string& name, const std::string& yaml) const;
  // The last lines of every process log, for failure messages.
  std::string LogTails() const;

 private:
  struct Process {
    std::string name;
    std::vector<std::string> argv;
    std::string log_file;
    pid_t pid = -1;
  };

  explicit Cluster(ClusterOptions options);
  Status Launch(Process& process);
  void AddMetrics(Process& process);
  Process* Find(const std::string& name);
  const Process* Find(const std::string& name) const;
  Process MakeNodeProcess(const std::string& name) const;
  Status WaitReady();

  ClusterOptions options_;
  std::string binary_;
  std::string server_;
  std::vector<Process> processes_;              // coordinator (if separate) first, then the nodes
  std::vector<std::string> added_nodes_;        // by AddNode, after node-1..node-N
  std::map<std::string, std::string> metrics_;  // by process name
};

// Polls `condition` every `interval` until it is true or `timeout` passes; returns its last
// value.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(100));

// Pod JSON helpers (one item of a PodList).
std::string PodName(const nlohmann::json& pod);
// The status of condition `type` ("True", "False") or "" when absent.
std::string PodCondition(const nlohmann::json& pod, const std::string& type);
bool ImagesReady(const nlohmann::json& pod);
// True when the PodList has exactly `count` items, each ImagesReady.
bool AllImagesReady(const nlohmann::json& pod_list, size_t count);
// The item named `name`, or null.
nlohmann::json FindPod(const nlohmann::json& pod_list, const std::string& name);
// Every container status of a pod (init containers first), keyed by container name.
std::map<std::string, nlohmann::json> StatusesByName(const nlohmann::json& pod);
// state.waiting.reason / .message of a container status, "" when absent.
std::string WaitingReason(const nlohmann::json& status);
std::string WaitingMessage(const nlohmann::json& status);

// The lowercase hex SHA-256 of a file, streamed (a blob's name in an OCI layout); empty when
// the file cannot be read.
std::string Sha256OfFile(const std::filesystem::path& path);

// Replaces every REGISTRY in a manifest with `host` (test manifests name the registry so).
std::string WithRegistry(std::string text, const std::string& host);

// Milliseconds of a Go duration as the kubelet prints it ("1m2.5s", "1.234s", "512ms", "0s");
// -1 when it is not one.
int64_t ParseGoDuration(const std::string& text);
// Of a "Successfully pulled image X in D1 (D2 including waiting)..." message: D1, the pull,
// and D2, the wait from the ask; -1 when the message has none.
int64_t PullMillisOf(const std::string& message);
int64_t WaitMillisOf(const std::string& message);

}  // namespace pullfleet::e2e
