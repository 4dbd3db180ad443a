#include "image/reference.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>

namespace pullfleet::image {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialRepoPrefix = "library/";
constexpr std::string_view kDefaultTag = "latest";
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsAlnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool IsAlpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsHex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}
bool IsLowerHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f');
}
bool IsWordChar(char c) {
  return IsAlnum(c) || c == '_';
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Quotes `s` like Go's %q for the characters that matter in a one-line message.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := "." | "_" | "__" | "-"+
bool IsPathComponent(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  if (n == 0 || !IsLowerAlnum(s[0])) return false;
  while (true) {
    while (i < n && IsLowerAlnum(s[i])) ++i;
    if (i == n) return true;
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < n && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (i == n || !IsLowerAlnum(s[i])) return false;
  }
}

// remote-name := path-component ("/" path-component)*
bool IsRemoteName(std::string_view s) {
  while (true) {
    const size_t slash = s.find('/');
    if (!IsPathComponent(s.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    s.remove_prefix(slash + 1);
  }
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool IsDomainComponent(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

bool IsDomainName(std::string_view s) {
  while (true) {
    const size_t dot = s.find('.');
    if (!IsDomainComponent(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

// domain := host [":" port], host := domain-name | "[" [a-fA-F0-9:]+ "]"
bool IsDomain(std::string_view s) {
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    const std::string_view inside = s.substr(1, close - 1);
    if (!std::all_of(inside.begin(), inside.end(), [](char c) { return IsHex(c) || c == ':'; })) {
      return false;
    }
    port = s.substr(close + 1);
  } else {
    const size_t colon = s.find(':');
    if (!IsDomainName(s.substr(0, colon))) return false;
    port = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
  }
  if (port.empty()) return true;
  return port.size() > 1 && port[0] == ':' &&
         std::all_of(port.begin() + 1, port.end(), [](char c) { return IsDigit(c); });
}

// tag := [\w][\w.-]{0,127}
bool IsTag(std::string_view s) {
  if (s.empty() || s.size() > kMaxTagLength || !IsWordChar(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsWordChar(c) || c == '.' || c == '-'; });
}

// digest := algorithm ":" hex{32,}; algorithm := component ([-_+.] component)*,
// component := [A-Za-z][A-Za-z0-9]*
bool IsDigestSyntax(std::string_view s) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view algorithm = s.substr(0, colon);
  const std::string_view hex = s.substr(colon + 1);
  if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), IsHex)) return false;
  size_t i = 0;
  while (true) {
    if (i >= algorithm.size() || !IsAlpha(algorithm[i])) return false;
    while (i < algorithm.size() && IsAlnum(algorithm[i])) ++i;
    if (i == algorithm.size()) return true;
    const char sep = algorithm[i];
    if (sep != '-' && sep != '_' && sep != '+' && sep != '.') return false;
    ++i;
  }
}

// The looser digest syntax of go-digest, which decides between "unsupported algorithm" and
// "invalid format" for algorithms it does not know: [a-z0-9]+([.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+
bool IsGoDigestSyntax(std::string_view s) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view algorithm = s.substr(0, colon);
  const std::string_view encoded = s.substr(colon + 1);
  if (encoded.empty()) return false;
  for (char c : encoded) {
    if (!IsAlnum(c) && c != '=' && c != '_' && c != '-') return false;
  }
  bool previous_was_separator = true;
  for (char c : algorithm) {
    const bool separator = c == '.' || c == '+' || c == '_' || c == '-';
    if (separator && previous_was_separator) return false;
    if (!separator && !IsLowerAlnum(c)) return false;
    previous_was_separator = separator;
  }
  return !previous_was_separator;
}

// Checks a syntactically valid digest the way go-digest's Validate does: a registered
// algorithm, the algorithm's hex length, lowercase hex. Returns an error text or nullopt.
std::optional<std::string> ValidateDigest(std::string_view digest) {
  const size_t colon = digest.find(':');
  const std::string_view algorithm = digest.substr(0, colon);
  const std::string_view encoded = digest.substr(colon + 1);
  size_t hex_length = 0;
  if (algorithm == "sha256") {
    hex_length = 64;
  } else if (algorithm == "sha384") {
    hex_length = 96;
  } else if (algorithm == "sha512") {
    hex_length = 128;
  } else if (IsGoDigestSyntax(digest)) {
    return "unsupported digest algorithm " + Quote(algorithm) +
           " (supported: sha256, sha384, sha512)";
  } else {
    return "invalid checksum digest format";
  }
  if (encoded.size() != hex_length) {
    return "invalid checksum digest length: " + std::string(algorithm) + " needs " +
           std::to_string(hex_length) + " hex characters, got " + std::to_string(encoded.size());
  }
  if (!std::all_of(encoded.begin(), encoded.end(), IsLowerHex)) {
    return "invalid checksum digest format: " + std::string(algorithm) +
           " digest must be lowercase hex";
  }
  return std::nullopt;
}

// The parts of a string that matches distribution's anchored reference grammar.
struct Parts {
  std::string_view domain;  // empty when the first component is not a valid domain
  std::string_view path;
  std::string_view tag;
  std::string_view digest;
};

// Matches name [":" tag] ["@" digest]. The grammar is unambiguous: a digest holds no '@', a
// tag holds neither '/' nor ':', and a ':' before the last '/' can only be a port.
std::optional<Parts> MatchReference(std::string_view s) {
  Parts parts;
  std::string_view name = s;
  if (const size_t at = s.find('@'); at != std::string_view::npos) {
    parts.digest = s.substr(at + 1);
    name = s.substr(0, at);
    if (!IsDigestSyntax(parts.digest)) return std::nullopt;
  }
  if (const size_t colon = name.rfind(':');
      colon != std::string_view::npos && name.find('/', colon) == std::string_view::npos) {
    parts.tag = name.substr(colon + 1);
    name = name.substr(0, colon);
    if (!IsTag(parts.tag)) return std::nullopt;
  }
  if (const size_t slash = name.find('/'); slash != std::string_view::npos &&
                                           IsDomain(name.substr(0, slash)) &&
                                           IsRemoteName(name.substr(slash + 1))) {
    parts.domain = name.substr(0, slash);
    parts.path = name.substr(slash + 1);
    return parts;
  }
  if (!IsRemoteName(name)) return std::nullopt;
  parts.path = name;
  return parts;
}

bool IsIdentifier(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), IsLowerHex);
}

// Splits a familiar name into domain and remainder the way Docker does: the first component
// is a registry only if it is "localhost", or holds a '.' or ':', or has uppercase letters
// (which a repository path may not have); otherwise the image is on Docker Hub, where
// single-component names live under "library/".
std::pair<std::string, std::string> SplitDockerDomain(std::string_view name) {
  std::string domain;
  std::string remainder;
  const size_t slash = name.find('/');
  if (slash == std::string_view::npos) {
    return {std::string(kDefaultDomain), std::string(kOfficialRepoPrefix) + std::string(name)};
  }
  const std::string_view first = name.substr(0, slash);
  const std::string_view rest = name.substr(slash + 1);
  if (first == "localhost") {
    domain = first;
    remainder = rest;
  } else if (first == kLegacyDefaultDomain) {
    domain = kDefaultDomain;
    remainder = rest;
  } else if (first.find_first_of(".:") != std::string_view::npos || ToLower(first) != first) {
    domain = first;
    remainder = rest;
  } else {
    domain = kDefaultDomain;
    remainder = name;
  }
  if (domain == kDefaultDomain && remainder.find('/') == std::string::npos) {
    remainder.insert(0, kOfficialRepoPrefix);
  }
  return {domain, remainder};
}

Error InvalidName(std::string_view text, std::string_view what) {
  return Error(ErrorCode::kInvalidArgument,
               "couldn't parse image name " + Quote(text) + ": " + std::string(what));
}

}  // namespace

std::string Reference::Repository() const {
  if (domain.empty()) return path;
  return domain + "/" + path;
}

std::string Reference::Normalized() const {
  std::string out = Repository();
  if (tag.empty() && digest.empty()) return out + ":" + std::string(kDefaultTag);
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string Reference::Familiar() const {
  std::string name;
  if (domain == kDefaultDomain) {
    name = path;
    const std::string_view view = path;
    if (view.substr(0, kOfficialRepoPrefix.size()) == kOfficialRepoPrefix &&
        view.find('/', kOfficialRepoPrefix.size()) == std::string_view::npos) {
      name = path.substr(kOfficialRepoPrefix.size());
    }
  } else {
    name = Repository();
  }
  if (!tag.empty()) name += ":" + tag;
  if (!digest.empty()) name += "@" + digest;
  return name;
}

std::string Reference::ManifestReference() const {
  if (!digest.empty()) return digest;
  if (!tag.empty()) return tag;
  return std::string(kDefaultTag);
}

Result<Reference> ParseReference(std::string_view text) {
  if (IsIdentifier(text)) {
    return InvalidName(text, "invalid repository name (" + std::string(text) +
                                 "), cannot specify 64-byte hexadecimal strings");
  }

  // Docker's check, made before the grammar: the path up to the tag must be lowercase.
  auto [domain, remainder] = SplitDockerDomain(text);
  const std::string remote = remainder.substr(0, remainder.find(':'));
  if (ToLower(remote) != remote) {
    return InvalidName(
        text, "invalid reference format: repository name (" + remote + ") must be lowercase");
  }

  const std::string full = domain + "/" + remainder;
  const std::optional<Parts> parts = MatchReference(full);
  if (!parts) {
    const std::string lower = ToLower(full);
    if (lower != full && MatchReference(lower)) {
      return InvalidName(text, "invalid reference format: repository name must be lowercase");
    }
    return InvalidName(text, "invalid reference format");
  }

  // Deliberate difference from distribution: a first component such as "my_host.com" is
  // neither a valid host nor, to distribution, an error (it silently becomes part of a
  // domain-less path). A reference without a registry cannot be pulled, so reject it.
  if (parts->domain.empty()) {
    return InvalidName(
        text, "invalid reference format: registry host (" + domain + ") is not a valid host name");
  }
  if (parts->path.size() > kMaxRepositoryPathLength) {
    return InvalidName(text, "repository name must not be more than " +
                                 std::to_string(kMaxRepositoryPathLength) + " characters (" +
                                 std::to_string(parts->path.size()) + " given)");
  }
  if (!parts->digest.empty()) {
    if (std::optional<std::string> problem = ValidateDigest(parts->digest)) {
      return InvalidName(text, *problem);
    }
  }

  Reference ref;
  ref.domain = std::string(parts->domain);
  ref.path = std::string(parts->path);
  ref.tag = std::string(parts->tag);
  ref.digest = std::string(parts->digest);
  return ref;
}

}  // namespace pullfleet::image
