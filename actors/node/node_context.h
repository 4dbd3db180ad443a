// What every actor of one node shares: its name, configuration, image store, credential
// machinery and metric handles. Created once at node start-up and passed by shared_ptr;
// everything in it is either immutable or thread-safe (LocalImages, CredentialProviders,
// prometheus metrics, atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "credentials/credential_providers.h"
#include "credentials/fingerprint.h"
#include "metrics/metrics.h"
#include "node/keyed_locks.h"
#include "node/local_images.h"
#include "node/node_config.h"
#include "registry/client.h"

namespace pullfleet::actors {

// Counts a node's registry responses and token fetches in its metrics (thread-safe, as the
// metrics are): transfer threads' registry clients report to it.
class RegistryMetrics : public registry::ClientObserver {
 public:
  explicit RegistryMetrics(metrics::NodeMetrics metrics) : metrics_(std::move(metrics)) {}
  void OnRegistryResponse(std::string_view domain, long status) override {
    metrics_.RegistryResponse(domain, status);
  }
  void OnTokenFetch(std::string_view domain, bool ok) override { metrics_.TokenFetch(domain, ok); }

 private:
  metrics::NodeMetrics metrics_;
};

struct NodeContext {
  std::string name;
  node::NodeConfig config;
  std::unique_ptr<node::LocalImages> images;
  metrics::NodeMetrics metrics;
  // The node's credential provider plugins; null when the config names none.
  std::shared_ptr<credentials::CredentialProviders> providers;
  // Fingerprints of credentials for the image records (node-local key); unset in tests that
  // do not need the credential check.
  std::optional<credentials::CredentialHasher> hasher;
  std::shared_ptr<registry::ClientObserver> registry_observer;
  // Transfers restarted by the pull queue (it is their supervisor), for `chaos list`; kept
  // here because it must outlive a restarted queue.
  std::atomic<int64_t> transfer_restarts{0};
  // One running transfer per job key, across queue restarts (see keyed_locks.h).
  node::KeyedLocks transfer_locks;
};

using NodeContextPtr = std::shared_ptr<NodeContext>;

}  // namespace pullfleet::actors
