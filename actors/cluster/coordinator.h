// The coordinator: the cluster's API for clients (apply, get, describe, delete), admission
// (pull policy defaulting, AlwaysPullImages), the Deployment controller, scheduling of pods
// to nodes, node registration, and the store of pods and their statuses in RocksDB.
//
// One coordinator per cluster. It owns its RecordDb; on start it loads every pod and
// workload from it, so a restarted coordinator has its pods intact, and answers each node's
// registration with every pod it has there (NodeSync); the node reconciles and re-reports.
#pragma once

#include <chrono>
#include <memory>

#include "caf/actor.hpp"
#include "caf/fwd.hpp"
#include "metrics/metrics.h"
#include "persistence/record_db.h"
#include "persistence/sealer.h"

namespace pullfleet::actors {

struct CoordinatorOptions {
  // Admission option: every new pod's containers get imagePullPolicy Always.
  bool always_pull_images = false;
  // Not owned; may be null.
  metrics::Metrics* metrics = nullptr;
  // Encrypts Secrets before they reach the database. Required.
  std::shared_ptr<persistence::Sealer> sealer;
  // A node that stays down this long is lost: its pods are reported NodeLost, and those of
  // Deployments, ReplicaSets, ReplicationControllers and Jobs are replaced on nodes that are
  // up (as the Kubernetes node lifecycle controller evicts them). Nodes a restarted
  // coordinator knows only from its pods count as down since its start. Default: 40 s, the
  // kubelet's node-monitor-grace-period.
  std::chrono::milliseconds node_grace{std::chrono::seconds(40)};
};

caf::actor SpawnCoordinator(caf::actor_system& system, CoordinatorOptions options,
                            std::shared_ptr<persistence::RecordDb> db);

}  // namespace pullfleet::actors
