#include "actors/cluster/pod_events.h"

#include <algorithm>

namespace pullfleet::actors {

void MergeEvents(pb::Pod& pod, const pb::PodStatusReport& report) {
  int skip = 0;
  if (!report.events_source().empty() && report.events_source() == pod.events_source() &&
      pod.events_seq() >= report.first_event_seq()) {
    skip = static_cast<int>(std::min<uint64_t>(pod.events_seq() - report.first_event_seq() + 1,
                                               report.new_events_size()));
  }
  if (!report.events_source().empty() && report.new_events_size() > skip) {
    pod.set_events_source(report.events_source());
    pod.set_events_seq(report.first_event_seq() + report.new_events_size() - 1);
  }
  for (int i = skip; i < report.new_events_size(); ++i) {
    const pb::Event& event = report.new_events(i);
    bool merged = false;
    for (auto& old : *pod.mutable_events()) {
      if (old.type() == event.type() && old.reason() == event.reason() &&
          old.message() == event.message() && old.source() == event.source()) {
        old.set_count(old.count() + event.count());
        old.set_last_unix_ms(event.last_unix_ms());
        merged = true;
        break;
      }
    }
    if (!merged) *pod.add_events() = event;
  }
  const int excess = pod.events_size() - kMaxEventsPerPod;
  if (excess > 0) pod.mutable_events()->DeleteSubrange(0, excess);
}

}  // namespace pullfleet::actors
