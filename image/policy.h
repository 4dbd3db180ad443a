// imagePullPolicy values and their defaulting, as the Kubernetes API server applies it.
//
// Pure functions, no I/O; safe from any thread.
#pragma once

#include <string_view>

#include "common/error.h"

namespace pullfleet::image {

enum class PullPolicy { kAlways, kIfNotPresent, kNever };

// "Always" | "IfNotPresent" | "Never" (exact case, as the API requires). Anything else,
// including "", fails with kInvalidArgument naming the value and the supported ones.
Result<PullPolicy> ParsePullPolicy(std::string_view text);
std::string_view ToString(PullPolicy policy);

// The policy the API server stores for a container whose imagePullPolicy is omitted:
// Always when the tag is "latest" or there is neither tag nor digest, else IfNotPresent.
// `image:latest@sha256:...` counts as tag latest (the kubelet does the same). An image that
// does not parse defaults to IfNotPresent; the kubelet reports it as InvalidImageName later.
PullPolicy DefaultPullPolicy(std::string_view image);

}  // namespace pullfleet::image
