// A keyring built from Docker config files (config.json "auths", legacy .dockercfg) and from
// the same JSON inside imagePullSecrets, matched with the Kubernetes rules (not Docker's):
// keys may carry a path (prefix match on the image path) and '*' globs per host label, the
// number of labels must be equal, ports must match, "https://" and "/v1/" "/v2/" are
// stripped, and docker.io images also match "index.docker.io" entries.
//
// Pure logic over parsed JSON; reading a file is the only I/O. Immutable after construction,
// so safe to share between threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/reference.h"

namespace pullfleet::credentials {

// One username/password pair. Never log or print `password`.
struct AuthConfig {
  std::string username;
  std::string password;
  // The config key that produced this entry, e.g. "registry.example.com:5000/team", for
  // describing which credential was tried. Not secret.
  std::string matched_key;
  // Where the entry came from: "node config /etc/pullfleet/config.json",
  // "secret default/regcred". Not secret.
  std::string source;
};

class DockerKeyring {
 public:
  DockerKeyring() = default;

  // Parses config.json ({"auths": {...}}) or legacy .dockercfg ({"host": {...}}) text.
  // `source` names where it came from in errors and in AuthConfig::source.
  static Result<DockerKeyring> FromJson(std::string_view json_text, std::string_view source);
  static Result<DockerKeyring> FromFile(const std::string& path);

  // Adds every entry of `other` (used to merge pod secrets before node config).
  void Merge(const DockerKeyring& other);

  // Every entry matching `ref`, most specific key first (longer host+path wins), in the
  // order they must be tried. Empty when none matches (then the pull is anonymous).
  std::vector<AuthConfig> Lookup(const image::Reference& ref) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string key;   // normalised key: host[:port][/path]
    AuthConfig auth;
  };
  std::vector<Entry> entries_;
};

// True when the config key `pattern` (already normalised) matches `image_target`
// ("host[:port]/path"). Exposed for table tests.
bool KeyMatchesImage(std::string_view pattern, std::string_view image_target);

}  // namespace pullfleet::credentials
