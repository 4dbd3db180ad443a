// Metric families of a pullfleet process and the handles actors use to update them.
//
// One Metrics object per process owns a prometheus-cpp registry and, once Serve() is
// called, the HTTP endpoint that exposes it. In the embedded mode every node of the process
// shares it and is told apart by the `node` label. Labels come from closed sets: node names
// (bounded by the fleet), results, error codes, HTTP status classes, actor kinds, waiting
// reasons, registry hosts (bounded by the registries a fleet is configured to use). One family
// names images on purpose: pullfleet_pull_progress_*, whose series exist only while a download
// runs (so their number is bounded by the node's parallel pulls) and are removed at its end.
//
// Where pullfleet does what the kubelet does, the family has the kubelet's name, labels,
// label values and buckets (plus `node`), so dashboards built for the kubelet keep working:
//   kubelet_image_pull_duration_seconds{image_size_in_bytes}
//   kubelet_image_manager_ensure_image_requests_total{pull_policy,present_locally,pull_required}
//   kubelet_credential_provider_plugin_duration{plugin_name}
//   kubelet_credential_provider_plugin_errors_total{plugin_name}
//
// prometheus-cpp metrics are thread-safe: transfer threads update them directly. Created by
// cmd/server.cc; NodeMetrics handles are copied into each node's NodeContext.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace prometheus {
class Exposer;
}

namespace pullfleet::metrics {

// The waiting reasons a container of a pod can show on a node, the closed label set of
// pullfleet_pods_waiting and pullfleet_cluster_pods_waiting.
const std::vector<std::string>& WaitingReasons();

// The actor kinds a node supervises, the closed label set of pullfleet_actor_restarts_total.
const std::vector<std::string>& ActorKinds();

// Figures of one running download, as `describe pod` shows them.
struct PullProgress {
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;
  int layers_done = 0;
  int layers_total = 0;
  double bytes_per_second = 0;
};

// The handles of one node. Cheap to copy; valid as long as the Metrics object lives.
class NodeMetrics {
 public:
  // A pull that ended. `reason` is "ok" or an ErrorCodeName; `seconds` excludes queueing.
  void PullFinished(bool ok, std::string_view reason, double seconds) const;
  // A successful pull as the kubelet times it: from the decision to pull (queueing and
  // credential lookup included) to the image being present.
  void KubeletPullDuration(double seconds, int64_t image_size) const;
  void BytesDownloaded(int64_t bytes) const {
    bytes_downloaded_->Increment(static_cast<double>(bytes));
  }
  void BytesReused(int64_t bytes) const { bytes_reused_->Increment(static_cast<double>(bytes)); }
  void SharedDownload() const { shared_downloads_->Increment(); }
  void SetQueueDepth(size_t depth) const { queue_depth_->Set(static_cast<double>(depth)); }
  void SetInFlight(size_t pulls) const { in_flight_->Set(static_cast<double>(pulls)); }
  void SetBackoffsActive(size_t keys) const { backoffs_active_->Set(static_cast<double>(keys)); }
  // Pods of this node with at least one container waiting for `reason` (one of
  // WaitingReasons(); others are counted under "Other").
  void SetPodsWaiting(const std::string& reason, int64_t pods) const;
  void ActorRestarted(std::string_view kind) const;
  // One EnsureImageExists decision, as the kubelet counts them (`pull_policy` as stored:
  // "Always", "IfNotPresent", "Never"; the label value is lowercase as in the kubelet).
  void EnsureImage(std::string_view pull_policy, bool present_locally, bool pull_required) const;
  // One answer (or none: status 0) from `registry` (a host[:port] as written in images).
  void RegistryResponse(std::string_view registry, long status) const;
  void TokenFetch(std::string_view registry, bool ok) const;
  // One credential lookup for a pull: `source` names where credentials were looked for
  // ("docker-config"; "none" when the node has no source configured), `result` is "found",
  // "none" (nothing matched the image) or "error" (the source could not be read).
  void CredentialLookup(std::string_view source, std::string_view result) const;
  // One run of a credential provider plugin.
  void PluginRan(std::string_view plugin, double seconds, bool ok) const;
  // One write to the node's image database.
  void DbWrite(double seconds) const { db_write_->Observe(seconds); }
  // The progress of the running download of `image` (normalised name); ClearPullProgress
  // removes its series when the download ends. SetProgressTotals sets the node's sums.
  void SetPullProgress(const std::string& image, const PullProgress& progress) const;
  void ClearPullProgress(const std::string& image) const;
  void SetProgressTotals(const PullProgress& sum) const;

 private:
  friend class Metrics;
  std::string node_;
  class Metrics* owner_ = nullptr;
  prometheus::Counter* bytes_downloaded_ = nullptr;
  prometheus::Counter* bytes_reused_ = nullptr;
  prometheus::Counter* shared_downloads_ = nullptr;
  prometheus::Gauge* queue_depth_ = nullptr;
  prometheus::Gauge* in_flight_ = nullptr;
  prometheus::Gauge* backoffs_active_ = nullptr;
  prometheus::Histogram* pull_duration_ = nullptr;
  prometheus::Histogram* db_write_ = nullptr;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Serves /metrics on "HOST:PORT". kInvalidArgument / kIo when it cannot bind.
  Status Serve(const std::string& address);

  // The handles of node `node`; creates its series with their zero values, so every panel
  // has a line for the node from its first scrape on.
  NodeMetrics ForNode(const std::string& node);

  // Coordinator-side figures.
  void SetNodeUp(const std::string& node, bool up);
  // Pods of the cluster with at least one container waiting for `reason`.
  void SetClusterPodsWaiting(const std::string& reason, int64_t pods);
  // Pods of the cluster by ImagesReady ("true", "false").
  void SetClusterPods(bool images_ready, int64_t pods);
  // One write to the coordinator's database.
  void CoordinatorDbWrite(double seconds);

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

 private:
  friend class NodeMetrics;
  template <class T>
  using Family = prometheus::Family<T>;

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  // Kubelet families.
  Family<prometheus::Histogram>* kubelet_pull_duration_;
  Family<prometheus::Counter>* ensure_image_;
  Family<prometheus::Histogram>* plugin_duration_;
  Family<prometheus::Counter>* plugin_errors_;
  // Node families.
  Family<prometheus::Counter>* pulls_;
  Family<prometheus::Histogram>* pull_duration_;
  Family<prometheus::Counter>* bytes_downloaded_;
  Family<prometheus::Counter>* bytes_reused_;
  Family<prometheus::Counter>* shared_downloads_;
  Family<prometheus::Gauge>* queue_depth_;
  Family<prometheus::Gauge>* in_flight_;
  Family<prometheus::Gauge>* pods_waiting_;
  Family<prometheus::Gauge>* backoffs_active_;
  Family<prometheus::Counter>* registry_requests_;
  Family<prometheus::Counter>* registry_throttled_;
  Family<prometheus::Counter>* token_fetches_;
  Family<prometheus::Counter>* credential_lookups_;
  Family<prometheus::Counter>* actor_restarts_;
  Family<prometheus::Histogram>* db_write_;
  Family<prometheus::Gauge>* progress_bytes_;
  Family<prometheus::Gauge>* progress_layers_;
  Family<prometheus::Gauge>* progress_rate_;
  Family<prometheus::Gauge>* node_progress_bytes_;
  Family<prometheus::Gauge>* node_progress_layers_;
  Family<prometheus::Gauge>* node_progress_rate_;
  // Coordinator families.
  Family<prometheus::Gauge>* node_up_;
  Family<prometheus::Gauge>* cluster_pods_waiting_;
  Family<prometheus::Gauge>* cluster_pods_;
};

// The kubelet's image_size_in_bytes label value for an image of `bytes` ("0-10MB", ...; the
// kubelet's bounds are binary: 10MB is 10 MiB). "N/A" when the size is unknown (0).
std::string_view KubeletImageSizeBucket(int64_t bytes);

// The `code` label of pullfleet_registry_requests_total for an HTTP status: 401, 403, 404
// and 429 as themselves, other statuses by class ("2xx", "5xx"), "error" for no answer (0).
std::string_view StatusCodeLabel(long status);

}  // namespace pullfleet::metrics
