// The node's ImagePullBackOff book: one entry per (pod UID, image as written), the kubelet's
// keying. Pod chains ask before pulling and report failures; the last error of each key is
// kept so the BackOff message can say why.
#include <chrono>
#include <unordered_map>

#include "actors/common/protocol.h"
#include "actors/node/node_actors.h"
#include "caf/all.hpp"
#include "image/backoff.h"

namespace pullfleet::actors {
namespace {

using image::Clock;

struct BackoffState {
  std::unique_ptr<image::Backoff> book;
  std::unordered_map<std::string, std::string> last_error;
  static inline const char* name = "backoff";
};

using BackoffActor = caf::stateful_actor<BackoffState>;

// Keys in backoff now, for pullfleet_backoffs_active. Counted on every change and on the
// refresh tick, since an entry leaves its backoff window by time alone.
void UpdateActiveGauge(BackoffActor* self, NodeContext& context) {
  const auto now = Clock::now();
  size_t active = 0;
  for (const auto& [key, error] : self->state.last_error) {
    if (self->state.book->IsInBackOffSinceUpdate(key, now)) ++active;
  }
  context.metrics.SetBackoffsActive(active);
}

constexpr auto kGaugeRefresh = std::chrono::seconds(1);

Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

int64_t Millis(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

caf::behavior Backoff(BackoffActor* self, NodeContextPtr context) {
  const auto& config = context->config;
  const auto max = Seconds(config.backoff_max_seconds);
  self->state.book = std::make_unique<image::Backoff>(Seconds(config.backoff_initial_seconds), max);
  // Forget quiet entries now and then, as the kubelet's periodic GC does.
  self->delayed_send(self, max, tick_atom::value);
  self->delayed_send(self, kGaugeRefresh, refresh_atom::value);
  return {
      // -> (in backoff, milliseconds until retry, last error)
      [=](backoff_atom, const std::string& key) {
        auto& st = self->state;
        const auto now = Clock::now();
        const bool waiting = st.book->IsInBackOffSinceUpdate(key, now);
        const int64_t retry_in = waiting ? Millis(st.book->RetryAt(key, now) - now) : 0;
        return caf::make_message(waiting, retry_in, st.last_error[key]);
      },
      // A pull of `key` failed: its backoff doubles. No reply (chains send, not request).
      [=](failed_atom, const std::string& key, const std::string& error) {
        auto& st = self->state;
        st.last_error[key] = error;
        st.book->Next(key, Clock::now());
        UpdateActiveGauge(self, *context);
      },
      [=](refresh_atom) {
        UpdateActiveGauge(self, *context);
        self->delayed_send(self, kGaugeRefresh, refresh_atom::value);
      },
      [=](tick_atom) {
        auto& st = self->state;
        st.book->GarbageCollect(Clock::now());
        for (auto it = st.last_error.begin(); it != st.last_error.end();) {
          it = st.book->Get(it->first) == Clock::duration::zero() ? st.last_error.erase(it)
                                                                  : std::next(it);
        }
        self->delayed_send(self, max, tick_atom::value);
      },
  };
}

}  // namespace

caf::actor SpawnBackoff(caf::actor_system& system, NodeContextPtr context) {
  return system.spawn(Backoff, std::move(context));
}

}  // namespace pullfleet::actors
