// The node agent: one per node. It keeps the node's link to the coordinator, runs a pod
// chain for every pod assigned here, forwards their status reports, answers image listings
// and chaos requests, and supervises the node's other actors: each is monitored, and one
// that dies is respawned within a restart budget (the pod chains are told the new handles,
// so the work they held is asked for again).
//
// The link: the agent registers by name and gets back every pod the coordinator has on this
// node (NodeSync). It starts the chains it lacks, stops those not listed (pods deleted while
// it was away) and sends the current status of the others. When the coordinator is lost the
// node keeps serving its pods (queue, backoff and pulls go on), holds the newest status and
// the undelivered events of each pod, and connects again with backoff and jitter.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "actors/common/pod_metrics.h"
#include "actors/common/protocol.h"
#include "actors/node/node_actors.h"
#include "actors/node/node_messages.h"
#include "caf/all.hpp"
#include "caf/io/middleman.hpp"
#include "node/layout_import.h"
#include "node/reconnect_backoff.h"

namespace pullfleet::actors {
namespace {

// Restarts allowed per actor kind within the window before restarts are delayed.
constexpr size_t kRestartBudget = 10;
constexpr auto kRestartWindow = std::chrono::seconds(10);
constexpr auto kRestartDelayOverBudget = std::chrono::seconds(1);
// A connect or a registration that takes longer is abandoned and tried again.
constexpr auto kLinkRequestTimeout = std::chrono::seconds(10);
// Events of one pod held while the coordinator is away; the oldest are dropped beyond.
constexpr int kMaxHeldEvents = 100;

constexpr const char* kPodChain = "pod-chain";
constexpr const char* kPullQueue = "pull-queue";
constexpr const char* kBackoff = "backoff";
constexpr const char* kCredentials = "credential-resolver";
constexpr const char* kTransfer = "transfer";

struct ChainEntry {
  caf::actor actor;
  pb::Pod pod;
  pb::PodStatus status;  // as last reported by the chain, for the waiting-pods gauge
};

// `length` random hex digits.
std::string RandomHex(std::mt19937_64& rng, size_t length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(length, '0');
  for (auto& digit : hex) digit = kDigits[rng() % 16];
  return hex;
}

// What the coordinator must eventually hold of one pod: the newest status and the pod's
// newest events, numbered. Over a network an event stays here after it is sent until a ping
// sent after it is answered (the coordinator answers in order and stores what it received
// before it answers): a connection can die with reports unread, and at the next registration
// the coordinator says which events it holds.
struct HeldReport {
  pb::PodStatusReport latest;     // the newest status; its new_events are empty
  std::string source;             // this stream of events: node process and chain
  std::vector<pb::Event> events;  // not yet known to be stored by the coordinator
  uint64_t last_seq = 0;          // the number of the newest event; 0 while there is none

  uint64_t FirstSeq() const { return last_seq - events.size() + 1; }

  // The newest status and the events numbered `from` and after.
  pb::PodStatusReport From(uint64_t from) const {
    pb::PodStatusReport report = latest;
    from = std::max(from, FirstSeq());
    report.set_events_source(source);
    report.set_first_event_seq(from);
    for (uint64_t seq = from; seq <= last_seq; ++seq) {
      *report.add_new_events() = events[seq - FirstSeq()];
    }
    return report;
  }

  // The coordinator holds the events up to number `seq`: they need not be kept.
  void Confirm(uint64_t seq) {
    if (seq < FirstSeq()) return;
    const size_t stored = std::min<uint64_t>(seq - FirstSeq() + 1, events.size());
    events.erase(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(stored));
  }
};

// A report sent over the network whose events are not confirmed yet.
struct SentReport {
  std::string uid;
  uint64_t last_seq;
};

struct AgentState {
  NodeContextPtr context;
  CoordinatorLink link;
  caf::actor coordinator;        // empty while there is no connection
  bool registered = false;       // the coordinator answered our registration
  uint64_t link_attempt = 0;     // only the newest reconnect timer acts
  uint64_t link_generation = 0;  // a new one per registration: older ping timers stop
  std::unique_ptr<node::ReconnectBackoff> reconnect;
  std::mt19937_64 rng{std::random_device{}()};
  NodeServices services;
  std::unordered_map<std::string, ChainEntry> chains;   // by pod UID
  std::unordered_map<std::string, HeldReport> reports;  // by pod UID
  // Names the event streams of this process apart from those of an earlier one with the
  // same data, whose numbers the coordinator may still hold.
  const std::string incarnation = RandomHex(rng, 16);
  uint64_t streams = 0;  // event streams started: one per pod chain that reported
  // Reports sent since the last answered ping, oldest first; sent_base numbers the first, so
  // that a ping can name the reports sent before it.
  std::deque<SentReport> unconfirmed;
  uint64_t sent_base = 0;
  std::unordered_map<std::string, std::deque<std::chrono::steady_clock::time_point>> restarts;
  std::map<std::string, int64_t> restart_counts;  // by kind, for `chaos list`
  static inline const char* name = "node-agent";

  // The agent's children end with it. CAF destroys the state when the actor exits, which is
  // the last moment the handles are still valid (an attached functor runs after that).
  ~AgentState() {
    for (auto& [uid, entry] : chains) {
      if (entry.actor) caf::anon_send_exit(entry.actor, caf::exit_reason::kill);
    }
    for (auto* service : {&services.queue, &services.backoff, &services.credentials}) {
      if (*service) caf::anon_send_exit(*service, caf::exit_reason::kill);
    }
  }
};

using AgentActor = caf::stateful_actor<AgentState>;

// ---- supervision -------------------------------------------------------------------------------

caf::actor SpawnChain(AgentActor* self, const pb::Pod& pod) {
  auto& st = self->state;
  auto chain = SpawnPodChain(self->system(), st.context, caf::actor_cast<caf::actor>(self),
                             st.services, pod);
  self->monitor(chain);
  return chain;
}

// True when `kind` may restart now; records the restart.
bool WithinBudget(AgentState& st, const std::string& kind) {
  auto& times = st.restarts[kind];
  const auto now = std::chrono::steady_clock::now();
  while (!times.empty() && now - times.front() > kRestartWindow) times.pop_front();
  times.push_back(now);
  return times.size() <= kRestartBudget;
}

caf::actor SpawnService(AgentActor* self, const std::string& kind) {
  auto& system = self->system();
  auto& ctx = self->state.context;
  caf::actor actor = kind == kPullQueue ? SpawnPullQueue(system, ctx)
                     : kind == kBackoff ? SpawnBackoff(system, ctx)
                                        : SpawnCredentialResolver(system, ctx);
  self->monitor(actor);
  return actor;
}

caf::actor* ServiceSlot(AgentState& st, const caf::actor_addr& source, std::string* kind) {
  if (source == st.services.queue.address()) {
    *kind = kPullQueue;
    return &st.services.queue;
  }
  if (source == st.services.backoff.address()) {
    *kind = kBackoff;
    return &st.services.backoff;
  }
  if (source == st.services.credentials.address()) {
    *kind = kCredentials;
    return &st.services.credentials;
  }
  return nullptr;
}

void CountRestart(AgentState& st, const std::string& kind) {
  ++st.restart_counts[kind];
  st.context->metrics.ActorRestarted(kind);
}

void RestartService(AgentActor* self, const std::string& kind) {
  auto& st = self->state;
  caf::actor fresh = SpawnService(self, kind);
  if (kind == kPullQueue) st.services.queue = fresh;
  if (kind == kBackoff) st.services.backoff = fresh;
  if (kind == kCredentials) st.services.credentials = fresh;
  CountRestart(st, kind);
  for (auto& [uid, entry] : st.chains) {
    if (entry.actor) self->send(entry.actor, restarted_atom::value, st.services);
  }
}

void OnServiceDown(AgentActor* self, const caf::down_msg& down, const std::string& kind) {
  auto& st = self->state;
  spdlog::warn("node={} actor {} died ({}); restarting", st.context->name, kind,
               self->system().render(down.reason));
  if (WithinBudget(st, kind)) {
    RestartService(self, kind);
    return;
  }
  spdlog::error("node={} actor {} over its restart budget ({} in {} s); restarting in 1 s",
                st.context->name, kind, kRestartBudget, kRestartWindow.count());
  std::string ignored;
  *ServiceSlot(st, down.source, &ignored) = caf::actor();
  self->delayed_send(self, kRestartDelayOverBudget, restarted_atom::value, kind);
}

void UpdateWaitingGauge(AgentState& st) {
  WaitingCounts counts = ZeroWaitingCounts();
  for (const auto& [uid, entry] : st.chains) CountWaiting(entry.status, counts);
  for (const auto& [reason, pods] : counts) st.context->metrics.SetPodsWaiting(reason, pods);
}

void StopChain(AgentActor* self, const std::string& uid) {
  auto& st = self->state;
  auto it = st.chains.find(uid);
  if (it == st.chains.end()) return;
  if (it->second.actor) {
    self->demonitor(it->second.actor);
    self->send_exit(it->second.actor, caf::exit_reason::user_shutdown);
  }
  st.chains.erase(it);
  st.reports.erase(uid);
  UpdateWaitingGauge(st);
  st.restarts.erase(std::string(kPodChain) + "/" + uid);
}

// Respawns the chain of pod `uid` if the pod is still here and its chain is dead.
void RestartChain(AgentActor* self, const std::string& uid) {
  auto& st = self->state;
  auto it = st.chains.find(uid);
  if (it == st.chains.end() || it->second.actor) return;
  CountRestart(st, kPodChain);
  it->second.actor = SpawnChain(self, it->second.pod);
}

// ---- the link to the coordinator ---------------------------------------------------------------

pb::NodeInfo MakeInfo(const NodeContext& ctx) {
  pb::NodeInfo info;
  info.set_name(ctx.name);
  info.set_os(ctx.config.platform.os);
  info.set_architecture(ctx.config.platform.architecture);
  info.set_variant(ctx.config.platform.variant);
  for (const auto& [key, value] : ctx.config.labels) (*info.mutable_labels())[key] = value;
  return info;
}

void Connect(AgentActor* self);

void Disconnect(AgentActor* self) {
  auto& st = self->state;
  if (st.coordinator) self->demonitor(st.coordinator);
  st.coordinator = caf::actor();
  st.registered = false;
}

// Tries again later: by address through the middleman, or (`pullfleet up`) with the same
// in-process handle, whose registration may have timed out on a loaded machine.
void ScheduleReconnect(AgentActor* self, const std::string& why) {
  auto& st = self->state;
  Disconnect(self);
  if (st.link.host.empty() && !st.link.local) return;
  const auto wait = st.reconnect->Next(std::uniform_real_distribution<double>(0, 1)(st.rng));
  spdlog::info(
      "node={} coordinator {} not reachable ({}); next attempt in {} ms", st.context->name,
      st.link.host.empty() ? "in this process" : st.link.host + ":" + std::to_string(st.link.port),
      why, wait.count());
  self->delayed_send(self, wait, reconnect_atom::value, ++st.link_attempt);
}

void OnAssign(AgentActor* self, const pb::Pod& pod);

// Sends the newest status of a pod and its events numbered `from` and after; returns how many
// events went. In one process nothing is lost between two actors; over a network the report
// waits in `unconfirmed`.
int SendReport(AgentActor* self, const std::string& uid, HeldReport& held, uint64_t from) {
  auto& st = self->state;
  pb::PodStatusReport report = held.From(from);
  const int events = report.new_events_size();
  self->send(st.coordinator, status_atom::value, std::move(report));
  if (st.link.host.empty()) {
    held.Confirm(held.last_seq);
  } else {
    st.unconfirmed.push_back(SentReport{uid, held.last_seq});
  }
  return events;
}

// A ping of registration `generation` was answered: the reports sent before it, numbered
// below `sent_before`, reached the coordinator and are stored.
void ConfirmSent(AgentState& st, uint64_t generation, uint64_t sent_before) {
  if (generation != st.link_generation) return;
  while (!st.unconfirmed.empty() && st.sent_base < sent_before) {
    const SentReport& sent = st.unconfirmed.front();
    auto held = st.reports.find(sent.uid);
    if (held != st.reports.end()) held->second.Confirm(sent.last_seq);
    st.unconfirmed.pop_front();
    ++st.sent_base;
  }
}

// Pings the coordinator of registration `generation` and schedules the next ping. CAF's own
// heartbeats are off in node processes: with them, CAF drops any connection whose handshake
// is still running when its check comes round, which with a few hundred nodes connecting at
// once turned registration into rounds of retries. The pings also keep the coordinator's
// side of the connection busy, so its heartbeat timeout only fires for a node that is gone.
void PingCoordinator(AgentActor* self, uint64_t generation) {
  auto& st = self->state;
  if (generation != st.link_generation || !st.registered || !st.coordinator) return;
  const caf::actor coordinator = st.coordinator;
  const uint64_t sent_before = st.sent_base + st.unconfirmed.size();
  self->request(coordinator, st.link.answer_timeout, ping_atom::value)
      .then([=](ping_atom) { ConfirmSent(self->state, generation, sent_before); },
            [=](caf::error& err) {
              auto& state = self->state;
              if (generation != state.link_generation || state.coordinator != coordinator) return;
              ++state.link_generation;  // the pings still in flight have nothing to add
              ScheduleReconnect(self, "no answer to a ping within " +
                                          std::to_string(state.link.answer_timeout.count()) +
                                          " ms: " + self->system().render(err));
            });
  self->delayed_send(self, st.link.ping_interval, ping_atom::value, generation);
}

// The coordinator's view of this node's pods: start what is missing, stop what was deleted,
// and send the current status of the rest.
void OnSync(AgentActor* self, const pb::NodeSync& sync) {
  auto& st = self->state;
  st.registered = true;
  st.reconnect->Reset();
  ++st.link_generation;
  if (st.link.ping_interval.count() > 0 && !st.link.host.empty()) {
    self->delayed_send(self, st.link.ping_interval, ping_atom::value, st.link_generation);
  }
  std::set<std::string> listed;
  for (const auto& pod : sync.pods()) {
    listed.insert(pod.metadata().uid());
    OnAssign(self, pod);
  }
  std::vector<std::string> gone;
  for (const auto& [uid, entry] : st.chains) {
    if (listed.count(uid) == 0) gone.push_back(uid);
  }
  for (const auto& uid : gone) StopChain(self, uid);
  // Whatever the coordinator lacks: each status, and the events after the last it holds.
  // What the previous connection left unconfirmed is covered by this.
  st.sent_base += st.unconfirmed.size();
  st.unconfirmed.clear();
  size_t resent = 0, events_resent = 0;
  for (const auto& pod : sync.pods()) {
    auto held = st.reports.find(pod.metadata().uid());
    if (held == st.reports.end()) continue;
    const uint64_t from = pod.events_source() == held->second.source ? pod.events_seq() + 1 : 0;
    events_resent += SendReport(self, held->first, held->second, from);
    ++resent;
  }
  spdlog::info(
      "node={} registered with the coordinator: {} pods, {} removed while away, {} "
      "statuses and {} events sent",
      st.context->name, sync.pods_size(), gone.size(), resent, events_resent);
}

void Register(AgentActor* self, caf::actor coordinator) {
  auto& st = self->state;
  st.coordinator = coordinator;
  self->monitor(coordinator);
  self->request(coordinator, kLinkRequestTimeout, register_atom::value, MakeInfo(*st.context))
      .then(
          [=](const pb::NodeSync& sync) {
            if (self->state.coordinator != coordinator) return;
            if (!sync.refused().empty()) {
              spdlog::error("node={} the coordinator refused the registration: {}",
                            self->state.context->name, sync.refused());
              ScheduleReconnect(self, "registration refused");
              return;
            }
            OnSync(self, sync);
          },
          [=](caf::error& err) {
            if (self->state.coordinator != coordinator) return;  // down already handled
            ScheduleReconnect(self, "register: " + self->system().render(err));
          });
}

void Connect(AgentActor* self) {
  auto& st = self->state;
  if (!st.link.host.empty()) {
    // The middleman actor connects without blocking this actor's thread.
    auto middleman = self->system().middleman().actor_handle();
    self->request(middleman, kLinkRequestTimeout, caf::connect_atom::value, st.link.host,
                  st.link.port)
        .then(
            [=](const caf::node_id&, caf::strong_actor_ptr& remote, const std::set<std::string>&) {
              if (!remote) {
                ScheduleReconnect(self, "no actor published there");
                return;
              }
              Register(self, caf::actor_cast<caf::actor>(remote));
            },
            [=](caf::error& err) { ScheduleReconnect(self, self->system().render(err)); });
    return;
  }
  if (st.link.local) Register(self, st.link.local);
}

// ---- pods --------------------------------------------------------------------------------------

void OnAssign(AgentActor* self, const pb::Pod& pod) {
  auto& st = self->state;
  const std::string uid = pod.metadata().uid();
  auto it = st.chains.find(uid);
  if (it != st.chains.end()) {
    if (it->second.pod.spec().SerializeAsString() == pod.spec().SerializeAsString()) return;
    // A changed spec starts over with a fresh chain, as the kubelet restarts containers.
    StopChain(self, uid);
  }
  spdlog::info("node={} pod={}/{} assigned ({} init, {} containers)", st.context->name,
               pod.metadata().namespace_(), pod.metadata().name(),
               pod.spec().init_containers_size(), pod.spec().containers_size());
  st.chains[uid] = ChainEntry{SpawnChain(self, pod), pod};
}

// Keeps the newest status and numbers the new events; sends both now when registered. What
// a dying connection swallows is sent again at the next registration (OnSync).
void OnStatusReport(AgentActor* self, pb::PodStatusReport& report) {
  auto& st = self->state;
  auto chain = st.chains.find(report.uid());
  if (chain == st.chains.end()) return;  // removed meanwhile
  chain->second.status = report.status();
  UpdateWaitingGauge(st);
  auto& held = st.reports[report.uid()];
  if (held.source.empty()) held.source = st.incarnation + "-" + std::to_string(++st.streams);
  const uint64_t first_new = held.last_seq + 1;
  for (auto& event : *report.mutable_new_events()) {
    held.events.push_back(std::move(event));
    ++held.last_seq;
  }
  if (held.events.size() > kMaxHeldEvents) {
    held.events.erase(held.events.begin(), held.events.end() - kMaxHeldEvents);
  }
  report.clear_new_events();
  held.latest = std::move(report);
  if (!st.registered) return;
  SendReport(self, chain->first, held, first_new);
}

void OnDown(AgentActor* self, const caf::down_msg& down) {
  auto& st = self->state;
  if (st.coordinator && down.source == st.coordinator.address()) {
    spdlog::warn("node={} lost the coordinator ({}); serving {} pods on and reconnecting",
                 st.context->name, self->system().render(down.reason), st.chains.size());
    ScheduleReconnect(self, "connection lost");
    return;
  }
  std::string kind;
  if (ServiceSlot(st, down.source, &kind) != nullptr) {
    OnServiceDown(self, down, kind);
    return;
  }
  for (auto& [uid, entry] : st.chains) {
    if (entry.actor.address() != down.source) continue;
    spdlog::warn("node={} pod={}/{} chain died ({}); restarting", st.context->name,
                 entry.pod.metadata().namespace_(), entry.pod.metadata().name(),
                 self->system().render(down.reason));
    entry.actor = caf::actor();
    // Each pod's chain has a budget of its own: one pod that keeps crashing its chain slows
    // down alone.
    if (WithinBudget(st, std::string(kPodChain) + "/" + uid)) {
      RestartChain(self, uid);
    } else {
      spdlog::error("node={} pod={}/{} chain over its restart budget; restarting in 1 s",
                    st.context->name, entry.pod.metadata().namespace_(),
                    entry.pod.metadata().name());
      self->delayed_send(self, kRestartDelayOverBudget, restarted_atom::value,
                         std::string(kPodChain), uid);
    }
    return;
  }
}

// ---- chaos -------------------------------------------------------------------------------------

// Kills one actor of `kind` (or all of them); returns how many were killed.
int KillLocal(AgentActor* self, const std::string& kind, bool all) {
  auto& st = self->state;
  std::vector<caf::actor> victims;
  if (kind == kPodChain) {
    for (auto& [uid, entry] : st.chains) victims.push_back(entry.actor);
  } else if (kind == kPullQueue) {
    victims.push_back(st.services.queue);
  } else if (kind == kBackoff) {
    victims.push_back(st.services.backoff);
  } else if (kind == kCredentials) {
    victims.push_back(st.services.credentials);
  }
  victims.erase(std::remove(victims.begin(), victims.end(), caf::actor()), victims.end());
  if (!all && victims.size() > 1) {
    std::swap(victims[0],
              victims[std::uniform_int_distribution<size_t>(0, victims.size() - 1)(st.rng)]);
    victims.resize(1);
  }
  for (auto& victim : victims) caf::anon_send_exit(victim, caf::exit_reason::kill);
  return static_cast<int>(victims.size());
}

void FillLive(const AgentState& st, pb::ChaosReply* reply, int transfers) {
  auto& live = *reply->mutable_live();
  live[kPodChain] =
      static_cast<int32_t>(std::count_if(st.chains.begin(), st.chains.end(), [](const auto& chain) {
        return static_cast<bool>(chain.second.actor);
      }));
  live[kPullQueue] = st.services.queue ? 1 : 0;
  live[kBackoff] = st.services.backoff ? 1 : 0;
  live[kCredentials] = st.services.credentials ? 1 : 0;
  live[kTransfer] = transfers;
  for (const auto& [kind, count] : st.restart_counts) (*reply->mutable_restarts())[kind] = count;
  (*reply->mutable_restarts())[kTransfer] = st.context->transfer_restarts.load();
}

caf::response_promise OnChaos(AgentActor* self, const pb::ChaosRequest& request) {
  auto& st = self->state;
  auto promise = self->make_response_promise();
  pb::ChaosReply reply;
  reply.set_node(st.context->name);
  if (!st.context->config.allow_chaos) {
    reply.mutable_error()->set_code("Forbidden");
    reply.mutable_error()->set_message("node " + st.context->name +
                                       " does not allow chaos (allowChaos: true in its config)");
    promise.deliver(std::move(reply));
    return promise;
  }
  const std::set<std::string> kinds{kPodChain, kPullQueue, kBackoff, kCredentials, kTransfer};
  if (!request.list() && kinds.count(request.kind()) == 0) {
    reply.mutable_error()->set_code("Invalid");
    reply.mutable_error()->set_message("unknown actor kind \"" + request.kind() +
                                       "\" (pod-chain, pull-queue, credential-resolver, "
                                       "backoff, transfer)");
    promise.deliver(std::move(reply));
    return promise;
  }
  if (!request.list() && request.kind() != kTransfer) {
    reply.set_killed(KillLocal(self, request.kind(), request.all()));
    spdlog::warn("node={} chaos: killed {} {} actor(s)", st.context->name, reply.killed(),
                 request.kind());
  }
  // Transfers belong to the pull queue: it kills (cancels and restarts) them and counts them.
  const bool kill_transfers = !request.list() && request.kind() == kTransfer;
  self->request(st.services.queue, std::chrono::seconds(5), chaos_atom::value, kill_transfers,
                request.all())
      .then(
          [=](int32_t killed, int32_t live) mutable {
            pb::ChaosReply out = reply;
            if (kill_transfers) out.set_killed(killed);
            FillLive(self->state, &out, live);
            promise.deliver(std::move(out));
          },
          [=](caf::error&) mutable {
            pb::ChaosReply out = reply;  // the queue is restarting: no transfer to count
            FillLive(self->state, &out, 0);
            promise.deliver(std::move(out));
          });
  return promise;
}

// ---- behavior ----------------------------------------------------------------------------------

caf::behavior NodeAgent(AgentActor* self, NodeContextPtr context, CoordinatorLink link) {
  auto& st = self->state;
  st.context = std::move(context);
  st.link = std::move(link);
  const auto& config = st.context->config;
  st.reconnect = std::make_unique<node::ReconnectBackoff>(
      std::chrono::milliseconds(static_cast<int64_t>(config.reconnect_initial_seconds * 1000)),
      std::chrono::milliseconds(static_cast<int64_t>(config.reconnect_max_seconds * 1000)));
  st.services.queue = SpawnService(self, kPullQueue);
  st.services.backoff = SpawnService(self, kBackoff);
  st.services.credentials = SpawnService(self, kCredentials);
  self->set_down_handler([=](caf::down_msg& down) { OnDown(self, down); });
  Connect(self);
  return {
      [=](assign_atom, const pb::PodAssignment& assignment) { OnAssign(self, assignment.pod()); },
      [=](remove_atom, const pb::PodRemoval& removal) { StopChain(self, removal.uid()); },
      [=](status_atom, pb::PodStatusReport& report) { OnStatusReport(self, report); },
      [=](ping_atom, uint64_t generation) { PingCoordinator(self, generation); },
      [=](reconnect_atom, uint64_t attempt) {
        if (attempt == self->state.link_attempt && !self->state.coordinator) Connect(self);
      },
      // A pod chain asks for its pull secrets before each pull: fresh from the coordinator,
      // so a secret created or fixed after a failure is used at the next retry.
      [=](secrets_atom, const pb::PullSecretsRequest& request) {
        auto promise = self->make_response_promise<pb::PullSecretsReply>();
        auto& st = self->state;
        if (!st.coordinator) {
          promise.deliver(caf::make_error(caf::sec::request_receiver_down));
          return promise;
        }
        self->request(st.coordinator, std::chrono::seconds(5), secrets_atom::value, request)
            .then([=](pb::PullSecretsReply& reply) mutable { promise.deliver(std::move(reply)); },
                  [=](caf::error& error) mutable { promise.deliver(std::move(error)); });
        return promise;
      },
      [=](chaos_atom, const pb::ChaosRequest& request) { return OnChaos(self, request); },
      [=](images_atom, const pb::GetImagesRequest&) {
        auto& st = self->state;
        pb::ImageList list;
        list.set_node(st.context->name);
        list.set_store_path(st.context->images->store_path().string());
        for (auto& record : st.context->images->List()) *list.add_images() = std::move(record);
        return list;
      },
      // Pre-pulled images: the copy is file I/O, so it runs on a thread of its own.
      [=](load_atom, const pb::LoadImagesRequest& request) {
        auto promise = self->make_response_promise();
        auto context = self->state.context;
        self->spawn<caf::detached>([context, request,
                                    promise](caf::event_based_actor* importer) mutable {
          pb::LoadImagesReply reply;
          auto records =
              node::ImportLayout(request.path(), *context->images, context->config.platform, "");
          if (records.ok()) {
            for (auto& record : *records) *reply.add_images() = std::move(record);
            spdlog::info("node={} imported {} images from {}", context->name, reply.images_size(),
                         request.path());
          } else {
            reply.mutable_error()->set_code("Invalid");
            reply.mutable_error()->set_message(records.error().message());
          }
          promise.deliver(std::move(reply));
          importer->quit();
        });
        return promise;
      },
      // A service restart delayed by the budget is due.
      [=](restarted_atom, const std::string& kind) { RestartService(self, kind); },
      [=](restarted_atom, const std::string&, const std::string& uid) { RestartChain(self, uid); },
  };
}

}  // namespace

caf::actor SpawnNodeAgent(caf::actor_system& system, NodeContextPtr context, CoordinatorLink link) {
  return system.spawn(NodeAgent, std::move(context), std::move(link));
}

}  // namespace pullfleet::actors
