#include "credentials/credential_providers.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "credentials/subprocess.h"

namespace pullfleet::credentials {
namespace {

using Json = nlohmann::ordered_json;
using TimePoint = std::chrono::steady_clock::time_point;

constexpr std::string_view kRequestKind = "CredentialProviderRequest";
constexpr std::string_view kResponseKind = "CredentialProviderResponse";
// Purge expired cache entries at most this often (the kubelet's interval).
constexpr std::chrono::minutes kCachePurgeInterval{15};

std::string Quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

Error BadResponse(const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "invalid CredentialProviderResponse: " + what);
}

std::string LineAndColumn(std::string_view text, size_t byte) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::string DescribeDuration(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + "s";
  return std::to_string(duration.count()) + "ms";
}

std::string StderrSuffix(const std::string& stderr_data) {
  const std::string line = FirstLineSummary(stderr_data);
  return line.empty() ? "" : " (stderr: " + line + ")";
}

std::string SignalName(int signal_number) {
  const char* name = ::sigabbrev_np(signal_number);
  return name != nullptr ? std::string("SIG") + name : std::to_string(signal_number);
}

// The three cache keys of an image, most specific first. Prefixed so that a registry host
// named "global" cannot collide with the global key.
std::string ImageKey(const image::Reference& ref) {
  return "image:" + ref.Repository();
}
std::string RegistryKey(const image::Reference& ref) {
  return "registry:" + ref.domain;
}
const std::string kGlobalKey = "global";

}  // namespace

std::string ProviderRequestJson(std::string_view api_version, std::string_view image) {
  Json request;
  request["apiVersion"] = std::string(api_version);
  request["kind"] = std::string(kRequestKind);
  request["image"] = std::string(image);
  return request.dump();
}

Result<ProviderResponse> ParseProviderResponse(std::string_view stdout_text,
                                               std::string_view api_version) {
  Json document;
  try {
    document = Json::parse(stdout_text.begin(), stdout_text.end());
  } catch (const Json::parse_error& e) {
    // Only the position: the library's message would quote the text, which may be a secret.
    return BadResponse("stdout is not JSON (" + LineAndColumn(stdout_text, e.byte) + ")");
  } catch (const Json::exception&) {
    return BadResponse("stdout is not JSON");
  }
  if (!document.is_object()) return BadResponse("stdout is not a JSON object");
  static const std::set<std::string> kFields = {"apiVersion", "kind", "cacheKeyType",
                                                "cacheDuration", "auth"};
  for (const auto& item : document.items()) {
    // Strict like the kubelet's decoder; the field's name is not echoed (it came from stdout).
    if (kFields.count(item.key()) == 0) return BadResponse("it has an unknown field");
  }
  auto string_field = [&](const char* name) -> std::optional<std::string> {
    auto it = document.find(name);
    if (it == document.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };

  if (string_field("apiVersion") != std::string(api_version)) {
    return BadResponse("apiVersion does not match the request's " + Quoted(api_version));
  }
  if (string_field("kind") != std::string(kResponseKind)) {
    return BadResponse("kind is not " + Quoted(kResponseKind));
  }

  ProviderResponse response;
  const std::optional<std::string> key_type = string_field("cacheKeyType");
  if (key_type == "Image") {
    response.cache_key_type = ProviderResponse::CacheKeyType::kImage;
  } else if (key_type == "Registry") {
    response.cache_key_type = ProviderResponse::CacheKeyType::kRegistry;
  } else if (key_type == "Global") {
    response.cache_key_type = ProviderResponse::CacheKeyType::kGlobal;
  } else {
    return BadResponse("cacheKeyType must be \"Image\", \"Registry\" or \"Global\"");
  }

  if (auto it = document.find("cacheDuration"); it != document.end() && !it->is_null()) {
    if (!it->is_string()) return BadResponse("cacheDuration must be a duration string");
    Result<std::chrono::nanoseconds> duration = ParseGoDuration(it->get<std::string>());
    if (!duration.ok()) return BadResponse("cacheDuration is not a valid duration");
    response.cache_duration = *duration;
  }

  auto auth = document.find("auth");
  if (auth == document.end() || auth->is_null()) return response;
  if (!auth->is_object()) return BadResponse("auth must be an object");
  int index = 0;
  for (const auto& item : auth->items()) {
    ++index;
    const std::string where = "auth entry #" + std::to_string(index);
    if (!item.value().is_object()) return BadResponse(where + " must be an object");
    ProviderResponse::Auth entry;
    entry.pattern = item.key();
    for (const auto& field : item.value().items()) {
      if (field.key() != "username" && field.key() != "password") {
        return BadResponse(where + " has an unknown field");
      }
      if (field.value().is_null()) continue;
      if (!field.value().is_string()) {
        return BadResponse(where + ": " + field.key() + " must be a string");
      }
      (field.key() == "username" ? entry.username : entry.password) =
          field.value().get<std::string>();
    }
    response.auth.push_back(std::move(entry));
  }
  return response;
}

std::vector<CredentialProviders::Match> MatchingProviders(const CredentialProviderConfig& config,
                                                          const image::Reference& ref) {
  std::vector<CredentialProviders::Match> matches;
  const std::string image = ref.Repository();
  for (const ProviderConfig& provider : config.providers) {
    for (const std::string& pattern : provider.match_images) {
      if (PatternMatchesImage(pattern, image)) {
        matches.push_back({&provider, pattern});
        break;
      }
    }
  }
  return matches;
}

// ---- the runtime: cache and in-flight table per provider ----

struct CredentialProviders::Runtime {
  struct CacheEntry {
    DockerKeyring keyring;
    TimePoint expires_at;
  };
  struct PerProvider {
    std::map<std::string, CacheEntry> cache;
    // Runs under way, by image repository; followers wait on the leader's result.
    std::map<std::string, std::shared_future<Result<DockerKeyring>>> in_flight;
    TimePoint last_purge;
  };

  std::mutex mutex;
  std::vector<PerProvider> providers;  // parallel to config_.providers
  std::atomic<int64_t> exec_count{0};
};

CredentialProviders::CredentialProviders(CredentialProviderConfig config,
                                         CredentialProvidersOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      runtime_(std::make_unique<Runtime>()) {
  runtime_->providers.resize(config_.providers.size());
  for (auto& state : runtime_->providers) state.last_purge = options_.now();
}

CredentialProviders::~CredentialProviders() = default;

Result<std::unique_ptr<CredentialProviders>> CredentialProviders::Create(
    CredentialProviderConfig config, CredentialProvidersOptions options) {
  if (Status valid = ValidateCredentialProviderConfig(config); !valid.ok()) return valid.error();
  struct stat info {};
  if (::stat(options.bin_dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return Error(ErrorCode::kNotFound,
                 "credential provider bin dir " + Quoted(options.bin_dir) + " is not a folder");
  }
  for (const ProviderConfig& provider : config.providers) {
    const std::string path = options.bin_dir + "/" + provider.name;
    if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      return Error(ErrorCode::kNotFound, "credential provider " + Quoted(provider.name) +
                                             ": plugin executable " + path + " not found");
    }
    if (::access(path.c_str(), X_OK) != 0) {
      return Error(ErrorCode::kInvalidArgument, "credential provider " + Quoted(provider.name) +
                                                    ": " + path + " is not executable");
    }
  }
  if (!options.now)
    options.now = [] {
      return std::chrono::steady_clock::now();
    };
  return std::unique_ptr<CredentialProviders>(
      new CredentialProviders(std::move(config), std::move(options)));
}

std::vector<CredentialProviders::Match> CredentialProviders::Matching(
    const image::Reference& ref) const {
  return MatchingProviders(config_, ref);
}

int64_t CredentialProviders::exec_count() const {
  return runtime_->exec_count.load();
}

namespace {

// Runs one plugin for one image and turns its answer into a keyring; also returns the
// response's caching instructions.
struct ExecOutcome {
  DockerKeyring keyring;
  ProviderResponse::CacheKeyType key_type = ProviderResponse::CacheKeyType::kImage;
  std::optional<std::chrono::nanoseconds> duration;
};

Result<ExecOutcome> ExecProvider(const ProviderConfig& provider, const std::string& bin_dir,
                                 std::chrono::milliseconds timeout, const std::string& image) {
  const std::string context =
      "credential provider " + Quoted(provider.name) + " for image " + image;
  SubprocessSpec spec;
  spec.path = bin_dir + "/" + provider.name;
  spec.args = provider.args;
  for (const ProviderEnvVar& var : provider.env) spec.env.emplace_back(var.name, var.value);
  spec.stdin_data = ProviderRequestJson(provider.api_version, image);
  spec.timeout = timeout;

  Result<SubprocessResult> run = RunSubprocess(spec);
  if (!run.ok())
    return Error(run.error().code(), context + ": cannot start: " + run.error().message());
  const SubprocessResult& result = *run;
  if (result.timed_out) {
    return Error(ErrorCode::kTimeout, context + ": no answer within " + DescribeDuration(timeout) +
                                          "; its process group was killed" +
                                          StderrSuffix(result.stderr_data));
  }
  if (result.term_signal != 0) {
    return Error(ErrorCode::kIo, context + ": killed by signal " + SignalName(result.term_signal) +
                                     StderrSuffix(result.stderr_data));
  }
  if (result.exit_code != 0) {
    return Error(ErrorCode::kIo, context + ": exited with status " +
                                     std::to_string(result.exit_code) +
                                     StderrSuffix(result.stderr_data));
  }
  if (result.stdout_truncated) {
    return Error(
        ErrorCode::kInvalidArgument,
        context + ": wrote more than " + std::to_string(spec.max_stdout) + " bytes on stdout");
  }
  Result<ProviderResponse> response =
      ParseProviderResponse(result.stdout_data, provider.api_version);
  if (!response.ok()) return std::move(response).error().Wrap(context);

  ExecOutcome outcome;
  outcome.key_type = response->cache_key_type;
  outcome.duration = response->cache_duration;
  for (ProviderResponse::Auth& entry : response->auth) {
    AuthConfig auth;
    auth.username = std::move(entry.username);
    auth.password = std::move(entry.password);
    auth.source = "credential provider " + provider.name;
    auth.origin = CredentialOrigin::kProvider;
    outcome.keyring.AddEntry(entry.pattern, std::move(auth));
  }
  return outcome;
}

}  // namespace

ProviderAnswer CredentialProviders::Provide(const image::Reference& ref) {
  ProviderAnswer answer;
  const std::string image = ref.Repository();
  for (size_t i = 0; i < config_.providers.size(); ++i) {
    const ProviderConfig& provider = config_.providers[i];
    bool matched = false;
    for (const std::string& pattern : provider.match_images) {
      matched = matched || PatternMatchesImage(pattern, image);
    }
    if (!matched) continue;
    answer.matched_providers.push_back(provider.name);

    Result<DockerKeyring> keyring = ProvideOne(i, ref);
    if (keyring.ok()) {
      answer.keyring.Add(*keyring);
    } else {
      answer.problems.push_back(keyring.error());
    }
  }
  return answer;
}

Result<DockerKeyring> CredentialProviders::ProvideOne(size_t index, const image::Reference& ref) {
  const ProviderConfig& provider = config_.providers[index];
  Runtime::PerProvider& state = runtime_->providers[index];
  const std::string image = ref.Repository();

  std::promise<Result<DockerKeyring>> promise;
  {
    std::unique_lock<std::mutex> lock(runtime_->mutex);
    const TimePoint now = options_.now();
    if (now - state.last_purge > kCachePurgeInterval) {
      for (auto it = state.cache.begin(); it != state.cache.end();) {
        it = now > it->second.expires_at ? state.cache.erase(it) : std::next(it);
      }
      state.last_purge = now;
    }
    for (const std::string& key : {ImageKey(ref), RegistryKey(ref), kGlobalKey}) {
      auto hit = state.cache.find(key);
      if (hit == state.cache.end()) continue;
      if (now > hit->second.expires_at) {
        state.cache.erase(hit);
        continue;
      }
      return hit->second.keyring;
    }
    if (auto running = state.in_flight.find(image); running != state.in_flight.end()) {
      std::shared_future<Result<DockerKeyring>> shared = running->second;
      lock.unlock();
      return shared.get();
    }
    state.in_flight.emplace(image, promise.get_future().share());
  }

  // This caller leads: run the plugin outside the lock.
  runtime_->exec_count.fetch_add(1);
  const auto started = std::chrono::steady_clock::now();
  Result<ExecOutcome> outcome =
      ExecProvider(provider, options_.bin_dir, options_.exec_timeout, image);
  if (options_.on_run) {
    options_.on_run(
        provider.name,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
        outcome.ok());
  }
  Result<DockerKeyring> result = outcome.ok() ? Result<DockerKeyring>(outcome->keyring)
                                              : Result<DockerKeyring>(outcome.error());
  {
    std::lock_guard<std::mutex> lock(runtime_->mutex);
    if (outcome.ok()) {
      // A zero duration (given, or the default when none is given) caches nothing.
      const std::chrono::nanoseconds duration =
          outcome->duration.value_or(provider.default_cache_duration);
      if (duration.count() > 0) {
        std::string key = kGlobalKey;
        if (outcome->key_type == ProviderResponse::CacheKeyType::kImage) key = ImageKey(ref);
        if (outcome->key_type == ProviderResponse::CacheKeyType::kRegistry) key = RegistryKey(ref);
        const TimePoint expires =
            options_.now() +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(duration);
        state.cache[key] = Runtime::CacheEntry{outcome->keyring, expires};
      }
    }
    state.in_flight.erase(image);
  }
  promise.set_value(result);
  return result;
}

}  // namespace pullfleet::credentials
