#include "credentials/docker_keyring.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

#include "common/base64.h"

namespace pullfleet::credentials {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kDockerHubDomain = "docker.io";
constexpr std::string_view kLegacyDockerHubKey = "index.docker.io";

// ---- URLs, as Go's url.Parse("https://" + key) and net.SplitHostPort see them ----

struct SchemelessUrl {
  std::string host;  // may carry ":port"
  std::string path;  // "" or "/..."
};

bool IsHostChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::strchr("-._~!$&'()*+,;=:[]<>\"%", c) != nullptr;
}

std::optional<SchemelessUrl> ParseSchemeless(std::string_view text, std::string* problem) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      *problem = "contains a control character";
      return std::nullopt;
    }
  }
  text = text.substr(0, text.find('#'));
  text = text.substr(0, text.find('?'));
  const size_t slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  SchemelessUrl url;
  url.path = slash == std::string_view::npos ? "" : std::string(text.substr(slash));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // user information is never part of the match
  }
  if (authority.empty()) {
    *problem = "has no host";
    return std::nullopt;
  }
  if (!std::all_of(authority.begin(), authority.end(), IsHostChar)) {
    *problem = "has an invalid character in its host";
    return std::nullopt;
  }
  std::string_view port;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *problem = "has an unclosed '[' in its host";
      return std::nullopt;
    }
    port = authority.substr(close + 1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    port = authority.substr(colon);
  }
  if (!port.empty() && (port[0] != ':' || !std::all_of(port.begin() + 1, port.end(), [](char c) {
                          return c >= '0' && c <= '9';
                        }))) {
    *problem = "has an invalid port";
    return std::nullopt;
  }
  url.host = std::string(authority);
  return url;
}

// net.SplitHostPort, falling back to (whole host, no port) on any error as the kubelet does.
std::pair<std::string, std::string> SplitHostPort(const std::string& host) {
  const std::pair<std::string, std::string> whole{host, ""};
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    if (close == std::string::npos || close + 1 >= host.size() || host[close + 1] != ':') {
      return whole;
    }
    return {host.substr(1, close - 1), host.substr(close + 2)};
  }
  const size_t colon = host.rfind(':');
  if (colon == std::string::npos) return whole;
  const std::string name = host.substr(0, colon);
  if (name.find_first_of(":[]") != std::string::npos) return whole;
  return {name, host.substr(colon + 1)};
}

std::vector<std::string> SplitLabels(const std::string& host) {
  std::vector<std::string> labels;
  size_t start = 0;
  while (true) {
    const size_t dot = host.find('.', start);
    labels.push_back(host.substr(start, dot - start));
    if (dot == std::string::npos) return labels;
    start = dot + 1;
  }
}

// ---- Go's filepath.Match for one host label ----

// Reads one possibly escaped class character; nullopt when the pattern is malformed there.
std::optional<char> ClassChar(std::string_view p, size_t& i) {
  if (i >= p.size() || p[i] == '-' || p[i] == ']') return std::nullopt;
  if (p[i] == '\\') {
    ++i;
    if (i >= p.size()) return std::nullopt;
  }
  return p[i++];
}

struct CharClass {
  bool negated = false;
  std::vector<std::pair<char, char>> ranges;
  size_t end = 0;  // index just past ']'
};

// Parses "[...]" starting at p[start] == '['.
std::optional<CharClass> ParseClass(std::string_view p, size_t start) {
  CharClass cls;
  size_t i = start + 1;
  if (i < p.size() && p[i] == '^') {
    cls.negated = true;
    ++i;
  }
  while (true) {
    if (i < p.size() && p[i] == ']' && !cls.ranges.empty()) {
      cls.end = i + 1;
      return cls;
    }
    std::optional<char> lo = ClassChar(p, i);
    if (!lo) return std::nullopt;
    char hi = *lo;
    if (i < p.size() && p[i] == '-') {
      ++i;
      std::optional<char> h = ClassChar(p, i);
      if (!h) return std::nullopt;
      hi = *h;
    }
    cls.ranges.emplace_back(*lo, hi);
  }
}

bool IsValidGlob(std::string_view p) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      if (++i >= p.size()) return false;
    } else if (p[i] == '[') {
      std::optional<CharClass> cls = ParseClass(p, i);
      if (!cls) return false;
      i = cls->end - 1;
    }
  }
  return true;
}

bool GlobMatch(std::string_view p, std::string_view s) {
  while (!p.empty()) {
    switch (p[0]) {
      case '*': {
        while (!p.empty() && p[0] == '*') p.remove_prefix(1);
        for (size_t i = 0; i <= s.size(); ++i) {
          if (GlobMatch(p, s.substr(i))) return true;
        }
        return false;
      }
      case '?':
        if (s.empty()) return false;
        break;
      case '[': {
        const CharClass cls = *ParseClass(p, 0);  // validated before matching
        if (s.empty()) return false;
        bool in = false;
        for (const auto& [lo, hi] : cls.ranges) in = in || (lo <= s[0] && s[0] <= hi);
        if (in == cls.negated) return false;
        p.remove_prefix(cls.end);
        s.remove_prefix(1);
        continue;
      }
      case '\\':
        p.remove_prefix(1);
        [[fallthrough]];
      default:
        if (s.empty() || s[0] != p[0]) return false;
    }
    p.remove_prefix(1);
    s.remove_prefix(1);
  }
  return s.empty();
}

bool LabelMatches(const std::string& pattern, const std::string& label) {
  return IsValidGlob(pattern) && GlobMatch(pattern, label);
}

// ---- JSON helpers ----

std::string Quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// A key for messages, with any user information ("user:pass@host") hidden.
std::string DisplayKey(std::string_view key) {
  std::string_view rest = key;
  std::string prefix;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (rest.substr(0, scheme.size()) == scheme) {
      prefix = scheme;
      rest.remove_prefix(scheme.size());
    }
  }
  const size_t slash = rest.find('/');
  const size_t at = rest.substr(0, slash).rfind('@');
  if (at == std::string_view::npos) return Quoted(key);
  return Quoted(prefix + "<redacted>" + std::string(rest.substr(at)));
}

Error Invalid(std::string_view source, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, std::string(source) + ": " + what);
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

Result<AuthConfig> ReadEntry(const Json& value, const std::string& key, std::string_view source) {
  const std::string where = "entry " + DisplayKey(key);
  if (!value.is_object()) return Invalid(source, where + " must be a JSON object");
  std::map<std::string, std::string> fields;
  for (const char* name : {"username", "password", "email", "auth"}) {
    auto it = value.find(name);
    if (it == value.end() || it->is_null()) continue;
    if (!it->is_string()) {
      return Invalid(source, where + ": field \"" + name + "\" must be a string");
    }
    fields[name] = it->get<std::string>();
  }
  AuthConfig auth;
  auth.username = fields["username"];
  auth.password = fields["password"];
  const std::string& encoded = fields["auth"];
  if (!encoded.empty()) {
    std::optional<std::string> decoded = Base64DecodeLikeGo(encoded);
    if (!decoded) return Invalid(source, where + ": field \"auth\" is not valid base64");
    const size_t colon = decoded->find(':');
    if (colon == std::string::npos) {
      return Invalid(source,
                     where + ": field \"auth\" must be formatted as base64(username:password)");
    }
    auth.username = decoded->substr(0, colon);
    auth.password = decoded->substr(colon + 1);
  }
  return auth;
}

// Top-level keys of a Docker CLI config.json other than "auths": a document with any of them
// is a config.json, not a legacy .dockercfg whose top-level keys are registries.
bool IsConfigJsonKey(const std::string& key) {
  static const std::set<std::string> kKeys = {
      "auths",        "credsStore", "credHelpers",  "HttpHeaders",       "psFormat",
      "imagesFormat", "detachKeys", "experimental", "proxies",           "currentContext",
      "plugins",      "aliases",    "features",     "stackOrchestrator", "kubernetes"};
  return kKeys.count(key) > 0;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const AuthConfig& auth) {
  return out << "AuthConfig{key=" << auth.matched_key << ", source=" << auth.source
             << ", username=" << auth.username << ", password=<redacted>}";
}

Result<std::string> NormalizeKey(std::string_view key) {
  std::string_view rest = key;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (rest.substr(0, scheme.size()) == scheme) {
      rest.remove_prefix(scheme.size());
      break;
    }
  }
  std::string problem;
  std::optional<SchemelessUrl> url = ParseSchemeless(rest, &problem);
  if (!url) {
    return Error(ErrorCode::kInvalidArgument, "registry key " + DisplayKey(key) + " " + problem);
  }
  // "/v1/" and "/v2/" name the API, not a repository: Docker treats them as the bare host.
  std::string path = url->path;
  if (path.rfind("/v1/", 0) == 0 || path.rfind("/v2/", 0) == 0) path = path.substr(3);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return url->host + path;
}

bool KeyMatchesImage(std::string_view pattern, std::string_view image_target) {
  std::string ignored;
  std::optional<SchemelessUrl> glob = ParseSchemeless(pattern, &ignored);
  std::optional<SchemelessUrl> target = ParseSchemeless(image_target, &ignored);
  if (!glob || !target) return false;

  const auto [glob_host, glob_port] = SplitHostPort(glob->host);
  const auto [target_host, target_port] = SplitHostPort(target->host);
  if (glob_port != target_port) return false;
  const std::vector<std::string> glob_labels = SplitLabels(glob_host);
  const std::vector<std::string> target_labels = SplitLabels(target_host);
  if (glob_labels.size() != target_labels.size()) return false;

  // Deliberate difference from the kubelet, which compares paths as plain string prefixes
  // (so its key "registry.io/foo" also matches "registry.io/foobar"): pullfleet requires whole
  // path components, so one team's credential never goes to another team's repository.
  std::string glob_path = glob->path;
  while (!glob_path.empty() && glob_path.back() == '/') glob_path.pop_back();
  const std::string& target_path = target->path;
  if (!glob_path.empty() && target_path != glob_path &&
      target_path.rfind(glob_path + "/", 0) != 0) {
    return false;
  }

  for (size_t i = 0; i < glob_labels.size(); ++i) {
    if (!LabelMatches(glob_labels[i], target_labels[i])) return false;
  }
  return true;
}

Result<DockerKeyring> DockerKeyring::FromJson(std::string_view json_text, std::string_view source) {
  Json document;
  try {
    document = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::parse_error& e) {
    // The library's own message quotes the text it read, which may be a password: only the
    // position is reported.
    return Invalid(source, "invalid JSON at " + LineAndColumn(json_text, e.byte));
  } catch (const Json::exception&) {
    return Invalid(source, "invalid JSON");
  }
  if (!document.is_object()) {
    return Invalid(source, std::string("expected a JSON object, got ") + document.type_name());
  }

  // config.json keeps registries under "auths"; the legacy .dockercfg has them at the top.
  const Json* registries = &document;
  bool config_json = false;
  for (const auto& item : document.items())
    config_json = config_json || IsConfigJsonKey(item.key());
  static const Json kEmpty = Json::object();
  if (config_json) {
    auto it = document.find("auths");
    if (it == document.end() || it->is_null()) {
      registries = &kEmpty;
    } else if (!it->is_object()) {
      return Invalid(source, "\"auths\" must be a JSON object");
    } else {
      registries = &*it;
    }
  }

  DockerKeyring keyring;
  for (const auto& item : registries->items()) {
    Result<AuthConfig> auth = ReadEntry(item.value(), item.key(), source);
    if (!auth.ok()) return std::move(auth).error();
    Result<std::string> key = NormalizeKey(item.key());
    if (!key.ok()) {
      // The kubelet logs and skips such entries; the rest of the file still counts.
      keyring.warnings_.push_back(std::string(source) + ": ignoring " + key.error().message());
      continue;
    }
    Entry entry;
    entry.key = *key;
    entry.auth = std::move(*auth);
    entry.auth.matched_key = entry.key;
    entry.auth.source = std::string(source);
    keyring.entries_.push_back(std::move(entry));
  }
  return keyring;
}

Result<DockerKeyring> DockerKeyring::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kIo, "read docker config " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error(ErrorCode::kIo, "read docker config " + path + ": read failed");
  return FromJson(text.str(), "docker config " + path);
}

void DockerKeyring::AddEntry(std::string_view key, AuthConfig auth) {
  Result<std::string> normalized = NormalizeKey(key);
  if (!normalized.ok()) {
    warnings_.push_back(auth.source + ": ignoring " + normalized.error().message());
    return;
  }
  Entry entry;
  entry.key = *normalized;
  entry.auth = std::move(auth);
  entry.auth.matched_key = entry.key;
  entry.group = LastGroup();
  entries_.push_back(std::move(entry));
}

void DockerKeyring::SetOrigin(CredentialOrigin origin, const SecretCoordinates& secret) {
  for (Entry& entry : entries_) {
    entry.auth.origin = origin;
    entry.auth.secret = secret;
  }
}

int DockerKeyring::LastGroup() const {
  int last = 0;
  for (const Entry& entry : entries_) last = std::max(last, entry.group);
  return last;
}

void DockerKeyring::Merge(const DockerKeyring& other) {
  const int offset = entries_.empty() ? 0 : LastGroup() + 1;
  for (Entry entry : other.entries_) {
    entry.group += offset;
    entries_.push_back(std::move(entry));
  }
  warnings_.insert(warnings_.end(), other.warnings_.begin(), other.warnings_.end());
}

void DockerKeyring::Add(const DockerKeyring& other) {
  const int group = LastGroup();
  for (Entry entry : other.entries_) {
    entry.group = group;
    entries_.push_back(std::move(entry));
  }
  warnings_.insert(warnings_.end(), other.warnings_.begin(), other.warnings_.end());
}

std::vector<AuthConfig> DockerKeyring::Lookup(const image::Reference& ref) const {
  const std::string target = ref.Repository();
  // Deliberate difference: the kubelet also treats a first component without '.' or ':'
  // (such as "localhost") as Docker Hub here, which would send Hub credentials to localhost.
  const bool docker_hub = ref.domain == kDockerHubDomain || ref.domain == kLegacyDockerHubKey;

  std::set<int> groups;
  for (const Entry& entry : entries_) groups.insert(entry.group);

  std::vector<AuthConfig> found;
  for (int group : groups) {
    std::set<std::string, std::greater<>> keys;  // reverse lexicographic, as the kubelet sorts
    for (const Entry& entry : entries_) {
      if (entry.group == group) keys.insert(entry.key);
    }
    bool matched = false;
    for (const std::string& key : keys) {
      if (!KeyMatchesImage(key, target)) continue;
      matched = true;
      for (const Entry& entry : entries_) {
        if (entry.group == group && entry.key == key) found.push_back(entry.auth);
      }
    }
    if (!matched && docker_hub) {
      for (const Entry& entry : entries_) {
        if (entry.group == group && entry.key == kLegacyDockerHubKey) found.push_back(entry.auth);
      }
    }
  }
  return found;
}

}  // namespace pullfleet::credentials
