#include "actors/common/pod_metrics.h"

#include <set>

#include "metrics/metrics.h"

namespace pullfleet::actors {

WaitingCounts ZeroWaitingCounts() {
  WaitingCounts counts;
  for (const auto& reason : metrics::WaitingReasons()) counts[reason] = 0;
  return counts;
}

void CountWaiting(const pb::PodStatus& status, WaitingCounts& counts) {
  std::set<std::string> reasons;
  auto collect = [&](const auto& statuses) {
    for (const auto& container : statuses) {
      if (container.ready() || !container.has_waiting()) continue;
      const std::string& reason = container.waiting().reason();
      reasons.insert(counts.count(reason) ? reason : "Other");
    }
  };
  collect(status.init_container_statuses());
  collect(status.container_statuses());
  for (const auto& reason : reasons) ++counts[reason];
}

bool ImagesReady(const pb::PodStatus& status) {
  for (const auto& condition : status.conditions()) {
    if (condition.type() == "ImagesReady") return condition.status() == "True";
  }
  return false;
}

}  // namespace pullfleet::actors
