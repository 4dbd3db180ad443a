#include "tests/e2e/cluster.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

namespace pullfleet::e2e {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::ShellQuote;

constexpr auto kReadyTimeout = std::chrono::seconds(40);
// After SIGKILL a process is gone at once; this only bounds a wait that should not happen.
constexpr auto kKillTimeout = std::chrono::seconds(10);
// Teardown does not wait long for a graceful end: a slow shutdown is the business of the tests
// that call Stop() themselves.
constexpr auto kTeardownGrace = std::chrono::seconds(2);
// A client call never hangs a test: `timeout` ends it (exit code 124) after this long.
constexpr int kClientTimeoutSeconds = 45;

std::string Tail(const std::string& path, size_t max_bytes = 1500) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  return all.size() > max_bytes ? "..." + all.substr(all.size() - max_bytes) : all;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Waits up to `timeout` for `pid`; returns its wait status, or nullopt if it is still running.
std::optional<int> WaitPid(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0) return -1;  // not our child any more: nothing to wait for
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

std::string ModeName(ClusterMode mode) {
  return mode == ClusterMode::kEmbedded ? "Embedded" : "Processes";
}

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), binary_(PULLFLEET_BINARY_DIR "/cmd/pullfleet") {}

Result<std::unique_ptr<Cluster>> Cluster::Start(ClusterOptions options) {
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(options)));
  const ClusterOptions& o = cluster->options_;
  if (o.data_dir.empty() || o.nodes < 1) {
    return Error(ErrorCode::kInvalidArgument, "Cluster::Start: data_dir and nodes >= 1 needed");
  }
  cluster->server_ = o.listen_host + ":" + std::to_string(testing::FreeLoopbackPort());

  std::string config_file;
  if (!o.node_config_yaml.empty()) {
    config_file = o.data_dir + "/node-config.yaml";
    std::ofstream(config_file) << o.node_config_yaml;
  }
  const std::string logs = o.data_dir + "/logs";
  RunCommand("mkdir -p " + ShellQuote(logs));

  if (o.mode == ClusterMode::kEmbedded) {
    Process up{"up",
               {cluster->binary_, "up", "--nodes", std::to_string(o.nodes), "--data", o.data_dir,
                "--listen", cluster->server_},
               logs + "/up.log"};
    if (!config_file.empty()) {
      up.argv.push_back("--node-config");
      up.argv.push_back(config_file);
    }
    if (!o.metrics_address.empty()) {
      up.argv.push_back("--metrics");
      up.argv.push_back(o.metrics_address);
    }
    cluster->processes_.push_back(std::move(up));
    cluster->AddMetrics(cluster->processes_.back());
  } else {
    Process coordinator{
        "coordinator",
        {cluster->binary_, "coordinator", "--listen", cluster->server_, "--data", o.data_dir},
        logs + "/coordinator.log"};
    if (!o.metrics_address.empty()) {
      coordinator.argv.push_back("--metrics");
      coordinator.argv.push_back(o.metrics_address);
    }
    for (const auto& arg : o.coordinator_args) coordinator.argv.push_back(arg);
    cluster->processes_.push_back(std::move(coordinator));
    cluster->AddMetrics(cluster->processes_.back());
    for (const auto& name : cluster->NodeNames()) {
      cluster->processes_.push_back(cluster->MakeNodeProcess(name));
      cluster->AddMetrics(cluster->processes_.back());
    }
  }
  if (o.mode == ClusterMode::kEmbedded) {
    for (const auto& arg : o.coordinator_args) cluster->processes_[0].argv.push_back(arg);
  }
  if (Status restarted = cluster->Restart(); !restarted.ok()) return restarted.error();
  return cluster;
}

Cluster::~Cluster() {
  // Tests that care how the servers end call Stop() themselves; here it is only reported.
  Status stopped = Stop(SIGTERM, kTeardownGrace);
  if (!stopped.ok()) std::cerr << "[cluster teardown] " << stopped.error().message() << "\n";
}

Cluster::Process Cluster::MakeNodeProcess(const std::string& name) const {
  const ClusterOptions& o = options_;
  Process node{name,
               {binary_, "node", "--name", name, "--coordinator", server_, "--data",
                o.data_dir + "/nodes/" + name},
               o.data_dir + "/logs/" + name + ".log"};
  if (!o.node_config_yaml.empty()) {
    node.argv.push_back("--config");
    node.argv.push_back(o.data_dir + "/node-config.yaml");
  }
  for (const auto& arg : o.node_args) node.argv.push_back(arg);
  auto launcher = o.node_launchers.find(name);
  if (launcher != o.node_launchers.end()) {
    node.argv.insert(node.argv.begin(), launcher->second.begin(), launcher->second.end());
  }
  return node;
}

Cluster::Process* Cluster::Find(const std::string& name) {
  for (auto& process : processes_) {
    if (process.name == name) return &process;
  }
  return nullptr;
}

const Cluster::Process* Cluster::Find(const std::string& name) const {
  for (const auto& process : processes_) {
    if (process.name == name) return &process;
  }
  return nullptr;
}

Status Cluster::Signal(const std::string& name, int signal) {
  Process* process = Find(name);
  if (process == nullptr) return Error(ErrorCode::kNotFound, "no process " + name);
  if (process->pid <= 0) return Error(ErrorCode::kInternal, name + " is not running");
  if (kill(process->pid, signal) != 0) return Error(ErrorCode::kInternal, "kill " + name);
  if (signal == SIGKILL) {
    (void)WaitPid(process->pid, kKillTimeout);
    process->pid = -1;
  }
  return Status::Ok();
}

Status Cluster::Launch(const std::string& name) {
  Process* process = Find(name);
  if (process == nullptr) return Error(ErrorCode::kNotFound, "no process " + name);
  if (process->pid > 0) return Error(ErrorCode::kInternal, name + " is running already");
  return Launch(*process);
}

bool Cluster::Running(const std::string& name) const {
  const Process* process = Find(name);
  return process != nullptr && process->pid > 0;
}

std::map<std::string, std::string> Cluster::NodeStates() const {
  std::map<std::string, std::string> states;
  CommandResult nodes = Client("get nodes");
  if (nodes.exit_code != 0) return states;
  std::istringstream lines(nodes.output);
  std::string name, state;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    if (!(words >> name >> state) || name == "NAME") continue;
    states[name] = state;
  }
  return states;
}

std::string Cluster::LogFile(const std::string& name) const {
  const Process* process = Find(name);
  return process == nullptr ? "" : process->log_file;
}

std::vector<std::string> Cluster::NodeNames() const {
  std::vector<std::string> names;
  for (int i = 1; i <= options_.nodes; ++i) names.push_back("node-" + std::to_string(i));
  names.insert(names.end(), added_nodes_.begin(), added_nodes_.end());
  return names;
}

std::string Cluster::StoreDir(const std::string& node) const {
  // `up` keeps node N in DATA/nodes/node-N; a `node` process was given that folder as --data.
  return options_.data_dir + "/nodes/" + node + "/store";
}

void Cluster::AddMetrics(Process& process) {
  // A process given options().metrics_address keeps it.
  for (size_t i = 0; i + 1 < process.argv.size(); ++i) {
    if (process.argv[i] == "--metrics") metrics_[process.name] = process.argv[i + 1];
  }
  if (!options_.metrics || metrics_.count(process.name)) return;
  const std::string address = "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  process.argv.push_back("--metrics");
  process.argv.push_back(address);
  metrics_[process.name] = address;
}

Status Cluster::Kill(const std::string& name, int signal) {
  for (auto& process : processes_) {
    if (process.name != name || process.pid <= 0) continue;
    kill(process.pid, signal);
    if (signal == SIGKILL) {
      WaitPid(process.pid, kKillTimeout);
      process.pid = -1;
    }
    return Status::Ok();
  }
  return Error(ErrorCode::kNotFound, "no running process " + name);
}

Status Cluster::Launch(Process& process) {
  std::vector<char*> argv;
  for (auto& arg : process.argv) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int log = open(process.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return Error(ErrorCode::kIo, "open " + process.log_file);
  const pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return Error(ErrorCode::kInternal, "fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    const int null_in = open("/dev/null", O_RDONLY);
    if (null_in >= 0) dup2(null_in, 0);
    dup2(log, 1);
    dup2(log, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log);
  process.pid = pid;
  return Status::Ok();
}

Status Cluster::Restart() {
  for (auto& process : processes_) {
    if (process.pid > 0) continue;
    if (Status launched = Launch(process); !launched.ok()) return launched;
  }
  return WaitReady();
}

Status Cluster::WaitReady() {
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& process : processes_) {
      if (auto status = WaitPid(process.pid, std::chrono::milliseconds(0))) {
        process.pid = -1;
        return Error(ErrorCode::kInternal, process.name + " ended during start-up (" +
                                               DescribeStatus(*status) + ")\n" + LogTails());
      }
    }
    CommandResult nodes = Client("get nodes");
    last = nodes.output;
    int ready = 0;
    std::istringstream lines(nodes.output);
    std::string name, state;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      if (!(words >> name >> state)) continue;
      for (const auto& want : NodeNames()) ready += (name == want && state == "Ready") ? 1 : 0;
    }
    if (nodes.exit_code == 0 && ready == static_cast<int>(NodeNames().size())) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Error(ErrorCode::kTimeout, "cluster not ready after " +
                                        std::to_string(kReadyTimeout.count()) +
                                        " s; last `get nodes`:\n" + last + "\n" + LogTails());
}

Status Cluster::AddNode(const std::string& name, const std::string& node_config_yaml) {
  if (options_.mode != ClusterMode::kProcesses) {
    return Error(ErrorCode::kInvalidArgument, "Cluster::AddNode: only in ClusterMode::kProcesses");
  }
  const std::string data = options_.data_dir + "/nodes/" + name;
  Process node{name,
               {binary_, "node", "--name", name, "--coordinator", server_, "--data", data},
               options_.data_dir + "/logs/" + name + ".log"};
  if (!node_config_yaml.empty()) {
    const std::string config_file = options_.data_dir + "/node-config-" + name + ".yaml";
    std::ofstream(config_file) << node_config_yaml;
    node.argv.push_back("--config");
    node.argv.push_back(config_file);
  }
  added_nodes_.push_back(name);
  processes_.push_back(std::move(node));
  AddMetrics(processes_.back());
  if (Status launched = Launch(processes_.back()); !launched.ok()) return launched;
  return WaitReady();
}

Status Cluster::Stop(int signal, std::chrono::milliseconds grace) {
  // Nodes first, so the coordinator does not see them vanish one by one while it stops.
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
    if (it->pid <= 0) continue;
    kill(it->pid, signal);
    kill(it->pid, SIGCONT);  // a test may have left it frozen
  }
  std::string problems;
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
    if (it->pid <= 0) continue;
    const auto start = std::chrono::steady_clock::now();
    std::optional<int> status = WaitPid(it->pid, grace);
    if (!status) {
      kill(it->pid, SIGKILL);
      (void)WaitPid(it->pid, kKillTimeout);
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      problems += it->name + " did not stop within " + std::to_string(waited.count()) +
                  " ms of signal " + std::to_string(signal) + "; killed\n";
    } else {
      const bool graceful = signal == SIGTERM || signal == SIGINT;
      const bool clean = WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
      const bool killed_as_asked = WIFSIGNALED(*status) && WTERMSIG(*status) == signal;
      if (graceful ? !clean : !killed_as_asked) {
        problems += it->name + " ended with " + DescribeStatus(*status) + " after signal " +
                    std::to_string(signal) + "\n";
      }
    }
    it->pid = -1;
  }
  if (problems.empty()) return Status::Ok();
  return Error(ErrorCode::kInternal, problems + LogTails());
}

CommandResult Cluster::Client(const std::string& args) const {
  return RunCommand("timeout -k 5 " + std::to_string(kClientTimeoutSeconds) + " " +
                    ShellQuote(binary_) + " " + args + " --server " + ShellQuote(server_));
}

Result<nlohmann::json> Cluster::GetPods() const {
  CommandResult result = Client("get pods -A -o json");
  if (result.exit_code != 0) {
    return Error(ErrorCode::kInternal, "get pods failed (exit " + std::to_string(result.exit_code) +
                                           "): " + result.output);
  }
  // The client prints the JSON on stdout; RunCommand merges stderr, which stays empty here.
  nlohmann::json parsed = nlohmann::json::parse(result.output, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("items") || !parsed["items"].is_array()) {
    return Error(ErrorCode::kInternal, "get pods -o json is not a PodList: " + result.output);
  }
  return parsed;
}

CommandResult Cluster::Apply(const std::string& name, const std::string& yaml) const {
  const std::string file = options_.data_dir + "/" + name;
  std::ofstream(file) << yaml;
  return Client("apply -f " + ShellQuote(file));
}

std::string Cluster::LogTails() const {
  std::string out;
  for (const auto& process : processes_) {
    out += "--- " + process.name + " (" + process.log_file + "):\n" + Tail(process.log_file) + "\n";
  }
  return out;
}

bool Cluster::PollPods(const std::function<bool(const nlohmann::json&)>& done,
                       std::chrono::milliseconds timeout, nlohmann::json* last,
                       std::chrono::milliseconds interval) const {
  return WaitUntil(
      [&] {
        auto pods = GetPods();
        if (!pods.ok()) return false;
        *last = std::move(pods).value();
        return done(*last);
      },
      timeout, interval);
}

bool AllImagesReady(const nlohmann::json& pod_list, size_t count) {
  const auto& items = pod_list["items"];
  if (items.size() != count) return false;
  return std::all_of(items.begin(), items.end(),
                     [](const nlohmann::json& pod) { return ImagesReady(pod); });
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

std::string PodName(const nlohmann::json& pod) {
  return pod.value("/metadata/name"_json_pointer, std::string());
}

std::string PodCondition(const nlohmann::json& pod, const std::string& type) {
  const auto conditions = pod.value("/status/conditions"_json_pointer, nlohmann::json::array());
  for (const auto& condition : conditions) {
    if (condition.value("type", "") == type) return condition.value("status", "");
  }
  return "";
}

bool ImagesReady(const nlohmann::json& pod) {
  return PodCondition(pod, "ImagesReady") == "True";
}

nlohmann::json FindPod(const nlohmann::json& pod_list, const std::string& name) {
  for (const auto& pod : pod_list.value("items", nlohmann::json::array())) {
    if (PodName(pod) == name) return pod;
  }
  return nullptr;
}

std::map<std::string, nlohmann::json> StatusesByName(const nlohmann::json& pod) {
  std::map<std::string, nlohmann::json> out;
  for (const char* key : {"initContainerStatuses", "containerStatuses"}) {
    for (const auto& status : pod["status"].value(key, nlohmann::json::array())) {
      out[status.value("name", "")] = status;
    }
  }
  return out;
}

std::string WaitingReason(const nlohmann::json& status) {
  return status.value("/state/waiting/reason"_json_pointer, std::string());
}

std::string WaitingMessage(const nlohmann::json& status) {
  return status.value("/state/waiting/message"_json_pointer, std::string());
}

std::string Sha256OfFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount()));
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &size);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

std::string WithRegistry(std::string text, const std::string& host) {
  for (size_t at = text.find("REGISTRY"); at != std::string::npos;
       at = text.find("REGISTRY", at + host.size())) {
    text.replace(at, 8, host);
  }
  return text;
}

int64_t ParseGoDuration(const std::string& text) {
  double total_ms = 0;
  size_t at = 0;
  bool any = false;
  while (at < text.size()) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(text.substr(at), &used);
    } catch (const std::exception&) {
      return -1;
    }
    at += used;
    if (text.compare(at, 2, "ms") == 0) {
      total_ms += value, at += 2;
    } else if (text.compare(at, 1, "h") == 0) {
      total_ms += value * 3'600'000, at += 1;
    } else if (text.compare(at, 1, "m") == 0) {
      total_ms += value * 60'000, at += 1;
    } else if (text.compare(at, 1, "s") == 0) {
      total_ms += value * 1000, at += 1;
    } else {
      return -1;
    }
    any = true;
  }
  return any ? static_cast<int64_t>(total_ms) : -1;
}

int64_t PullMillisOf(const std::string& message) {
  const std::string marker = "\" in ";
  const size_t from = message.find(marker);
  const size_t to = message.find(" (", from == std::string::npos ? 0 : from);
  if (from == std::string::npos || to == std::string::npos) return -1;
  return ParseGoDuration(message.substr(from + marker.size(), to - from - marker.size()));
}

int64_t WaitMillisOf(const std::string& message) {
  const size_t from = message.find("\" in ");
  const size_t open = message.find(" (", from == std::string::npos ? 0 : from);
  const size_t to = message.find(" including waiting)", open == std::string::npos ? 0 : open);
  if (from == std::string::npos || open == std::string::npos || to == std::string::npos) {
    return -1;
  }
  return ParseGoDuration(message.substr(open + 2, to - open - 2));
}

}  // namespace pullfleet::e2e
