#include "actors/cluster/controllers.h"

#include <algorithm>
#include <set>

#include "actors/cluster/admission.h"

namespace pullfleet::actors {
namespace {

constexpr const char* kTemplateHashLabel = "pod-template-hash";
constexpr const char* kPrePullLabel = "pullfleet.io/prepull";

pb::Pod NewPod(const pb::Workload& w, const std::string& name, const std::string& owner_kind,
               const std::string& owner_name, const std::string& hash) {
  pb::Pod pod;
  auto* meta = pod.mutable_metadata();
  meta->set_name(name);
  meta->set_namespace_(w.metadata().namespace_());
  meta->set_owner_kind(owner_kind);
  meta->set_owner_name(owner_name);
  meta->set_owner_uid(w.metadata().uid());
  *meta->mutable_labels() = w.template_labels();
  (*meta->mutable_labels())[kTemplateHashLabel] = hash;
  *pod.mutable_spec() = w.template_spec();
  return pod;
}

std::string HashOf(const pb::Pod& pod) {
  auto it = pod.metadata().labels().find(kTemplateHashLabel);
  return it == pod.metadata().labels().end() ? "" : it->second;
}

// A name not yet used by `owned` or the plan: `prefix` and 5 random characters. As the API
// server does with generateName, a prefix longer than 58 characters is cut to 58, so that
// the names of pods of long-named workloads stay valid (at most 63).
std::string FreshName(const std::string& prefix, const std::set<std::string>& taken,
                      std::mt19937_64& rng) {
  constexpr size_t kMaxGeneratedPrefix = 58;
  const std::string base = prefix.substr(0, kMaxGeneratedPrefix);
  for (;;) {
    std::string name = base + RandomSuffix(rng, 5);
    if (taken.count(name) == 0) return name;
  }
}

// Deployment, ReplicaSet, ReplicationController, Job: a count of interchangeable pods.
ControllerPlan PlanCounted(const pb::Workload& w, const std::vector<OwnedPod>& owned,
                           std::mt19937_64& rng) {
  ControllerPlan plan;
  const std::string hash = TemplateHash(w.template_spec());
  const bool is_deployment = w.kind() == "Deployment";
  const int want = std::max(0, w.kind() == "Job" ? w.parallelism() : w.replicas());
  const std::string owner_kind = is_deployment ? "ReplicaSet" : w.kind();
  const std::string owner_name =
      is_deployment ? w.metadata().name() + "-" + hash : w.metadata().name();
  std::vector<std::string> keep;
  std::set<std::string> taken;
  for (const auto& o : owned) {
    taken.insert(o.pod->metadata().name());
    if (is_deployment && HashOf(*o.pod) != hash) {
      plan.remove.push_back(o.key);  // an older template: replaced
    } else {
      keep.push_back(o.key);
    }
  }
  while (static_cast<int>(keep.size()) > want) {
    plan.remove.push_back(keep.back());
    keep.pop_back();
  }
  for (int i = static_cast<int>(keep.size()); i < want; ++i) {
    std::string name = FreshName(owner_name + "-", taken, rng);
    taken.insert(name);
    plan.create.push_back(NewPod(w, name, owner_kind, owner_name, hash));
  }
  return plan;
}

ControllerPlan PlanStatefulSet(const pb::Workload& w, const std::vector<OwnedPod>& owned) {
  ControllerPlan plan;
  const std::string hash = TemplateHash(w.template_spec());
  const int want = std::max(0, w.replicas());
  std::set<std::string> current;
  for (const auto& o : owned) {
    const std::string& name = o.pod->metadata().name();
    const std::string ordinal = name.substr(w.metadata().name().size() + 1);
    const bool in_range = !ordinal.empty() &&
                          ordinal.find_first_not_of("0123456789") == std::string::npos &&
                          std::stoll(ordinal) < want;
    if (!in_range || HashOf(*o.pod) != hash) {
      plan.remove.push_back(o.key);
    } else {
      current.insert(name);
    }
  }
  for (int i = 0; i < want; ++i) {
    std::string name = w.metadata().name() + "-" + std::to_string(i);
    if (current.count(name) == 0) {
      plan.create.push_back(NewPod(w, name, "StatefulSet", w.metadata().name(), hash));
    }
  }
  return plan;
}

// DaemonSet and CronJob pre-pulls: one pod per matching node.
ControllerPlan PlanPerNode(const pb::Workload& w, const std::vector<OwnedPod>& owned,
                           const std::vector<NodeView>& up_nodes, std::mt19937_64& rng) {
  ControllerPlan plan;
  const std::string hash = TemplateHash(w.template_spec());
  const bool prepull = w.kind() == "CronJob";
  std::map<std::string, std::string> on_node;  // node -> key of its pod
  std::set<std::string> taken;
  for (const auto& o : owned) {
    taken.insert(o.pod->metadata().name());
    const std::string& node = o.pod->spec().node_name();
    if (HashOf(*o.pod) != hash || on_node.count(node) > 0) {
      plan.remove.push_back(o.key);
    } else {
      on_node[node] = o.key;
    }
  }
  for (const auto& node : up_nodes) {
    if (!SelectorMatches(w.template_spec().node_selector(), node.labels)) continue;
    if (on_node.count(node.name) > 0) continue;
    // A pre-pull pod is named after its node while that name is valid (at most 253).
    const std::string prepull_name = w.metadata().name() + "-prepull-" + node.name;
    std::string name =
        prepull && prepull_name.size() <= 253
            ? prepull_name
            : FreshName(w.metadata().name() + (prepull ? "-prepull-" : "-"), taken, rng);
    taken.insert(name);
    pb::Pod pod = NewPod(w, name, w.kind(), w.metadata().name(), hash);
    pod.mutable_spec()->set_node_name(node.name);
    if (prepull) (*pod.mutable_metadata()->mutable_labels())[kPrePullLabel] = "true";
    plan.create.push_back(std::move(pod));
  }
  // A pod stays on a node that went down (its status tells); one on a node that no longer
  // matches the selector is removed.
  for (const auto& [node, key] : on_node) {
    for (const auto& n : up_nodes) {
      if (n.name == node && !SelectorMatches(w.template_spec().node_selector(), n.labels)) {
        plan.remove.push_back(key);
      }
    }
  }
  return plan;
}

}  // namespace

std::map<std::string, std::string> NodeLabels(const pb::NodeInfo& info) {
  std::map<std::string, std::string> labels(info.labels().begin(), info.labels().end());
  labels["kubernetes.io/os"] = info.os();
  labels["kubernetes.io/arch"] = info.architecture();
  labels["kubernetes.io/hostname"] = info.name();
  return labels;
}

bool SelectorMatches(const google::protobuf::Map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

ControllerPlan PlanWorkload(const pb::Workload& workload, const std::vector<OwnedPod>& owned,
                            const std::vector<NodeView>& up_nodes, std::mt19937_64& rng) {
  const std::string& kind = workload.kind();
  if (kind == "StatefulSet") return PlanStatefulSet(workload, owned);
  if (kind == "DaemonSet" || kind == "CronJob") {
    return PlanPerNode(workload, owned, up_nodes, rng);
  }
  return PlanCounted(workload, owned, rng);
}

}  // namespace pullfleet::actors
