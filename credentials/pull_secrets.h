// imagePullSecrets: builds a pod's keyring from its Secret objects (types
// kubernetes.io/dockerconfigjson, key ".dockerconfigjson", and kubernetes.io/dockercfg, key
// ".dockercfg"), as the kubelet's MakeDockerKeyring does, except that a secret it cannot use is
// reported instead of being skipped silently: a missing secret, one of another type, one
// without its key or with malformed content each yield a SecretProblem, so the pull can be
// failed or an event shown rather than quietly going anonymous.
//
// Pure logic; the secrets come from the caller (the node's credential resolver or the CLI).
// Safe from any thread. No problem text contains secret data (only names, types and the
// line/column of a JSON error).
//
// Order of sources for one pull (the kubelet's): pod secrets first, then node credentials
// (node docker config and credential provider answers, sorted together). CombineKeyrings
// builds that.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "credentials/docker_keyring.h"
#include "messages/pullfleet.pb.h"

namespace pullfleet::credentials {

inline constexpr std::string_view kSecretTypeDockerConfigJson = "kubernetes.io/dockerconfigjson";
inline constexpr std::string_view kSecretKeyDockerConfigJson = ".dockerconfigjson";
inline constexpr std::string_view kSecretTypeDockercfg = "kubernetes.io/dockercfg";
inline constexpr std::string_view kSecretKeyDockercfg = ".dockercfg";

// Why one named pull secret contributes no credentials.
struct SecretProblem {
  enum class Kind {
    kNotFound,    // no Secret of that name in the pod's namespace
    kWrongType,   // a Secret of another type (e.g. Opaque)
    kMissingKey,  // the right type, but no (or an empty) .dockerconfigjson / .dockercfg key
    kMalformed,   // the key's content is not a valid docker config
  };
  Kind kind = Kind::kNotFound;
  SecretCoordinates secret;  // namespace and name always set; uid when the Secret exists
  // One line for events and `describe`, e.g.
  //   secret "regcred" in namespace "team-a" has type "Opaque", want
  //   kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg
  std::string message;
};

// The keyring of one pod's pull secrets, plus what could not be used.
struct PodKeyring {
  DockerKeyring keyring;  // every entry has origin kPullSecret and its SecretCoordinates
  // One per unusable name, in the order of `names`. Keys skipped inside otherwise valid
  // secrets (not usable as URLs) are in keyring.warnings().
  std::vector<SecretProblem> problems;
};

// Finds a Secret by namespace and name; nullptr when there is none. The pointer need only
// stay valid during the call of BuildPodKeyring.
using SecretLookup =
    std::function<const pb::Secret*(std::string_view namespace_name, std::string_view name)>;

// The pull secret names a pod uses, as the ServiceAccount admission plugin decides them: the
// pod's own imagePullSecrets when it has any, otherwise its ServiceAccount's (Kubernetes
// copies the ServiceAccount's list into a pod only when the pod names none). Duplicates and
// empty names are dropped, first occurrence kept. `service_account` may be nullptr.
std::vector<std::string> EffectivePullSecretNames(const std::vector<std::string>& pod_secret_names,
                                                  const pb::ServiceAccount* service_account);

// Builds the keyring of the secrets `names` in `namespace_name` (looked up there only: a pod
// never reads another namespace's secrets). All secrets go into one group, sorted together
// (the kubelet's single keyring of passed secrets). Each AuthConfig::source reads
// "secret NAMESPACE/NAME".
PodKeyring BuildPodKeyring(std::string_view namespace_name, const std::vector<std::string>& names,
                           const SecretLookup& lookup);

// Parses one Secret as a keyring, or says why it cannot be used. Exposed for `apply` (to
// reject a bad docker-registry secret early) and for tests.
Result<DockerKeyring> KeyringFromSecret(const pb::Secret& secret);

// All credentials of one pull in the kubelet's order: `pod_secrets` first, then the node's
// group, in which the node docker config entries and the credential providers' answers are
// sorted together by key (as the kubelet's providers keyring does). Any argument may be empty.
DockerKeyring CombineKeyrings(const DockerKeyring& pod_secrets, const DockerKeyring& node_config,
                              const DockerKeyring& provider_answers);

}  // namespace pullfleet::credentials
