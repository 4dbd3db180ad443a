// OCI platforms and the matching rules containerd uses to pick an image index entry
// (containerd's platforms package: Normalize, Only, Ordered).
//
// Pure functions; HostPlatform() reads the build target and, on ARM, /proc/cpuinfo once.
// Safe from any thread.
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
  std::string variant;       // "", "v7", "v8.2"

  // "linux/arm/v7", or "linux/amd64" when there is no variant; "unknown" without an os.
  std::string ToString() const;
  // Field-wise equality; normalise both sides first to compare platforms as containerd does.
  bool operator==(const Platform& other) const;
  bool operator!=(const Platform& other) const { return !(*this == other); }
};

// Parses containerd's specifier syntax "os/arch[/variant]", "arch" (on the host's os, linux)
// or "os" (on the host's architecture), and returns it normalised. Fails with
// kInvalidArgument naming the text and the offending part.
Result<Platform> ParsePlatform(std::string_view text);

// containerd's normalisation: lowercase; os macos -> darwin, empty os -> linux;
// i386 -> 386; x86_64/x86-64 -> amd64 (variant v1 dropped); aarch64 -> arm64 (variant 8/v8
// dropped: v8 is implied); armhf -> arm/v7; armel -> arm/v6; arm -> arm/v7 when no variant,
// arm variants 5/6/7/8 -> v5/v6/v7/v8.
Platform Normalize(Platform platform);

// The platform of the running machine, normalised. Never "unknown".
Platform HostPlatform();

// The platforms a node of platform `want` accepts, best first (containerd's Only()):
// amd64/vN: amd64/vN..v1, then 386. arm/vN: arm/vN..v5. arm64[/v8.x]: arm64/v8.x..v8, then
// arm/v8, v7, v6, v5 (as containerd's default matcher on arm64); arm64/v9.x also accepts
// v9.(x-1)..v9 and v8.(x+5)..v8 before the 32-bit variants.
std::vector<Platform> AcceptedPlatforms(const Platform& want);

// True when an image built for `have` runs on a node of platform `want` (containerd's
// rules: amd64 runs 386, arm64 runs arm/v8..v5, arm/v7 runs v6 and v5, ...). An os or
// architecture "unknown" (attestation manifests) never matches.
bool Matches(const Platform& want, const Platform& have);

// Index of the best entry of `candidates` for `want` (exact match first, then the closest
// fallback; the first of equally good entries), or nullopt. Entries with os or
// architecture "unknown" (attestations) never match.
std::optional<size_t> BestMatch(const Platform& want, const std::vector<Platform>& candidates);

}  // namespace pullfleet::image
