// The kubelet's user-facing reasons and messages for image decisions, word for word, so
// that people and tools that know Kubernetes read pullfleet's events and states unchanged.
#pragma once

#include <string>
#include <string_view>

namespace pullfleet::node {

// Container waiting reasons.
inline constexpr std::string_view kErrImagePull = "ErrImagePull";
inline constexpr std::string_view kImagePullBackOff = "ImagePullBackOff";
inline constexpr std::string_view kErrImageNeverPull = "ErrImageNeverPull";
inline constexpr std::string_view kInvalidImageName = "InvalidImageName";
inline constexpr std::string_view kContainerCreating = "ContainerCreating";
inline constexpr std::string_view kPodInitializing = "PodInitializing";

// Event reasons.
inline constexpr std::string_view kPullingReason = "Pulling";
inline constexpr std::string_view kPulledReason = "Pulled";
inline constexpr std::string_view kFailedReason = "Failed";
inline constexpr std::string_view kBackOffReason = "BackOff";
inline constexpr std::string_view kInspectFailedReason = "InspectFailed";
inline constexpr std::string_view kFailedToRetrievePullSecretReason =
    "FailedToRetrieveImagePullSecret";

std::string PullingMessage(std::string_view image);
std::string PulledMessage(std::string_view image, double pull_seconds, double total_seconds,
                          int64_t image_size);
std::string AlreadyPresentMessage(std::string_view image);
std::string FailedToPullMessage(std::string_view image, std::string_view error);
std::string BackOffMessage(std::string_view image);
std::string NeverPullMessage(std::string_view image);
// Policy Never, and the present image was pulled with credentials the pod does not have.
std::string NeverPullUnverifiedMessage(std::string_view image);
std::string InvalidImageNameMessage(std::string_view image, std::string_view parse_error);
// "Error: ErrImagePull": the second Failed event the kubelet records.
std::string ErrorReasonMessage(std::string_view reason);

// A duration as Go prints a time.Duration truncated to milliseconds: "512ms", "1.234s",
// "2m3.5s", "1h0m0s".
std::string GoDuration(double seconds);

}  // namespace pullfleet::node
