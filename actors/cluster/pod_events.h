// The events the coordinator keeps with each pod, as nodes report them.
#pragma once

#include "messages/pullfleet.pb.h"

namespace pullfleet::actors {

// The most events kept with one pod; the oldest go first.
constexpr int kMaxEventsPerPod = 100;

// Merges the events of `report` into `pod`: one that repeats a kept event (same type, reason,
// message and source) adds to its count, as the kubelet's event recorder does. Events the pod
// already holds from the same stream (by their numbers) are left out: after registering
// again, a node sends the events after the last one the pod holds, and some of a report it
// sent before the connection died may have arrived all the same.
void MergeEvents(pb::Pod& pod, const pb::PodStatusReport& report);

}  // namespace pullfleet::actors
