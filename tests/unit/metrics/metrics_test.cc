// Unit tests of metrics/: the kubelet-compatible label values, the families a node and the
// coordinator export, and the deploy files that query them (without a screenshot): every
// expression of the Grafana dashboard and of the alerting rules names only metrics pullfleet
// exports, and promtool accepts the rules and the scrape config.
#include "metrics/metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

namespace pullfleet::metrics {
namespace {

const std::string kDashboard =
    std::string(PULLFLEET_SOURCE_DIR) + "/deploy/grafana/pullfleet-dashboard.json";
const std::string kRules =
    std::string(PULLFLEET_SOURCE_DIR) + "/deploy/prometheus/pullfleet-rules.yml";
const std::string kScrapeConfig =
    std::string(PULLFLEET_SOURCE_DIR) + "/deploy/prometheus/prometheus.yml";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Scrape(Metrics& metrics) {
  return prometheus::TextSerializer().Serialize(metrics.registry().Collect());
}

// Every sample name a process exports once each figure has moved: family names, plus
// _bucket/_sum/_count of histograms (prometheus-cpp leaves a family out until it has a series).
std::set<std::string> ExportedNames() {
  Metrics metrics;
  NodeMetrics node = metrics.ForNode("node-1");
  node.PullFinished(false, "not_found", 1);
  node.KubeletPullDuration(1, 1);
  node.EnsureImage("Always", true, true);
  node.RegistryResponse("r", 429);
  node.TokenFetch("r", true);
  node.CredentialLookup("docker-config", "found");
  node.PluginRan("p", 1, false);
  node.SetPullProgress("i", PullProgress{});
  metrics.SetNodeUp("node-1", true);
  metrics.SetClusterPods(true, 1);
  metrics.SetClusterPodsWaiting("ErrImagePull", 1);
  metrics.CoordinatorDbWrite(0.001);
  std::set<std::string> names;
  for (const auto& family : metrics.registry().Collect()) {
    names.insert(family.name);
    if (family.type == prometheus::MetricType::Histogram) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(family.name + suffix);
    }
  }
  return names;
}

// The metric names a PromQL expression selects: identifiers that are neither functions,
// keywords, label names inside {...} or by/without/on/ignoring lists, nor string contents.
std::set<std::string> MetricNamesIn(std::string expr) {
  expr = std::regex_replace(expr, std::regex(R"("(\\.|[^"\\])*")"), "\"\"");
  expr = std::regex_replace(expr, std::regex(R"(\{[^}]*\})"), "{}");
  expr = std::regex_replace(
      expr, std::regex(R"(\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))"), " ");
  expr = std::regex_replace(expr, std::regex(R"(\[[^\]]*\])"), "[]");
  static const std::set<std::string> kKeywords = {"and",    "or",  "unless", "bool",
                                                  "offset", "inf", "nan"};
  std::set<std::string> names;
  const std::regex identifier(R"([A-Za-z_:][A-Za-z0-9_:]*)");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), identifier);
       it != std::sregex_iterator(); ++it) {
    const std::string word = it->str();
    const size_t end = static_cast<size_t>(it->position() + it->length());
    const size_t next = expr.find_first_not_of(' ', end);
    if (next != std::string::npos && expr[next] == '(') continue;  // a function
    if (kKeywords.count(word)) continue;
    names.insert(word);
  }
  return names;
}

struct Query {
  std::string where;
  std::string expr;
};

std::vector<Query> DeployQueries() {
  std::vector<Query> out;
  const auto dashboard = nlohmann::json::parse(ReadFile(kDashboard));
  for (const auto& panel : dashboard.at("panels")) {
    for (const auto& target : panel.value("targets", nlohmann::json::array())) {
      out.push_back({"panel \"" + panel.value("title", "") + "\"", target.value("expr", "")});
    }
  }
  for (const auto& variable : dashboard.at("templating").at("list")) {
    if (variable.value("type", "") != "query") continue;
    // label_values(METRIC, LABEL) is Grafana's, not PromQL: its first argument is the metric.
    std::smatch m;
    const std::string definition = variable.value("definition", "");
    if (std::regex_search(definition, m,
                          std::regex(R"(label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*))"))) {
      out.push_back({"variable $" + variable.value("name", ""), m[1].str()});
    }
  }
  for (const auto& group : YAML::LoadFile(kRules)["groups"]) {
    for (const auto& rule : group["rules"]) {
      out.push_back({"rule " + rule["alert"].as<std::string>(), rule["expr"].as<std::string>()});
    }
  }
  return out;
}

TEST(KubeletLabels, ImageSizeBucketsUseTheKubeletsBinaryBounds) {
  constexpr int64_t kMiB = 1024 * 1024;
  EXPECT_EQ(KubeletImageSizeBucket(0), "N/A");
  EXPECT_EQ(KubeletImageSizeBucket(5 * kMiB), "0-10MB");
  EXPECT_EQ(KubeletImageSizeBucket(10 * kMiB), "0-10MB");
  EXPECT_EQ(KubeletImageSizeBucket(10 * kMiB + 1), "10MB-100MB");
  EXPECT_EQ(KubeletImageSizeBucket(500 * kMiB + 1), "500MB-1GB");
  EXPECT_EQ(KubeletImageSizeBucket(15 * 1024 * kMiB), "10GB-20GB");
  EXPECT_EQ(KubeletImageSizeBucket(200 * 1024 * kMiB), "GT100GB");
}

TEST(KubeletLabels, StatusCodesKeepAuthNotFoundAndThrottlingApart) {
  EXPECT_EQ(StatusCodeLabel(0), "error");
  EXPECT_EQ(StatusCodeLabel(200), "2xx");
  EXPECT_EQ(StatusCodeLabel(307), "3xx");
  EXPECT_EQ(StatusCodeLabel(401), "401");
  EXPECT_EQ(StatusCodeLabel(404), "404");
  EXPECT_EQ(StatusCodeLabel(429), "429");
  EXPECT_EQ(StatusCodeLabel(418), "4xx");
  EXPECT_EQ(StatusCodeLabel(503), "5xx");
}

TEST(NodeMetrics, ExportTheKubeletsNamesLabelsAndBuckets) {
  Metrics metrics;
  NodeMetrics node = metrics.ForNode("node-1");
  node.KubeletPullDuration(3.5, 20 * 1024 * 1024);
  node.EnsureImage("IfNotPresent", false, true);
  node.PluginRan("ecr", 0.02, false);
  const std::string text = Scrape(metrics);
  EXPECT_NE(text.find("kubelet_image_pull_duration_seconds_bucket{image_size_in_bytes=\"10MB-"
                      "100MB\",node=\"node-1\",le=\"1\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kubelet_image_pull_duration_seconds_bucket{image_size_in_bytes=\"10MB-"
                      "100MB\",node=\"node-1\",le=\"5\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("le=\"3600\""), std::string::npos);
  EXPECT_NE(
      text.find("kubelet_image_manager_ensure_image_requests_total{node=\"node-1\","
                "present_locally=\"false\",pull_policy=\"ifnotpresent\",pull_required=\"true\"} 1"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("kubelet_credential_provider_plugin_duration_count{node=\"node-1\",plugin_"
                      "name=\"ecr\"} 1"),
            std::string::npos);
  EXPECT_NE(
      text.find(
          "kubelet_credential_provider_plugin_errors_total{node=\"node-1\",plugin_name=\"ecr\"} 1"),
      std::string::npos);
}

TEST(NodeMetrics, ClosedLabelSetsStartAtZeroAndUnknownReasonsBecomeOther) {
  Metrics metrics;
  NodeMetrics node = metrics.ForNode("node-1");
  node.SetPodsWaiting("SomethingNew", 2);
  const std::string text = Scrape(metrics);
  for (const auto& kind : ActorKinds()) {
    EXPECT_NE(text.find("pullfleet_actor_restarts_total{kind=\"" + kind + "\",node=\"node-1\"} 0"),
              std::string::npos)
        << kind;
  }
  EXPECT_NE(text.find("pullfleet_pods_waiting{node=\"node-1\",reason=\"ImagePullBackOff\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("pullfleet_pods_waiting{node=\"node-1\",reason=\"Other\"} 2"),
            std::string::npos);
  EXPECT_EQ(text.find("SomethingNew"), std::string::npos);
}

TEST(NodeMetrics, ThrottledAnswersAreCountedApartAndProgressSeriesLeaveWithTheirDownload) {
  Metrics metrics;
  NodeMetrics node = metrics.ForNode("node-1");
  node.RegistryResponse("other.example", 200);
  node.RegistryResponse("registry.example:5000", 429);
  node.RegistryResponse("registry.example:5000", 200);
  node.SetPullProgress("registry.example:5000/app:1", PullProgress{10, 100, 1, 3, 5.0});
  std::string text = Scrape(metrics);
  EXPECT_NE(text.find("pullfleet_registry_throttled_total{node=\"node-1\",registry=\"registry."
                      "example:5000\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("pullfleet_registry_requests_total{code=\"2xx\",node=\"node-1\",registry="
                      "\"registry.example:5000\"} 1"),
            std::string::npos);
  EXPECT_NE(
      text.find("pullfleet_registry_throttled_total{node=\"node-1\",registry=\"other.example\"} 0"),
      std::string::npos)
      << "a registry's throttling series starts at 0";
  EXPECT_NE(text.find("pullfleet_registry_token_fetches_total{node=\"node-1\",registry=\"other."
                      "example\",result=\"ok\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("pullfleet_pull_progress_layers{image=\"registry.example:5000/"
                      "app:1\",node=\"node-1\",part=\"total\"} 3"),
            std::string::npos);
  node.ClearPullProgress("registry.example:5000/app:1");
  text = Scrape(metrics);
  EXPECT_EQ(text.find("registry.example:5000/app:1"), std::string::npos) << text;
}

TEST(DeployFiles, EveryDashboardAndRuleQueryNamesOnlyExportedMetrics) {
  const std::set<std::string> exported = ExportedNames();
  // Prometheus's own per-target series, which the node-down alert also watches.
  const std::set<std::string> prometheus_own = {"up"};
  const auto queries = DeployQueries();
  ASSERT_GE(queries.size(), 20u) << "the dashboard or the rules lost their queries";
  for (const auto& query : queries) {
    const auto names = MetricNamesIn(query.expr);
    bool names_ours = false;
    for (const auto& name : names) {
      if (prometheus_own.count(name)) continue;
      EXPECT_TRUE(exported.count(name)) << query.where << " names \"" << name
                                        << "\", which pullfleet does not export: " << query.expr;
      names_ours = names_ours || exported.count(name) > 0;
    }
    EXPECT_TRUE(names_ours) << query.where << " names no pullfleet metric: " << query.expr;
  }
}

TEST(DeployFiles, MetricNameExtractionSeesThroughLabelsFunctionsAndGrouping) {
  EXPECT_EQ(
      MetricNamesIn(
          "histogram_quantile(0.95, sum by (le, node) (rate(a_bucket{node=~\"$node\"}[5m])))"),
      std::set<std::string>{"a_bucket"});
  EXPECT_EQ(MetricNamesIn("x / ignoring(part) y{part=\"total\"} or vector(0)"),
            (std::set<std::string>{"x", "y"}));
}

TEST(DeployFiles, PromtoolAcceptsTheRulesAndTheScrapeConfig) {
  for (const std::string& args : {"check rules " + kRules, "check config " + kScrapeConfig}) {
    FILE* pipe = popen(("promtool " + args + " 2>&1").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[512];
    while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
    const int status = pclose(pipe);
    EXPECT_EQ(status, 0) << "promtool " << args << ":\n" << output;
  }
}

}  // namespace
}  // namespace pullfleet::metrics
