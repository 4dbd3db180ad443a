#include "metrics/metrics.h"

#include <prometheus/exposer.h>

#include <exception>

namespace pullfleet::metrics {
namespace {

// The kubelet's buckets for kubelet_image_pull_duration_seconds, kept identical so existing
// dashboards keep working.
const prometheus::Histogram::BucketBoundaries kKubeletPullBuckets = {
    0.5, 1, 5, 10, 20, 30, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600};

const prometheus::Histogram::BucketBoundaries kPullBuckets = {
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};

}  // namespace

std::string_view KubeletImageSizeBucket(int64_t bytes) {
  constexpr int64_t kMb = 1000 * 1000;
  constexpr int64_t kGb = 1000 * kMb;
  struct Range {
    int64_t below;
    std::string_view label;
  };
  static constexpr Range kRanges[] = {
      {10 * kMb, "0-10MB"},        {100 * kMb, "10MB-100MB"},  {500 * kMb, "100MB-500MB"},
      {1 * kGb, "500MB-1GB"},      {5 * kGb, "1GB-5GB"},       {10 * kGb, "5GB-10GB"},
      {20 * kGb, "10GB-20GB"},     {30 * kGb, "20GB-30GB"},    {40 * kGb, "30GB-40GB"},
      {60 * kGb, "40GB-60GB"},     {100 * kGb, "60GB-100GB"},
  };
  for (const auto& range : kRanges) {
    if (bytes < range.below) return range.label;
  }
  return "GT100GB";
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  pulls_ = &prometheus::BuildCounter()
                .Name("pullfleet_image_pulls_total")
                .Help("Image pulls that ended, by node, result and reason.")
                .Register(r);
  pull_duration_ = &prometheus::BuildHistogram()
                        .Name("pullfleet_image_pull_duration_seconds")
                        .Help("Time from a pull's start (after queueing) to its end, by node.")
                        .Register(r);
  kubelet_pull_duration_ = &prometheus::BuildHistogram()
                                .Name("kubelet_image_pull_duration_seconds")
                                .Help("Duration of successful image pulls, by image size range.")
                                .Register(r);
  bytes_downloaded_ = &prometheus::BuildCounter()
                           .Name("pullfleet_bytes_downloaded_total")
                           .Help("Blob bytes downloaded from registries, by node.")
                           .Register(r);
  bytes_reused_ = &prometheus::BuildCounter()
                       .Name("pullfleet_bytes_reused_total")
                       .Help("Blob bytes a pull needed that were already in the node's store.")
                       .Register(r);
  shared_downloads_ = &prometheus::BuildCounter()
                           .Name("pullfleet_shared_downloads_total")
                           .Help("Pulls that joined a download already in flight on the node.")
                           .Register(r);
  queue_depth_ = &prometheus::BuildGauge()
                      .Name("pullfleet_pull_queue_depth")
                      .Help("Pulls waiting in the node's queue.")
                      .Register(r);
  in_flight_ = &prometheus::BuildGauge()
                    .Name("pullfleet_pulls_in_flight")
                    .Help("Pulls transferring on the node now.")
                    .Register(r);
  actor_restarts_ = &prometheus::BuildCounter()
                         .Name("pullfleet_actor_restarts_total")
                         .Help("Actors restarted by their supervisor, by node and kind.")
                         .Register(r);
  ensure_image_ = &prometheus::BuildCounter()
                       .Name("kubelet_image_manager_ensure_image_requests_total")
                       .Help("Image decisions, by pull policy, presence and whether a pull was "
                             "required.")
                       .Register(r);
  node_up_ = &prometheus::BuildGauge()
                  .Name("pullfleet_node_up")
                  .Help("1 while the node is registered with the coordinator.")
                  .Register(r);
  pods_waiting_ = &prometheus::BuildGauge()
                       .Name("pullfleet_pods")
                       .Help("Pods known to the coordinator, by status reason.")
                       .Register(r);
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
  NodeMetrics m;
  m.node_ = node;
  m.owner_ = this;
  m.bytes_downloaded_ = &bytes_downloaded_->Add({{"node", node}});
  m.bytes_reused_ = &bytes_reused_->Add({{"node", node}});
  m.shared_downloads_ = &shared_downloads_->Add({{"node", node}});
  m.queue_depth_ = &queue_depth_->Add({{"node", node}});
  m.in_flight_ = &in_flight_->Add({{"node", node}});
  m.pull_duration_ = &pull_duration_->Add({{"node", node}}, kPullBuckets);
  return m;
}

void Metrics::SetNodeUp(const std::string& node, bool up) {
  node_up_->Add({{"node", node}}).Set(up ? 1 : 0);
}

void Metrics::SetPodsByReason(const std::string& reason, int64_t count) {
  pods_waiting_->Add({{"reason", reason}}).Set(static_cast<double>(count));
}

void NodeMetrics::PullFinished(bool ok, std::string_view reason, double seconds,
                               int64_t image_size) {
  owner_->pulls_
      ->Add({{"node", node_}, {"result", ok ? "success" : "failure"}, {"reason", std::string(reason)}})
      .Increment();
  pull_duration_->Observe(seconds);
  if (ok) {
    owner_->kubelet_pull_duration_
        ->Add({{"node", node_}, {"image_size_in_bytes", std::string(KubeletImageSizeBucket(image_size))}},
              kKubeletPullBuckets)
        .Observe(seconds);
  }
}

void NodeMetrics::ActorRestarted(std::string_view kind) {
  owner_->actor_restarts_->Add({{"node", node_}, {"kind", std::string(kind)}}).Increment();
}

void NodeMetrics::EnsureImage(std::string_view pull_policy, bool present_locally,
                              bool pull_required) {
  owner_->ensure_image_
      ->Add({{"node", node_},
             {"pull_policy", std::string(pull_policy)},
             {"present_locally", present_locally ? "true" : "false"},
             {"pull_required", pull_required ? "true" : "false"}})
      .Increment();
}

}  // namespace pullfleet::metrics
