// Metric families of a pullfleet process and the handles actors use to update them.
//
// One Metrics object per process owns a prometheus-cpp registry and, once Serve() is
// called, the HTTP endpoint that exposes it. In the embedded mode every node of the process
// shares it and is told apart by the `node` label. Labels come from closed sets only:
// node names (bounded by the fleet), results, error codes, actor kinds.
//
// prometheus-cpp metrics are thread-safe: transfer threads update them directly.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace prometheus {
class Exposer;
}

namespace pullfleet::metrics {

// The handles of one node. Cheap to copy; valid as long as the Metrics object lives.
class NodeMetrics {
 public:
  // A pull that ended. `reason` is "ok" or an ErrorCodeName; `seconds` excludes queueing.
  void PullFinished(bool ok, std::string_view reason, double seconds, int64_t image_size);
  void BytesDownloaded(int64_t bytes) { bytes_downloaded_->Increment(static_cast<double>(bytes)); }
  void BytesReused(int64_t bytes) { bytes_reused_->Increment(static_cast<double>(bytes)); }
  void SharedDownload() { shared_downloads_->Increment(); }
  void SetQueueDepth(size_t depth) { queue_depth_->Set(static_cast<double>(depth)); }
  void SetInFlight(size_t pulls) { in_flight_->Set(static_cast<double>(pulls)); }
  void ActorRestarted(std::string_view kind);
  // One EnsureImageExists decision, as the kubelet counts them.
  void EnsureImage(std::string_view pull_policy, bool present_locally, bool pull_required);

 private:
  friend class Metrics;
  std::string node_;
  class Metrics* owner_ = nullptr;
  prometheus::Counter* bytes_downloaded_ = nullptr;
  prometheus::Counter* bytes_reused_ = nullptr;
  prometheus::Counter* shared_downloads_ = nullptr;
  prometheus::Gauge* queue_depth_ = nullptr;
  prometheus::Gauge* in_flight_ = nullptr;
  prometheus::Histogram* pull_duration_ = nullptr;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Serves /metrics on "HOST:PORT". kInvalidArgument / kIo when it cannot bind.
  Status Serve(const std::string& address);

  NodeMetrics ForNode(const std::string& node);

  // Coordinator-side figures.
  void SetNodeUp(const std::string& node, bool up);
  void SetPodsByReason(const std::string& reason, int64_t count);

  prometheus::Registry& registry() { return *registry_; }

 private:
  friend class NodeMetrics;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>* pulls_;
  prometheus::Family<prometheus::Histogram>* pull_duration_;
  prometheus::Family<prometheus::Histogram>* kubelet_pull_duration_;
  prometheus::Family<prometheus::Counter>* bytes_downloaded_;
  prometheus::Family<prometheus::Counter>* bytes_reused_;
  prometheus::Family<prometheus::Counter>* shared_downloads_;
  prometheus::Family<prometheus::Gauge>* queue_depth_;
  prometheus::Family<prometheus::Gauge>* in_flight_;
  prometheus::Family<prometheus::Counter>* actor_restarts_;
  prometheus::Family<prometheus::Counter>* ensure_image_;
  prometheus::Family<prometheus::Gauge>* node_up_;
  prometheus::Family<prometheus::Gauge>* pods_waiting_;
};

// The kubelet's image_size_in_bytes label value for an image of `bytes` ("0-10MB", ...).
std::string_view KubeletImageSizeBucket(int64_t bytes);

}  // namespace pullfleet::metrics
