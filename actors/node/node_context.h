// What every actor of one node shares: its name, configuration, image store and metric
// handles. Created once by the node agent and passed by shared_ptr; everything in it is
// either immutable or thread-safe (LocalImages, prometheus metrics).
#pragma once

#include <memory>
#include <string>

#include "metrics/metrics.h"
#include "node/local_images.h"
#include "node/node_config.h"

namespace pullfleet::actors {

struct NodeContext {
  std::string name;
  node::NodeConfig config;
  std::unique_ptr<node::LocalImages> images;
  metrics::NodeMetrics metrics;
};

using NodeContextPtr = std::shared_ptr<NodeContext>;

}  // namespace pullfleet::actors
