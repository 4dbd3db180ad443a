#include "credentials/fingerprint.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>

namespace pullfleet::credentials {
namespace {

constexpr std::string_view kEncodingVersion = "pullfleet-credential-v1";
constexpr size_t kMinKeyBytes = 16;
constexpr size_t kNewKeyBytes = 32;

void AppendField(std::string& out, std::string_view field) {
  const uint32_t length = static_cast<uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((length >> shift) & 0xff);
  out.append(field.data(), field.size());
}

std::string Hex(const unsigned char* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

Error IoError(const std::string& what, const std::string& path) {
  return Error(ErrorCode::kIo, what + " " + path + ": " + std::strerror(errno));
}

Result<std::string> ReadKey(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("read credential fingerprint key", path);
  std::string key;
  char buffer[256];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) key.append(buffer, static_cast<size_t>(n));
  }
  const bool failed = n < 0;
  ::close(fd);
  if (failed) return IoError("read credential fingerprint key", path);
  if (key.size() < kMinKeyBytes) {
    return Error(ErrorCode::kInvalidArgument, "credential fingerprint key " + path + " holds " +
                                                  std::to_string(key.size()) +
                                                  " bytes, want at least 16");
  }
  return key;
}

}  // namespace

Result<CredentialHasher> CredentialHasher::FromKey(std::string key) {
  if (key.size() < kMinKeyBytes) {
    return Error(ErrorCode::kInvalidArgument,
                 "credential fingerprint key must hold at least 16 bytes");
  }
  return CredentialHasher(std::move(key));
}

std::string CredentialHasher::Fingerprint(const CredentialMaterial& material) const {
  std::string encoded;
  AppendField(encoded, kEncodingVersion);
  AppendField(encoded, material.registry);
  AppendField(encoded, material.username);
  AppendField(encoded, material.password);
  AppendField(encoded, material.token);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(encoded.data()), encoded.size(), digest, &length);
  // The encoding holds the password: wipe it before the memory is reused.
  OPENSSL_cleanse(encoded.data(), encoded.size());
  return "hmac-sha256:" + Hex(digest, length);
}

std::string CredentialHasher::Fingerprint(std::string_view registry, const AuthConfig& auth) const {
  CredentialMaterial material;
  material.registry = std::string(registry);
  material.username = auth.username;
  material.password = auth.password;
  std::string fingerprint = Fingerprint(material);
  OPENSSL_cleanse(material.password.data(), material.password.size());
  return fingerprint;
}

Result<std::string> LoadOrCreateNodeKey(const std::string& path) {
  if (::access(path.c_str(), F_OK) == 0) return ReadKey(path);
  if (errno != ENOENT) return IoError("read credential fingerprint key", path);

  unsigned char key[kNewKeyBytes];
  if (RAND_bytes(key, sizeof key) != 1) {
    return Error(ErrorCode::kInternal, "credential fingerprint key: no random bytes");
  }
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create credential fingerprint key", temporary);
  const bool written =
      ::write(fd, key, sizeof key) == static_cast<ssize_t>(sizeof key) && ::fsync(fd) == 0;
  ::close(fd);
  OPENSSL_cleanse(key, sizeof key);
  if (!written) {
    ::unlink(temporary.c_str());
    return IoError("write credential fingerprint key", temporary);
  }
  // link() fails if another process created the key meanwhile: then both use that one.
  if (::link(temporary.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    ::unlink(temporary.c_str());
    return IoError("create credential fingerprint key", path);
  }
  ::unlink(temporary.c_str());
  return ReadKey(path);
}

std::string ToString(const SecretCoordinates& secret) {
  std::string out = secret.namespace_name + "/" + secret.name;
  if (!secret.uid.empty()) out += " (uid " + secret.uid + ")";
  return out;
}

std::ostream& operator<<(std::ostream& out, const SecretCoordinates& secret) {
  return out << ToString(secret);
}

}  // namespace pullfleet::credentials
