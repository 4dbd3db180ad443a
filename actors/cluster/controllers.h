// What the workload controllers of Kubernetes would do with a workload, as a plan: which
// pods to create (named and, for DaemonSets, placed as their controller would) and which
// to remove. Pure: the coordinator applies the plan, tests check it.
//
//   Deployment             pods NAME-<template hash>-<5 chars>; a changed template replaces
//                          every pod (recreate); scaling adds or removes pods
//   ReplicaSet, RC         pods NAME-<5 chars>; only the count is kept (a changed template
//                          does not touch running pods, as in Kubernetes)
//   StatefulSet            pods NAME-0 .. NAME-(n-1), created in order; scale-down removes
//                          the highest ordinals; a changed template replaces the pods
//   DaemonSet              one pod NAME-<5 chars> per up node whose labels match the
//                          template's nodeSelector, including nodes that join later
//   Job                    `parallelism` pods NAME-<5 chars>
//   CronJob                no runs (pullfleet does not run schedules): one pre-pull pod
//                          NAME-prepull-<node> per matching up node, labelled
//                          pullfleet.io/prepull=true, so the images are there when it runs
#pragma once

#include <map>
#include <random>
#include <string>
#include <vector>

#include "messages/pullfleet.pb.h"

namespace pullfleet::actors {

struct NodeView {
  std::string name;
  std::map<std::string, std::string> labels;
};

struct OwnedPod {
  std::string key;  // the coordinator's key of the pod
  const pb::Pod* pod;
};

struct ControllerPlan {
  std::vector<pb::Pod> create;  // metadata (name, namespace, owner, labels) and spec set
  std::vector<std::string> remove;  // keys of pods to delete
};

// The labels a node carries: its configured ones plus kubernetes.io/os, kubernetes.io/arch
// and kubernetes.io/hostname.
std::map<std::string, std::string> NodeLabels(const pb::NodeInfo& info);

// True when every key of `selector` is on the node with the same value.
bool SelectorMatches(const google::protobuf::Map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels);

// The plan for `workload` given the pods it owns now (owner_uid == its uid) and the nodes
// that are up, in name order.
ControllerPlan PlanWorkload(const pb::Workload& workload, const std::vector<OwnedPod>& owned,
                            const std::vector<NodeView>& up_nodes, std::mt19937_64& rng);

}  // namespace pullfleet::actors
