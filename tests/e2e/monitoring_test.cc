// End-to-end test of issue 6: a real Prometheus scrapes a running fleet (a coordinator and three
// node processes, each serving /metrics) while it pulls real images from the real registry
// (bearer tokens, credentials from a docker config), and every PromQL expression of the
// Grafana dashboard (deploy/grafana) and of the alerting rules (deploy/prometheus) is evaluated
// through Prometheus's HTTP API. The fleet is made to show everything the panels and alerts
// are about: a pull that succeeds, one of a missing image (404, then ImagePullBackOff), one
// through a relay that answers 429, one through a relay that stalls (cancelled by the node's
// stall watchdog and retried under backoff), one slowed down so it is still running while the
// queries run (live progress), and a node that is killed.
//
// The faults come from tests/support/throttle_proxy.h relays in front of the real registry.
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/e2e/cluster.h"
#include "tests/support/prometheus_server.h"
#include "tests/support/throttle_proxy.h"

namespace pullfleet::e2e {
namespace {

using nlohmann::json;
using testing::CommandResult;
using testing::PrometheusServer;
using testing::ProxyFault;
using testing::RegistryFixture;
using testing::TempDir;
using testing::ThrottleProxy;

constexpr auto kPatience = std::chrono::seconds(60);
// pf/big (about 40 MiB) through this relay takes minutes: it is still running when the
// queries run, and the test ends it by stopping the cluster.
constexpr size_t kSlowBytesPerSecond = 128 * 1024;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Grafana's template variables as the dashboard's own settings resolve them: every node, and a
// rate window of a few scrape intervals (Grafana's $__rate_interval with a 1 s scrape).
std::string ResolveGrafanaVariables(std::string expr) {
  expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "30s");
  expr = std::regex_replace(expr, std::regex(R"(\$node)"), ".*");
  return expr;
}

struct NamedExpr {
  std::string where;  // "dashboard panel \"Pull rate\" A", "rule PullfleetNodeDown"
  std::string expr;
};

std::vector<NamedExpr> DashboardExprs(const std::string& path) {
  std::vector<NamedExpr> out;
  const json dashboard = json::parse(ReadFile(path));
  for (const auto& panel : dashboard.at("panels")) {
    if (!panel.contains("targets")) continue;
    for (const auto& target : panel["targets"]) {
      out.push_back(
          {"dashboard panel \"" + panel.value("title", "") + "\" " + target.value("refId", ""),
           ResolveGrafanaVariables(target.value("expr", ""))});
    }
  }
  return out;
}

std::vector<NamedExpr> RuleExprs(const std::string& path) {
  std::vector<NamedExpr> out;
  const YAML::Node rules = YAML::LoadFile(path);
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      out.push_back({"rule " + rule["alert"].as<std::string>(), rule["expr"].as<std::string>()});
    }
  }
  return out;
}

// A scrape config for the test's endpoints under the job name of deploy/prometheus, with the
// deploy rules file and a 1 s scrape interval.
std::string PrometheusConfig(const std::map<std::string, std::string>& targets,
                             const std::string& rules_file) {
  std::string text =
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "rule_files:\n  - " +
      rules_file +
      "\n"
      "scrape_configs:\n  - job_name: pullfleet\n    static_configs:\n      - targets:\n";
  for (const auto& [name, address] : targets) text += "          - " + address + "\n";
  return text;
}

std::string PodYaml(const std::string& name, const std::string& image) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
         "\nspec:\n  containers:\n    - name: main\n      image: " + image +
         "\n      imagePullPolicy: IfNotPresent\n";
}

class MonitoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RegistryOptions options;
    options.auth = testing::RegistryAuth::kToken;
    options.images = "busybox,big,app";
    auto registry = RegistryFixture::Start(options);
    ASSERT_TRUE(registry.ok()) << registry.error().message();
    registry_ = std::move(registry).value();

    auto slow = ThrottleProxy::Start(registry_->host(), kSlowBytesPerSecond);
    auto stall = ThrottleProxy::Start(registry_->host(), 1, ProxyFault::kStall);
    auto limited = ThrottleProxy::Start(registry_->host(), 1, ProxyFault::kTooManyRequests);
    ASSERT_TRUE(slow.ok() && stall.ok() && limited.ok());
    slow_ = std::move(slow).value();
    stall_ = std::move(stall).value();
    limited_ = std::move(limited).value();
  }

  // A docker config with the registry's test credentials for the registry and every relay.
  std::string WriteDockerConfig() const {
    json auths = json::object();
    for (const auto* host :
         {&registry_->host(), &slow_->host(), &stall_->host(), &limited_->host()}) {
      auths[*host] = {{"username", registry_->user()}, {"password", registry_->password()}};
    }
    const std::string path = data_.Join("docker-config.json");
    std::ofstream(path) << json{{"auths", auths}}.dump();
    return path;
  }

  // Polls `promql` until it returns at least one sample (bounded). Fails at once when
  // Prometheus rejects the expression.
  void ExpectNonEmpty(const PrometheusServer& prometheus, const NamedExpr& named) {
    std::string last;
    const bool filled = WaitUntil(
        [&] {
          auto data = prometheus.Query(named.expr);
          if (!data.ok()) {
            last = "error: " + data.error().message();
            return data.error().code() == ErrorCode::kInvalidArgument;  // stop: it is invalid
          }
          last = data->dump().substr(0, 300);
          return !(*data)["result"].empty();
        },
        kPatience, std::chrono::milliseconds(500));
    EXPECT_TRUE(filled && last.rfind("error: ", 0) != 0)
        << named.where << " returned nothing or failed:\n  " << named.expr << "\n  " << last;
  }

  TempDir data_{"pf-e2e-monitoring-"};
  std::unique_ptr<RegistryFixture> registry_;
  std::unique_ptr<ThrottleProxy> slow_, stall_, limited_;
};

TEST_F(MonitoringTest, PrometheusEvaluatesEveryDashboardAndRuleExpressionOnARunningFleet) {
  const std::string docker_config = WriteDockerConfig();
  ClusterOptions options;
  options.mode = ClusterMode::kProcesses;
  options.nodes = 3;
  options.data_dir = data_.path();
  options.metrics = true;
  options.node_config_yaml =
      "dockerConfig: " + docker_config +
      "\nserializeImagePulls: false\nstallTimeoutSeconds: 3\n"
      "imagePullBackOff: {initialSeconds: 2, maxSeconds: 4}\nresyncSeconds: 0.5\n";
  auto started = Cluster::Start(options);
  ASSERT_TRUE(started.ok()) << started.error().message();
  Cluster& cluster = **started;

  // node-3 goes away before any pod is scheduled: the pods land on node-1 and node-2, and the
  // coordinator reports node-3 down.
  ASSERT_TRUE(cluster.Kill("node-3", SIGKILL).ok());
  const std::string rules =
      std::string(PULLFLEET_SOURCE_DIR) + "/deploy/prometheus/pullfleet-rules.yml";
  auto prometheus = PrometheusServer::Start(PrometheusConfig(cluster.MetricsAddresses(), rules));
  ASSERT_TRUE(prometheus.ok()) << prometheus.error().message();

  const std::map<std::string, std::string> pods = {
      {"ok", registry_->Ref("pf/busybox:1.36")},
      {"missing", registry_->Ref("pf/does-not-exist:1.0")},
      {"limited", limited_->host() + "/pf/app:v1"},
      {"stalled", stall_->host() + "/pf/app:v1"},
      {"slow", slow_->host() + "/pf/big:1.0"},
  };
  for (const auto& [name, image] : pods) {
    CommandResult applied = cluster.Apply(name + ".yaml", PodYaml(name, image));
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
  }
  ASSERT_TRUE((*prometheus)->WaitForTargetsUp(3, kPatience).ok()) << (*prometheus)->LogTail();

  // Live progress: `describe pod` shows the running pull, with the figures of the metrics.
  std::string described;
  EXPECT_TRUE(WaitUntil(
      [&] {
        described = cluster.Client("describe pod slow").output;
        return described.find("Pull Progress:") != std::string::npos &&
               described.find("/s") != std::string::npos;
      },
      kPatience))
      << described;
  auto layers =
      (*prometheus)
          ->Query("pullfleet_pull_progress_layers{part=\"total\", image=~\".*/pf/big:1.0\"}");
  ASSERT_TRUE(layers.ok()) << layers.error().message();
  ASSERT_FALSE((*layers)["result"].empty()) << "no running download in the metrics";
  const std::string total_layers = (*layers)["result"][0]["value"][1].get<std::string>();
  EXPECT_NE(described.find("/" + total_layers + " layers"), std::string::npos)
      << "describe and metrics disagree on the layer count " << total_layers << ":\n"
      << described;
  auto bytes =
      (*prometheus)
          ->Query("pullfleet_pull_progress_bytes{part=\"total\", image=~\".*/pf/big:1.0\"}");
  ASSERT_TRUE(bytes.ok() && !(*bytes)["result"].empty());
  char total_text[32];
  std::snprintf(total_text, sizeof total_text, " / %.1f MiB,",
                std::stod((*bytes)["result"][0]["value"][1].get<std::string>()) / (1024 * 1024));
  EXPECT_NE(described.find(total_text), std::string::npos)
      << "describe and metrics disagree on the byte total" << total_text << ":\n"
      << described;

  // The stalled pull is cancelled with its own reason and retried under backoff.
  std::string stalled_message;
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto list = cluster.GetPods();
        if (!list.ok()) return false;
        auto statuses = StatusesByName(FindPod(*list, "stalled"));
        if (statuses.count("main") == 0) return false;
        stalled_message = WaitingMessage(statuses["main"]);
        return WaitingReason(statuses["main"]) == "ImagePullBackOff" &&
               stalled_message.find("stalled: no byte moved for 3s") != std::string::npos;
      },
      kPatience))
      << "last message: " << stalled_message << "\n"
      << cluster.LogTails();

  for (const auto& named : DashboardExprs(std::string(PULLFLEET_SOURCE_DIR) +
                                          "/deploy/grafana/pullfleet-dashboard.json")) {
    ExpectNonEmpty(**prometheus, named);
  }
  for (const auto& named : RuleExprs(rules)) ExpectNonEmpty(**prometheus, named);

  // No secret in any log or metric.
  std::string scraped;
  for (const auto& [name, address] : cluster.MetricsAddresses()) {
    if (name != "node-3")
      scraped += testing::RunCommand("curl -s http://" + address + "/metrics").output;
  }
  EXPECT_EQ(scraped.find(registry_->password()), std::string::npos) << "a password in /metrics";
  for (const auto& name :
       {std::string("coordinator"), std::string("node-1"), std::string("node-2")}) {
    const std::string log = ReadFile(data_.Join("logs/" + name + ".log"));
    EXPECT_FALSE(log.empty()) << name;
    EXPECT_EQ(log.find(registry_->password()), std::string::npos) << "a password in " << name;
  }
}

}  // namespace
}  // namespace pullfleet::e2e
