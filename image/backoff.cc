#include "image/backoff.h"

#include <algorithm>

namespace pullfleet::image {

Backoff::Backoff(Clock::duration initial, Clock::duration max) : initial_(initial), max_(max) {}

bool Backoff::HasExpired(const Entry& entry, Clock::time_point now) const {
  // Strictly more than 2 x max: at exactly 2 x max the entry still counts (as in client-go).
  return now - entry.last_update > 2 * max_;
}

Clock::duration Backoff::Next(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end() || HasExpired(it->second, now)) {
    Entry& entry = entries_[key];
    entry.delay = initial_;
    entry.last_update = now;
    return entry.delay;
  }
  Entry& entry = it->second;
  entry.delay = std::min(entry.delay * 2, max_);
  entry.last_update = now;
  return entry.delay;
}

bool Backoff::IsInBackOffSinceUpdate(const std::string& key, Clock::time_point now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || HasExpired(it->second, now)) return false;
  return now - it->second.last_update < it->second.delay;
}

Clock::time_point Backoff::RetryAt(const std::string& key, Clock::time_point now) const {
  if (!IsInBackOffSinceUpdate(key, now)) return now;
  const Entry& entry = entries_.at(key);
  return entry.last_update + entry.delay;
}

Clock::duration Backoff::Get(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? Clock::duration::zero() : it->second.delay;
}

void Backoff::Reset(const std::string& key) {
  entries_.erase(key);
}

void Backoff::GarbageCollect(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (HasExpired(it->second, now)) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace pullfleet::image
