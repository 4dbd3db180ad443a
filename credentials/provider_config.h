// CredentialProviderConfig (kubelet.config.k8s.io/v1, also v1beta1 and v1alpha1): which
// credential provider plugins a node runs, for which images. Read as the kubelet reads
// --image-credential-provider-config: one YAML or JSON file, or a folder whose *.json, *.yaml
// and *.yml files are read in lexicographic name order and their providers concatenated
// (a provider name may appear only once over all files).
//
// Decoding is strict like the kubelet's: unknown fields are errors. Validation follows the
// kubelet: at least one provider; a name without '/' or spaces, not "." or ".."; apiVersion one
// of credentialprovider.kubelet.k8s.io/{v1,v1beta1,v1alpha1}; at least one matchImages entry,
// each a usable URL pattern; defaultCacheDuration present and not negative.
//
// Known shortcoming: `tokenAttributes` (service account tokens for plugins, Kubernetes 1.33+)
// is rejected as unsupported; pullfleet does not mint service account tokens.
//
// Pure parsing; reading files is the only I/O. Safe from any thread. Error messages name
// the file, provider and field, never an env value.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace pullfleet::credentials {

inline constexpr std::string_view kProviderApiV1 = "credentialprovider.kubelet.k8s.io/v1";

struct ProviderEnvVar {
  std::string name;
  std::string value;  // may be secret: never printed
};

struct ProviderConfig {
  std::string name;                       // the executable's file name in the plugin bin dir
  std::vector<std::string> match_images;  // patterns as written, e.g. "*.dkr.ecr.*.amazonaws.com"
  std::chrono::nanoseconds default_cache_duration{0};
  std::string api_version;  // e.g. credentialprovider.kubelet.k8s.io/v1
  std::vector<std::string> args;
  std::vector<ProviderEnvVar> env;
  std::string source;  // the file it was read from, for messages
};

struct CredentialProviderConfig {
  std::vector<ProviderConfig> providers;  // in config order (file order, then list order)
};

// Parses one document (YAML or JSON) without the cross-provider validation. `source` names it
// in errors. Fails with kInvalidArgument naming the field, e.g.
//   FILE: providers[0] ("ecr"): defaultCacheDuration is required
Result<CredentialProviderConfig> ParseCredentialProviderConfig(std::string_view text,
                                                               std::string_view source);

// The kubelet's validation (see above) of a parsed or merged config, e.g.
//   FILE: provider "ecr": name cannot contain '/'
Status ValidateCredentialProviderConfig(const CredentialProviderConfig& config);

// Reads a file or a folder (see above) and validates the merged result. kIo when a path
// cannot be read, kInvalidArgument when a folder has no config file or a document is invalid.
Result<CredentialProviderConfig> LoadCredentialProviderConfig(const std::string& path);

// Parses a Go duration ("12h", "1h30m", "1.5s", "300ms", "0", "-1s"), as time.ParseDuration
// does; kInvalidArgument otherwise.
Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

// True when `pattern` (a matchImages entry or a response auth key) matches the image
// repository `image` ("registry.example.com:5000/team/app"), with the docker config rules of
// KeyMatchesImage. False for a pattern that is not a usable URL.
bool PatternMatchesImage(std::string_view pattern, std::string_view image);

}  // namespace pullfleet::credentials
