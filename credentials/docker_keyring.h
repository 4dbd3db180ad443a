// A keyring built from Docker config files (config.json "auths", legacy .dockercfg) and from
// the same JSON inside imagePullSecrets, matched with the Kubernetes rules (not Docker's):
// keys may carry a path (prefix match on the image path) and '*' globs per host label, the
// number of labels must be equal, ports must match, "https://" and "/v1/" "/v2/" are
// stripped, and docker.io images also match "index.docker.io" entries.
//
// Pure logic over parsed JSON; reading a file is the only I/O. Immutable after construction
// (Merge/Add aside), so safe to share between threads once built.
//
// Secrets: nothing here logs, and no error message or stream output contains a password or
// an `auth` value.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/reference.h"

namespace pullfleet::credentials {

// Where a credential came from, for ordering, for `describe` and for recording which
// credentials pulled an image (the kubelet's "ensure secret pulled images").
enum class CredentialOrigin {
  kDockerConfig,  // a docker config file of the node (the default of FromJson/FromFile)
  kPullSecret,    // an imagePullSecret of the pod (or of its ServiceAccount)
  kProvider,      // a credential provider plugin's answer
};

// The coordinates of a Secret object: enough to say which Secret a credential came from,
// never its content. `uid` changes when a Secret is deleted and made again under one name.
struct SecretCoordinates {
  std::string namespace_name;
  std::string name;
  std::string uid;  // may be empty when the store has none

  bool operator==(const SecretCoordinates& other) const {
    return namespace_name == other.namespace_name && name == other.name && uid == other.uid;
  }
  bool operator!=(const SecretCoordinates& other) const { return !(*this == other); }
};

// One username/password pair. Never log or print `password`.
struct AuthConfig {
  std::string username;
  std::string password;
  // The config key that produced this entry, normalised, e.g.
  // "registry.example.com:5000/team", for describing which credential was tried. Not secret.
  std::string matched_key;
  // Where the entry came from: "node config /etc/pullfleet/config.json",
  // "secret default/regcred". Not secret.
  std::string source;
  CredentialOrigin origin = CredentialOrigin::kDockerConfig;
  // Set when origin is kPullSecret: the Secret this entry came from.
  SecretCoordinates secret;
};

// Prints key, source and username; the password is always shown as "<redacted>". Also what
// GoogleTest uses to print an AuthConfig.
std::ostream& operator<<(std::ostream& out, const AuthConfig& auth);

class DockerKeyring {
 public:
  DockerKeyring() = default;

  // Parses config.json ({"auths": {...}}) or legacy .dockercfg ({"host": {...}}) text.
  // `source` names where it came from in errors and in AuthConfig::source. Each entry's
  // "auth" (base64 of "user:password", padded or not) wins over its username/password fields.
  // Fails with kInvalidArgument on invalid JSON (line and column, never the text), a
  // non-object entry, a non-string field or a malformed "auth" (naming the key). A key that
  // is not a usable URL is skipped, as the kubelet does, and listed in warnings().
  static Result<DockerKeyring> FromJson(std::string_view json_text, std::string_view source);
  // Reads and parses a file; kIo when it cannot be read. The source is "docker config PATH".
  static Result<DockerKeyring> FromFile(const std::string& path);

  // Adds one entry under config key `key` (normalised here) to the last group, as Add does.
  // For credentials that do not come as docker config JSON (a credential provider's answer).
  // A key that is not a usable URL is skipped and listed in warnings(), as in FromJson.
  // `auth.matched_key` is overwritten with the normalised key.
  void AddEntry(std::string_view key, AuthConfig auth);

  // Marks every entry with `origin` (and `secret`, for kPullSecret). Used by the pull-secret
  // and provider code after parsing.
  void SetOrigin(CredentialOrigin origin, const SecretCoordinates& secret = {});

  // Adds every entry of `other` as a lower-priority group: everything this keyring matches
  // is tried before anything `other` matches (the kubelet's union of the pod-secret keyring
  // and the node keyring). Use it to put node config behind pod secrets.
  void Merge(const DockerKeyring& other);

  // Adds every entry of `other` into this keyring's last group, sorted together with its
  // entries (the kubelet puts all pull secrets of a pod into one keyring this way).
  void Add(const DockerKeyring& other);

  // Every entry matching `ref`, in the order they must be tried: group by group; within a
  // group, keys in reverse lexicographic order (the kubelet's order: "quay.io/coreos" before
  // "quay.io") and entries of one key in the order they were added. When nothing in a group
  // matches a Docker Hub image, that group's "index.docker.io" entries are used. Empty when
  // none matches (then the pull is anonymous).
  std::vector<AuthConfig> Lookup(const image::Reference& ref) const;

  size_t size() const { return entries_.size(); }

  // Entries that were skipped, one line each, naming the key (never a secret).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct Entry {
    std::string key;  // normalised key: host[:port][/path]
    AuthConfig auth;
    int group = 0;  // lower groups are tried first
  };
  int LastGroup() const;

  std::vector<Entry> entries_;
  std::vector<std::string> warnings_;
};

// Normalises a config key as the kubelet does: "https://" or "http://" dropped, a leading
// "/v1/" or "/v2/" of the path dropped, trailing '/' dropped. "https://index.docker.io/v1/"
// becomes "index.docker.io". Fails with kInvalidArgument when the key is not a usable URL.
Result<std::string> NormalizeKey(std::string_view key);

// True when the config key `pattern` (already normalised) matches `image_target`
// ("host[:port]/path"): ports equal, as many host labels, each label matching as a glob
// ('*', '?', '[...]'; a malformed glob matches nothing), and the key's path, if any, equal to
// the image path or a leading run of its '/'-separated components. Exposed for table tests.
bool KeyMatchesImage(std::string_view pattern, std::string_view image_target);

}  // namespace pullfleet::credentials
