// Pod counts by waiting reason, the figures of pullfleet_pods_waiting (set by each node agent
// from its pod chains' reports) and pullfleet_cluster_pods_waiting (set by the coordinator
// from every pod it knows). A pod counts once per reason any of its containers waits for.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "messages/pullfleet.pb.h"

namespace pullfleet::actors {

// Reason -> pods; every reason of metrics::WaitingReasons() is present (0 when none waits).
using WaitingCounts = std::map<std::string, int64_t>;

WaitingCounts ZeroWaitingCounts();

// Adds one to every reason `status` has a container (init or app) waiting for; reasons
// outside metrics::WaitingReasons() count as "Other".
void CountWaiting(const pb::PodStatus& status, WaitingCounts& counts);

// True when the pod's ImagesReady condition is True.
bool ImagesReady(const pb::PodStatus& status);

}  // namespace pullfleet::actors
