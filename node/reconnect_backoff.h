// How long a node waits before it tries to reach its coordinator again: exponential backoff
// with jitter, so that a fleet that lost its coordinator at one moment does not come back in
// one burst. Plain value type, used by the node agent; the randomness is passed in so tests
// can pin it.
#pragma once

#include <algorithm>
#include <chrono>

namespace pullfleet::node {

class ReconnectBackoff {
 public:
  using Duration = std::chrono::milliseconds;

  // The first wait is about `initial`, each next one doubles, never above `max`.
  ReconnectBackoff(Duration initial, Duration max) : initial_(initial), max_(max) {}

  // The wait before the next attempt. `random01` in [0, 1) picks a point in the upper half
  // of the current step ("equal jitter"): never less than half the step, so waits still grow.
  Duration Next(double random01) {
    const Duration step = current_ == Duration::zero() ? initial_ : std::min(current_ * 2, max_);
    current_ = step;
    const auto half = step / 2;
    const auto jitter = Duration(static_cast<Duration::rep>(static_cast<double>(half.count()) *
                                                            std::clamp(random01, 0.0, 1.0)));
    return std::max(Duration(1), half + jitter);
  }

  // A connection succeeded: the next loss starts again at `initial`.
  void Reset() { current_ = Duration::zero(); }

 private:
  Duration initial_;
  Duration max_;
  Duration current_ = Duration::zero();
};

}  // namespace pullfleet::node
