#include "metrics/metrics.h"

#include <prometheus/exposer.h>

#include <algorithm>
#include <cctype>
#include <exception>

namespace pullfleet::metrics {
namespace {

using prometheus::Histogram;
using Labels = std::map<std::string, std::string>;

// The kubelet's buckets for kubelet_image_pull_duration_seconds, kept identical so existing
// dashboards keep working.
const Histogram::BucketBoundaries kKubeletPullBuckets = {
    1, 5, 10, 20, 30, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600};

// Prometheus's default buckets, which the kubelet uses for its plugin duration.
const Histogram::BucketBoundaries kDefaultBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                     0.5,   1,    2.5,   5,    10};

// Transfer time: finer at the low end, where pulls from a nearby registry land.
const Histogram::BucketBoundaries kPullBuckets = {0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                                  10,   20,  30,   60,  120, 300, 600};

// RocksDB writes without fsync take tens of microseconds; a slow disk shows in the tail.
const Histogram::BucketBoundaries kDbBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                0.005,   0.01,   0.025,   0.05,   0.1,   0.5};

template <class Builder>
auto& Register(Builder builder, const char* name, const char* help, prometheus::Registry& r) {
  return builder.Name(name).Help(help).Register(r);
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

const std::string& ClosedReason(const std::string& reason) {
  static const std::string kOther = "Other";
  const auto& all = WaitingReasons();
  return std::find(all.begin(), all.end(), reason) != all.end() ? reason : kOther;
}

}  // namespace

const std::vector<std::string>& WaitingReasons() {
  static const std::vector<std::string> kReasons = {
      "ContainerCreating", "PodInitializing",  "ErrImagePull", "ImagePullBackOff",
      "ErrImageNeverPull", "InvalidImageName", "Other"};
  return kReasons;
}

const std::vector<std::string>& ActorKinds() {
  static const std::vector<std::string> kKinds = {"pull-queue", "backoff", "credential-resolver",
                                                  "pod-chain"};
  return kKinds;
}

std::string_view KubeletImageSizeBucket(int64_t bytes) {
  if (bytes <= 0) return "N/A";
  constexpr int64_t kMiB = 1024 * 1024;
  constexpr int64_t kGiB = 1024 * kMiB;
  struct Range {
    int64_t above;  // the label applies to sizes greater than this
    std::string_view label;
  };
  static constexpr Range kRanges[] = {
      {100 * kGiB, "GT100GB"},     {60 * kGiB, "60GB-100GB"}, {40 * kGiB, "40GB-60GB"},
      {30 * kGiB, "30GB-40GB"},    {20 * kGiB, "20GB-30GB"},  {10 * kGiB, "10GB-20GB"},
      {5 * kGiB, "5GB-10GB"},      {1 * kGiB, "1GB-5GB"},     {500 * kMiB, "500MB-1GB"},
      {100 * kMiB, "100MB-500MB"}, {10 * kMiB, "10MB-100MB"},
  };
  for (const auto& range : kRanges) {
    if (bytes > range.above) return range.label;
  }
  return "0-10MB";
}

std::string_view StatusCodeLabel(long status) {
  switch (status) {
    case 0:
      return "error";
    case 401:
      return "401";
    case 403:
      return "403";
    case 404:
      return "404";
    case 429:
      return "429";
    default:
      break;
  }
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 300 && status < 400) return "3xx";
  if (status >= 400 && status < 500) return "4xx";
  return "5xx";
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;

  kubelet_pull_duration_ = &Register(BuildHistogram(), "kubelet_image_pull_duration_seconds",
                                     "Duration in seconds to pull an image, queueing included "
                                     "(successful pulls), by image size range.",
                                     r);
  ensure_image_ = &Register(BuildCounter(), "kubelet_image_manager_ensure_image_requests_total",
                            "Number of ensure-image requests processed, by pull policy, "
                            "presence and whether a pull was required.",
                            r);
  plugin_duration_ = &Register(BuildHistogram(), "kubelet_credential_provider_plugin_duration",
                               "Duration in seconds of credential provider plugin runs.", r);
  plugin_errors_ = &Register(BuildCounter(), "kubelet_credential_provider_plugin_errors_total",
                             "Credential provider plugin runs that failed.", r);

  pulls_ = &Register(BuildCounter(), "pullfleet_image_pulls_total",
                     "Image pulls that ended, by node, result and reason (ok or error code).", r);
  pull_duration_ = &Register(BuildHistogram(), "pullfleet_image_pull_duration_seconds",
                             "Time from a pull's start (after queueing) to its end, by node.", r);
  bytes_downloaded_ = &Register(BuildCounter(), "pullfleet_bytes_downloaded_total",
                                "Blob bytes downloaded from registries, by node.", r);
  bytes_reused_ = &Register(BuildCounter(), "pullfleet_bytes_reused_total",
                            "Blob bytes a pull needed that were already in the node's store.", r);
  shared_downloads_ = &Register(BuildCounter(), "pullfleet_shared_downloads_total",
                                "Pulls that joined a download already in flight on the node "
                                "instead of starting one.",
                                r);
  queue_depth_ = &Register(BuildGauge(), "pullfleet_pull_queue_depth",
                           "Pulls waiting in the node's queue.", r);
  in_flight_ = &Register(BuildGauge(), "pullfleet_pulls_in_flight",
                         "Pulls transferring on the node now.", r);
  pods_waiting_ = &Register(BuildGauge(), "pullfleet_pods_waiting",
                            "Pods of the node with a container waiting, by waiting reason.", r);
  backoffs_active_ = &Register(BuildGauge(), "pullfleet_backoffs_active",
                               "(pod, image) keys of the node in ImagePullBackOff now.", r);
  registry_requests_ = &Register(BuildCounter(), "pullfleet_registry_requests_total",
                                 "HTTP requests to registries, by node, registry and status code "
                                 "(401/403/404/429 apart, others by class; error: no answer).",
                                 r);
  registry_throttled_ =
      &Register(BuildCounter(), "pullfleet_registry_throttled_total",
                "Registry answers 429 Too Many Requests, by node and registry.", r);
  token_fetches_ = &Register(BuildCounter(), "pullfleet_registry_token_fetches_total",
                             "Bearer tokens fetched from registries' token realms, by result.", r);
  credential_lookups_ = &Register(BuildCounter(), "pullfleet_credential_lookups_total",
                                  "Credential lookups for pulls, by source and result.", r);
  actor_restarts_ = &Register(BuildCounter(), "pullfleet_actor_restarts_total",
                              "Actors restarted by their supervisor, by node and kind.", r);
  db_write_ = &Register(BuildHistogram(), "pullfleet_db_write_duration_seconds",
                        "RocksDB write latency, by database (images of a node, coordinator).", r);
  progress_bytes_ = &Register(BuildGauge(), "pullfleet_pull_progress_bytes",
                              "Bytes of a running download (part: done, total), by node and "
                              "image; a series exists only while its download runs.",
                              r);
  progress_layers_ = &Register(BuildGauge(), "pullfleet_pull_progress_layers",
                               "Layers of a running download (part: done, total), by node and "
                               "image; a series exists only while its download runs.",
                               r);
  progress_rate_ = &Register(BuildGauge(), "pullfleet_pull_progress_bytes_per_second",
                             "Average rate of a running download since it started, by node and "
                             "image; a series exists only while its download runs.",
                             r);
  node_progress_bytes_ = &Register(BuildGauge(), "pullfleet_node_pull_progress_bytes",
                                   "Bytes of the node's running downloads together (part: done, "
                                   "total); 0 when none runs.",
                                   r);
  node_progress_layers_ = &Register(BuildGauge(), "pullfleet_node_pull_progress_layers",
                                    "Layers of the node's running downloads together (part: "
                                    "done, total); 0 when none runs.",
                                    r);
  node_progress_rate_ = &Register(BuildGauge(), "pullfleet_node_pull_bytes_per_second",
                                  "Sum of the rates of the node's running downloads.", r);

  node_up_ =
      &Register(BuildGauge(), "pullfleet_node_up",
                "1 while the node is registered with the coordinator, 0 once it is lost.", r);
  cluster_pods_waiting_ = &Register(BuildGauge(), "pullfleet_cluster_pods_waiting",
                                    "Pods of the cluster with a container waiting, by reason.", r);
  cluster_pods_ = &Register(BuildGauge(), "pullfleet_cluster_pods",
                            "Pods known to the coordinator, by images_ready.", r);
}

Metrics::~Metrics() = default;

Status Metrics::Serve(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return Error(ErrorCode::kIo, "serve metrics on " + address + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  return Status::Ok();
}

NodeMetrics Metrics::ForNode(const std::string& node) {
  const Labels n{{"node", node}};
  NodeMetrics m;
  m.node_ = node;
  m.owner_ = this;
  m.bytes_downloaded_ = &bytes_downloaded_->Add(n);
  m.bytes_reused_ = &bytes_reused_->Add(n);
  m.shared_downloads_ = &shared_downloads_->Add(n);
  m.queue_depth_ = &queue_depth_->Add(n);
  m.in_flight_ = &in_flight_->Add(n);
  m.backoffs_active_ = &backoffs_active_->Add(n);
  m.pull_duration_ = &pull_duration_->Add(n, kPullBuckets);
  m.db_write_ = &db_write_->Add({{"node", node}, {"db", "images"}}, kDbBuckets);
  // Zero values of the closed label sets: a panel shows 0 rather than "no data".
  for (const auto& reason : WaitingReasons())
    pods_waiting_->Add({{"node", node}, {"reason", reason}});
  for (const auto& kind : ActorKinds()) actor_restarts_->Add({{"node", node}, {"kind", kind}});
  m.SetProgressTotals(PullProgress{});
  return m;
}

void Metrics::SetNodeUp(const std::string& node, bool up) {
  node_up_->Add({{"node", node}}).Set(up ? 1 : 0);
}

void Metrics::SetClusterPodsWaiting(const std::string& reason, int64_t pods) {
  cluster_pods_waiting_->Add({{"reason", ClosedReason(reason)}}).Set(static_cast<double>(pods));
}

void Metrics::SetClusterPods(bool images_ready, int64_t pods) {
  cluster_pods_->Add({{"images_ready", images_ready ? "true" : "false"}})
      .Set(static_cast<double>(pods));
}

void Metrics::CoordinatorDbWrite(double seconds) {
  db_write_->Add({{"db", "coordinator"}}, kDbBuckets).Observe(seconds);
}

void NodeMetrics::PullFinished(bool ok, std::string_view reason, double seconds) const {
  owner_->pulls_
      ->Add({{"node", node_},
             {"result", ok ? "success" : "failure"},
             {"reason", std::string(reason)}})
      .Increment();
  pull_duration_->Observe(seconds);
}

void NodeMetrics::KubeletPullDuration(double seconds, int64_t image_size) const {
  owner_->kubelet_pull_duration_
      ->Add({{"node", node_},
             {"image_size_in_bytes", std::string(KubeletImageSizeBucket(image_size))}},
            kKubeletPullBuckets)
      .Observe(seconds);
}

void NodeMetrics::SetPodsWaiting(const std::string& reason, int64_t pods) const {
  owner_->pods_waiting_->Add({{"node", node_}, {"reason", ClosedReason(reason)}})
      .Set(static_cast<double>(pods));
}

void NodeMetrics::ActorRestarted(std::string_view kind) const {
  owner_->actor_restarts_->Add({{"node", node_}, {"kind", std::string(kind)}}).Increment();
}

void NodeMetrics::EnsureImage(std::string_view pull_policy, bool present_locally,
                              bool pull_required) const {
  owner_->ensure_image_
      ->Add({{"node", node_},
             {"pull_policy", Lowercase(pull_policy)},
             {"present_locally", present_locally ? "true" : "false"},
             {"pull_required", pull_required ? "true" : "false"}})
      .Increment();
}

void NodeMetrics::RegistryResponse(std::string_view registry, long status) const {
  const std::string host(registry);
  owner_->registry_requests_
      ->Add({{"node", node_}, {"registry", host}, {"code", std::string(StatusCodeLabel(status))}})
      .Increment();
  // A registry's throttling and token series start at 0 with its first answer, so their
  // panels show 0 for a registry that never throttled or never asked for a token.
  auto& throttled = owner_->registry_throttled_->Add({{"node", node_}, {"registry", host}});
  if (status == 429) throttled.Increment();
  for (const char* result : {"ok", "error"}) {
    owner_->token_fetches_->Add({{"node", node_}, {"registry", host}, {"result", result}});
  }
}

void NodeMetrics::TokenFetch(std::string_view registry, bool ok) const {
  owner_->token_fetches_
      ->Add({{"node", node_}, {"registry", std::string(registry)}, {"result", ok ? "ok" : "error"}})
      .Increment();
}

void NodeMetrics::CredentialLookup(std::string_view source, std::string_view result) const {
  owner_->credential_lookups_
      ->Add({{"node", node_}, {"source", std::string(source)}, {"result", std::string(result)}})
      .Increment();
}

void NodeMetrics::PluginRan(std::string_view plugin, double seconds, bool ok) const {
  const Labels labels{{"node", node_}, {"plugin_name", std::string(plugin)}};
  owner_->plugin_duration_->Add(labels, kDefaultBuckets).Observe(seconds);
  if (!ok) owner_->plugin_errors_->Add(labels).Increment();
}

void NodeMetrics::SetPullProgress(const std::string& image, const PullProgress& progress) const {
  auto& o = *owner_;
  o.progress_bytes_->Add({{"node", node_}, {"image", image}, {"part", "done"}})
      .Set(static_cast<double>(progress.bytes_done));
  o.progress_bytes_->Add({{"node", node_}, {"image", image}, {"part", "total"}})
      .Set(static_cast<double>(progress.bytes_total));
  o.progress_layers_->Add({{"node", node_}, {"image", image}, {"part", "done"}})
      .Set(progress.layers_done);
  o.progress_layers_->Add({{"node", node_}, {"image", image}, {"part", "total"}})
      .Set(progress.layers_total);
  o.progress_rate_->Add({{"node", node_}, {"image", image}}).Set(progress.bytes_per_second);
}

void NodeMetrics::ClearPullProgress(const std::string& image) const {
  auto& o = *owner_;
  for (const char* part : {"done", "total"}) {
    o.progress_bytes_->Remove(
        &o.progress_bytes_->Add({{"node", node_}, {"image", image}, {"part", part}}));
    o.progress_layers_->Remove(
        &o.progress_layers_->Add({{"node", node_}, {"image", image}, {"part", part}}));
  }
  o.progress_rate_->Remove(&o.progress_rate_->Add({{"node", node_}, {"image", image}}));
}

void NodeMetrics::SetProgressTotals(const PullProgress& sum) const {
  auto& o = *owner_;
  o.node_progress_bytes_->Add({{"node", node_}, {"part", "done"}})
      .Set(static_cast<double>(sum.bytes_done));
  o.node_progress_bytes_->Add({{"node", node_}, {"part", "total"}})
      .Set(static_cast<double>(sum.bytes_total));
  o.node_progress_layers_->Add({{"node", node_}, {"part", "done"}}).Set(sum.layers_done);
  o.node_progress_layers_->Add({{"node", node_}, {"part", "total"}}).Set(sum.layers_total);
  o.node_progress_rate_->Add({{"node", node_}}).Set(sum.bytes_per_second);
}

}  // namespace pullfleet::metrics
