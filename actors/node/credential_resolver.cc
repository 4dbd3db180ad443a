// The node's credential resolver: answers which credentials a pull of an image may try,
// most specific first. The node's docker config is read again for every request, so a
// rotated or newly written config.json takes effect at the next pull or retry.
//
// Reading one small file is the only blocking work here.
#include <spdlog/spdlog.h>

#include "actors/common/protocol.h"
#include "actors/node/node_actors.h"
#include "actors/node/node_messages.h"
#include "caf/all.hpp"
#include "credentials/docker_keyring.h"

namespace pullfleet::actors {
namespace {

struct ResolverState {
  static inline const char* name = "credential-resolver";
};

node::CredentialSet Resolve(const NodeContext& context, const image::Reference& ref) {
  node::CredentialSet set;
  const auto& path = context.config.docker_config_path;
  if (path.empty()) return set;
  auto keyring = credentials::DockerKeyring::FromFile(path);
  if (!keyring.ok()) {
    // The kubelet ignores an unreadable docker config and pulls anonymously; so do we, but
    // loudly.
    spdlog::warn("node={} docker config unusable, pulling without it: {}", context.name,
                 keyring.error().message());
    set.problems.push_back(keyring.error().message());
    return set;
  }
  for (auto& auth : keyring->Lookup(ref)) {
    pull::CandidateCredential candidate;
    candidate.credentials.username = auth.username;
    candidate.credentials.password = auth.password;
    candidate.source = "node docker config key " + auth.matched_key;
    set.candidates.push_back(std::move(candidate));
  }
  return set;
}

caf::behavior CredentialResolver(caf::stateful_actor<ResolverState>* self,
                                 NodeContextPtr context) {
  return {
      [=](resolve_atom, const image::Reference& ref) { return Resolve(*context, ref); },
  };
}

}  // namespace

caf::actor SpawnCredentialResolver(caf::actor_system& system, NodeContextPtr context) {
  return system.spawn(CredentialResolver, std::move(context));
}

}  // namespace pullfleet::actors
