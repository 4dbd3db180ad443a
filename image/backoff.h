// Per-key exponential backoff with the semantics of the kubelet's image pull backoff
// (client-go flowcontrol.Backoff): initial delay, doubling on each failure, capped, and an
// entry forgotten once more than 2 x max has passed since its last failure (the next failure
// then starts again at the initial delay). Time is always passed in, so tests use explicit
// time points and never sleep.
//
// Not thread-safe: one owner (the node's backoff actor, or a test) calls it.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>

namespace pullfleet::image {

using Clock = std::chrono::steady_clock;

class Backoff {
 public:
  // Kubelet defaults for image pulls: 10 s initial, 300 s cap.
  Backoff(Clock::duration initial = std::chrono::seconds(10),
          Clock::duration max = std::chrono::seconds(300));

  // Records a failure of `key` at `now` and returns the delay now in force for it.
  Clock::duration Next(const std::string& key, Clock::time_point now);

  // True while `key` must still wait after its last failure.
  bool IsInBackOffSinceUpdate(const std::string& key, Clock::time_point now) const;

  // The time at which `key` may be retried; `now` when it is not backing off.
  Clock::time_point RetryAt(const std::string& key, Clock::time_point now) const;

  // The delay currently in force for `key` (zero when unknown).
  Clock::duration Get(const std::string& key) const;

  void Reset(const std::string& key);

  // Drops entries whose last failure is older than 2 x max.
  void GarbageCollect(Clock::time_point now);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Clock::duration delay;
    Clock::time_point last_update;
  };
  bool HasExpired(const Entry& entry, Clock::time_point now) const;

  Clock::duration initial_;
  Clock::duration max_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace pullfleet::image
