// The node agent: one per node. It registers the node with the coordinator, runs a pod
// chain for every pod assigned here, forwards their status reports, answers image listings,
// and supervises the node's other actors: each is monitored, and one that dies is respawned
// (the pod chains are told the new handles, so the work they held is asked for again).
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <unordered_map>

#include "actors/common/pod_metrics.h"
#include "actors/common/protocol.h"
#include "actors/node/node_actors.h"
#include "actors/node/node_messages.h"
#include "caf/all.hpp"
#include "node/layout_import.h"

namespace pullfleet::actors {
namespace {

// Restarts allowed per actor kind within the window before restarts are delayed.
constexpr size_t kRestartBudget = 10;
constexpr auto kRestartWindow = std::chrono::seconds(10);
constexpr auto kRestartDelayOverBudget = std::chrono::seconds(1);

struct ChainEntry {
  caf::actor actor;
  pb::Pod pod;
  pb::PodStatus status;  // as last reported by the chain, for the waiting-pods gauge
};

struct AgentState {
  NodeContextPtr context;
  caf::actor coordinator;
  NodeServices services;
  std::unordered_map<std::string, ChainEntry> chains;  // by pod UID
  std::unordered_map<std::string, std::deque<std::chrono::steady_clock::time_point>> restarts;
  static inline const char* name = "node-agent";

  // The agent's children end with it. CAF destroys the state when the actor exits, which is
  // the last moment the handles are still valid (an attached functor runs after that).
  ~AgentState() {
    for (auto& [uid, entry] : chains) caf::anon_send_exit(entry.actor, caf::exit_reason::kill);
    for (auto* service : {&services.queue, &services.backoff, &services.credentials}) {
      if (*service) caf::anon_send_exit(*service, caf::exit_reason::kill);
    }
  }
};

using AgentActor = caf::stateful_actor<AgentState>;

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
  caf::actor actor = kind == "pull-queue"    ? SpawnPullQueue(system, ctx)
                     : kind == "backoff"     ? SpawnBackoff(system, ctx)
                                             : SpawnCredentialResolver(system, ctx);
  self->monitor(actor);
  return actor;
}

caf::actor* ServiceSlot(AgentState& st, const caf::actor_addr& source, std::string* kind) {
  if (source == st.services.queue.address()) {
    *kind = "pull-queue";
    return &st.services.queue;
  }
  if (source == st.services.backoff.address()) {
    *kind = "backoff";
    return &st.services.backoff;
  }
  if (source == st.services.credentials.address()) {
    *kind = "credential-resolver";
    return &st.services.credentials;
  }
  return nullptr;
}

void RestartService(AgentActor* self, const std::string& kind) {
  auto& st = self->state;
  caf::actor fresh = SpawnService(self, kind);
  if (kind == "pull-queue") st.services.queue = fresh;
  if (kind == "backoff") st.services.backoff = fresh;
  if (kind == "credential-resolver") st.services.credentials = fresh;
  st.context->metrics.ActorRestarted(kind);
  for (auto& [uid, entry] : st.chains) self->send(entry.actor, restarted_atom::value, st.services);
}

void OnDown(AgentActor* self, const caf::down_msg& down) {
  auto& st = self->state;
  if (down.source == st.coordinator.address()) {
    // TODO(issue 5): reconnect with backoff and reconcile; until then the node keeps
    // serving the pods it has and its reports to the coordinator are dropped.
    spdlog::warn("node={} lost the coordinator ({}); serving assigned pods on", st.context->name,
                 self->system().render(down.reason));
    return;
  }
  std::string kind;
  if (ServiceSlot(st, down.source, &kind) != nullptr) {
    spdlog::warn("node={} actor {} died ({}); restarting", st.context->name, kind,
                 self->system().render(down.reason));
    if (WithinBudget(st, kind)) {
      RestartService(self, kind);
    } else {
      spdlog::error("node={} actor {} over its restart budget; restarting in 1s",
                    st.context->name, kind);
      *ServiceSlot(st, down.source, &kind) = caf::actor();
      self->delayed_send(self, kRestartDelayOverBudget, restarted_atom::value, kind);
    }
    return;
  }
  for (auto& [uid, entry] : st.chains) {
    if (entry.actor.address() != down.source) continue;
    spdlog::warn("node={} pod={}/{} chain died ({}); restarting", st.context->name,
                 entry.pod.metadata().namespace_(), entry.pod.metadata().name(),
                 self->system().render(down.reason));
    st.context->metrics.ActorRestarted("pod-chain");
    entry.actor = SpawnChain(self, entry.pod);
    return;
  }
}

void UpdateWaitingGauge(AgentState& st) {
  WaitingCounts counts = ZeroWaitingCounts();
  for (const auto& [uid, entry] : st.chains) CountWaiting(entry.status, counts);
  for (const auto& [reason, pods] : counts) st.context->metrics.SetPodsWaiting(reason, pods);
}

pb::NodeInfo MakeInfo(const NodeContext& ctx) {
  pb::NodeInfo info;
  info.set_name(ctx.name);
  info.set_os(ctx.config.platform.os);
  info.set_architecture(ctx.config.platform.architecture);
  info.set_variant(ctx.config.platform.variant);
  for (const auto& [key, value] : ctx.config.labels) (*info.mutable_labels())[key] = value;
  return info;
}

void OnAssign(AgentActor* self, pb::PodAssignment& assignment) {
  auto& st = self->state;
  const auto& pod = assignment.pod();
  const std::string uid = pod.metadata().uid();
  auto it = st.chains.find(uid);
  if (it != st.chains.end()) {
    if (it->second.pod.spec().SerializeAsString() == pod.spec().SerializeAsString()) return;
    // A changed spec starts over with a fresh chain, as the kubelet restarts containers.
    self->demonitor(it->second.actor);
    self->send_exit(it->second.actor, caf::exit_reason::user_shutdown);
    st.chains.erase(it);
  }
  spdlog::info("node={} pod={}/{} assigned ({} init, {} containers)", st.context->name,
               pod.metadata().namespace_(), pod.metadata().name(),
               pod.spec().init_containers_size(), pod.spec().containers_size());
  st.chains[uid] = ChainEntry{SpawnChain(self, pod), pod};
}

caf::behavior NodeAgent(AgentActor* self, NodeContextPtr context, caf::actor coordinator) {
  auto& st = self->state;
  st.context = std::move(context);
  st.coordinator = std::move(coordinator);
  st.services.queue = SpawnService(self, "pull-queue");
  st.services.backoff = SpawnService(self, "backoff");
  st.services.credentials = SpawnService(self, "credential-resolver");
  self->set_down_handler([=](caf::down_msg& down) { OnDown(self, down); });
  if (st.coordinator) {
    self->monitor(st.coordinator);
    self->send(st.coordinator, register_atom::value, MakeInfo(*st.context));
  }
  return {
      [=](assign_atom, pb::PodAssignment& assignment) { OnAssign(self, assignment); },
      [=](remove_atom, const pb::PodRemoval& removal) {
        auto& st = self->state;
        auto it = st.chains.find(removal.uid());
        if (it == st.chains.end()) return;
        self->demonitor(it->second.actor);
        self->send_exit(it->second.actor, caf::exit_reason::user_shutdown);
        st.chains.erase(it);
        UpdateWaitingGauge(st);
      },
      [=](status_atom, pb::PodStatusReport& report) {
        auto& st = self->state;
        auto chain = st.chains.find(report.uid());
        if (chain == st.chains.end()) return;  // removed meanwhile
        chain->second.status = report.status();
        UpdateWaitingGauge(st);
        if (st.coordinator) self->send(st.coordinator, status_atom::value, std::move(report));
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
        self->spawn<caf::detached>([context, request, promise](caf::event_based_actor* importer) mutable {
          pb::LoadImagesReply reply;
          auto records = node::ImportLayout(request.path(), *context->images,
                                            context->config.platform, "");
          if (records.ok()) {
            for (auto& record : *records) *reply.add_images() = std::move(record);
            spdlog::info("node={} imported {} images from {}", context->name,
                         reply.images_size(), request.path());
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
  };
}

}  // namespace

caf::actor SpawnNodeAgent(caf::actor_system& system, NodeContextPtr context,
                          caf::actor coordinator) {
  return system.spawn(NodeAgent, std::move(context), std::move(coordinator));
}

}  // namespace pullfleet::actors
