// `pullfleet create secret docker-registry`: builds the Secret kubectl would create, of type
// kubernetes.io/dockerconfigjson, either from a server, username and password or from an
// existing docker config file (`--from-file=.dockerconfigjson=PATH`).
//
// Pure logic except for reading the file; no function here logs, and no error quotes a
// password or the file's content.
#pragma once

#include <string>

#include "common/error.h"
#include "messages/pullfleet.pb.h"

namespace pullfleet::credentials {

struct RegistrySecretOptions {
  std::string name;
  std::string namespace_name = "default";
  // kubectl's default registry key when --docker-server is not given.
  std::string server = "https://index.docker.io/v1/";
  std::string username;
  std::string password;  // never logged
  std::string email;
};

// The Secret with data[".dockerconfigjson"] =
//   {"auths":{SERVER:{"username":..,"password":..,"email":..,"auth":base64(user:password)}}}
// ("email" only when given). kInvalidArgument when the name is not a valid Secret name, or the
// username or password is missing, naming the flag.
Result<pb::Secret> MakeRegistrySecret(const RegistrySecretOptions& options);

// The Secret holding the file at `path` as its .dockerconfigjson, after checking that it is a
// docker config pullfleet can use (kInvalidArgument naming the file and what is wrong; kIo when
// it cannot be read).
Result<pb::Secret> RegistrySecretFromFile(const std::string& name,
                                          const std::string& namespace_name,
                                          const std::string& path);

}  // namespace pullfleet::credentials
