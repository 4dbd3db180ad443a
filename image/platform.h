// OCI platforms and the matching rules containerd uses to pick an image index entry.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace pullfleet::image {

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64", "arm"
  std::string variant;       // "", "v8", "v7"

  // "linux/arm64/v8", or "linux/amd64" when there is no variant.
  std::string ToString() const;
  bool operator==(const Platform& other) const;
};

// Parses "os/arch[/variant]" (or just "arch" meaning linux) and normalises it
// (aarch64 -> arm64, x86_64 -> amd64, arm64 without variant -> v8, arm -> v7, ...).
Result<Platform> ParsePlatform(std::string_view text);
Platform Normalize(Platform platform);

// The platform of the running machine, normalised.
Platform HostPlatform();

// True when an image built for `have` runs on a node of platform `want` (containerd's
// rules: amd64 runs 386, arm64 runs arm/v8..v5, arm/v7 runs v6 and v5, ...).
bool Matches(const Platform& want, const Platform& have);

// Index of the best entry of `candidates` for `want` (exact match first, then the closest
// fallback), or nullopt. Entries with os "unknown" (attestations) never match.
std::optional<size_t> BestMatch(const Platform& want, const std::vector<Platform>& candidates);

}  // namespace pullfleet::image
