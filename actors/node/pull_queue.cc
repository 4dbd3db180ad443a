// The node's pull queue: admits pulls in arrival order, one at a time (serializeImagePulls)
// or up to maxParallelImagePulls at once, and joins a request for an image whose download
// is already queued or running, so one download serves every pod that waits for it.
//
// Each admitted download runs in a transfer: a detached actor whose thread does the
// blocking registry I/O and then reports back with a done message. Should the queue die,
// the cancel flags of its running transfers are raised, and the pod chains re-issue their
// requests to the queue the agent respawns.
//
// The queue keeps the live figures of every running download (node::PullTracker): it sends
// them to each waiting pod chain (for `describe pod`) and sets the same figures as metrics.
// A watchdog checks the running downloads a few times per stallTimeoutSeconds; one whose
// byte count has not moved for that long is cancelled and ends with ErrorCode::kStalled, so
// the pod chains record it with its own reason and back off as after any failed pull.
//
// A download that waits for another one's ingest of a shared blob (two keys for one image:
// other credentials or runtime handler; or another process on the same store) moves no byte
// of its own; the other writer's bytes count as its movement, so it is cancelled as stalled only
// when that one stalls too.
//
// Known shortcoming: the per-image progress series are keyed by node and image only, so two
// downloads of one image under different keys at once (other credentials or runtime handler)
// write the same series; the node totals stay right. A key label would fix it.
// The queue supervises its transfers. A transfer is killed (chaos) by raising its cancel
// flag: a thread blocked in libcurl cannot take an exit message, but it stops at the next
// chunk. The queue starts a replacement at once under a new generation, so the old one's
// late done message is ignored; the replacement waits in the content store until the old
// thread lets go of a blob (one writer per digest), then resumes it from the bytes already
// written (a Range request).
//
// Every admitted download is written to the node's database as a pull intent before it
// starts and cleared when it ends, so the database holds the queue (node/local_images.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>

#include "actors/common/protocol.h"
#include "actors/node/node_actors.h"
#include "actors/node/node_messages.h"
#include "caf/all.hpp"
#include "node/pull_progress.h"
#include "node/token_bucket.h"

namespace pullfleet::actors {
namespace {

using Promise = caf::response_promise;

struct Waiter {
  Promise promise;
  caf::actor requester;  // receives progress
  bool joined = false;   // came while the download was already queued or running
};

struct Download {
  node::PullJob job;
  std::vector<Waiter> waiters;
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  bool running = false;
  std::optional<node::PullTracker> tracker;  // set once running
  bool stalled = false;                      // cancelled by the watchdog
  uint64_t generation = 0;                   // bumped when the transfer is replaced
  uint64_t intent = 0;                       // sequence of its pull intent record
};

using Clock = std::chrono::steady_clock;

struct QueueState {
  NodeContextPtr context;
  std::unordered_map<std::string, Download> downloads;  // by job key
  std::deque<std::string> waiting;                      // keys in arrival order
  size_t running = 0;
  // registryPullQPS / registryBurst: a start waits for a token.
  std::unique_ptr<node::TokenBucket> bucket;
  bool wakeup_pending = false;
  bool watchdog_pending = false;
  static inline const char* name = "pull-queue";

  // Running transfers outlive the queue only as long as it takes them to notice the flag.
  // This runs when the actor exits (CAF destroys the state then); an attached functor would
  // run later, after the state is gone.
  // The pod chains ask the respawned queue again, which records fresh intents.
  ~QueueState() {
    for (auto& [key, download] : downloads) {
      download.cancel->store(true);
      (void)context->images->ClearIntent(download.intent);
    }
  }
};

using QueueActor = caf::stateful_actor<QueueState>;

size_t ParallelLimit(const node::NodeConfig& config) {
  if (config.serialize_image_pulls) return 1;
  if (config.max_parallel_image_pulls) return static_cast<size_t>(*config.max_parallel_image_pulls);
  return SIZE_MAX;  // the kubelet's "unset": no limit
}

// The transfer: runs on its own thread; reports progress and the outcome to the queue.
void RunTransfer(caf::event_based_actor* self, NodeContextPtr context, node::PullJob job,
                 caf::actor queue, std::shared_ptr<std::atomic<bool>> cancel, uint64_t generation) {
  const std::string key = job.key;
  job.options.cancel = cancel.get();
  job.options.on_progress = [queue, key](const pull::Progress& progress) {
    caf::anon_send(queue, progress_atom::value, key, progress);
  };
  // A replaced transfer of this key may still be winding down: wait for it.
  bool waited = false;
  auto exclusive = context->transfer_locks.Acquire(key, &waited);
  if (waited) {
    spdlog::info("node={} image={} transfer waited for the one it replaces to stop", context->name,
                 job.reference.Normalized());
  }
  node::PullOutcome outcome = node::RunPullJob(job, *context->images);
  self->send(queue, done_atom::value, key, generation, std::move(outcome));
  self->quit();
}

void UpdateGauges(QueueActor* self) {
  self->state.context->metrics.SetQueueDepth(self->state.waiting.size());
  self->state.context->metrics.SetInFlight(self->state.running);
}

std::chrono::milliseconds StallTimeout(const NodeContext& context) {
  return std::chrono::seconds(context.config.stall_timeout_seconds);
}

// Often enough that a stall is noticed within a quarter of the timeout.
std::chrono::milliseconds WatchdogInterval(const NodeContext& context) {
  return std::clamp(StallTimeout(context) / 4, std::chrono::milliseconds(100),
                    std::chrono::milliseconds(5000));
}

// Sends `download`'s figures to its waiters and sets them as its metrics.
void Publish(QueueActor* self, Download& download, Clock::time_point now) {
  metrics::PullProgress figures = download.tracker->Snapshot(now);
  for (auto& waiter : download.waiters) {
    if (waiter.requester) self->send(waiter.requester, progress_atom::value, figures);
  }
  self->state.context->metrics.SetPullProgress(download.job.reference.Normalized(), figures);
}

void PublishTotals(QueueActor* self, Clock::time_point now) {
  metrics::PullProgress sum;
  for (auto& [key, download] : self->state.downloads) {
    if (!download.tracker) continue;
    metrics::PullProgress one = download.tracker->Snapshot(now);
    sum.bytes_done += one.bytes_done;
    sum.bytes_total += one.bytes_total;
    sum.layers_done += one.layers_done;
    sum.layers_total += one.layers_total;
    sum.bytes_per_second += one.bytes_per_second;
  }
  self->state.context->metrics.SetProgressTotals(sum);
}

void ArmWatchdog(QueueActor* self) {
  auto& st = self->state;
  if (st.watchdog_pending || st.running == 0 || st.context->config.stall_timeout_seconds <= 0) {
    return;
  }
  st.watchdog_pending = true;
  self->delayed_send(self, WatchdogInterval(*st.context), stall_atom::value);
}

// Cancels every running download whose bytes have not moved for the stall timeout.
void CheckStalls(QueueActor* self) {
  auto& st = self->state;
  st.watchdog_pending = false;
  const auto now = Clock::now();
  const auto timeout = StallTimeout(*st.context);
  for (auto& [key, download] : st.downloads) {
    if (!download.tracker) continue;
    Publish(self, download, now);  // the rate decays while nothing arrives
    if (download.stalled || !download.tracker->Stalled(now, timeout)) continue;
    download.stalled = true;
    download.cancel->store(true);
    spdlog::warn("node={} image={} registry={} pull stalled: no byte moved for {}s; cancelling",
                 st.context->name, download.job.reference.Normalized(),
                 download.job.reference.domain, st.context->config.stall_timeout_seconds);
  }
  PublishTotals(self, now);
  ArmWatchdog(self);
}

// A stalled download ends in whatever error the cancel caused; it is reported as the stall.
void MarkStalled(const NodeContext& context, const Download& download, node::PullOutcome& outcome) {
  outcome.ok = false;
  outcome.code = ErrorCode::kStalled;
  outcome.error = "pull " + download.job.reference.Normalized() + ": stalled: no byte moved for " +
                  std::to_string(context.config.stall_timeout_seconds) +
                  "s (stallTimeoutSeconds), cancelled";
}

void SpawnTransfer(QueueActor* self, Download& download) {
  self->spawn<caf::detached>(RunTransfer, self->state.context, download.job,
                             caf::actor_cast<caf::actor>(self), download.cancel,
                             download.generation);
}

void StartAdmissible(QueueActor* self) {
  auto& st = self->state;
  const size_t limit = ParallelLimit(st.context->config);
  while (st.running < limit && !st.waiting.empty()) {
    const auto now = std::chrono::steady_clock::now();
    if (!st.bucket->TryTake(now)) {
      if (!st.wakeup_pending) {
        st.wakeup_pending = true;
        self->delayed_send(self, st.bucket->TimeUntilNext(now), tick_atom::value);
      }
      break;
    }
    const std::string key = st.waiting.front();
    st.waiting.pop_front();
    auto& download = st.downloads.at(key);
    download.running = true;
    download.tracker.emplace(Clock::now());
    ++st.running;
    spdlog::debug("node={} image={} start download", st.context->name,
                  download.job.reference.Normalized());
    SpawnTransfer(self, download);
  }
  UpdateGauges(self);
  ArmWatchdog(self);
}

// The intent lands before the first byte moves. A failed write is logged, not fatal: the
// pull itself is still correct, only its crash recovery is weaker.
void RecordIntent(QueueState& st, Download& download) {
  pb::PullIntent intent;
  download.intent = st.context->images->NextIntentSequence();
  intent.set_sequence(download.intent);
  intent.set_key(download.job.key);
  intent.set_image(download.job.image);
  intent.set_reference(download.job.reference.Normalized());
  intent.set_runtime_handler(download.job.runtime_handler);
  intent.set_started_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
  if (auto written = st.context->images->RecordIntent(intent); !written.ok()) {
    spdlog::warn("node={} image={} pull intent not recorded: {}", st.context->name,
                 intent.reference(), written.error().message());
  }
}

// Cancels the running transfers (one at random, or all) and starts their replacements.
int32_t KillTransfers(QueueActor* self, bool all) {
  auto& st = self->state;
  std::vector<Download*> running;
  for (auto& [key, download] : st.downloads) {
    if (download.running) running.push_back(&download);
  }
  if (!all && running.size() > 1) {
    std::mt19937_64 rng{std::random_device{}()};
    running = {running[std::uniform_int_distribution<size_t>(0, running.size() - 1)(rng)]};
  }
  for (Download* download : running) {
    download->cancel->store(true);
    download->cancel = std::make_shared<std::atomic<bool>>(false);
    ++download->generation;
    st.context->metrics.ActorRestarted("transfer");
    ++st.context->transfer_restarts;
    spdlog::warn("node={} image={} transfer killed; restarting it", st.context->name,
                 download->job.reference.Normalized());
    SpawnTransfer(self, *download);
  }
  return static_cast<int32_t>(running.size());
}

caf::behavior PullQueue(QueueActor* self, NodeContextPtr context) {
  self->state.context = std::move(context);
  const auto& config = self->state.context->config;
  self->state.bucket = std::make_unique<node::TokenBucket>(
      config.registry_pull_qps, config.registry_burst, std::chrono::steady_clock::now());
  return {
      [=](pull_atom, node::PullJob& job) -> Promise {
        auto& st = self->state;
        // The sender first: making the promise moves it out of the current message.
        auto requester = caf::actor_cast<caf::actor>(self->current_sender());
        auto promise = self->make_response_promise();
        auto it = st.downloads.find(job.key);
        if (it != st.downloads.end()) {
          it->second.waiters.push_back(Waiter{promise, requester, true});
          st.context->metrics.SharedDownload();
          return promise;
        }
        const std::string key = job.key;
        Download download;
        download.job = std::move(job);
        download.waiters.push_back(Waiter{promise, requester, false});
        RecordIntent(st, download);
        st.downloads.emplace(key, std::move(download));
        st.waiting.push_back(key);
        StartAdmissible(self);
        return promise;
      },
      [=](progress_atom, const std::string& key, const pull::Progress& progress) {
        auto it = self->state.downloads.find(key);
        if (it == self->state.downloads.end() || !it->second.tracker) return;
        const auto now = Clock::now();
        it->second.tracker->Update(progress, now);
        Publish(self, it->second, now);
        PublishTotals(self, now);
      },
      [=](stall_atom) { CheckStalls(self); },
      [=](tick_atom) {
        self->state.wakeup_pending = false;
        StartAdmissible(self);
      },
      // Chaos: (kill transfers?, all of them?) -> (killed, live transfers).
      [=](chaos_atom, bool kill, bool all) {
        const int32_t killed = kill ? KillTransfers(self, all) : 0;
        return caf::make_message(killed, static_cast<int32_t>(self->state.running));
      },
      [=](done_atom, const std::string& key, uint64_t generation, node::PullOutcome& outcome) {
        auto& st = self->state;
        auto it = st.downloads.find(key);
        if (it == st.downloads.end() || it->second.generation != generation) return;
        (void)st.context->images->ClearIntent(it->second.intent);
        if (it->second.stalled && !outcome.ok) MarkStalled(*st.context, it->second, outcome);
        st.context->metrics.ClearPullProgress(it->second.job.reference.Normalized());
        for (auto& waiter : it->second.waiters) {
          node::PullOutcome copy = outcome;
          copy.shared = waiter.joined;
          waiter.promise.deliver(std::move(copy));
        }
        st.downloads.erase(it);
        --st.running;
        PublishTotals(self, Clock::now());
        StartAdmissible(self);
      },
  };
}

}  // namespace

caf::actor SpawnPullQueue(caf::actor_system& system, NodeContextPtr context) {
  return system.spawn(PullQueue, std::move(context));
}

}  // namespace pullfleet::actors
