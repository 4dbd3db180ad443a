#include "credentials/provider_config.h"

#include <dirent.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "credentials/docker_keyring.h"

namespace pullfleet::credentials {
namespace {

const std::set<std::string>& ConfigGroupVersions() {
  static const std::set<std::string> kVersions = {"kubelet.config.k8s.io/v1",
                                                  "kubelet.config.k8s.io/v1beta1",
                                                  "kubelet.config.k8s.io/v1alpha1"};
  return kVersions;
}

const std::set<std::string>& ProviderApiVersions() {
  static const std::set<std::string> kVersions = {std::string(kProviderApiV1),
                                                  "credentialprovider.kubelet.k8s.io/v1beta1",
                                                  "credentialprovider.kubelet.k8s.io/v1alpha1"};
  return kVersions;
}

std::string Quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string JoinQuoted(const std::set<std::string>& values) {
  std::string out;
  for (const std::string& v : values) out += (out.empty() ? "" : ", ") + Quoted(v);
  return out;
}

// Decoding context: where we are, for messages ("FILE: providers[1] ("ecr"): ...").
struct Where {
  std::string source;
  std::string path;
  Error Fail(const std::string& what) const {
    return Error(ErrorCode::kInvalidArgument,
                 source + ": " + (path.empty() ? "" : path + ": ") + what);
  }
};

// A scalar field as a string; kInvalidArgument when it is a map or list.
Result<std::string> ScalarField(const YAML::Node& node, const std::string& field,
                                const Where& where) {
  if (!node.IsScalar()) return where.Fail(field + " must be a string");
  return node.Scalar();
}

Result<std::vector<std::string>> StringList(const YAML::Node& node, const std::string& field,
                                            const Where& where) {
  std::vector<std::string> out;
  if (!node || node.IsNull()) return out;
  if (!node.IsSequence()) return where.Fail(field + " must be a list of strings");
  for (size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) {
      return where.Fail(field + "[" + std::to_string(i) + "] must be a string");
    }
    out.push_back(node[i].Scalar());
  }
  return out;
}

// Strict decoding: every key of `map` must be one of `known`.
Status CheckKnownFields(const YAML::Node& map, const std::set<std::string>& known,
                        const Where& where) {
  for (const auto& item : map) {
    const std::string key = item.first.IsScalar() ? item.first.Scalar() : "";
    if (known.count(key) == 0) return where.Fail("unknown field " + Quoted(key));
  }
  return Status::Ok();
}

Result<std::vector<ProviderEnvVar>> EnvList(const YAML::Node& node, const Where& where) {
  std::vector<ProviderEnvVar> env;
  if (!node || node.IsNull()) return env;
  if (!node.IsSequence()) return where.Fail("env must be a list of {name, value}");
  for (size_t i = 0; i < node.size(); ++i) {
    Where item{where.source, where.path + ": env[" + std::to_string(i) + "]"};
    if (!node[i].IsMap()) return item.Fail("must be a map with name and value");
    if (Status known = CheckKnownFields(node[i], {"name", "value"}, item); !known.ok()) {
      return known.error();
    }
    ProviderEnvVar var;
    if (node[i]["name"]) {
      Result<std::string> name = ScalarField(node[i]["name"], "name", item);
      if (!name.ok()) return std::move(name).error();
      var.name = *name;
    }
    if (node[i]["value"]) {
      Result<std::string> value = ScalarField(node[i]["value"], "value", item);
      if (!value.ok()) return std::move(value).error();
      var.value = *value;
    }
    if (var.name.empty() || var.name.find('=') != std::string::npos) {
      return item.Fail("name must be a non-empty variable name without '='");
    }
    env.push_back(std::move(var));
  }
  return env;
}

Result<ProviderConfig> ParseProvider(const YAML::Node& node, Where where) {
  if (!node.IsMap()) return where.Fail("must be a map");
  ProviderConfig provider;
  provider.source = where.source;
  if (node["name"]) {
    Result<std::string> name = ScalarField(node["name"], "name", where);
    if (!name.ok()) return std::move(name).error();
    provider.name = *name;
    where.path += " (" + Quoted(provider.name) + ")";
  }
  if (Status known = CheckKnownFields(node,
                                      {"name", "matchImages", "defaultCacheDuration", "apiVersion",
                                       "args", "env", "tokenAttributes"},
                                      where);
      !known.ok()) {
    return known.error();
  }
  if (node["tokenAttributes"]) {
    return where.Fail("tokenAttributes (service account tokens for plugins) is not supported");
  }

  Result<std::vector<std::string>> match = StringList(node["matchImages"], "matchImages", where);
  if (!match.ok()) return std::move(match).error();
  provider.match_images = std::move(*match);
  Result<std::vector<std::string>> args = StringList(node["args"], "args", where);
  if (!args.ok()) return std::move(args).error();
  provider.args = std::move(*args);
  Result<std::vector<ProviderEnvVar>> env = EnvList(node["env"], where);
  if (!env.ok()) return std::move(env).error();
  provider.env = std::move(*env);

  if (!node["apiVersion"] || node["apiVersion"].IsNull()) {
    return where.Fail("apiVersion is required");
  }
  Result<std::string> api = ScalarField(node["apiVersion"], "apiVersion", where);
  if (!api.ok()) return std::move(api).error();
  provider.api_version = *api;

  if (!node["defaultCacheDuration"] || node["defaultCacheDuration"].IsNull()) {
    return where.Fail("defaultCacheDuration is required");
  }
  Result<std::string> duration_text =
      ScalarField(node["defaultCacheDuration"], "defaultCacheDuration", where);
  if (!duration_text.ok()) return std::move(duration_text).error();
  Result<std::chrono::nanoseconds> duration = ParseGoDuration(*duration_text);
  if (!duration.ok()) return where.Fail("defaultCacheDuration: " + duration.error().message());
  provider.default_cache_duration = *duration;
  return provider;
}

Status ValidateProvider(const ProviderConfig& provider, const Where& where) {
  const std::string& name = provider.name;
  if (name.empty()) return where.Fail("name is required");
  if (name.find('/') != std::string::npos) return where.Fail("name cannot contain '/'");
  if (name.find(' ') != std::string::npos) return where.Fail("name cannot contain spaces");
  if (name == "." || name == "..") return where.Fail("name cannot be " + Quoted(name));
  if (ProviderApiVersions().count(provider.api_version) == 0) {
    return where.Fail("apiVersion " + Quoted(provider.api_version) + " is not supported, want " +
                      JoinQuoted(ProviderApiVersions()));
  }
  if (provider.match_images.empty()) {
    return where.Fail("matchImages needs at least one entry");
  }
  for (const std::string& pattern : provider.match_images) {
    Result<std::string> normalized = NormalizeKey(pattern);
    if (!normalized.ok()) {
      return where.Fail("matchImages entry is invalid: " + normalized.error().message());
    }
  }
  if (provider.default_cache_duration.count() < 0) {
    return where.Fail("defaultCacheDuration must be greater than or equal to 0");
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kIo,
                 "read credential provider config " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool HasConfigExtension(const std::string& name) {
  for (std::string_view ext : {".json", ".yaml", ".yml"}) {
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      return true;
    }
  }
  return false;
}

// The config files of a folder, sorted by name (byte order, as Go's sort.Strings).
Result<std::vector<std::string>> ConfigFilesIn(const std::string& dir) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) {
    return Error(ErrorCode::kIo,
                 "read credential provider config folder " + dir + ": " + std::strerror(errno));
  }
  std::vector<std::string> files;
  while (dirent* entry = ::readdir(handle)) {
    const std::string name = entry->d_name;
    const std::string path = dir + "/" + name;
    struct stat info {};
    if (!HasConfigExtension(name) || ::stat(path.c_str(), &info) != 0 || S_ISDIR(info.st_mode)) {
      continue;
    }
    files.push_back(path);
  }
  ::closedir(handle);
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "credential provider config folder " + dir +
                     " has no configuration files (*.json, *.yaml, *.yml)");
  }
  return files;
}

}  // namespace

namespace {
Result<CredentialProviderConfig> ParseDocument(std::string_view text, std::string_view source);
}  // namespace

Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  const std::string original(text);
  auto invalid = [&] {
    return Error(ErrorCode::kInvalidArgument, "invalid duration " + Quoted(original));
  };
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.empty()) return invalid();
  static const std::pair<std::string_view, long double> kUnits[] = {
      {"ns", 1.0L}, {"us", 1e3L}, {"\xc2\xb5s", 1e3L}, {"\xce\xbcs", 1e3L},
      {"ms", 1e6L}, {"s", 1e9L},  {"m", 60e9L},        {"h", 3600e9L}};
  long double total = 0;
  while (!text.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i++] - '0');
      digits = true;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        value += (text[i++] - '0') * scale;
        scale /= 10;
        digits = true;
      }
    }
    if (!digits) return invalid();
    text.remove_prefix(i);
    size_t unit_length = 0;
    while (unit_length < text.size() && text[unit_length] != '.' &&
           !std::isdigit(static_cast<unsigned char>(text[unit_length]))) {
      ++unit_length;
    }
    const std::string_view unit = text.substr(0, unit_length);
    if (unit.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "missing unit in duration " + Quoted(original) + " (use s, m or h)");
    }
    long double factor = 0;
    for (const auto& [name, nanos] : kUnits) {
      if (unit == name) factor = nanos;
    }
    if (factor == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "unknown unit " + Quoted(unit) + " in duration " + Quoted(original));
    }
    total += value * factor;
    text.remove_prefix(unit_length);
  }
  if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) return invalid();
  const auto nanos = static_cast<int64_t>(std::llround(total));
  return std::chrono::nanoseconds(negative ? -nanos : nanos);
}

bool PatternMatchesImage(std::string_view pattern, std::string_view image) {
  Result<std::string> normalized = NormalizeKey(pattern);
  return normalized.ok() && KeyMatchesImage(*normalized, image);
}

Result<CredentialProviderConfig> ParseCredentialProviderConfig(std::string_view text,
                                                               std::string_view source) {
  // yaml-cpp throws on misuse of absent nodes; none may cross this boundary.
  try {
    return ParseDocument(text, source);
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(source) + ": cannot decode CredentialProviderConfig at line " +
                     std::to_string(e.mark.line + 1));
  }
}

namespace {

Result<CredentialProviderConfig> ParseDocument(std::string_view text, std::string_view source) {
  Where where{std::string(source), ""};
  YAML::Node document;
  try {
    document = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    // The mark is enough to find the mistake; the text itself (env values) is not echoed.
    return where.Fail("invalid YAML/JSON at line " + std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1));
  }
  if (!document.IsMap()) return where.Fail("expected a CredentialProviderConfig object");
  if (Status known = CheckKnownFields(document, {"apiVersion", "kind", "providers"}, where);
      !known.ok()) {
    return known.error();
  }
  const std::string kind =
      document["kind"] && document["kind"].IsScalar() ? document["kind"].Scalar() : std::string();
  if (kind != "CredentialProviderConfig") {
    return where.Fail("kind is " + Quoted(kind) + ", want \"CredentialProviderConfig\"");
  }
  const std::string api = document["apiVersion"] && document["apiVersion"].IsScalar()
                              ? document["apiVersion"].Scalar()
                              : std::string();
  if (ConfigGroupVersions().count(api) == 0) {
    return where.Fail("apiVersion " + Quoted(api) + " is not supported, want " +
                      JoinQuoted(ConfigGroupVersions()));
  }

  CredentialProviderConfig config;
  const YAML::Node providers = document["providers"];
  if (providers && !providers.IsNull() && !providers.IsSequence()) {
    return where.Fail("providers must be a list");
  }
  for (size_t i = 0; providers && providers.IsSequence() && i < providers.size(); ++i) {
    Result<ProviderConfig> provider =
        ParseProvider(providers[i], Where{where.source, "providers[" + std::to_string(i) + "]"});
    if (!provider.ok()) return std::move(provider).error();
    config.providers.push_back(std::move(*provider));
  }
  return config;
}

}  // namespace

Result<CredentialProviderConfig> LoadCredentialProviderConfig(const std::string& path) {
  struct stat info {};
  if (path.empty()) {
    return Error(ErrorCode::kInvalidArgument, "credential provider config path is empty");
  }
  if (::stat(path.c_str(), &info) != 0) {
    return Error(ErrorCode::kIo,
                 "credential provider config " + path + ": " + std::strerror(errno));
  }
  std::vector<std::string> files{path};
  if (S_ISDIR(info.st_mode)) {
    Result<std::vector<std::string>> listed = ConfigFilesIn(path);
    if (!listed.ok()) return std::move(listed).error();
    files = std::move(*listed);
  }

  CredentialProviderConfig merged;
  std::set<std::string> names;
  for (const std::string& file : files) {
    Result<std::string> text = ReadFile(file);
    if (!text.ok()) return std::move(text).error();
    Result<CredentialProviderConfig> config = ParseCredentialProviderConfig(*text, file);
    if (!config.ok()) return std::move(config).error();
    for (ProviderConfig& provider : config->providers) {
      if (!names.insert(provider.name).second) {
        return Error(ErrorCode::kInvalidArgument,
                     file + ": duplicate provider name " + Quoted(provider.name) +
                         " (names must be unique over all config files)");
      }
      merged.providers.push_back(std::move(provider));
    }
  }

  if (merged.providers.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "credential provider config " + path + ": providers needs at least one entry");
  }
  if (Status valid = ValidateCredentialProviderConfig(merged); !valid.ok()) return valid.error();
  return merged;
}

Status ValidateCredentialProviderConfig(const CredentialProviderConfig& config) {
  if (config.providers.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "credential provider config: providers needs at least one entry");
  }
  std::set<std::string> names;
  for (const ProviderConfig& provider : config.providers) {
    Where where{provider.source, "provider " + Quoted(provider.name)};
    if (Status valid = ValidateProvider(provider, where); !valid.ok()) return valid;
    if (!names.insert(provider.name).second) return where.Fail("duplicate provider name");
  }
  return Status::Ok();
}

}  // namespace pullfleet::credentials
