// PrometheusServer: a real Prometheus (Debian's `prometheus` package) on a free loopback port,
// for tests that scrape pullfleet's /metrics the way an operator's server would. It runs with
// a configuration the test writes (scrape targets, rule files), keeps its TSDB in a temp
// folder, and is stopped by its PID when the object dies.
//
// Queries go through Prometheus's HTTP API (/api/v1/query) with curl, so what a test evaluates
// is exactly what a Grafana panel or an alert rule would get. Not thread safe.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "tests/support/registry_fixture.h"

namespace pullfleet::testing {

class PrometheusServer {
 public:
  // Writes `config_yaml` to prometheus.yml in a new temp folder (files named there by
  // relative paths, such as rule files, must be given as absolute paths), starts the server and
  // waits (bounded) until it answers /-/ready.
  static Result<std::unique_ptr<PrometheusServer>> Start(const std::string& config_yaml);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // "127.0.0.1:PORT".
  const std::string& address() const { return address_; }

  // Waits until `count` targets are up and each has been scraped at least once.
  Status WaitForTargetsUp(int count, std::chrono::milliseconds timeout);

  // Evaluates `promql` now (/api/v1/query). kInvalidArgument with Prometheus's error text when
  // the expression is rejected; otherwise the `data` object ({resultType, result}).
  Result<nlohmann::json> Query(const std::string& promql) const;

  // The server's log, for failure messages.
  std::string LogTail() const;

 private:
  PrometheusServer(TempDir dir, std::string address) : dir_(std::move(dir)), address_(address) {}
  Result<nlohmann::json> Get(const std::string& path_and_args) const;

  TempDir dir_;
  std::string address_;
  int pid_ = -1;
};

// Runs `promtool ARGS` (shell words, already quoted): exit code and output.
CommandResult Promtool(const std::string& args);

}  // namespace pullfleet::testing
