#include "credentials/registry_secret.h"


#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base64.h"
#include "common/names.h"
#include "credentials/pull_secrets.h"

namespace pullfleet::credentials {
namespace {

pb::Secret Skeleton(const std::string& name, const std::string& namespace_name) {
  pb::Secret secret;
  secret.mutable_metadata()->set_name(name);
  secret.mutable_metadata()->set_namespace_(namespace_name.empty() ? "default" : namespace_name);
  secret.set_type(std::string(kSecretTypeDockerConfigJson));
  return secret;
}

}  // namespace

Result<pb::Secret> MakeRegistrySecret(const RegistrySecretOptions& options) {
  if (auto valid = CheckObjectName("secret name", options.name); !valid.ok()) return valid.error();
  if (options.username.empty()) {
    return Error(ErrorCode::kInvalidArgument, "--docker-username is required");
  }
  if (options.password.empty()) {
    return Error(ErrorCode::kInvalidArgument, "--docker-password is required");
  }
  if (options.server.empty()) {
    return Error(ErrorCode::kInvalidArgument, "--docker-server must not be empty");
  }
  nlohmann::json entry = {{"username", options.username},
                          {"password", options.password},
                          {"auth", Base64Encode(options.username + ":" + options.password)}};
  if (!options.email.empty()) entry["email"] = options.email;
  nlohmann::json config = {{"auths", {{options.server, entry}}}};

  pb::Secret secret = Skeleton(options.name, options.namespace_name);
  (*secret.mutable_data())[std::string(kSecretKeyDockerConfigJson)] = config.dump();
  return secret;
}

Result<pb::Secret> RegistrySecretFromFile(const std::string& name,
                                          const std::string& namespace_name,
                                          const std::string& path) {
  if (auto valid = CheckObjectName("secret name", name); !valid.ok()) return valid.error();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kIo, "read " + path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();

  pb::Secret secret = Skeleton(name, namespace_name);
  (*secret.mutable_data())[std::string(kSecretKeyDockerConfigJson)] = text.str();
  auto usable = KeyringFromSecret(secret);
  if (!usable.ok()) return usable.error().Wrap(path);
  return secret;
}

}  // namespace pullfleet::credentials
