// RegistryFixture: a real OCI registry on loopback, with the rig's test images pushed, for
// integration tests, end-to-end tests and benchmarks. Link the CMake target pf_test_support.
//
// It drives the scripts in tests/rig/ (read their headers for the details):
//   registry.sh      Debian's docker-registry 2.8 with its own config, auth none/htpasswd/token,
//                    optional TLS, Prometheus request metrics and an access log
//   token_server.py  the Bearer token server for auth=token (RS256 JWTs, Docker Hub flow)
//   build-images.sh  deterministic OCI images, built once into a shared cache and pushed
//   retag.sh         moves a tag (pf/app:latest from v1 to v2) for pull-policy tests
//
// Images pushed by default (digest names for Digest() in brackets):
//   pf/busybox:1.36, pf/busybox:latest [BUSYBOX]   one layer [BUSYBOX_LAYER]
//   pf/multiarch:1.0 [MULTIARCH]                   OCI index: linux/amd64 [MULTIARCH_AMD64],
//                                                  linux/arm64/v8 [MULTIARCH_ARM64]
//   pf/big:1.0 [BIG]                               ~40 MiB in 3 layers; Env("BIG_SIZE") bytes,
//                                                  Env("BIG_LAYER_DIGESTS") space separated
//   pf/app:v1 [APP_V1], pf/app:v2 [APP_V2]         pf/app:latest starts as v1 [APP_LATEST ref]
//   pf/sidecar:1.0 [SIDECAR]
//   pf/docker:1.0 [DOCKER]                         Docker schema2 manifest
//   pf/dockerlist:1.0 [DOCKERLIST]                 Docker manifest list: amd64 [DOCKERLIST_AMD64],
//                                                  arm64/v8 [DOCKERLIST_ARM64]
// All but the last two are OCI types; the digests are identical on every machine and run.
//
// Typical use, one registry per test suite (images are built once per machine, pushed once
// per suite):
//
//   class PullTest : public pullfleet::testing::RegistrySuite<PullTest> {
//    public:
//     static pullfleet::testing::RegistryOptions SuiteOptions() {  // optional
//       pullfleet::testing::RegistryOptions options;
//       options.auth = pullfleet::testing::RegistryAuth::kHtpasswd;
//       return options;
//     }
//   };
//   TEST_F(PullTest, PullsBusybox) {
//     std::string ref = registry().Ref("pf/busybox:1.36");
//     ... registry().user(), registry().password(), registry().Digest("BUSYBOX") ...
//   }
//
// or per test: `auto reg = RegistryFixture::Start(options); ASSERT_TRUE(reg.ok());`.
//
// Environment: PULLFLEET_RIG_CACHE overrides the image cache (default
// <build dir>/rig-cache), PULLFLEET_RIG_DIR the scripts folder (default tests/rig in the
// source tree), PULLFLEET_RIG_KEEP=1 keeps each registry's temp folder for debugging.
//
// Thread safety: a RegistryFixture may be read from many threads; Stop, Restart, Retag and
// the token-policy setters must not run concurrently with each other.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace pullfleet::testing {

// The output (stdout and stderr merged) and exit code of a shell command.
struct CommandResult {
  int exit_code = -1;  // the command's exit status; 128+N if killed by signal N
  std::string output;
};

// Runs `command` with /bin/sh -c and waits for it. Never throws.
CommandResult RunCommand(const std::string& command);

// Quotes `word` for a /bin/sh command line.
std::string ShellQuote(std::string_view word);

// A loopback TCP port that was free a moment ago (the OS chose it). Another process may take it
// before the caller binds it; callers that can should bind port 0 themselves instead.
int FreeLoopbackPort();

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it when this object dies
// (kept when PULLFLEET_RIG_KEEP=1).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "pf-test-");
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Empty if the folder could not be made.
  const std::string& path() const { return path_; }
  // Returns path()/name.
  std::string Join(std::string_view name) const;

 private:
  std::string path_;
};

enum class RegistryAuth {
  kNone,      // anyone may pull and push
  kHtpasswd,  // Basic auth; 401 with WWW-Authenticate: Basic realm="pullfleet-test"
  kToken,     // Bearer tokens from token_server.py; 401 with WWW-Authenticate: Bearer realm=...
};

struct RegistryOptions {
  RegistryAuth auth = RegistryAuth::kNone;
  bool tls = false;             // HTTPS with a CA of its own (ca_file()); else plain HTTP
  bool client_certs = false;    // with tls: only clients with client_cert() are accepted
  bool push_images = true;      // build (cached) and push the rig images
  std::string images;           // comma list: busybox,multiarch,big,app,sidecar,docker; empty = all
  int port = 0;                 // 0: a free port chosen at start
  int token_expires_in = 300;   // kToken: lifetime of issued tokens, in seconds
  bool anonymous_pull = false;  // kToken: anonymous token requests get pull access
};

// One running registry (and token server), stopped and its folder removed on destruction.
class RegistryFixture {
 public:
  // Starts a registry in a new temp folder and pushes the images. Fails with the scripts'
  // output in the message (never a credential) when anything does not come up.
  static Result<std::unique_ptr<RegistryFixture>> Start(const RegistryOptions& options = {});
  ~RegistryFixture();
  RegistryFixture(const RegistryFixture&) = delete;
  RegistryFixture& operator=(const RegistryFixture&) = delete;

  const RegistryOptions& options() const { return options_; }
  const std::string& dir() const { return dir_.path(); }
  // "127.0.0.1:PORT": the registry part of an image reference.
  const std::string& host() const { return host_; }
  // "http://127.0.0.1:PORT" or "https://...".
  std::string url() const;
  // host() + "/" + repo_and_tag, e.g. Ref("pf/busybox:1.36").
  std::string Ref(std::string_view repo_and_tag) const;
  // A digest by name (BUSYBOX, APP_V1, MULTIARCH_ARM64, ...; see above); empty if unknown.
  std::string Digest(std::string_view name) const;
  // Any value from the env files (e.g. "REGISTRY_LOG", "BIG_SIZE"); empty if absent.
  std::string Env(std::string_view key) const;

  // Test-only credentials (htpasswd and token modes; empty otherwise).
  std::string user() const { return Env("REGISTRY_USER"); }
  std::string password() const { return Env("REGISTRY_PASSWORD"); }
  // The CA that signed the server certificate (tls only), as a PEM file.
  std::string ca_file() const { return Env("REGISTRY_CA"); }
  // The client certificate and key the registry accepts (client_certs only), PEM files.
  std::string client_cert() const { return Env("REGISTRY_CLIENT_CERT"); }
  std::string client_key() const { return Env("REGISTRY_CLIENT_KEY"); }
  // "127.0.0.1:PORT" of the registry's debug server (/metrics in Prometheus format).
  std::string debug_addr() const { return Env("REGISTRY_DEBUG_ADDR"); }
  // The access and application log of the registry.
  std::string log_file() const { return Env("REGISTRY_LOG"); }
  // Token mode: the realm URL, the JSON users/policy file, and the request log (one JSON object
  // per line: path, service, scopes, account, status, granted; never a secret).
  std::string token_server_url() const { return Env("TOKEN_SERVER_URL"); }
  std::string token_users_file() const { return Env("TOKEN_USERS_FILE"); }
  std::string token_log() const { return Env("TOKEN_LOG"); }

  // curl options that reach this registry: --cacert for TLS, -u user:pass for htpasswd.
  // Contains the password: pass it to RunCommand, never print it.
  std::string CurlAuthArgs() const;

  // Number of GET requests the registry answered on .../blobs/... since it started (all codes,
  // all repositories), from its own Prometheus metrics.
  Result<int> BlobGetCount() const;
  // Number of GET .../blobs/ requests for one repository ("pf/big"), from the access log.
  Result<int> BlobGetCount(std::string_view repo) const;
  // Number of access-log lines whose request line starts with `method` and whose path contains
  // `path_part`, e.g. AccessLogCount("HEAD", "/manifests/").
  Result<int> AccessLogCount(std::string_view method, std::string_view path_part) const;
  // Token mode: number of requests the token server received (GET and POST, any outcome).
  Result<int> TokenRequestCount() const;

  // Points TARGET ("pf/app:latest") at SOURCE ("pf/app:v2" or "pf/app@sha256:..."); returns
  // the digest TARGET now resolves to.
  Result<std::string> Retag(std::string_view source, std::string_view target);

  // Token mode: `user` gets tokens with empty actions for repositories matching any of the
  // shell-style patterns (e.g. {"pf/app", "pf/secret*"}): the registry then answers 401
  // insufficient_scope. An empty list lifts the denial. Takes effect at the next token request.
  Status SetTokenDenied(std::string_view user, const std::vector<std::string>& repo_patterns);

  // Stops the registry (and token server) but keeps its storage: clients now see connection
  // refused. Restart() brings it back on the same port with the same content and credentials.
  Status Stop();
  Status Restart();
  bool running() const { return running_; }

 private:
  RegistryFixture(RegistryOptions options, TempDir dir);
  Status LoadEnvFiles();
  std::string StartCommand(int port) const;

  RegistryOptions options_;
  TempDir dir_;
  std::string host_;
  std::map<std::string, std::string, std::less<>> env_;
  bool running_ = false;
};

// The brief's name for RegistryFixture::BlobGetCount(): GET .../blobs/ requests served.
inline Result<int> RegistryBlobGetCount(const RegistryFixture& registry) {
  return registry.BlobGetCount();
}

// A gtest base for suites that share one registry: started in SetUpTestSuite, stopped in
// TearDownTestSuite. Derived may define `static RegistryOptions SuiteOptions()`. If the registry
// could not start, every test of the suite fails in SetUp with the reason (a Derived that
// overrides SetUp must call RegistrySuite::SetUp() first).
template <class Derived>
class RegistrySuite : public ::testing::Test {
 public:
  static RegistryOptions SuiteOptions() { return {}; }

  static void SetUpTestSuite() {
    auto started = RegistryFixture::Start(Derived::SuiteOptions());
    if (started.ok()) {
      registry_ = std::move(started).value();
    } else {
      setup_error_ = started.error().message();
    }
  }
  static void TearDownTestSuite() { registry_.reset(); }

 protected:
  void SetUp() override {
    if (!registry_) FAIL() << "registry fixture did not start: " << setup_error_;
  }
  static RegistryFixture& registry() { return *registry_; }

 private:
  static inline std::unique_ptr<RegistryFixture> registry_;
  static inline std::string setup_error_;
};

}  // namespace pullfleet::testing
