// The lookup plan behind `pullfleet creds lookup IMAGE`: which credential sources and keys a
// pull of IMAGE would try, in order, without any secret (no password, no token, no username:
// like kubectl, it names sources and keys only).
//
// The order is the pull's (see pull_secrets.h): pod secrets first; then the node's group,
// node docker config entries and credential provider answers sorted together. Providers are
// not run to make a plan (that would fetch secrets); they are listed after the node docker
// config entries with the matchImages pattern that selected them, because the keys they will
// answer with are known only when they run. When nothing can supply a credential the pull is
// anonymous, which the plan says as its last step.
//
// Pure logic; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "credentials/credential_providers.h"
#include "credentials/docker_keyring.h"
#include "credentials/pull_secrets.h"
#include "image/reference.h"

namespace pullfleet::credentials {

struct LookupStep {
  enum class Kind { kPullSecret, kNodeConfig, kProvider, kAnonymous };
  Kind kind = Kind::kAnonymous;
  // Where: "secret team-a/regcred", "docker config /etc/pullfleet/config.json",
  // "credential provider example"; empty for kAnonymous.
  std::string source;
  // The normalised docker config key that matched, or for kProvider the matchImages pattern.
  std::string key;
};

struct LookupPlan {
  std::string image;  // the normalised reference, e.g. docker.io/library/busybox:latest
  std::vector<LookupStep> steps;
  // Sources that could not be used (missing or malformed secrets, an unreadable node config),
  // one line each, no secret.
  std::vector<std::string> problems;
  // Skipped keys inside usable sources.
  std::vector<std::string> warnings;
};

// Inputs of a plan; every pointer may be null (source not configured).
struct LookupSources {
  const PodKeyring* pod_secrets = nullptr;
  const DockerKeyring* node_config = nullptr;
  const CredentialProviderConfig* providers = nullptr;
  // Problems the caller met while gathering the sources (e.g. the node config could not be
  // read); copied into the plan.
  std::vector<std::string> problems;
};

LookupPlan BuildLookupPlan(const image::Reference& ref, const LookupSources& sources);

// Renders a plan for a terminal, e.g.
//   Credentials for 127.0.0.1:5000/pf/app:v1, in the order a pull tries them:
//     1. secret team-a/regcred  key "127.0.0.1:5000/pf"
//     2. docker config /etc/pullfleet/config.json  key "127.0.0.1:5000"
//     3. credential provider example  matchImages "127.0.0.1:5000" (keys known when it runs)
//   Problems:
//     secret "other" in namespace "team-a" not found
std::string RenderLookupPlan(const LookupPlan& plan);

}  // namespace pullfleet::credentials
