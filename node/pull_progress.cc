#include "node/pull_progress.h"

namespace pullfleet::node {

PullTracker::PullTracker(Clock::time_point started) : last_change_(started) {}

void PullTracker::Update(const pull::Progress& progress, Clock::time_point now) {
  if (progress.bytes_done != last_.bytes_done || progress.layers_done != last_.layers_done ||
      progress.bytes_waited_on != last_.bytes_waited_on) {
    last_change_ = now;
  }
  last_ = progress;
  samples_.push_back(Sample{now, progress.bytes_done});
  Prune(now);
}

metrics::PullProgress PullTracker::Snapshot(Clock::time_point now) {
  Prune(now);
  metrics::PullProgress figures;
  figures.bytes_done = last_.bytes_done;
  figures.bytes_total = last_.bytes_total;
  figures.layers_done = last_.layers_done;
  figures.layers_total = last_.layers_total;
  // The rate runs from the oldest sample in the window up to now, so it falls while no new
  // byte arrives; with fewer than two samples nothing has been measured yet.
  if (samples_.size() >= 2) {
    const double seconds = std::chrono::duration<double>(now - samples_.front().at).count();
    const int64_t moved = samples_.back().bytes - samples_.front().bytes;
    if (seconds > 0) figures.bytes_per_second = static_cast<double>(moved) / seconds;
  }
  return figures;
}

bool PullTracker::Stalled(Clock::time_point now, std::chrono::milliseconds timeout) const {
  return now - last_change_ >= timeout;
}

void PullTracker::Prune(Clock::time_point now) {
  // Keep the newest sample even when it is old: it is the base of the next rate.
  while (samples_.size() > 1 && now - samples_.front().at > kRateWindow) samples_.pop_front();
  if (samples_.size() == 1 && now - samples_.front().at > kRateWindow) {
    samples_.front().at = now - kRateWindow;
  }
}

}  // namespace pullfleet::node
