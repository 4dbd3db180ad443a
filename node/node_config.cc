#include "node/node_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace pullfleet::node {
namespace {

Error Invalid(const std::string& source, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "node config " + source + ": " + what);
}

Result<registry::HostOptions> ParseHost(const YAML::Node& node, const std::string& host,
                                        const std::string& source) {
  if (!node.IsMap()) return Invalid(source, "registries." + host + " must be a mapping");
  registry::HostOptions options;
  for (const auto& field : node) {
    const auto key = field.first.as<std::string>();
    if (key == "plainHTTP") {
      options.allow_plain_http = field.second.as<bool>();
    } else if (key == "insecureSkipVerify") {
      options.insecure_skip_verify = field.second.as<bool>();
    } else if (key == "caFile") {
      options.ca_file = field.second.as<std::string>();
    } else if (key == "clientCertFile") {
      options.client_cert_file = field.second.as<std::string>();
    } else if (key == "clientKeyFile") {
      options.client_key_file = field.second.as<std::string>();
    } else {
      return Invalid(source, "registries." + host + ": unknown field \"" + key + "\"");
    }
  }
  return options;
}

Status ApplyField(NodeConfig& config, const std::string& key, const YAML::Node& value,
                  const std::string& source) {
  if (key == "platform") {
    auto platform = image::ParsePlatform(value.as<std::string>());
    if (!platform.ok()) return platform.error().Wrap("node config " + source + ": platform");
    config.platform = *platform;
  } else if (key == "dockerConfig") {
    config.docker_config_path = value.as<std::string>();
  } else if (key == "serializeImagePulls") {
    config.serialize_image_pulls = value.as<bool>();
  } else if (key == "maxParallelImagePulls") {
    config.max_parallel_image_pulls = value.as<int>();
  } else if (key == "maxConcurrentBlobs") {
    config.max_concurrent_blobs = value.as<int>();
  } else if (key == "stallTimeoutSeconds") {
    config.stall_timeout_seconds = value.as<int>();
  } else if (key == "imagePullBackOff") {
    config.backoff_initial_seconds = value["initialSeconds"].as<double>(10);
    config.backoff_max_seconds = value["maxSeconds"].as<double>(300);
  } else if (key == "resyncSeconds") {
    config.resync_seconds = value.as<double>();
  } else if (key == "neverPullRecheckSeconds") {
    config.never_pull_recheck_seconds = value.as<double>();
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

Status Validate(const NodeConfig& config, const std::string& source) {
  // The kubelet's own validation of the pull mode.
  if (config.max_parallel_image_pulls && *config.max_parallel_image_pulls < 1) {
    return Invalid(source, "invalid configuration: maxParallelImagePulls (--max-parallel-image-"
                           "pulls) " +
                               std::to_string(*config.max_parallel_image_pulls) +
                               " must be a positive number");
  }
  if (config.serialize_image_pulls && config.max_parallel_image_pulls &&
      *config.max_parallel_image_pulls > 1) {
    return Invalid(source,
                   "invalid configuration: maxParallelImagePulls (--max-parallel-image-pulls) " +
                       std::to_string(*config.max_parallel_image_pulls) +
                       " must be 1 or nil when serializeImagePulls (--serialize-image-pulls) "
                       "is true");
  }
  if (config.max_concurrent_blobs < 1) return Invalid(source, "maxConcurrentBlobs must be >= 1");
  if (config.backoff_initial_seconds <= 0 ||
      config.backoff_max_seconds < config.backoff_initial_seconds) {
    return Invalid(source, "imagePullBackOff needs 0 < initialSeconds <= maxSeconds");
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

Result<NodeConfig> ParseNodeConfig(const std::string& yaml_text, const std::string& source) {
  NodeConfig config;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (root.IsNull()) return config;
    if (!root.IsMap()) return Invalid(source, "top level must be a mapping");
    for (const auto& field : root) {
      auto status = ApplyField(config, field.first.as<std::string>(), field.second, source);
      if (!status.ok()) return status.error();
    }
  } catch (const YAML::Exception& e) {
    return Invalid(source, std::string("line ") + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  auto valid = Validate(config, source);
  if (!valid.ok()) return valid.error();
  return config;
}

Result<NodeConfig> LoadNodeConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kIo, "read node config " + path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return ParseNodeConfig(text.str(), path);
}

}  // namespace pullfleet::node
