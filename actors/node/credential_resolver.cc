// The node's credential resolver: answers which credentials a pull of an image may try, in
// the kubelet's order (the pod's pull secrets first, then the node's docker config and its
// credential provider plugins' answers sorted together), and why any source could not be
// used. The node's docker config is read again for every request and the pod's secrets come
// fresh from the coordinator with each request, so rotated credentials and a secret created
// after a failure take effect at the next pull or retry.
//
// Running a credential provider plugin blocks for as long as the plugin runs (up to its
// timeout), so a request whose image a provider matches is answered from a detached worker
// of its own; requests without plugins are answered inline (one small file read).
#include <spdlog/spdlog.h>

#include "actors/common/protocol.h"
#include "actors/node/node_actors.h"
#include "actors/node/node_messages.h"
#include "caf/all.hpp"
#include "credentials/docker_keyring.h"
#include "credentials/pull_secrets.h"

namespace pullfleet::actors {
namespace {

struct ResolverState {
  static inline const char* name = "credential-resolver";
};

// The pod's secrets as the coordinator sent them, found by name.
credentials::PodKeyring PodSecrets(const std::string& namespace_name,
                                   const std::vector<std::string>& names,
                                   const pb::PullSecretsReply& reply) {
  auto lookup = [&](std::string_view ns, std::string_view name) -> const pb::Secret* {
    for (const auto& secret : reply.secrets()) {
      if (secret.metadata().namespace_() == ns && secret.metadata().name() == name) {
        return &secret;
      }
    }
    return nullptr;
  };
  return credentials::BuildPodKeyring(namespace_name, names, lookup);
}

credentials::DockerKeyring NodeDockerConfig(const NodeContext& context,
                                            std::vector<std::string>& problems) {
  const auto& path = context.config.docker_config_path;
  if (path.empty()) return {};
  auto keyring = credentials::DockerKeyring::FromFile(path);
  if (keyring.ok()) return std::move(keyring).value();
  // The kubelet ignores an unreadable docker config and pulls anonymously; so do we, but
  // loudly.
  spdlog::warn("node={} docker config unusable, pulling without it: {}", context.name,
               keyring.error().message());
  problems.push_back(keyring.error().message());
  return {};
}

node::CandidateOrigin OriginOf(const NodeContext& context, const image::Reference& ref,
                               const credentials::AuthConfig& auth) {
  node::CandidateOrigin origin;
  origin.pull_secret = auth.origin == credentials::CredentialOrigin::kPullSecret;
  if (origin.pull_secret) {
    origin.secret_namespace = auth.secret.namespace_name;
    origin.secret_name = auth.secret.name;
    origin.secret_uid = auth.secret.uid;
  }
  if (context.hasher) origin.fingerprint = context.hasher->Fingerprint(ref.domain, auth);
  return origin;
}

// The sources a lookup consulted, for pullfleet_credential_lookups_total{source,result}: each
// configured source counts once per lookup, "found" when it gave a credential for the image,
// "error" when it could not be read (a missing secret, a bad config, a failed plugin), else
// "none". A node with no source at all counts under source "none".
struct LookupSources {
  bool secrets = false, secrets_error = false;
  bool docker_config = false, docker_config_error = false;
  bool providers = false, providers_error = false;
};

void CountLookup(const NodeContext& context, const LookupSources& used,
                 const std::vector<credentials::AuthConfig>& found) {
  auto from = [&](credentials::CredentialOrigin origin) {
    for (const auto& auth : found) {
      if (auth.origin == origin) return true;
    }
    return false;
  };
  auto count = [&](bool consulted, bool error, std::string_view source,
                   credentials::CredentialOrigin origin) {
    if (!consulted) return;
    context.metrics.CredentialLookup(source, from(origin) ? "found" : error ? "error" : "none");
  };
  count(used.secrets, used.secrets_error, "pull-secrets",
        credentials::CredentialOrigin::kPullSecret);
  count(used.docker_config, used.docker_config_error, "docker-config",
        credentials::CredentialOrigin::kDockerConfig);
  count(used.providers, used.providers_error, "credential-provider",
        credentials::CredentialOrigin::kProvider);
  if (!used.secrets && !used.docker_config && !used.providers) {
    context.metrics.CredentialLookup("none", "none");
  }
}

node::CredentialSet Resolve(const NodeContext& context, const ResolveRequest& request) {
  node::CredentialSet set;
  const image::Reference& ref = request.reference;
  LookupSources used;

  credentials::PodKeyring pod =
      PodSecrets(request.namespace_name, request.secret_names, request.secrets);
  for (const auto& problem : pod.problems) set.problems.push_back(problem.message);
  for (const auto& missing : request.unavailable) set.problems.push_back(missing);
  used.secrets = !request.secret_names.empty();
  used.secrets_error = !set.problems.empty();

  const size_t problems_before = set.problems.size();
  credentials::DockerKeyring node_config = NodeDockerConfig(context, set.problems);
  used.docker_config = !context.config.docker_config_path.empty();
  used.docker_config_error = set.problems.size() > problems_before;

  credentials::DockerKeyring provided;
  if (context.providers) {
    credentials::ProviderAnswer answer = context.providers->Provide(ref);
    for (const auto& problem : answer.problems) set.problems.push_back(problem.message());
    used.providers = !answer.matched_providers.empty();
    used.providers_error = !answer.problems.empty();
    provided = std::move(answer.keyring);
  }

  auto combined = credentials::CombineKeyrings(pod.keyring, node_config, provided);
  const std::vector<credentials::AuthConfig> found = combined.Lookup(ref);
  CountLookup(context, used, found);
  for (auto& auth : found) {
    pull::CandidateCredential candidate;
    candidate.credentials.username = auth.username;
    candidate.credentials.password = auth.password;
    candidate.source = auth.source + " key " + auth.matched_key;
    set.origins.push_back(OriginOf(context, ref, auth));
    set.candidates.push_back(std::move(candidate));
  }
  return set;
}

bool NeedsPlugin(const NodeContext& context, const image::Reference& ref) {
  return context.providers && !context.providers->Matching(ref).empty();
}

caf::behavior CredentialResolver(caf::stateful_actor<ResolverState>* self, NodeContextPtr context) {
  return {
      [=](resolve_atom, const ResolveRequest& request) -> caf::result<node::CredentialSet> {
        if (!NeedsPlugin(*context, request.reference)) return Resolve(*context, request);
        auto promise = self->make_response_promise<node::CredentialSet>();
        self->spawn<caf::detached>(
            [context, request, promise](caf::event_based_actor* worker) mutable {
              promise.deliver(Resolve(*context, request));
              worker->quit();
            });
        return promise;
      },
  };
}

}  // namespace

caf::actor SpawnCredentialResolver(caf::actor_system& system, NodeContextPtr context) {
  return system.spawn(CredentialResolver, std::move(context));
}

}  // namespace pullfleet::actors
