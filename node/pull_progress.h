// PullTracker: the live figures of one running download (bytes and layers done out of the
// total, the recent rate) and whether it has stalled. Plain C++ with the time passed in, so
// tests drive it with their own clock; the node's pull queue keeps one per running download
// and feeds it the progress reports of the transfer thread.
//
// The rate is measured over the last few seconds, not since the start, so a download that
// stops moving shows 0 B/s within that window. A download has stalled when its byte count
// has not changed for the stall timeout (the node's stallTimeoutSeconds), counted from its
// start until the first byte moves.
#pragma once

#include <chrono>
#include <deque>

#include "metrics/metrics.h"
#include "pull/puller.h"

namespace pullfleet::node {

class PullTracker {
 public:
  using Clock = std::chrono::steady_clock;
  // Rate samples older than this are dropped.
  static constexpr std::chrono::seconds kRateWindow{5};

  explicit PullTracker(Clock::time_point started);

  // A progress report of the transfer at time `now`.
  void Update(const pull::Progress& progress, Clock::time_point now);
  // The figures at `now` (the rate decays to 0 when no byte moved within the window).
  metrics::PullProgress Snapshot(Clock::time_point now);
  // True when no byte moved for `timeout` up to `now`, neither of this transfer nor of
  // another writer it waits for.
  bool Stalled(Clock::time_point now, std::chrono::milliseconds timeout) const;

 private:
  struct Sample {
    Clock::time_point at;
    int64_t bytes;
  };
  void Prune(Clock::time_point now);

  pull::Progress last_;
  Clock::time_point last_change_;
  std::deque<Sample> samples_;
};

}  // namespace pullfleet::node
