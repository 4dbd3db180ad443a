// A pod chain: one per pod on a node. It walks the pod's images in order, image volumes
// first (the kubelet pulls them while it sets up the pod, before any container), then init
// containers, then containers, and makes each image present as the kubelet's image manager
// would: parse the name, apply the pull policy, honour ImagePullBackOff, resolve credentials, and
// ask the node's pull queue. A chain has at most one request in flight, so one pod never
// has two pulls at once.
//
// Each walk over the containers is a pass. An init container that fails ends the pass
// (later containers wait for it); an app container or image volume that fails does not stop
// the others.
// A pass that leaves containers not ready schedules the next one: soon after a fresh
// failure (then the container shows ImagePullBackOff), when a backoff ends, or later for
// ErrImageNeverPull. Every change is reported to the node agent with its new events.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>

#include "actors/common/protocol.h"
#include "actors/node/node_actors.h"
#include "actors/node/node_messages.h"
#include "caf/all.hpp"
#include "image/policy.h"
#include "node/events.h"
#include "node/image_verification.h"

namespace pullfleet::actors {
namespace {

using std::chrono::milliseconds;

int64_t UnixMillis() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Step {
  // For an image volume: its name, reference and pullPolicy in a container's fields.
  pb::Container container;
  bool init = false;
  bool volume = false;
  pb::ContainerStatus* status = nullptr;  // points into ChainState::status
};

struct ChainState {
  NodeContextPtr context;
  caf::actor agent;
  NodeServices services;
  pb::Pod pod;
  pb::PodStatus status;
  std::vector<Step> steps;
  std::vector<pb::Event> new_events;
  std::string last_report;  // the status last sent, serialised

  bool busy = false;        // a step is in progress
  size_t cursor = 0;        // the step the pass is at
  uint64_t attempt = 0;     // bumped to abandon a step whose replies must be ignored
  uint64_t pass_timer = 0;  // only the newest scheduled pass runs
  // Shortest wait any step of this pass asked for before the next pass; nullopt: none.
  std::optional<int64_t> next_pass_ms;
  std::chrono::steady_clock::time_point step_started;
  std::chrono::steady_clock::time_point last_progress_report;
  static inline const char* name = "pod-chain";
};

using ChainActor = caf::stateful_actor<ChainState>;

void Continue(ChainActor* self);

// ---- reporting -------------------------------------------------------------------------------

void AddEvent(ChainActor* self, std::string_view type, std::string_view reason,
              std::string message) {
  pb::Event event;
  event.set_type(std::string(type));
  event.set_reason(std::string(reason));
  event.set_message(std::move(message));
  event.set_first_unix_ms(UnixMillis());
  event.set_last_unix_ms(event.first_unix_ms());
  event.set_count(1);
  event.set_source(self->state.context->name);
  self->state.new_events.push_back(std::move(event));
}

void UpdateConditions(ChainState& st) {
  std::string not_ready;
  for (const auto& step : st.steps) {
    if (step.status->ready()) continue;
    not_ready += (not_ready.empty() ? "" : " ") +
                 (step.volume ? "volume:" + step.container.name() : step.container.name());
  }
  const std::string value = not_ready.empty() ? "True" : "False";
  st.status.set_phase("Pending");
  pb::PodCondition* condition = st.status.conditions_size() > 0 ? st.status.mutable_conditions(0)
                                                                : st.status.add_conditions();
  if (condition->status() != value) condition->set_last_transition_unix_ms(UnixMillis());
  condition->set_type("ImagesReady");
  condition->set_status(value);
  condition->set_reason(not_ready.empty() ? "" : "ImagesNotReady");
  condition->set_message(
      not_ready.empty() ? "" : "containers with images not present: [" + not_ready + "]");
}

void Report(ChainActor* self) {
  auto& st = self->state;
  UpdateConditions(st);
  // A report that would tell nothing new is not sent. A pass whose last image is present
  // ends with two identical ones (after the step and at the end of the pass): with 10,000
  // pods, half of the status messages the node agents and the coordinator handled.
  std::string snapshot = st.status.SerializeAsString();
  if (st.new_events.empty() && snapshot == st.last_report) return;
  st.last_report = std::move(snapshot);
  pb::PodStatusReport report;
  report.set_node(st.context->name);
  report.set_namespace_(st.pod.metadata().namespace_());
  report.set_name(st.pod.metadata().name());
  report.set_uid(st.pod.metadata().uid());
  *report.mutable_status() = st.status;
  for (auto& event : st.new_events) *report.add_new_events() = std::move(event);
  st.new_events.clear();
  self->send(st.agent, status_atom::value, std::move(report));
}

void SetWaiting(Step& step, std::string_view reason, std::string message) {
  step.status->set_ready(false);
  step.status->mutable_waiting()->set_reason(std::string(reason));
  step.status->mutable_waiting()->set_message(std::move(message));
}

void SetReady(Step& step, const image::Reference& ref, const std::string& digest) {
  step.status->set_ready(true);
  step.status->clear_waiting();
  step.status->clear_progress();
  step.status->set_image_id(ref.Repository() + "@" + digest);
}

// The handler images are identified by: the pod's, with RuntimeClassInImageCriApi on the
// node; otherwise every pod shares the default ("").
std::string RuntimeHandler(const ChainState& st) {
  return st.context->config.runtime_class_in_image_cri_api ? st.pod.spec().runtime_handler() : "";
}

// ---- passes ----------------------------------------------------------------------------------

void WaitAtMost(ChainState& st, int64_t millis) {
  if (!st.next_pass_ms || millis < *st.next_pass_ms) st.next_pass_ms = millis;
}

int64_t SecondsToMillis(double seconds) {
  return static_cast<int64_t>(seconds * 1000.0);
}

void EndPass(ChainActor* self) {
  auto& st = self->state;
  st.busy = false;
  Report(self);
  if (!st.next_pass_ms) return;  // every image present, or nothing left to try
  const uint64_t timer = ++st.pass_timer;
  self->delayed_send(self, milliseconds(std::max<int64_t>(*st.next_pass_ms, 1)), retry_atom::value,
                     timer);
}

void StartPass(ChainActor* self) {
  auto& st = self->state;
  if (st.busy) return;
  st.busy = true;
  st.cursor = 0;
  st.next_pass_ms.reset();
  Continue(self);
}

// Called when the step at the cursor is finished, ready or not.
void StepDone(ChainActor* self) {
  auto& st = self->state;
  Step& step = st.steps[st.cursor];
  Report(self);
  if (step.init && !step.status->ready()) {
    EndPass(self);  // later containers wait for this init container
    return;
  }
  ++st.cursor;
  Continue(self);
}

// Fails the current step with an error from the node's own actors (one died mid-request):
// the pass is retried soon rather than reported as a pull failure.
void InternalRetry(ChainActor* self, const caf::error& err) {
  auto& st = self->state;
  spdlog::warn("node={} pod={}/{} node service did not answer ({}); retrying", st.context->name,
               st.pod.metadata().namespace_(), st.pod.metadata().name(),
               self->system().render(err));
  WaitAtMost(st, SecondsToMillis(st.context->config.resync_seconds));
  StepDone(self);
}

// ---- the image decision of one step ------------------------------------------------------------

// A download is counted once, by the chain that started it; the kubelet's histogram counts
// every successful pull a pod waited for, as the kubelet does.
void RecordPullMetrics(ChainState& st, const node::PullOutcome& outcome, double total_seconds) {
  auto& m = st.context->metrics;
  if (outcome.ok) m.KubeletPullDuration(total_seconds, outcome.result.image_size);
  if (outcome.shared) return;
  m.PullFinished(outcome.ok, outcome.ok ? "ok" : ErrorCodeName(outcome.code),
                 outcome.transfer_seconds);
  if (!outcome.ok) return;
  m.BytesDownloaded(outcome.result.bytes_downloaded);
  m.BytesReused(outcome.result.bytes_reused);
}

void OnPullOutcome(ChainActor* self, const image::Reference& ref, node::PullOutcome& outcome) {
  auto& st = self->state;
  Step& step = st.steps[st.cursor];
  const std::string& image = step.container.image();
  // From this chain's ask; never less than the transfer itself, which is part of the wait: a
  // transfer resumed by a restarted queue, or joined by a restarted chain, began earlier.
  const double total = std::max(SecondsSince(st.step_started), outcome.transfer_seconds);
  RecordPullMetrics(st, outcome, total);
  if (outcome.ok) {
    SetReady(step, ref, outcome.result.resolved_digest);
    AddEvent(
        self, "Normal", node::kPulledReason,
        node::PulledMessage(image, outcome.transfer_seconds, total, outcome.result.image_size));
    spdlog::info(
        "node={} pod={}/{} container={} image={} registry={} digest={} pulled in {:.3f}s "
        "downloaded={} reused={}{}",
        st.context->name, st.pod.metadata().namespace_(), st.pod.metadata().name(),
        step.container.name(), ref.Normalized(), ref.domain, outcome.result.resolved_digest,
        outcome.transfer_seconds, outcome.result.bytes_downloaded, outcome.result.bytes_reused,
        outcome.shared ? " (shared download)" : "");
  } else {
    SetWaiting(step, node::kErrImagePull, outcome.error);
    step.status->clear_progress();
    AddEvent(self, "Warning", node::kFailedReason, node::FailedToPullMessage(image, outcome.error));
    AddEvent(self, "Warning", node::kFailedReason, node::ErrorReasonMessage(node::kErrImagePull));
    self->send(st.services.backoff, failed_atom::value, st.pod.metadata().uid() + "_" + image,
               outcome.error);
    WaitAtMost(st, SecondsToMillis(st.context->config.resync_seconds));
    spdlog::info("node={} pod={}/{} container={} image={} registry={} reason={} pull failed: {}",
                 st.context->name, st.pod.metadata().namespace_(), st.pod.metadata().name(),
                 step.container.name(), ref.Normalized(), ref.domain, ErrorCodeName(outcome.code),
                 outcome.error);
  }
  StepDone(self);
}

void Pull(ChainActor* self, const image::Reference& ref, bool resolve_first,
          node::CredentialSet& credentials) {
  auto& st = self->state;
  Step& step = st.steps[st.cursor];
  const auto& config = st.context->config;

  node::PullJob job;
  job.image = step.container.image();
  job.reference = ref;
  job.runtime_handler = RuntimeHandler(st);
  job.resolve_first = resolve_first;
  job.options.reference = ref;
  job.options.platform = config.platform;
  job.options.credentials = std::move(credentials.candidates);
  job.origins = std::move(credentials.origins);
  job.options.host = config.HostOptionsFor(ref.domain);
  job.options.max_concurrent_blobs = config.max_concurrent_blobs;
  // The pull queue's watchdog cancels a pull that moves no byte for stallTimeoutSeconds and
  // records it as stalled; curl's own low-speed limit is only a backstop behind it.
  job.options.stall_timeout_s = 2L * config.stall_timeout_seconds;
  job.options.observer = st.context->registry_observer.get();
  job.key = node::MakeJobKey(job);

  SetWaiting(step, step.init ? node::kPodInitializing : node::kContainerCreating, "");
  AddEvent(self, "Normal", node::kPullingReason, node::PullingMessage(job.image));
  Report(self);

  const uint64_t attempt = st.attempt;
  self->request(st.services.queue, caf::infinite, pull_atom::value, std::move(job))
      .then(
          [=](node::PullOutcome& outcome) {
            if (self->state.attempt == attempt) OnPullOutcome(self, ref, outcome);
          },
          [=](caf::error& err) {
            if (self->state.attempt == attempt) InternalRetry(self, err);
          });
}

// Asks the node agent for the pod's pull secrets (none when the pod names none), then the
// credential resolver for the candidates, and hands them to `next`. Secrets that could not be
// read are not fatal: the pull goes on with what there is, as the kubelet's does, and the
// resolver lists why in CredentialSet::problems.
void GatherCredentials(ChainActor* self, const image::Reference& ref,
                       std::function<void(ChainActor*, node::CredentialSet&)> next) {
  auto& st = self->state;
  const uint64_t attempt = st.attempt;
  ResolveRequest request;
  request.reference = ref;
  request.namespace_name = st.pod.metadata().namespace_();
  for (const auto& name : st.pod.spec().image_pull_secrets()) request.secret_names.push_back(name);

  auto resolve = [=](ResolveRequest& request) {
    auto& st = self->state;
    self->request(st.services.credentials, std::chrono::seconds(90), resolve_atom::value,
                  std::move(request))
        .then(
            [=](node::CredentialSet& credentials) {
              if (self->state.attempt == attempt) next(self, credentials);
            },
            [=](caf::error& err) {
              if (self->state.attempt == attempt) InternalRetry(self, err);
            });
  };
  if (request.secret_names.empty()) {
    resolve(request);
    return;
  }
  pb::PullSecretsRequest ask;
  ask.set_namespace_(request.namespace_name);
  for (const auto& name : request.secret_names) ask.add_names(name);
  self->request(st.agent, std::chrono::seconds(10), secrets_atom::value, std::move(ask))
      .then(
          [=](pb::PullSecretsReply& reply) mutable {
            if (self->state.attempt != attempt) return;
            request.secrets = std::move(reply);
            resolve(request);
          },
          [=](caf::error& err) mutable {
            if (self->state.attempt != attempt) return;
            request.unavailable.push_back("image pull secrets could not be read from the "
                                          "coordinator (" + self->system().render(err) + ")");
            resolve(request);
          });
}

// One Warning event naming every credential source that could not be used, the kubelet's
// FailedToRetrieveImagePullSecret (it names only missing secrets; this names every problem).
void ReportCredentialProblems(ChainActor* self, const node::CredentialSet& credentials) {
  if (credentials.problems.empty()) return;
  std::string joined;
  for (const auto& problem : credentials.problems) joined += (joined.empty() ? "" : "; ") + problem;
  AddEvent(self, "Warning", node::kFailedToRetrievePullSecretReason,
           "Unable to use some image pull credentials (" + joined +
               "); attempting to pull the image may not succeed.");
}

void ResolveCredentialsAndPull(ChainActor* self, const image::Reference& ref,
                               bool resolve_first) {
  GatherCredentials(self, ref, [=](ChainActor* self, node::CredentialSet& credentials) {
    ReportCredentialProblems(self, credentials);
    Pull(self, ref, resolve_first, credentials);
  });
}

// The registry must be asked: unless the (pod, image) key is backing off.
void PullUnlessBackingOff(ChainActor* self, const image::Reference& ref, bool resolve_first) {
  auto& st = self->state;
  const std::string image = st.steps[st.cursor].container.image();
  const uint64_t attempt = st.attempt;
  self->request(st.services.backoff, std::chrono::seconds(10), backoff_atom::value,
                st.pod.metadata().uid() + "_" + image)
      .then(
          [=](bool waiting, int64_t retry_in_ms, const std::string& last_error) {
            auto& st = self->state;
            if (st.attempt != attempt) return;
            if (!waiting) {
              ResolveCredentialsAndPull(self, ref, resolve_first);
              return;
            }
            Step& step = st.steps[st.cursor];
            // The kubelet puts the last error in the waiting message only; the BackOff event
            // carries it too, so `get events` alone says why a pod is backing off.
            std::string message = node::BackOffMessage(image);
            if (!last_error.empty()) message += ": " + last_error;
            AddEvent(self, "Normal", node::kBackOffReason, message);
            AddEvent(self, "Warning", node::kFailedReason,
                     node::ErrorReasonMessage(node::kImagePullBackOff));
            SetWaiting(step, node::kImagePullBackOff, std::move(message));
            WaitAtMost(st, retry_in_ms + 5);
            StepDone(self);
          },
          [=](caf::error& err) {
            if (self->state.attempt == attempt) InternalRetry(self, err);
          });
}

// A present image that another pod's secret pulled (or that was preloaded, by the policy) may
// be used by this pod only with a credential of its own: one that pulled it before, or one
// the registry accepts now, proved by a pull that finds the content present and downloads
// nothing. Policy Never forbids that pull.
void VerifyPresentImage(ChainActor* self, const image::Reference& ref,
                        const pb::ImageRecord& record, image::PullPolicy policy) {
  GatherCredentials(self, ref, [=](ChainActor* self, node::CredentialSet& credentials) {
    auto& st = self->state;
    Step& step = st.steps[st.cursor];
    const std::string& image = step.container.image();
    std::vector<node::PodSecretCredential> mine;
    for (const auto& origin : credentials.origins) {
      if (!origin.pull_secret) continue;
      mine.push_back({origin.secret_namespace, origin.secret_name, origin.secret_uid,
                      origin.fingerprint});
    }
    if (node::PodMayUseWithoutPull(record, mine)) {
      SetReady(step, ref, record.digest());
      AddEvent(self, "Normal", node::kPulledReason, node::AlreadyPresentMessage(image));
      StepDone(self);
      return;
    }
    if (policy == image::PullPolicy::kNever) {
      SetWaiting(step, node::kErrImageNeverPull, node::NeverPullUnverifiedMessage(image));
      AddEvent(self, "Warning", node::kErrImageNeverPull, step.status->waiting().message());
      AddEvent(self, "Warning", node::kFailedReason,
               node::ErrorReasonMessage(node::kErrImageNeverPull));
      WaitAtMost(st, SecondsToMillis(st.context->config.never_pull_recheck_seconds));
      StepDone(self);
      return;
    }
    spdlog::info("node={} pod={}/{} image={} present but pulled with other credentials; "
                 "verifying with the pod's own",
                 st.context->name, st.pod.metadata().namespace_(), st.pod.metadata().name(),
                 ref.Normalized());
    PullUnlessBackingOff(self, ref, /*resolve_first=*/true);
  });
}

void EnsureImage(ChainActor* self) {
  auto& st = self->state;
  Step& step = st.steps[st.cursor];
  const std::string& image = step.container.image();
  st.step_started = std::chrono::steady_clock::now();

  auto ref = image::ParseReference(image);
  if (!ref.ok()) {
    // Permanent until the spec changes: no further pass is scheduled for it.
    SetWaiting(step, node::kInvalidImageName,
               node::InvalidImageNameMessage(image, ref.error().message()));
    AddEvent(self, "Warning", node::kInspectFailedReason, step.status->waiting().message());
    AddEvent(self, "Warning", node::kFailedReason,
             node::ErrorReasonMessage(node::kInvalidImageName));
    StepDone(self);
    return;
  }

  auto policy = image::ParsePullPolicy(step.container.image_pull_policy());
  const auto effective = policy.ok() ? *policy : image::DefaultPullPolicy(image);
  const auto present = st.context->images->Find(*ref, RuntimeHandler(st));
  const bool pull_required = effective == image::PullPolicy::kAlways ||
                             (effective == image::PullPolicy::kIfNotPresent && !present);
  st.context->metrics.EnsureImage(image::ToString(effective), present.has_value(), pull_required);

  if (!pull_required && present &&
      node::NeedsCredentialCheck(*present, st.context->config.verification_policy,
                                 st.context->config.verification_allowlist, *ref)) {
    VerifyPresentImage(self, *ref, *present, effective);
    return;
  }
  if (!pull_required) {
    if (present) {
      SetReady(step, *ref, present->digest());
      AddEvent(self, "Normal", node::kPulledReason, node::AlreadyPresentMessage(image));
    } else {  // Never, and not present
      SetWaiting(step, node::kErrImageNeverPull, node::NeverPullMessage(image));
      AddEvent(self, "Warning", node::kErrImageNeverPull, node::NeverPullMessage(image));
      AddEvent(self, "Warning", node::kFailedReason,
               node::ErrorReasonMessage(node::kErrImageNeverPull));
      WaitAtMost(st, SecondsToMillis(st.context->config.never_pull_recheck_seconds));
    }
    StepDone(self);
    return;
  }
  PullUnlessBackingOff(self, *ref, effective == image::PullPolicy::kAlways);
}

void Continue(ChainActor* self) {
  auto& st = self->state;
  while (st.cursor < st.steps.size() && st.steps[st.cursor].status->ready()) ++st.cursor;
  if (st.cursor == st.steps.size()) {
    EndPass(self);
    return;
  }
  EnsureImage(self);
}

// ---- setup -------------------------------------------------------------------------------------

pb::ContainerStatus MakeStatus(const pb::Container& container) {
  pb::ContainerStatus status;
  status.set_name(container.name());
  status.set_image(container.image());
  status.mutable_waiting()->set_reason(std::string(node::kContainerCreating));
  return status;
}

// Known shortcoming: volumeMounts are not read, so a failed image volume holds back no
// container; in the kubelet the containers that mount it cannot start.
void BuildSteps(ChainState& st) {
  std::vector<pb::Container> volumes;
  for (const auto& v : st.pod.spec().image_volumes()) {
    pb::Container& as_container = volumes.emplace_back();
    as_container.set_name(v.name());
    as_container.set_image(v.reference());
    as_container.set_image_pull_policy(v.pull_policy());
    *st.status.add_image_volume_statuses() = MakeStatus(as_container);
  }
  for (const auto& c : st.pod.spec().init_containers()) {
    *st.status.add_init_container_statuses() = MakeStatus(c);
  }
  for (const auto& c : st.pod.spec().containers()) {
    *st.status.add_container_statuses() = MakeStatus(c);
  }
  int i = 0;
  for (const auto& v : volumes) {
    st.steps.push_back(Step{v, false, true, st.status.mutable_image_volume_statuses(i++)});
  }
  i = 0;
  for (const auto& c : st.pod.spec().init_containers()) {
    st.steps.push_back(Step{c, true, false, st.status.mutable_init_container_statuses(i++)});
  }
  i = 0;
  for (const auto& c : st.pod.spec().containers()) {
    st.steps.push_back(Step{c, false, false, st.status.mutable_container_statuses(i++)});
  }
}

caf::behavior PodChain(ChainActor* self, NodeContextPtr context, caf::actor agent,
                       NodeServices services, pb::Pod pod) {
  auto& st = self->state;
  st.context = std::move(context);
  st.agent = std::move(agent);
  st.services = std::move(services);
  st.pod = std::move(pod);
  BuildSteps(st);
  self->send(self, retry_atom::value, st.pass_timer);
  return {
      [=](retry_atom, uint64_t timer) {
        if (timer == self->state.pass_timer) StartPass(self);
      },
      // The pull queue's figures of the running download, the same it sets as metrics.
      [=](progress_atom, const metrics::PullProgress& progress) {
        auto& st = self->state;
        if (!st.busy || st.cursor >= st.steps.size()) return;
        auto* p = st.steps[st.cursor].status->mutable_progress();
        p->set_bytes_done(progress.bytes_done);
        p->set_bytes_total(progress.bytes_total);
        p->set_layers_done(progress.layers_done);
        p->set_layers_total(progress.layers_total);
        p->set_bytes_per_second(progress.bytes_per_second);
        const auto now = std::chrono::steady_clock::now();
        if (now - st.last_progress_report > std::chrono::milliseconds(500)) {
          st.last_progress_report = now;
          Report(self);
        }
      },
      // A node service was respawned: whatever this chain was waiting for is gone with it.
      [=](restarted_atom, NodeServices& fresh) {
        auto& st = self->state;
        st.services = std::move(fresh);
        if (!st.busy) return;
        ++st.attempt;
        st.busy = false;
        StartPass(self);
      },
  };
}

}  // namespace

caf::actor SpawnPodChain(caf::actor_system& system, NodeContextPtr context, caf::actor agent,
                         NodeServices services, pb::Pod pod) {
  return system.spawn(PodChain, std::move(context), std::move(agent), std::move(services),
                      std::move(pod));
}

}  // namespace pullfleet::actors
