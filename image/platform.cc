#include "image/platform.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <climits>

namespace pullfleet::image {
namespace {

std::string ToLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsKnownOs(const std::string& os) {
  static const char* const kKnown[] = {
      "aix",   "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
      "linux", "nacl",    "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos"};
  return std::find(std::begin(kKnown), std::end(kKnown), os) != std::end(kKnown);
}

bool IsKnownArch(const std::string& arch) {
  static const char* const kKnown[] = {
      "386",     "amd64",   "amd64p32", "arm",    "armbe",  "arm64",    "arm64be",   "ppc64",
      "ppc64le", "loong64", "mips",     "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le",
      "ppc",     "riscv",   "riscv64",  "s390",   "s390x",  "sparc",    "sparc64",   "wasm"};
  return std::find(std::begin(kKnown), std::end(kKnown), arch) != std::end(kKnown);
}

std::string NormalizeOs(std::string os) {
  if (os.empty()) return "linux";  // containerd uses the host's os; pullfleet runs on Linux
  os = ToLower(std::move(os));
  if (os == "macos") os = "darwin";
  return os;
}

void NormalizeArch(std::string& arch, std::string& variant) {
  arch = ToLower(std::move(arch));
  variant = ToLower(std::move(variant));
  if (arch == "i386") {
    arch = "386";
    variant.clear();
  } else if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
    arch = "amd64";
    if (variant == "v1") variant.clear();
  } else if (arch == "aarch64" || arch == "arm64") {
    arch = "arm64";
    if (variant == "8" || variant == "v8") variant.clear();
  } else if (arch == "armhf") {
    arch = "arm";
    variant = "v7";
  } else if (arch == "armel") {
    arch = "arm";
    variant = "v6";
  } else if (arch == "arm") {
    if (variant.empty() || variant == "7") {
      variant = "v7";
    } else if (variant == "5" || variant == "6" || variant == "8") {
      variant = "v" + variant;
    }
  }
}

// Go's strconv.Atoi on digits only; nullopt for anything else.
std::optional<int> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 6) return std::nullopt;
  int value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<int> VariantNumber(std::string_view variant) {
  if (!variant.empty() && variant[0] == 'v') variant.remove_prefix(1);
  return ParseNumber(variant);
}

Platform With(const Platform& base, std::string arch, std::string variant) {
  return Platform{base.os, std::move(arch), std::move(variant)};
}

// containerd's platformVector: `platform` first, then what it also runs, best first.
void AppendVector(const Platform& platform, std::vector<Platform>& out) {
  out.push_back(platform);
  const std::string& arch = platform.architecture;
  if (arch == "amd64") {
    std::optional<int> level = VariantNumber(platform.variant);
    if (level && *level > 1) {
      for (int l = *level - 1; l >= 1; --l)
        out.push_back(With(platform, "amd64", "v" + std::to_string(l)));
    }
    out.push_back(With(platform, "386", ""));
  } else if (arch == "arm") {
    std::optional<int> version = VariantNumber(platform.variant);
    if (version && *version > 5) {
      for (int v = *version - 1; v >= 5; --v)
        out.push_back(With(platform, "arm", "v" + std::to_string(v)));
    }
  } else if (arch == "arm64") {
    std::string variant = platform.variant.empty() ? "v8" : platform.variant;
    const size_t dot = variant.find('.');
    const std::string major_text = variant.substr(0, dot);
    std::optional<int> major = VariantNumber(major_text);
    if (major && *major >= 8) {
      int minor = 0;
      // Like containerd, only a single-digit minor ("v8.2") is read.
      if (variant.size() == 4 && dot != std::string::npos) {
        if (std::optional<int> m = ParseNumber(variant.substr(dot + 1))) minor = *m;
      }
      int current_major = *major;
      auto name = [](int maj, int min) {
        return min == 0 ? "v" + std::to_string(maj)
                        : "v" + std::to_string(maj) + "." + std::to_string(min);
      };
      if (current_major == 9) {
        for (int m = minor - 1; m >= 0; --m) out.push_back(With(platform, "arm64", name(9, m)));
        // v9.0 branched from v8.5: v9.x runs what v8.(x+5) runs.
        minor += 5;
        current_major = 8;
        out.push_back(With(platform, "arm64", "v8." + std::to_string(minor)));
      }
      for (int m = minor - 1; m >= 0; --m) {
        out.push_back(With(platform, "arm64", name(current_major, m)));
      }
    }
    if (variant.rfind("v8.", 0) == 0 || variant.rfind("v9.", 0) == 0) variant = "v8";
    AppendVector(With(platform, "arm", variant), out);
  }
}

bool IsUnknown(const Platform& p) {
  return p.os == "unknown" || p.architecture == "unknown";
}

// The rank of `have` in `accepted` (0 = exact), or INT_MAX when it is not accepted.
int Rank(const std::vector<Platform>& accepted, const Platform& have) {
  if (IsUnknown(have)) return INT_MAX;
  const Platform normalized = Normalize(have);
  for (size_t i = 0; i < accepted.size(); ++i) {
    if (Normalize(accepted[i]) == normalized) return static_cast<int>(i);
  }
  return INT_MAX;
}

bool IsSpecifierPart(std::string_view part, bool allow_dot) {
  if (part.empty()) return false;
  return std::all_of(part.begin(), part.end(), [allow_dot](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
           (allow_dot && c == '.');
  });
}

Error BadPlatform(std::string_view text, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument,
               "invalid platform \"" + std::string(text) + "\": " + what);
}

std::string HostArchitecture(std::string& variant) {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__i386__)
  return "386";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  // Known shortcoming: containerd reads "CPU architecture" from /proc/cpuinfo; the compile
  // target's ARM level is used here, which is lower on a v7 kernel running a v6 build.
  variant = "v" + std::to_string(__ARM_ARCH);
  return "arm";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__loongarch64)
  return "loong64";
#else
  struct utsname name {};
  if (uname(&name) == 0 && name.machine[0] != '\0') return name.machine;
  return "amd64";
#endif
}

}  // namespace

std::string Platform::ToString() const {
  if (os.empty()) return "unknown";
  std::string out = os;
  if (!architecture.empty()) out += "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

bool Platform::operator==(const Platform& other) const {
  return os == other.os && architecture == other.architecture && variant == other.variant;
}

Platform Normalize(Platform platform) {
  platform.os = NormalizeOs(std::move(platform.os));
  NormalizeArch(platform.architecture, platform.variant);
  return platform;
}

Platform HostPlatform() {
  // Known shortcoming: on amd64 the newest containerd also detects the x86-64 micro-architecture
  // level (v2, v3, v4) from /proc/cpuinfo; pullfleet reports plain amd64 like containerd 1.x,
  // so an index offering only amd64/v2+ entries is not matched.
  Platform host;
  host.os = "linux";
  host.architecture = HostArchitecture(host.variant);
  return Normalize(host);
}

Result<Platform> ParsePlatform(std::string_view text) {
  if (text.find('*') != std::string_view::npos) {
    return BadPlatform(text, "wildcards are not supported");
  }
  std::vector<std::string_view> parts;
  std::string_view rest = text;
  while (true) {
    const size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (parts.size() > 3) {
    return BadPlatform(
        text, "expected os/arch[/variant], got " + std::to_string(parts.size()) + " components");
  }
  if (parts[0].find('(') != std::string_view::npos) {
    return BadPlatform(text, "os versions and features (\"os(version)\") are not supported");
  }
  if (!IsSpecifierPart(parts[0], false)) {
    return BadPlatform(
        text, "os component \"" + std::string(parts[0]) + "\" must be letters, digits, '_' or '-'");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (!IsSpecifierPart(parts[i], true)) {
      return BadPlatform(text, "component \"" + std::string(parts[i]) +
                                   "\" must be letters, digits, '.', '_' or '-'");
    }
  }

  Platform p;
  if (parts.size() == 1) {
    // One word: an os (on this machine's architecture) or else an architecture (on linux).
    const std::string os = NormalizeOs(std::string(parts[0]));
    if (IsKnownOs(os)) {
      const Platform host = HostPlatform();
      return Normalize(Platform{os, host.architecture, host.variant});
    }
    p.architecture = std::string(parts[0]);
    NormalizeArch(p.architecture, p.variant);
    if (!IsKnownArch(p.architecture)) {
      return BadPlatform(text, "unknown operating system or architecture");
    }
    p.os = "linux";
    return Normalize(p);
  }
  p.os = std::string(parts[0]);
  p.architecture = std::string(parts[1]);
  if (parts.size() == 3) p.variant = std::string(parts[2]);
  return Normalize(p);
}

std::vector<Platform> AcceptedPlatforms(const Platform& want) {
  std::vector<Platform> out;
  AppendVector(Normalize(want), out);
  return out;
}

bool Matches(const Platform& want, const Platform& have) {
  if (IsUnknown(want)) return false;
  return Rank(AcceptedPlatforms(want), have) != INT_MAX;
}

std::optional<size_t> BestMatch(const Platform& want, const std::vector<Platform>& candidates) {
  if (IsUnknown(want)) return std::nullopt;
  const std::vector<Platform> accepted = AcceptedPlatforms(want);
  std::optional<size_t> best;
  int best_rank = INT_MAX;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const int rank = Rank(accepted, candidates[i]);
    if (rank < best_rank) {
      best_rank = rank;
      best = i;
    }
  }
  return best;
}

}  // namespace pullfleet::image
