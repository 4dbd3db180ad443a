// Credential fingerprints for the kubelet's "ensure secret pulled images" check: a node
// records, per image, which credentials pulled it, so that a pod of another tenant cannot use
// a private image already on the node without credentials of its own. The record holds a
// fingerprint and the Secret's coordinates, never the credential.
//
// Fingerprint = "hmac-sha256:" + hex(HMAC-SHA256(node key, encoding)), where the encoding is
// the version tag "pullfleet-credential-v1" and the fields registry, username, password and
// token, each as a 4-byte big-endian length followed by its bytes (so no two different
// credentials share an encoding). `registry` is the image's registry (Reference::domain), not
// the config key that matched: the same account used for one registry under two spellings of
// a key gives one fingerprint, and the same account on two registries gives two.
//
// Why a keyed hash and not the kubelet's plain SHA-256 of the auth JSON: the fingerprints are
// stored in RocksDB; with a node-local 32-byte random key, a copy of the database alone does
// not allow guessing weak passwords offline. The price: fingerprints are comparable only on the
// node that made them (which is where the check runs). The key lives in a file of mode 0600
// (LoadOrCreateNodeKey); losing it only means images pulled with credentials are verified
// again, once.
//
// Thread-safe once constructed (immutable). No function here logs.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

#include "common/error.h"
#include "credentials/docker_keyring.h"

namespace pullfleet::credentials {

// What a fingerprint covers. For username/password credentials leave `token` empty; for an
// identity or registry token leave username and password empty.
struct CredentialMaterial {
  std::string registry;  // e.g. "127.0.0.1:5000", "docker.io"
  std::string username;
  std::string password;  // never logged
  std::string token;     // never logged
};

class CredentialHasher {
 public:
  // `key` must hold at least 16 bytes (LoadOrCreateNodeKey makes 32 random ones).
  static Result<CredentialHasher> FromKey(std::string key);

  // "hmac-sha256:" followed by 64 lowercase hex digits. Deterministic for one key.
  std::string Fingerprint(const CredentialMaterial& material) const;
  // The same for a keyring entry used against `registry`.
  std::string Fingerprint(std::string_view registry, const AuthConfig& auth) const;

 private:
  explicit CredentialHasher(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// Reads the node's fingerprint key from `path`, or creates it (32 random bytes from OpenSSL's
// RAND_bytes, written to a temporary file of mode 0600, fsynced and renamed) when the file
// does not exist. kIo when it cannot be read or written; kInvalidArgument when the file holds
// fewer than 16 bytes.
Result<std::string> LoadOrCreateNodeKey(const std::string& path);

// "team-a/regcred (uid 1234)", or without the uid part when it is empty.
std::string ToString(const SecretCoordinates& secret);
std::ostream& operator<<(std::ostream& out, const SecretCoordinates& secret);

}  // namespace pullfleet::credentials
