// CredentialProviders: runs the node's credential provider plugins with the kubelet's exec
// protocol (credentialprovider.kubelet.k8s.io/v1) and caches their answers by its rules.
//
// For an image, every configured provider whose matchImages match the image repository is
// asked, in config order:
//   - the cache is consulted first, by the image repository, then its registry, then "global";
//   - else the plugin <bin dir>/<name> is executed (no shell) with the configured args and this
//     process's environment plus the configured env, the request
//       {"apiVersion":"<provider apiVersion>","kind":"CredentialProviderRequest","image":"<repo>"}
//     on stdin (<repo> is the normalised repository without tag, e.g.
//     "docker.io/library/busybox", as the kubelet passes it), and a CredentialProviderResponse
//     read from stdout: same apiVersion, kind, cacheKeyType Image|Registry|Global, optional
//     cacheDuration, auth {pattern: {username, password}} (strictly decoded: unknown fields
//     are an error);
//   - the answer is cached under the key cacheKeyType names for cacheDuration, or the
//     provider's defaultCacheDuration when the response has none; a zero duration caches
//     nothing;
//   - concurrent requests for one image share one run of the plugin (the waiting callers get
//     the same answer or the same failure).
// The auth entries are returned as a DockerKeyring (origin kProvider), to be matched against
// the image like node docker config entries (CombineKeyrings sorts them together).
//
// Failures name the provider and the image and never include what the plugin wrote on stdout
// (it may hold credentials): a plugin that cannot start, exits non-zero, is killed by a
// signal, exceeds its timeout (its process group is killed) or answers with invalid output.
// Only the first line of its stderr is quoted. The kubelet logs such a failure and carries on
// without that provider; CredentialProviders reports it in ProviderAnswer::problems so the
// caller can fail the pull with that reason (recommended when no other credential works).
//
// Thread-safe: any number of threads may call Provide at once (a mutex guards the cache and the
// in-flight table; plugins run outside it). Provide blocks while a plugin runs.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "credentials/docker_keyring.h"
#include "credentials/provider_config.h"
#include "image/reference.h"

namespace pullfleet::credentials {

struct CredentialProvidersOptions {
  // The folder holding the plugin executables (the kubelet's --image-credential-provider-bin-dir).
  std::string bin_dir;
  // Longest a plugin may run (the kubelet's is one minute, not configurable there).
  std::chrono::milliseconds exec_timeout{60000};
  // Clock for cache expiry; tests inject a fake one.
  std::function<std::chrono::steady_clock::time_point()> now = [] {
    return std::chrono::steady_clock::now();
  };
  // Told after every plugin run: the provider's name, how long it ran in seconds (measured on
  // the steady clock, not `now`) and whether it gave a usable answer. For the kubelet's
  // kubelet_credential_provider_plugin_* metrics; may be empty. Called from the caller's thread.
  std::function<void(const std::string& provider, double seconds, bool ok)> on_run;
};

// What the providers matching one image gave.
struct ProviderAnswer {
  // Entries of every successful provider, in config order, each with source
  // "credential provider NAME". Empty when no provider matched or none answered with auth.
  DockerKeyring keyring;
  // One per provider that failed for this image, e.g.
  //   credential provider "ecr" for image 127.0.0.1:5000/pf/app: timed out after 1s
  std::vector<Error> problems;
  // Names of the providers whose matchImages matched the image, in config order.
  std::vector<std::string> matched_providers;
};

class CredentialProviders {
 public:
  // Checks that bin_dir exists and every provider's executable is there and executable, and
  // that `config` is valid (ValidateCredentialProviderConfig). kInvalidArgument or kNotFound
  // naming the provider otherwise.
  static Result<std::unique_ptr<CredentialProviders>> Create(CredentialProviderConfig config,
                                                             CredentialProvidersOptions options);
  ~CredentialProviders();
  CredentialProviders(const CredentialProviders&) = delete;
  CredentialProviders& operator=(const CredentialProviders&) = delete;

  // Credentials for `ref` from every matching provider (cached or by running the plugin).
  ProviderAnswer Provide(const image::Reference& ref);

  // The providers whose matchImages match `ref`, without running anything (for the lookup
  // plan). Each with the first matchImages pattern that matched.
  struct Match {
    const ProviderConfig* provider;  // points into the config searched; valid while it lives
    std::string pattern;
  };
  std::vector<Match> Matching(const image::Reference& ref) const;

  const CredentialProviderConfig& config() const { return config_; }
  // Number of plugin executions so far (all providers), for tests and metrics.
  int64_t exec_count() const;

 private:
  struct Runtime;
  CredentialProviders(CredentialProviderConfig config, CredentialProvidersOptions options);
  Result<DockerKeyring> ProvideOne(size_t index, const image::Reference& ref);

  CredentialProviderConfig config_;
  CredentialProvidersOptions options_;
  std::unique_ptr<Runtime> runtime_;
};

// The providers of `config` whose matchImages match `ref` (no plugin runs, no bin dir needed):
// the same rule as CredentialProviders::Matching, for the CLI's lookup plan.
std::vector<CredentialProviders::Match> MatchingProviders(const CredentialProviderConfig& config,
                                                          const image::Reference& ref);

// A decoded CredentialProviderResponse.
struct ProviderResponse {
  enum class CacheKeyType { kImage, kRegistry, kGlobal };
  struct Auth {
    std::string pattern;  // the auth key, matched against the image like a docker config key
    std::string username;
    std::string password;  // never logged
  };
  CacheKeyType cache_key_type = CacheKeyType::kImage;
  std::optional<std::chrono::nanoseconds> cache_duration;  // absent: the provider's default
  std::vector<Auth> auth;
};

// Parses and checks a plugin's stdout (exposed for table tests). `api_version` is the version
// the request was sent with; the response must carry the same. Fails with kInvalidArgument
// saying what is wrong without quoting anything from `stdout_text`.
Result<ProviderResponse> ParseProviderResponse(std::string_view stdout_text,
                                               std::string_view api_version);

// The request written to a plugin's stdin.
std::string ProviderRequestJson(std::string_view api_version, std::string_view image);

}  // namespace pullfleet::credentials
