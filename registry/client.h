// A client of the OCI Distribution API on libcurl: ping, the 401 challenge flow for Basic
// and Bearer auth (token per scope, cached until it expires), manifests by tag or digest
// with the full Accept list, and blobs streamed to a sink.
//
// Blocking: every call performs network I/O. Call it from a transfer thread (a detached
// actor or a tool), never from a scheduled actor. One Client talks to one registry host
// with one credential and reuses its connections; it is not thread-safe, so a thread uses
// its own Client.
//
// Credentials are only ever sent to the registry host itself (and to a token realm the
// registry named in its challenge); never after a redirect to another host. Redirects are
// followed by hand for that reason (curl's own following is off).
//
// Scheme: https always; a loopback host, or one with allow_plain_http, that fails the TLS
// handshake (not certificate verification) is retried over plain http and the choice is
// remembered for the life of the Client, as Docker does for insecure registries.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace pullfleet::registry {

// Media types a pull asks for, in the Accept header of every manifest request.
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";

// How to reach one registry host.
struct HostOptions {
  // Plain HTTP is allowed for loopback hosts always, and for others only when set.
  bool allow_plain_http = false;
  bool insecure_skip_verify = false;
  std::string ca_file;           // PEM bundle that signs the registry's certificate
  std::string client_cert_file;  // PEM, for mutual TLS
  std::string client_key_file;
};

// What a Client reports about its exchanges, for metrics. Called on the Client's own thread,
// so an implementation must be thread-safe when several Clients share it (prometheus-cpp
// metrics are). `domain` is ClientOptions::domain; nothing here carries a credential.
class ClientObserver {
 public:
  virtual ~ClientObserver() = default;
  // One request to the registry ended: `status` is the final HTTP status after redirects, or
  // 0 when no answer came (connect, TLS or transfer failure, stall, cancel).
  virtual void OnRegistryResponse(std::string_view domain, long status) = 0;
  // One token was fetched from the registry's token realm, or the fetch failed.
  virtual void OnTokenFetch(std::string_view domain, bool ok) = 0;
};

// Basic credentials; an empty username means anonymous.
struct Credentials {
  std::string username;
  std::string password;  // never logged
};

struct ClientOptions {
  // The registry as written in the image reference ("docker.io", "127.0.0.1:5000").
  std::string domain;
  HostOptions host;
  Credentials credentials;
  long connect_timeout_ms = 5000;
  // A transfer that moves no byte for this long fails with kTimeout.
  long stall_timeout_s = 60;
  // Checked while transferring; when it becomes true the call fails with kCancelled.
  const std::atomic<bool>* cancel = nullptr;
  // A second stop flag, checked like `cancel` (also kCancelled): the puller raises it to stop
  // sibling transfers once one blob of the image has failed.
  const std::atomic<bool>* abort = nullptr;
  // Told about every response and token fetch; may be null. Not owned.
  ClientObserver* observer = nullptr;
};

struct ManifestHead {
  std::string digest;  // Docker-Content-Digest, or computed
  std::string media_type;
  int64_t size = 0;
};

struct Manifest {
  std::string digest;  // verified: the body hashes to it
  std::string media_type;
  std::string body;
};

// Receives blob bytes in order. Returning an error aborts the transfer with that error.
using BlobSink = std::function<Status(const char* data, size_t size)>;

class Client {
 public:
  explicit Client(ClientOptions options);
  // A client for the same registry that starts with what `warm` has learned: the scheme
  // (so a plain-HTTP registry is not asked for TLS again), the auth scheme and any cached
  // tokens. `warm` must not be in use by another thread during the call.
  Client(ClientOptions options, const Client& warm);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // GET /v2/, answering any auth challenge.
  Status Ping();

  // HEAD of a manifest by tag or digest: what the reference resolves to now.
  Result<ManifestHead> HeadManifest(std::string_view repository, std::string_view reference);

  // GET of a manifest by tag or digest. When `reference` is a digest the body must hash
  // to it (kDigestMismatch otherwise).
  Result<Manifest> GetManifest(std::string_view repository, std::string_view reference);

  // Streams blob `digest` from byte `offset` on (a Range request when offset > 0) into
  // `sink`. Checks neither size nor digest: the store's ingest does.
  Status FetchBlob(std::string_view repository, std::string_view digest, int64_t offset,
                   const BlobSink& sink);

  // Number of HTTP requests this client has made (for tests and metrics).
  int64_t request_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The host to contact for a reference domain: "docker.io" -> "registry-1.docker.io".
std::string EndpointHost(std::string_view domain);

// True for localhost, 127.0.0.0/8 and [::1], with or without a port.
bool IsLoopback(std::string_view host);

}  // namespace pullfleet::registry
