// The actors of one node and how to start them.
//
//   node agent (one per node): the link to the coordinator, the pods assigned here, and the
//     supervisor of every other actor of the node: it monitors them and respawns any that
//     dies, within a restart budget, telling the pod chains the new handles.
//   pod chain (one per pod): walks the pod's containers in order (init containers first),
//     decides for each image whether it must be pulled, and never has two pulls in flight.
//   pull queue (one per node): admits pulls serially or in parallel slots, joins requests
//     for an image already being downloaded, and runs each download in a transfer.
//   transfer (one per running download): a detached actor, so the blocking registry I/O
//     runs on its own thread and never stalls the scheduler.
//   credential resolver (one per node): which credentials a pull may try.
//   backoff (one per node): ImagePullBackOff entries per (pod, image).
//
// Chaos (`pullfleet chaos`, when the node config allows it) kills actors of these kinds by
// name: pod-chain, pull-queue, credential-resolver, backoff, transfer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/node/node_context.h"
#include "caf/actor.hpp"
#include "caf/fwd.hpp"

namespace pullfleet::actors {

// Where a node agent finds its coordinator: a handle in the same process (`pullfleet up`),
// or an address it connects to through CAF's io middleman, again after every loss.
struct CoordinatorLink {
  caf::actor local;
  std::string host;
  uint16_t port = 0;
  // A remote coordinator is pinged this often once registered; one that leaves a ping
  // unanswered for `answer_timeout` counts as lost (frozen, or its network cut). Zero
  // interval: no pings (an in-process coordinator).
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds answer_timeout{2000};
};

// Spawns the node agent, which spawns the rest and registers with the coordinator.
caf::actor SpawnNodeAgent(caf::actor_system& system, NodeContextPtr context, CoordinatorLink link);

// The parts, spawned by the node agent (exposed for tests).
caf::actor SpawnPullQueue(caf::actor_system& system, NodeContextPtr context);
caf::actor SpawnBackoff(caf::actor_system& system, NodeContextPtr context);
caf::actor SpawnCredentialResolver(caf::actor_system& system, NodeContextPtr context);

// Handles a pod chain needs; resent by the agent when one of them restarts.
struct NodeServices {
  caf::actor queue;
  caf::actor backoff;
  caf::actor credentials;
};

// Pod chain -> credential resolver: the credentials for one pull of `reference`. Stays in the
// node process (it holds the pod's secrets).
struct ResolveRequest {
  image::Reference reference;
  std::string namespace_name;
  std::vector<std::string> secret_names;  // the pod's imagePullSecrets, in order
  pb::PullSecretsReply secrets;           // as the coordinator sent them
  // Why some secrets could not be asked for (e.g. the coordinator is unreachable).
  std::vector<std::string> unavailable;
};

caf::actor SpawnPodChain(caf::actor_system& system, NodeContextPtr context, caf::actor agent,
                         NodeServices services, pb::Pod pod);

}  // namespace pullfleet::actors
