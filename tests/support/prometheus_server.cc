#include "tests/support/prometheus_server.h"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace pullfleet::testing {
namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(20);
constexpr auto kPoll = std::chrono::milliseconds(200);

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  return all.size() > max_bytes ? "..." + all.substr(all.size() - max_bytes) : all;
}

}  // namespace

Result<std::unique_ptr<PrometheusServer>> PrometheusServer::Start(const std::string& config_yaml) {
  TempDir dir("pf-prometheus-");
  if (dir.path().empty()) return Error(ErrorCode::kIo, "prometheus: cannot make a temp folder");
  std::ofstream(dir.Join("prometheus.yml")) << config_yaml;
  const std::string address = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  std::unique_ptr<PrometheusServer> server(new PrometheusServer(std::move(dir), address));
  const TempDir& d = server->dir_;

  // Started by the shell in the background; its PID comes back on stdout. `exec` makes the
  // PID the server's own, so the destructor's kill reaches it.
  CommandResult started =
      RunCommand("(exec prometheus --config.file=" + ShellQuote(d.Join("prometheus.yml")) +
                 " --storage.tsdb.path=" + ShellQuote(d.Join("tsdb")) +
                 " --web.listen-address=" + ShellQuote(address) + " --log.level=warn > " +
                 ShellQuote(d.Join("prometheus.log")) + " 2>&1 < /dev/null) & echo $!");
  if (started.exit_code != 0) {
    return Error(ErrorCode::kInternal, "prometheus: cannot start: " + started.output);
  }
  server->pid_ = std::stoi(started.output);

  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    CommandResult ready =
        RunCommand("curl -sf --max-time 2 " + ShellQuote("http://" + address + "/-/ready"));
    if (ready.exit_code == 0) return server;
    if (kill(server->pid_, 0) != 0) break;  // it exited: the log says why
    std::this_thread::sleep_for(kPoll);
  }
  return Error(ErrorCode::kTimeout,
               "prometheus did not become ready on " + address + ":\n" + server->LogTail());
}

PrometheusServer::~PrometheusServer() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  // The shell that started it is gone, so it is not our child: poll until it has exited.
  for (int i = 0; i < 100 && kill(pid_, 0) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (kill(pid_, 0) == 0) kill(pid_, SIGKILL);
}

std::string PrometheusServer::LogTail() const {
  return ReadTail(dir_.Join("prometheus.log"), 2000);
}

Result<nlohmann::json> PrometheusServer::Get(const std::string& curl_args) const {
  CommandResult reply = RunCommand("curl -sS --max-time 10 " + curl_args);
  if (reply.exit_code != 0) {
    return Error(ErrorCode::kNetwork, "prometheus API: " + reply.output);
  }
  auto body = nlohmann::json::parse(reply.output, nullptr, false);
  if (body.is_discarded()) {
    return Error(ErrorCode::kInvalidArgument, "prometheus API: not JSON: " + reply.output);
  }
  if (body.value("status", "") != "success") {
    return Error(ErrorCode::kInvalidArgument,
                 body.value("errorType", "") + ": " + body.value("error", reply.output));
  }
  return body["data"];
}

Status PrometheusServer::WaitForTargetsUp(int count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto data = Get(ShellQuote("http://" + address_ + "/api/v1/targets?state=active"));
    if (data.ok()) {
      int up = 0;
      for (const auto& target : (*data)["activeTargets"]) {
        if (target.value("health", "") == "up") ++up;
      }
      last = data->dump();
      if (up >= count) return Status::Ok();
    }
    std::this_thread::sleep_for(kPoll);
  }
  return Error(ErrorCode::kTimeout,
               "prometheus: fewer than " + std::to_string(count) +
                   " targets up; last /api/v1/targets: " + last.substr(0, 2000));
}

Result<nlohmann::json> PrometheusServer::Query(const std::string& promql) const {
  return Get("-G " + ShellQuote("http://" + address_ + "/api/v1/query") + " --data-urlencode " +
             ShellQuote("query=" + promql));
}

CommandResult Promtool(const std::string& args) {
  return RunCommand("promtool " + args);
}

}  // namespace pullfleet::testing
