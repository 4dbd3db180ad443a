#include "credentials/pull_secrets.h"

#include <optional>
#include <set>

namespace pullfleet::credentials {
namespace {

std::string Quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string Describe(const SecretCoordinates& secret) {
  return "secret " + Quoted(secret.name) + " in namespace " + Quoted(secret.namespace_name);
}

SecretCoordinates CoordinatesOf(const pb::Secret& secret, std::string_view namespace_name,
                                std::string_view name) {
  SecretCoordinates coordinates;
  coordinates.namespace_name = std::string(namespace_name);
  coordinates.name = std::string(name);
  coordinates.uid = secret.metadata().uid();
  return coordinates;
}

struct Parsed {
  std::optional<DockerKeyring> keyring;
  SecretProblem problem;
};

// The parse shared by BuildPodKeyring and KeyringFromSecret; `coordinates` names the secret.
Parsed Parse(const pb::Secret& secret, const SecretCoordinates& coordinates) {
  Parsed parsed;
  parsed.problem.secret = coordinates;
  auto fail = [&](SecretProblem::Kind kind, std::string message) {
    parsed.problem.kind = kind;
    parsed.problem.message = Describe(coordinates) + " " + std::move(message);
    return parsed;
  };

  std::string_view key;
  if (secret.type() == kSecretTypeDockerConfigJson) {
    key = kSecretKeyDockerConfigJson;
  } else if (secret.type() == kSecretTypeDockercfg) {
    key = kSecretKeyDockercfg;
  } else {
    // The type is chosen by whoever wrote the manifest, never secret; it is quoted as is.
    return fail(SecretProblem::Kind::kWrongType,
                "has type " + Quoted(secret.type().empty() ? "Opaque" : secret.type()) + ", want " +
                    std::string(kSecretTypeDockerConfigJson) + " or " +
                    std::string(kSecretTypeDockercfg));
  }
  auto it = secret.data().find(std::string(key));
  if (it == secret.data().end() || it->second.empty()) {
    return fail(SecretProblem::Kind::kMissingKey,
                "of type " + secret.type() + " has no data under key " + Quoted(key));
  }

  const std::string source = "secret " + coordinates.namespace_name + "/" + coordinates.name;
  Result<DockerKeyring> keyring = DockerKeyring::FromJson(it->second, source);
  if (!keyring.ok()) {
    // FromJson's message starts with the source and carries only positions and key names.
    std::string why = keyring.error().message();
    if (why.rfind(source + ": ", 0) == 0) why = why.substr(source.size() + 2);
    return fail(SecretProblem::Kind::kMalformed, "key " + Quoted(key) + ": " + why);
  }
  keyring->SetOrigin(CredentialOrigin::kPullSecret, coordinates);
  parsed.keyring = std::move(*keyring);
  return parsed;
}

}  // namespace

std::vector<std::string> EffectivePullSecretNames(const std::vector<std::string>& pod_secret_names,
                                                  const pb::ServiceAccount* service_account) {
  std::vector<std::string> from;
  for (const std::string& name : pod_secret_names) {
    if (!name.empty()) from.push_back(name);
  }
  if (from.empty() && service_account != nullptr) {
    from.assign(service_account->image_pull_secrets().begin(),
                service_account->image_pull_secrets().end());
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (std::string& name : from) {
    if (!name.empty() && seen.insert(name).second) names.push_back(std::move(name));
  }
  return names;
}

PodKeyring BuildPodKeyring(std::string_view namespace_name, const std::vector<std::string>& names,
                           const SecretLookup& lookup) {
  PodKeyring pod;
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (name.empty() || !seen.insert(name).second) continue;
    const pb::Secret* secret = lookup ? lookup(namespace_name, name) : nullptr;
    // A store that hands back another namespace's secret would leak it across tenants.
    if (secret != nullptr && !secret->metadata().namespace_().empty() &&
        secret->metadata().namespace_() != namespace_name) {
      secret = nullptr;
    }
    if (secret == nullptr) {
      SecretProblem problem;
      problem.kind = SecretProblem::Kind::kNotFound;
      problem.secret.namespace_name = std::string(namespace_name);
      problem.secret.name = name;
      problem.message = Describe(problem.secret) + " not found";
      pod.problems.push_back(std::move(problem));
      continue;
    }
    Parsed parsed = Parse(*secret, CoordinatesOf(*secret, namespace_name, name));
    if (!parsed.keyring) {
      pod.problems.push_back(std::move(parsed.problem));
      continue;
    }
    pod.keyring.Add(*parsed.keyring);
  }
  return pod;
}

Result<DockerKeyring> KeyringFromSecret(const pb::Secret& secret) {
  Parsed parsed = Parse(
      secret, CoordinatesOf(secret, secret.metadata().namespace_(), secret.metadata().name()));
  if (!parsed.keyring) return Error(ErrorCode::kInvalidArgument, parsed.problem.message);
  return std::move(*parsed.keyring);
}

DockerKeyring CombineKeyrings(const DockerKeyring& pod_secrets, const DockerKeyring& node_config,
                              const DockerKeyring& provider_answers) {
  DockerKeyring node = node_config;
  node.Add(provider_answers);
  DockerKeyring all = pod_secrets;
  all.Merge(node);
  return all;
}

}  // namespace pullfleet::credentials
