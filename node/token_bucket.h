// A token bucket for pull starts: the kubelet's registryPullQPS and registryBurst. The bucket
// holds at most `burst` tokens and refills at `qps` per second; each pull start takes one.
// A qps of 0 means no limit.
//
// Unlike the kubelet, whose throttle fails a pull with "pull QPS exceeded" (and so sends the
// pod into ImagePullBackOff), the node queue asks TimeUntilNext() and starts the pull when a
// token is there: a burst of pods waits a moment instead of backing off for 10 s or more.
//
// Time is passed in, so tests drive it. Not thread-safe: the pull queue actor owns it.
#pragma once

#include <algorithm>
#include <chrono>

namespace pullfleet::node {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double qps, int burst, Clock::time_point now)
      : qps_(qps), burst_(std::max(burst, 1)), tokens_(std::max(burst, 1)), last_(now) {}

  // Takes a token if one is there at `now`.
  bool TryTake(Clock::time_point now) {
    if (qps_ <= 0) return true;
    Refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  // How long until a token is there (zero when one is there now).
  Clock::duration TimeUntilNext(Clock::time_point now) {
    if (qps_ <= 0) return Clock::duration::zero();
    Refill(now);
    if (tokens_ >= 1.0) return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>((1.0 - tokens_) / qps_));
  }

 private:
  void Refill(Clock::time_point now) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
      tokens_ = std::min<double>(burst_, tokens_ + elapsed * qps_);
      last_ = now;
    }
  }

  double qps_;
  int burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace pullfleet::node
