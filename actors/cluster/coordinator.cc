// The coordinator actor. See coordinator.h for what it is; this file is its state and
// message handlers, in the order a pod travels: apply (admission, controller), scheduling,
// node registration and assignment, status reports, reads and deletes.
#include "actors/cluster/coordinator.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "actors/cluster/admission.h"
#include "actors/cluster/controllers.h"
#include "actors/cluster/pod_events.h"
#include "actors/common/pod_metrics.h"
#include "actors/common/protocol.h"
#include "caf/all.hpp"
#include "common/names.h"

namespace pullfleet::actors {
namespace {

constexpr uint32_t kPodRecordVersion = 1;
constexpr uint32_t kWorkloadRecordVersion = 1;

// Sent by the coordinator to itself: write the pods changed since the last write.
using flush_atom = caf::atom_constant<caf::atom("flush")>;

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string PodKey(const std::string& ns, const std::string& name) {
  return "pod/" + ns + "/" + name;
}

std::string NamespacedKey(const char* kind, const pb::ObjectMeta& meta) {
  return std::string(kind) + "/" + meta.namespace_() + "/" + meta.name();
}

std::string WorkloadKey(const std::string& kind, const std::string& ns, const std::string& name) {
  return "workload/" + kind + "/" + ns + "/" + name;
}

std::string WorkloadKey(const pb::Workload& w) {
  return WorkloadKey(w.kind(), w.metadata().namespace_(), w.metadata().name());
}

struct NodeEntry {
  caf::actor actor;
  pb::NodeInfo info;
  bool up = false;
  uint64_t downs = 0;  // bumped at every loss; a grace timer acts only on its own loss
  bool lost = false;   // down longer than the grace period
};

struct CoordinatorState;
void FlushPods(CoordinatorState& st);

struct CoordinatorState {
  // The actor this state belongs to (set when its behavior starts; the state lives inside it).
  caf::stateful_actor<CoordinatorState>* self = nullptr;
  CoordinatorOptions options;
  std::shared_ptr<persistence::RecordDb> db;
  std::map<std::string, pb::Pod> pods;                         // by PodKey
  std::map<std::string, pb::Workload> workloads;               // by WorkloadKey
  std::map<std::string, NodeEntry> nodes;                      // by node name
  std::map<std::string, pb::Secret> secrets;                   // by "secret/ns/name"
  std::map<std::string, pb::ServiceAccount> service_accounts;  // "serviceaccount/ns/name"
  std::map<std::string, pb::RuntimeClass> runtime_classes;     // by name
  std::map<std::string, pb::Namespace> namespaces;             // by name
  std::mt19937_64 rng{std::random_device{}()};
  std::chrono::steady_clock::time_point cluster_metrics_at{};  // last PublishClusterMetrics
  // Pods changed in memory but not yet written (see PersistPod), and whether a flush_atom
  // is on its way.
  std::set<std::string> dirty_pods;
  bool flush_pending = false;
  static inline const char* name = "coordinator";

  // The last changes reach the database when the actor ends (CAF destroys the state then).
  ~CoordinatorState() { FlushPods(*this); }
};

using CoordinatorActor = caf::stateful_actor<CoordinatorState>;

// ---- persistence -------------------------------------------------------------------------------

// Pod records are written in batches: a change marks the pod dirty, and FlushPods writes
// every dirty pod in one RocksDB write batch. Handlers that answer a client (apply, delete)
// flush before they reply, so what a client was told is on disk; other changes (status
// reports, assignments at registration) are flushed by a flush_atom the coordinator sends
// itself, which runs once the messages already in its mailbox are handled. A burst of status
// reports from many nodes so costs one write instead of one per report (measured with 10,000
// pods: per-report writes were most of the coordinator's time). A killed coordinator loses
// at most the reports of that one mailbox burst; nodes report every change again.
void PersistPod(CoordinatorState& st, const pb::Pod& pod) {
  st.dirty_pods.insert(PodKey(pod.metadata().namespace_(), pod.metadata().name()));
  if (st.flush_pending || st.self == nullptr) return;
  st.flush_pending = true;
  st.self->send(st.self, flush_atom::value);
}

void FlushPods(CoordinatorState& st) {
  st.flush_pending = false;
  if (st.dirty_pods.empty() || !st.db) return;
  persistence::RecordDb::Batch batch;
  for (const auto& key : st.dirty_pods) {
    auto it = st.pods.find(key);
    if (it != st.pods.end()) batch.Put(key, it->second);  // a deleted pod was deleted at once
  }
  const size_t count = st.dirty_pods.size();
  st.dirty_pods.clear();
  if (batch.empty()) return;
  auto status = st.db->Commit(batch);
  if (!status.ok()) {
    // The pods stay in memory and their next change writes them again.
    spdlog::error("coordinator: persist {} pods: {}", count, status.error().message());
  }
}

void LoadState(CoordinatorState& st) {
  size_t bad = 0;
  auto pods = st.db->Scan("pod/", [&](std::string_view key, std::string_view value) {
    pb::Pod pod;
    if (!pod.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      ++bad;
      return;
    }
    st.pods[std::string(key)] = std::move(pod);
  });
  auto workloads = st.db->Scan("workload/", [&](std::string_view key, std::string_view value) {
    pb::Workload workload;
    if (!workload.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      ++bad;
      return;
    }
    st.workloads[std::string(key)] = std::move(workload);
  });
  auto secrets = st.db->Scan("secret/", [&](std::string_view key, std::string_view value) {
    pb::SealedRecord sealed;
    pb::Secret secret;
    if (!sealed.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      ++bad;
      return;
    }
    auto opened = st.options.sealer->Open(sealed);
    if (!opened.ok() || !secret.ParseFromString(*opened)) {
      ++bad;
      return;
    }
    st.secrets[std::string(key)] = std::move(secret);
  });
  auto accounts = st.db->Scan("serviceaccount/", [&](std::string_view key, std::string_view value) {
    pb::ServiceAccount account;
    if (account.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      st.service_accounts[std::string(key)] = std::move(account);
    } else {
      ++bad;
    }
  });
  auto classes = st.db->Scan("runtimeclass/", [&](std::string_view, std::string_view value) {
    pb::RuntimeClass rc;
    if (rc.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      st.runtime_classes[rc.metadata().name()] = std::move(rc);
    } else {
      ++bad;
    }
  });
  auto namespaces = st.db->Scan("namespace/", [&](std::string_view, std::string_view value) {
    pb::Namespace ns;
    if (ns.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      st.namespaces[ns.metadata().name()] = std::move(ns);
    } else {
      ++bad;
    }
  });
  if (!pods.ok() || !workloads.ok() || !secrets.ok() || !accounts.ok() || !classes.ok() ||
      !namespaces.ok() || bad > 0) {
    spdlog::error("coordinator: database {} partly unreadable ({} bad records)", st.db->path(),
                  bad);
  }
  spdlog::info("coordinator: loaded {} pods, {} workloads, {} secrets from {}", st.pods.size(),
               st.workloads.size(), st.secrets.size(), st.db->path());
}

// ---- scheduling --------------------------------------------------------------------------------

void SendAssignment(CoordinatorActor* self, const pb::Pod& pod) {
  auto it = self->state.nodes.find(pod.spec().node_name());
  if (it == self->state.nodes.end() || !it->second.up) return;  // sent when it registers
  pb::PodAssignment assignment;
  *assignment.mutable_pod() = pod;
  self->send(it->second.actor, assign_atom::value, std::move(assignment));
}

// The pods on each up node and the node's labels, counted once for a burst of scheduling
// decisions (one apply, one reconcile, one registration) and kept current by the burst.
// Counting walks every pod: done per pod, as it once was, an apply of N pods cost N^2 map
// steps (10,000 pods over 100 nodes: more than 30 s, measured with perf).
class NodeLoad {
 public:
  explicit NodeLoad(const CoordinatorState& st) {
    std::unordered_map<std::string, size_t> index;
    for (const auto& [name, node] : st.nodes) {
      if (!node.up) continue;
      index[name] = nodes_.size();
      nodes_.push_back(Candidate{name, NodeLabels(node.info), 0});
    }
    for (const auto& [key, pod] : st.pods) {
      auto it = index.find(pod.spec().node_name());
      if (it != index.end()) ++nodes_[it->second].pods;
    }
  }

  // The up node with the fewest pods among those the pod's nodeSelector allows (the first
  // by name on a tie); empty when there is none.
  std::string LeastLoaded(const pb::PodSpec& spec) const {
    const Candidate* best = nullptr;
    for (const auto& c : nodes_) {
      if ((!best || c.pods < best->pods) && SelectorMatches(spec.node_selector(), c.labels)) {
        best = &c;
      }
    }
    return best ? best->name : "";
  }

  // A pod was placed on (delta 1) or removed from (delta -1) `node` during the burst.
  void Add(const std::string& node, int delta) {
    for (auto& c : nodes_) {
      if (c.name != node) continue;
      if (delta > 0 || c.pods > 0) c.pods += static_cast<size_t>(static_cast<long>(delta));
      return;
    }
  }

 private:
  struct Candidate {
    std::string name;
    std::map<std::string, std::string> labels;
    size_t pods = 0;
  };
  std::vector<Candidate> nodes_;  // in name order
};

// Places a pod that `load` does not count yet (a new or an unassigned one) and sends it to
// its node.
void Schedule(CoordinatorActor* self, pb::Pod& pod, NodeLoad& load) {
  if (pod.spec().node_name().empty()) {
    const std::string node = load.LeastLoaded(pod.spec());
    if (node.empty()) return;  // stays pending until a node registers
    pod.mutable_spec()->set_node_name(node);
    PersistPod(self->state, pod);
  }
  load.Add(pod.spec().node_name(), 1);
  SendAssignment(self, pod);
}

void ScheduleUnassigned(CoordinatorActor* self) {
  NodeLoad load(self->state);
  for (auto& [key, pod] : self->state.pods) {
    if (pod.spec().node_name().empty()) Schedule(self, pod, load);
  }
}

void RemovePod(CoordinatorActor* self, const std::string& key) {
  auto& st = self->state;
  auto it = st.pods.find(key);
  if (it == st.pods.end()) return;
  auto node = st.nodes.find(it->second.spec().node_name());
  if (node != st.nodes.end() && node->second.up) {
    pb::PodRemoval removal;
    removal.set_namespace_(it->second.metadata().namespace_());
    removal.set_name(it->second.metadata().name());
    removal.set_uid(it->second.metadata().uid());
    self->send(node->second.actor, remove_atom::value, removal);
  }
  (void)st.db->Delete(key);
  st.pods.erase(it);
}

// ---- apply -------------------------------------------------------------------------------------

// The RuntimeClass admission plugin: runtimeClassName must name a RuntimeClass; its handler
// rides along with the pod. Returns the refusal, empty when admitted.
std::string ResolveRuntimeHandler(const CoordinatorState& st, pb::PodSpec* spec,
                                  const std::string& pod_name) {
  spec->clear_runtime_handler();
  if (spec->runtime_class_name().empty()) return "";
  auto it = st.runtime_classes.find(spec->runtime_class_name());
  if (it == st.runtime_classes.end()) {
    return "Error from server (Forbidden): pods \"" + pod_name +
           "\" is forbidden: pod rejected: RuntimeClass \"" + spec->runtime_class_name() +
           "\" not found";
  }
  spec->set_runtime_handler(it->second.handler());
  return "";
}

// The ServiceAccount admission plugin: a pod without imagePullSecrets gets those of its
// service account ("default" when none is named).
void AddServiceAccountSecrets(const CoordinatorState& st, const std::string& ns,
                              pb::PodSpec* spec) {
  if (spec->image_pull_secrets_size() > 0) return;
  const std::string account =
      spec->service_account_name().empty() ? "default" : spec->service_account_name();
  auto it = st.service_accounts.find("serviceaccount/" + ns + "/" + account);
  if (it == st.service_accounts.end()) return;
  for (const auto& name : it->second.image_pull_secrets()) spec->add_image_pull_secrets(name);
}

pb::Pod AdmitNewPod(CoordinatorState& st, pb::Pod pod) {
  auto* meta = pod.mutable_metadata();
  if (meta->namespace_().empty()) meta->set_namespace_("default");
  meta->set_uid(NewUid(st.rng));
  meta->set_creation_unix_ms(UnixMillis());
  pod.set_record_version(kPodRecordVersion);
  pod.clear_status();
  pod.clear_events();
  DefaultPodSpec(pod.mutable_spec(), nullptr, {st.options.always_pull_images});
  AddServiceAccountSecrets(st, meta->namespace_(), pod.mutable_spec());
  return pod;
}

std::string ApplyPod(CoordinatorActor* self, pb::Pod pod, pb::ApplyResponse* response,
                     NodeLoad& load) {
  auto& st = self->state;
  if (pod.metadata().namespace_().empty()) pod.mutable_metadata()->set_namespace_("default");
  if (auto refusal = ResolveRuntimeHandler(st, pod.mutable_spec(), pod.metadata().name());
      !refusal.empty()) {
    response->add_errors(refusal);
    return "";
  }
  const std::string key = PodKey(pod.metadata().namespace_(), pod.metadata().name());
  const std::string line = "pod/" + pod.metadata().name();
  auto it = st.pods.find(key);
  if (it == st.pods.end()) {
    pb::Pod admitted = AdmitNewPod(st, std::move(pod));
    auto& stored = st.pods[key] = std::move(admitted);
    PersistPod(st, stored);
    Schedule(self, stored, load);
    return line + " created";
  }
  // Re-apply: the stored policies stay where the new spec omits them.
  pb::Pod& stored = it->second;
  pb::PodSpec spec = pod.spec();
  DefaultPodSpec(&spec, &stored.spec(), {st.options.always_pull_images});
  if (spec.node_name().empty()) spec.set_node_name(stored.spec().node_name());
  if (spec.image_pull_secrets_size() == 0) {
    *spec.mutable_image_pull_secrets() = stored.spec().image_pull_secrets();
  }
  if (spec.SerializeAsString() == stored.spec().SerializeAsString()) return line + " unchanged";
  *stored.mutable_spec() = std::move(spec);
  PersistPod(st, stored);
  SendAssignment(self, stored);
  return line + " configured";
}

std::vector<NodeView> UpNodes(const CoordinatorState& st) {
  std::vector<NodeView> nodes;
  for (const auto& [name, entry] : st.nodes) {
    if (entry.up) nodes.push_back(NodeView{name, NodeLabels(entry.info)});
  }
  return nodes;
}

// Makes the pods of `w` what its controller would make them (see controllers.h).
void Reconcile(CoordinatorActor* self, const pb::Workload& w, NodeLoad& load) {
  auto& st = self->state;
  std::vector<OwnedPod> owned;
  for (const auto& [key, pod] : st.pods) {
    if (pod.metadata().owner_uid() == w.metadata().uid()) owned.push_back(OwnedPod{key, &pod});
  }
  ControllerPlan plan = PlanWorkload(w, owned, UpNodes(st), st.rng);
  for (const auto& key : plan.remove) {
    auto it = st.pods.find(key);
    if (it != st.pods.end()) load.Add(it->second.spec().node_name(), -1);
    RemovePod(self, key);
  }
  for (auto& pod : plan.create) {
    if (auto refusal = ResolveRuntimeHandler(st, pod.mutable_spec(), pod.metadata().name());
        !refusal.empty()) {
      // The controller keeps trying; pullfleet tries again at the next apply.
      spdlog::warn("coordinator: {} {}: {}", w.kind(), w.metadata().name(), refusal);
      return;
    }
    pb::Pod admitted = AdmitNewPod(st, std::move(pod));
    const std::string key = PodKey(admitted.metadata().namespace_(), admitted.metadata().name());
    auto& stored = st.pods[key] = std::move(admitted);
    PersistPod(st, stored);
    Schedule(self, stored, load);
  }
}

// Workloads whose pods depend on the set of nodes: DaemonSets and CronJob pre-pulls.
void ReconcilePerNodeWorkloads(CoordinatorActor* self) {
  NodeLoad load(self->state);
  for (const auto& [key, w] : self->state.workloads) {
    if (w.kind() == "DaemonSet" || w.kind() == "CronJob") Reconcile(self, w, load);
  }
}

// kubectl's resource.group for a workload kind: "deployment.apps", "job.batch", ...
std::string ResourceName(const std::string& kind) {
  std::string lower = kind;
  for (auto& c : lower) c = static_cast<char>(std::tolower(c));
  if (kind == "ReplicationController") return "replicationcontroller";
  if (kind == "Job" || kind == "CronJob") return lower + ".batch";
  return lower + ".apps";
}

std::string ApplyWorkload(CoordinatorActor* self, pb::Workload w, NodeLoad& load) {
  auto& st = self->state;
  if (w.metadata().namespace_().empty()) w.mutable_metadata()->set_namespace_("default");
  w.set_record_version(kWorkloadRecordVersion);
  const std::string key = WorkloadKey(w);
  const std::string line = ResourceName(w.kind()) + "/" + w.metadata().name();
  auto it = st.workloads.find(key);
  const pb::PodSpec* previous = it == st.workloads.end() ? nullptr : &it->second.template_spec();
  DefaultPodSpec(w.mutable_template_spec(), previous, {st.options.always_pull_images});
  std::string verdict = "created";
  if (it != st.workloads.end()) {
    w.mutable_metadata()->set_uid(it->second.metadata().uid());
    w.mutable_metadata()->set_creation_unix_ms(it->second.metadata().creation_unix_ms());
    verdict = w.SerializeAsString() == it->second.SerializeAsString() ? "unchanged" : "configured";
  } else {
    w.mutable_metadata()->set_uid(NewUid(st.rng));
    w.mutable_metadata()->set_creation_unix_ms(UnixMillis());
  }
  (void)st.db->Put(key, w);
  st.workloads[key] = w;
  Reconcile(self, w, load);
  return line + " " + verdict;
}

// Deletes a workload and the pods it owns, as kubectl's default (background) cascade does.
pb::DeletePodResponse DeleteWorkload(CoordinatorActor* self, const std::string& kind,
                                     const std::string& ns, const std::string& name) {
  auto& st = self->state;
  pb::DeletePodResponse response;
  const std::string key = WorkloadKey(kind, ns, name);
  auto it = st.workloads.find(key);
  if (it == st.workloads.end()) return response;
  response.set_found(true);
  const std::string uid = it->second.metadata().uid();
  (void)st.db->Delete(key);
  st.workloads.erase(it);
  std::vector<std::string> owned;
  for (const auto& [pod_key, pod] : st.pods) {
    if (pod.metadata().owner_uid() == uid) owned.push_back(pod_key);
  }
  for (const auto& pod_key : owned) RemovePod(self, pod_key);
  spdlog::info("coordinator: {} {}/{} deleted with its {} pods", kind, ns, name, owned.size());
  return response;
}

template <class Object>
std::string Verdict(const Object* previous, const Object& now) {
  if (previous == nullptr) return "created";
  return previous->SerializeAsString() == now.SerializeAsString() ? "unchanged" : "configured";
}

void DefaultMeta(pb::ObjectMeta* meta, bool namespaced) {
  if (namespaced && meta->namespace_().empty()) meta->set_namespace_("default");
}

std::string ApplySecret(CoordinatorState& st, pb::Secret secret) {
  DefaultMeta(secret.mutable_metadata(), true);
  secret.set_record_version(1);
  const std::string key = NamespacedKey("secret", secret.metadata());
  auto it = st.secrets.find(key);
  secret.mutable_metadata()->set_uid(it != st.secrets.end() ? it->second.metadata().uid()
                                                            : NewUid(st.rng));
  const std::string verdict = Verdict(it == st.secrets.end() ? nullptr : &it->second, secret);
  // Only the sealed form reaches the disk.
  (void)st.db->Put(key, st.options.sealer->Seal(secret.SerializeAsString()));
  st.secrets[key] = secret;
  return "secret/" + secret.metadata().name() + " " + verdict;
}

std::string ApplyServiceAccount(CoordinatorState& st, pb::ServiceAccount account) {
  DefaultMeta(account.mutable_metadata(), true);
  account.set_record_version(1);
  const std::string key = NamespacedKey("serviceaccount", account.metadata());
  auto it = st.service_accounts.find(key);
  const std::string verdict =
      Verdict(it == st.service_accounts.end() ? nullptr : &it->second, account);
  (void)st.db->Put(key, account);
  st.service_accounts[key] = account;
  return "serviceaccount/" + account.metadata().name() + " " + verdict;
}

std::string ApplyRuntimeClass(CoordinatorState& st, pb::RuntimeClass rc) {
  rc.set_record_version(1);
  auto it = st.runtime_classes.find(rc.metadata().name());
  const std::string verdict = Verdict(it == st.runtime_classes.end() ? nullptr : &it->second, rc);
  (void)st.db->Put("runtimeclass/" + rc.metadata().name(), rc);
  st.runtime_classes[rc.metadata().name()] = rc;
  return "runtimeclass.node.k8s.io/" + rc.metadata().name() + " " + verdict;
}

std::string ApplyNamespace(CoordinatorState& st, pb::Namespace ns) {
  ns.set_record_version(1);
  auto it = st.namespaces.find(ns.metadata().name());
  const std::string verdict = Verdict(it == st.namespaces.end() ? nullptr : &it->second, ns);
  (void)st.db->Put("namespace/" + ns.metadata().name(), ns);
  st.namespaces[ns.metadata().name()] = ns;
  return "namespace/" + ns.metadata().name() + " " + verdict;
}

pb::PullSecretsReply FindPullSecrets(const CoordinatorState& st,
                                     const pb::PullSecretsRequest& request) {
  pb::PullSecretsReply reply;
  for (const auto& name : request.names()) {
    auto it = st.secrets.find("secret/" + request.namespace_() + "/" + name);
    if (it == st.secrets.end()) {
      reply.add_missing(name);
    } else {
      *reply.add_secrets() = it->second;
    }
  }
  return reply;
}

// Applies every object of `request`, or none when any name is invalid (as a file with an
// invalid document creates nothing).
pb::ApplyResponse Apply(CoordinatorActor* self, pb::ApplyRequest& request) {
  auto& st = self->state;
  pb::ApplyResponse response;
  for (auto& error : InvalidObjectNames(request)) response.add_errors(std::move(error));
  if (response.errors_size() > 0) {
    spdlog::warn(
        "coordinator: refused an apply with {} invalid object names; nothing applied. "
        "The first: {}",
        response.errors_size(), response.errors(0));
    return response;
  }
  // Objects others depend on first, whatever their order in the files.
  for (auto& ns : *request.mutable_namespaces()) response.add_lines(ApplyNamespace(st, ns));
  for (auto& secret : *request.mutable_secrets()) response.add_lines(ApplySecret(st, secret));
  for (auto& account : *request.mutable_service_accounts()) {
    response.add_lines(ApplyServiceAccount(st, account));
  }
  for (auto& rc : *request.mutable_runtime_classes()) response.add_lines(ApplyRuntimeClass(st, rc));
  NodeLoad load(st);
  for (auto& pod : *request.mutable_pods()) {
    auto line = ApplyPod(self, std::move(pod), &response, load);
    if (!line.empty()) response.add_lines(std::move(line));
  }
  for (auto& w : *request.mutable_workloads()) {
    response.add_lines(ApplyWorkload(self, std::move(w), load));
  }
  FlushPods(st);  // the client is told "created" only once it is written
  return response;
}

// ---- status reports ----------------------------------------------------------------------------

// The cluster totals (pods by ImagesReady, pods by waiting reason), at most once a second:
// status reports arrive several times a second per pulling pod, and a scrape interval is
// longer than that. Known shortcoming: a deleted pod leaves the totals at the next report.
void PublishClusterMetrics(CoordinatorState& st) {
  const auto now = std::chrono::steady_clock::now();
  if (!st.options.metrics || now - st.cluster_metrics_at < std::chrono::seconds(1)) return;
  st.cluster_metrics_at = now;
  WaitingCounts waiting = ZeroWaitingCounts();
  int64_t ready = 0;
  for (const auto& [key, pod] : st.pods) {
    CountWaiting(pod.status(), waiting);
    ready += ImagesReady(pod.status()) ? 1 : 0;
  }
  for (const auto& [reason, pods] : waiting)
    st.options.metrics->SetClusterPodsWaiting(reason, pods);
  st.options.metrics->SetClusterPods(true, ready);
  st.options.metrics->SetClusterPods(false, static_cast<int64_t>(st.pods.size()) - ready);
}

void OnStatusReport(CoordinatorActor* self, const pb::PodStatusReport& report) {
  auto& st = self->state;
  auto it = st.pods.find(PodKey(report.namespace_(), report.name()));
  if (it == st.pods.end() || it->second.metadata().uid() != report.uid()) return;  // deleted
  pb::Pod& pod = it->second;
  *pod.mutable_status() = report.status();
  MergeEvents(pod, report);
  PersistPod(st, pod);
  PublishClusterMetrics(st);
}

// ---- nodes -------------------------------------------------------------------------------------

// Registration, first or again (a node that reconnects, or restarted): the entry is replaced
// by name. The reply lists every pod the node must have; the node reconciles against it.
pb::NodeSync OnRegister(CoordinatorActor* self, const pb::NodeInfo& info) {
  auto& st = self->state;
  pb::NodeSync sync;
  auto sender = caf::actor_cast<caf::actor>(self->current_sender());
  if (!sender) return sync;  // monitoring an empty handle would crash
  if (Status name = CheckObjectName("node name", info.name()); !name.ok()) {
    spdlog::warn("coordinator: refused the registration of a node: {}", name.error().message());
    sync.set_refused(name.error().message());
    return sync;
  }
  auto& entry = st.nodes[info.name()];
  if (entry.up && entry.actor && entry.actor != sender) {
    // Two processes with one name would take each other's pods: the first keeps the name
    // until its connection is lost (at once when it exits, after the connection timeout
    // when it froze or was cut off); the second is told why and tries again later.
    spdlog::warn(
        "coordinator: refused a second registration of node {} from another process while "
        "the first is still connected; node names must be unique",
        info.name());
    sync.set_refused("node name " + info.name() +
                     " is held by another connected process; node names must be unique");
    return sync;
  }
  if (entry.actor && entry.actor != sender) self->demonitor(entry.actor);
  const bool was_lost = entry.lost;
  entry.actor = sender;
  entry.info = info;
  entry.up = true;
  entry.lost = false;
  self->monitor(sender);
  if (st.options.metrics) st.options.metrics->SetNodeUp(info.name(), true);
  spdlog::info("coordinator: node {} registered ({}/{}{}){}", info.name(), info.os(),
               info.architecture(), info.variant().empty() ? "" : "/" + info.variant(),
               was_lost ? " after being lost" : "");
  ScheduleUnassigned(self);
  ReconcilePerNodeWorkloads(self);
  for (const auto& [key, pod] : st.pods) {
    if (pod.spec().node_name() == info.name()) *sync.add_pods() = pod;
  }
  return sync;
}

bool ReplacedWhenLost(const CoordinatorState& st, const pb::Pod& pod) {
  if (pod.metadata().owner_uid().empty()) return false;
  for (const auto& [key, w] : st.workloads) {
    if (w.metadata().uid() != pod.metadata().owner_uid()) continue;
    // StatefulSet pods keep their identity (Kubernetes does not replace them either);
    // DaemonSet and CronJob pre-pull pods belong to their node.
    return w.kind() == "Deployment" || w.kind() == "ReplicaSet" ||
           w.kind() == "ReplicationController" || w.kind() == "Job";
  }
  return false;
}

// What `get pods` shows for a pod on a lost node: not Ready, and why.
void MarkLost(pb::Pod& pod, const std::string& node, int64_t grace_ms) {
  auto* status = pod.mutable_status();
  status->set_phase("Unknown");
  pb::PodCondition* condition = nullptr;
  for (auto& c : *status->mutable_conditions()) {
    if (c.type() == "ImagesReady") condition = &c;
  }
  if (condition == nullptr) condition = status->add_conditions();
  condition->set_type("ImagesReady");
  condition->set_status("Unknown");
  condition->set_reason("NodeLost");
  condition->set_message("node " + node + " has not been seen for more than " +
                         std::to_string(grace_ms / 1000.0).substr(0, 5) + " s");
  condition->set_last_transition_unix_ms(UnixMillis());
  pb::Event event;
  event.set_type("Warning");
  event.set_reason("NodeNotReady");
  event.set_message("Node is not ready");
  event.set_first_unix_ms(UnixMillis());
  event.set_last_unix_ms(event.first_unix_ms());
  event.set_count(1);
  event.set_source("coordinator");
  *pod.add_events() = std::move(event);
}

// The grace period of loss number `downs` of `name` is over.
void OnNodeLost(CoordinatorActor* self, const std::string& name, uint64_t downs) {
  auto& st = self->state;
  auto it = st.nodes.find(name);
  if (it == st.nodes.end() || it->second.up || it->second.downs != downs) return;
  it->second.lost = true;
  std::vector<std::string> replaced;
  size_t marked = 0;
  for (auto& [key, pod] : st.pods) {
    if (pod.spec().node_name() != name) continue;
    if (ReplacedWhenLost(st, pod)) {
      replaced.push_back(key);
      continue;
    }
    MarkLost(pod, name, st.options.node_grace.count());
    PersistPod(st, pod);
    ++marked;
  }
  std::set<std::string> owners;
  for (const auto& key : replaced) {
    owners.insert(st.pods[key].metadata().owner_uid());
    RemovePod(self, key);
  }
  NodeLoad load(st);  // counted after the lost node's replaced pods are gone
  for (const auto& [wkey, w] : st.workloads) {
    if (owners.count(w.metadata().uid()) > 0) Reconcile(self, w, load);
  }
  spdlog::warn(
      "coordinator: node {} lost (down for more than {} ms): {} pods reported "
      "NodeLost, {} workload pods replaced on nodes that are up",
      name, st.options.node_grace.count(), marked, replaced.size());
}

void MarkDown(CoordinatorActor* self, const std::string& name, NodeEntry& entry) {
  auto& st = self->state;
  entry.up = false;
  ++entry.downs;
  if (st.options.metrics) st.options.metrics->SetNodeUp(name, false);
  self->delayed_send(self, st.options.node_grace, lost_atom::value, name, entry.downs);
}

void OnNodeDown(CoordinatorActor* self, const caf::down_msg& down) {
  auto& st = self->state;
  for (auto& [name, entry] : st.nodes) {
    if (!entry.up || entry.actor.address() != down.source) continue;
    spdlog::warn(
        "coordinator: node {} is down ({}); its pods are lost in {} ms unless it comes "
        "back",
        name, self->system().render(down.reason), st.options.node_grace.count());
    MarkDown(self, name, entry);
  }
}

// After a restart the coordinator knows its nodes only from its pods: each counts as down
// until it registers, so one that never comes back is lost after the grace period.
void ExpectKnownNodes(CoordinatorActor* self) {
  auto& st = self->state;
  for (const auto& [key, pod] : st.pods) {
    const auto& name = pod.spec().node_name();
    if (name.empty() || st.nodes.count(name) > 0) continue;
    auto& entry = st.nodes[name];
    entry.info.set_name(name);
    MarkDown(self, name, entry);
  }
}

// ---- reads -------------------------------------------------------------------------------------

pb::PodList ListPods(const CoordinatorState& st, const pb::GetPodsRequest& request) {
  pb::PodList list;
  const std::string ns = request.namespace_().empty() ? "default" : request.namespace_();
  for (const auto& [key, pod] : st.pods) {
    if (!request.all_namespaces() && pod.metadata().namespace_() != ns) continue;
    if (!request.name().empty() && pod.metadata().name() != request.name()) continue;
    *list.add_items() = pod;
  }
  return list;
}

pb::NodeList ListNodes(const CoordinatorState& st) {
  pb::NodeList list;
  for (const auto& [name, entry] : st.nodes) {
    auto* item = list.add_items();
    *item->mutable_info() = entry.info;
    item->set_ready(entry.up);
    for (const auto& [key, pod] : st.pods) {
      item->set_pods(item->pods() + (pod.spec().node_name() == name));
    }
  }
  return list;
}

pb::ApiError NotFound(const std::string& what) {
  pb::ApiError error;
  error.set_code("NotFound");
  error.set_message(what + " not found");
  return error;
}

caf::behavior Coordinator(CoordinatorActor* self, CoordinatorOptions options,
                          std::shared_ptr<persistence::RecordDb> db) {
  auto& st = self->state;
  st.self = self;
  st.options = options;
  st.db = std::move(db);
  LoadState(st);
  ExpectKnownNodes(self);
  self->set_down_handler([=](caf::down_msg& down) { OnNodeDown(self, down); });
  return {
      [=](apply_atom, pb::ApplyRequest& request) { return Apply(self, request); },
      // Known shortcoming: any peer that reaches this actor may ask; the middleman link has
      // no authentication or TLS (CAF's openssl module could add TLS; RBAC-like checks of who
      // asks would need node identities). Bind the coordinator to a network you trust.
      [=](secrets_atom, const pb::PullSecretsRequest& request) {
        return FindPullSecrets(self->state, request);
      },
      [=](pods_atom, const pb::GetPodsRequest& request) { return ListPods(self->state, request); },
      [=](delpod_atom, const pb::DeletePodRequest& request) {
        auto& st = self->state;
        const std::string ns = request.namespace_().empty() ? "default" : request.namespace_();
        if (!request.kind().empty() && request.kind() != "Pod") {
          return DeleteWorkload(self, request.kind(), ns, request.name());
        }
        const std::string key = PodKey(ns, request.name());
        pb::DeletePodResponse response;
        auto it = st.pods.find(key);
        if (it == st.pods.end()) return response;
        response.set_found(true);
        const pb::Pod pod = it->second;
        RemovePod(self, key);
        // A pod owned by a workload is replaced, as its controller would.
        if (!pod.metadata().owner_uid().empty()) {
          NodeLoad load(st);
          for (const auto& [wkey, w] : st.workloads) {
            if (pod.metadata().owner_uid() == w.metadata().uid()) Reconcile(self, w, load);
          }
        }
        FlushPods(st);
        return response;
      },
      [=](images_atom, const pb::GetImagesRequest& request) {
        auto promise = self->make_response_promise();
        auto it = self->state.nodes.find(request.node());
        if (it == self->state.nodes.end() || !it->second.up) {
          pb::ImageList failed;
          *failed.mutable_error() = NotFound("node \"" + request.node() + "\"");
          promise.deliver(std::move(failed));
        } else {
          promise.delegate(it->second.actor, images_atom::value, request);
        }
        return promise;
      },
      [=](load_atom, const pb::LoadImagesRequest& request) {
        auto promise = self->make_response_promise();
        auto it = self->state.nodes.find(request.node());
        if (it == self->state.nodes.end() || !it->second.up) {
          pb::LoadImagesReply failed;
          *failed.mutable_error() = NotFound("node \"" + request.node() + "\"");
          promise.deliver(std::move(failed));
        } else {
          promise.delegate(it->second.actor, load_atom::value, request);
        }
        return promise;
      },
      [=](nodes_atom) { return ListNodes(self->state); },
      [=](register_atom, const pb::NodeInfo& info) { return OnRegister(self, info); },
      [=](ping_atom) {
        // The node forgets the events it sent before this ping once it is answered: they must
        // be stored first.
        if (self->state.flush_pending) FlushPods(self->state);
        return ping_atom::value;
      },
      [=](lost_atom, const std::string& name, uint64_t downs) { OnNodeLost(self, name, downs); },
      [=](chaos_atom, const pb::ChaosRequest& request) {
        auto promise = self->make_response_promise();
        auto it = self->state.nodes.find(request.node());
        if (it == self->state.nodes.end() || !it->second.up) {
          pb::ChaosReply failed;
          *failed.mutable_error() = NotFound("node \"" + request.node() + "\"");
          promise.deliver(std::move(failed));
        } else {
          promise.delegate(it->second.actor, chaos_atom::value, request);
        }
        return promise;
      },
      [=](status_atom, const pb::PodStatusReport& report) { OnStatusReport(self, report); },
      [=](flush_atom) { FlushPods(self->state); },
  };
}

}  // namespace

caf::actor SpawnCoordinator(caf::actor_system& system, CoordinatorOptions options,
                            std::shared_ptr<persistence::RecordDb> db) {
  return system.spawn(Coordinator, std::move(options), std::move(db));
}

}  // namespace pullfleet::actors
