#include "node/node_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace pullfleet::node {
namespace {

Error Invalid(const std::string& source, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "node config " + source + ": " + what);
}

// A YAML value as a person wrote it, for errors: "\"maybe\"", "[a list]", "{a mapping}".
std::string Describe(const YAML::Node& value) {
  if (value.IsScalar()) return "\"" + value.Scalar() + "\"";
  if (value.IsSequence()) return "[a list]";
  if (value.IsMap()) return "{a mapping}";
  return "(empty)";
}

// yaml-cpp says only "bad conversion": name the field, its line and what it holds.
Error WrongType(const std::string& source, const YAML::Mark& mark, const std::string& path,
                const YAML::Node& value) {
  return Invalid(source, "line " + std::to_string(mark.line + 1) + ": " + path + ": value " +
                             Describe(value) + " has the wrong type (see deploy/config/node.yaml)");
}

// A field inside a mapping (`path` names it, "registries.HOST.plainHTTP") as a T: a value of
// the wrong type is named by its path, which the top-level catch cannot see.
template <class T>
Result<T> NestedAs(const YAML::Node& value, const std::string& path, const std::string& source) {
  try {
    return value.as<T>();
  } catch (const YAML::BadConversion& e) {
    return WrongType(source, e.mark, path, value);
  }
}

// imagePullBackOff and coordinatorReconnect: {initialSeconds: N, maxSeconds: N}, either may
// be left out (keeping what `initial` and `max` hold).
Status ApplySecondsRange(const YAML::Node& value, const std::string& key, const std::string& source,
                         double* initial, double* max) {
  if (!value.IsMap()) {
    return Invalid(source, key +
                               " must be a mapping such as {initialSeconds: 1, maxSeconds: 10}, "
                               "not " +
                               Describe(value));
  }
  for (const auto& field : value) {
    const auto name = field.first.as<std::string>();
    double* target = name == "initialSeconds" ? initial : name == "maxSeconds" ? max : nullptr;
    if (target == nullptr) {
      return Invalid(source, key + ": unknown field \"" + name +
                                 "\" (initialSeconds and maxSeconds are known)");
    }
    auto seconds = NestedAs<double>(field.second, key + "." + name, source);
    if (!seconds.ok()) return seconds.error();
    *target = *seconds;
  }
  return Status::Ok();
}

Result<registry::HostOptions> ParseHost(const YAML::Node& node, const std::string& host,
                                        const std::string& source) {
  if (!node.IsMap()) return Invalid(source, "registries." + host + " must be a mapping");
  registry::HostOptions options;
  for (const auto& field : node) {
    const auto key = field.first.as<std::string>();
    const std::string path = "registries." + host + "." + key;
    bool* flag = key == "plainHTTP"            ? &options.allow_plain_http
                 : key == "insecureSkipVerify" ? &options.insecure_skip_verify
                                               : nullptr;
    std::string* file = key == "caFile"           ? &options.ca_file
                        : key == "clientCertFile" ? &options.client_cert_file
                        : key == "clientKeyFile"  ? &options.client_key_file
                                                  : nullptr;
    if (flag != nullptr) {
      auto value = NestedAs<bool>(field.second, path, source);
      if (!value.ok()) return value.error();
      *flag = *value;
    } else if (file != nullptr) {
      auto value = NestedAs<std::string>(field.second, path, source);
      if (!value.ok()) return value.error();
      *file = *value;
    } else {
      return Invalid(source, "registries." + host + ": unknown field \"" + key + "\"");
    }
  }
  return options;
}

Status ApplyVerificationPolicy(NodeConfig& config, const YAML::Node& value,
                               const std::string& source) {
  auto policy = ParseVerificationPolicy(value.as<std::string>());
  if (!policy.ok()) return policy.error().Wrap("node config " + source);
  config.verification_policy = *policy;
  return Status::Ok();
}

Status ApplyAllowlist(NodeConfig& config, const YAML::Node& value, const std::string& source) {
  if (!value.IsSequence()) {
    return Invalid(source, "preloadedImagesVerificationAllowlist must be a list of repositories");
  }
  config.verification_allowlist.clear();
  for (const auto& item : value) {
    const auto entry = item.as<std::string>();
    if (auto valid = ValidateAllowlistEntry(entry); !valid.ok()) {
      return valid.error().Wrap("node config " + source);
    }
    config.verification_allowlist.push_back(entry);
  }
  return Status::Ok();
}

// Reads the image settings of a kubelet's KubeletConfiguration document; the kubelet's
// many other fields are not pullfleet's business and are ignored.
Status ApplyKubeletConfiguration(NodeConfig& config, const YAML::Node& doc,
                                 const std::string& source) {
  const auto api_version = doc["apiVersion"].as<std::string>("");
  if (api_version != "kubelet.config.k8s.io/v1beta1" && api_version != "kubelet.config.k8s.io/v1") {
    return Invalid(source, "KubeletConfiguration apiVersion \"" + api_version +
                               "\" is not kubelet.config.k8s.io/v1beta1");
  }
  if (doc["serializeImagePulls"]) {
    config.serialize_image_pulls = doc["serializeImagePulls"].as<bool>();
  }
  if (doc["maxParallelImagePulls"] && !doc["maxParallelImagePulls"].IsNull()) {
    config.max_parallel_image_pulls = doc["maxParallelImagePulls"].as<int>();
  }
  if (doc["registryPullQPS"]) config.registry_pull_qps = doc["registryPullQPS"].as<double>();
  if (doc["registryBurst"]) config.registry_burst = doc["registryBurst"].as<int>();
  if (doc["imagePullCredentialsVerificationPolicy"]) {
    auto status =
        ApplyVerificationPolicy(config, doc["imagePullCredentialsVerificationPolicy"], source);
    if (!status.ok()) return status;
  }
  if (doc["preloadedImagesVerificationAllowlist"]) {
    auto status = ApplyAllowlist(config, doc["preloadedImagesVerificationAllowlist"], source);
    if (!status.ok()) return status;
  }
  if (const auto gates = doc["featureGates"]; gates && gates.IsMap()) {
    if (gates["RuntimeClassInImageCriApi"]) {
      config.runtime_class_in_image_cri_api = gates["RuntimeClassInImageCriApi"].as<bool>();
    }
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kIo, "read " + what + " " + path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status ApplyDocuments(NodeConfig& config, const std::string& yaml_text, const std::string& source);

Status ApplyField(NodeConfig& config, const std::string& key, const YAML::Node& value,
                  const std::string& source) {
  if (key == "platform") {
    auto platform = image::ParsePlatform(value.as<std::string>());
    if (!platform.ok()) return platform.error().Wrap("node config " + source + ": platform");
    config.platform = *platform;
  } else if (key == "dockerConfig") {
    config.docker_config_path = value.as<std::string>();
  } else if (key == "credentialProviderConfig") {
    config.credential_provider_config = value.as<std::string>();
  } else if (key == "credentialProviderBinDir") {
    config.credential_provider_bin_dir = value.as<std::string>();
  } else if (key == "imagePullCredentialsVerificationPolicy") {
    return ApplyVerificationPolicy(config, value, source);
  } else if (key == "preloadedImagesVerificationAllowlist") {
    return ApplyAllowlist(config, value, source);
  } else if (key == "serializeImagePulls") {
    config.serialize_image_pulls = value.as<bool>();
  } else if (key == "maxParallelImagePulls") {
    config.max_parallel_image_pulls = value.as<int>();
  } else if (key == "maxConcurrentBlobs") {
    config.max_concurrent_blobs = value.as<int>();
  } else if (key == "stallTimeoutSeconds") {
    config.stall_timeout_seconds = value.as<int>();
  } else if (key == "imagePullBackOff") {
    return ApplySecondsRange(value, key, source, &config.backoff_initial_seconds,
                             &config.backoff_max_seconds);
  } else if (key == "resyncSeconds") {
    config.resync_seconds = value.as<double>();
  } else if (key == "coordinatorReconnect") {
    return ApplySecondsRange(value, key, source, &config.reconnect_initial_seconds,
                             &config.reconnect_max_seconds);
  } else if (key == "allowChaos") {
    config.allow_chaos = value.as<bool>();
  } else if (key == "neverPullRecheckSeconds") {
    config.never_pull_recheck_seconds = value.as<double>();
  } else if (key == "labels") {
    if (!value.IsMap()) return Invalid(source, "labels must be a mapping of key to value");
    for (const auto& label : value) {
      config.labels[label.first.as<std::string>()] = label.second.as<std::string>();
    }
  } else if (key == "registryPullQPS") {
    config.registry_pull_qps = value.as<double>();
  } else if (key == "registryBurst") {
    config.registry_burst = value.as<int>();
  } else if (key == "runtimeClassInImageCriApi") {
    config.runtime_class_in_image_cri_api = value.as<bool>();
  } else if (key == "kubeletConfigFile") {
    const auto path = value.as<std::string>();
    auto text = ReadFile(path, "kubelet config");
    if (!text.ok()) return text.error().Wrap("node config " + source);
    return ApplyDocuments(config, *text, path);
  } else if (key == "registries") {
    if (!value.IsMap()) return Invalid(source, "registries must be a mapping of host to options");
    for (const auto& entry : value) {
      const auto host = entry.first.as<std::string>();
      auto options = ParseHost(entry.second, host, source);
      if (!options.ok()) return options.error();
      config.registries[host] = *options;
    }
  } else {
    return Invalid(source, "unknown field \"" + key + "\"");
  }
  return Status::Ok();
}

std::string Number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

Status Validate(const NodeConfig& config, const std::string& source) {
  // The kubelet's own validation of its image settings, with its words.
  if (config.registry_burst < 0) {
    return Invalid(source, "invalid configuration: registryBurst (--registry-burst) " +
                               std::to_string(config.registry_burst) +
                               " must not be a negative number");
  }
  if (config.registry_pull_qps < 0) {
    return Invalid(source, "invalid configuration: registryPullQPS (--registry-qps) " +
                               Number(config.registry_pull_qps) + " must not be a negative number");
  }
  if (config.max_parallel_image_pulls && *config.max_parallel_image_pulls < 1) {
    return Invalid(source, "invalid configuration: maxParallelImagePulls " +
                               std::to_string(*config.max_parallel_image_pulls) +
                               " must be a positive number");
  }
  if (config.serialize_image_pulls && config.max_parallel_image_pulls &&
      *config.max_parallel_image_pulls > 1) {
    return Invalid(source,
                   "invalid configuration: maxParallelImagePulls cannot be larger than 1 unless "
                   "SerializeImagePulls (--serialize-image-pulls) is set to false");
  }
  if (config.max_concurrent_blobs < 1) return Invalid(source, "maxConcurrentBlobs must be >= 1");
  // Zero or less would let a registry that stops sending hold a pull forever.
  if (config.stall_timeout_seconds < 1) return Invalid(source, "stallTimeoutSeconds must be >= 1");
  if (config.credential_provider_config.empty() != config.credential_provider_bin_dir.empty()) {
    return Invalid(source, "credentialProviderConfig and credentialProviderBinDir go together");
  }
  if (config.backoff_initial_seconds <= 0 ||
      config.backoff_max_seconds < config.backoff_initial_seconds) {
    return Invalid(source, "imagePullBackOff needs 0 < initialSeconds <= maxSeconds");
  }
  if (config.reconnect_initial_seconds < 0.001 ||
      config.reconnect_max_seconds < config.reconnect_initial_seconds) {
    return Invalid(source, "coordinatorReconnect needs 0.001 <= initialSeconds <= maxSeconds");
  }
  return Status::Ok();
}

}  // namespace

registry::HostOptions NodeConfig::HostOptionsFor(const std::string& domain) const {
  auto it = registries.find(domain);
  registry::HostOptions options = it == registries.end() ? registry::HostOptions{} : it->second;
  if (registry::IsLoopback(domain)) options.allow_plain_http = true;
  return options;
}

namespace {

Status ApplyDocuments(NodeConfig& config, const std::string& yaml_text, const std::string& source) {
  try {
    for (const YAML::Node& doc : YAML::LoadAll(yaml_text)) {
      if (doc.IsNull()) continue;
      if (!doc.IsMap()) return Invalid(source, "each document must be a mapping");
      const auto kind = doc["kind"].as<std::string>("");
      if (kind == "KubeletConfiguration") {
        auto status = ApplyKubeletConfiguration(config, doc, source);
        if (!status.ok()) return status;
        continue;
      }
      if (!kind.empty()) return Invalid(source, "unexpected kind \"" + kind + "\"");
      for (const auto& field : doc) {
        const std::string key = field.first.as<std::string>();
        try {
          auto status = ApplyField(config, key, field.second, source);
          if (!status.ok()) return status;
        } catch (const YAML::BadConversion& e) {
          return WrongType(source, e.mark, key, field.second);
        }
      }
    }
  } catch (const YAML::Exception& e) {
    return Invalid(source, std::string("line ") + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return Status::Ok();
}

}  // namespace

Result<NodeConfig> ParseNodeConfig(const std::string& yaml_text, const std::string& source) {
  NodeConfig config;
  auto applied = ApplyDocuments(config, yaml_text, source);
  if (!applied.ok()) return applied.error();
  auto valid = Validate(config, source);
  if (!valid.ok()) return valid.error();
  return config;
}

Result<NodeConfig> LoadNodeConfig(const std::string& path) {
  auto text = ReadFile(path, "node config");
  if (!text.ok()) return text.error();
  return ParseNodeConfig(*text, path);
}

}  // namespace pullfleet::node
