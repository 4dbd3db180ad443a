#include "node/image_verification.h"

#include <algorithm>

namespace pullfleet::node {
namespace {

constexpr uint32_t kFirstVersionWithOrigin = 2;

// A record written before pullfleet kept an image's origin: where it came from is unknown,
// so it counts as preloaded (the kubelet treats images it has no record of the same way).
bool IsPreloaded(const pb::ImageRecord& record) {
  return record.preloaded() || record.record_version() < kFirstVersionWithOrigin;
}

}  // namespace

Result<VerificationPolicy> ParseVerificationPolicy(std::string_view text) {
  if (text == "NeverVerify") return VerificationPolicy::kNeverVerify;
  if (text == "NeverVerifyPreloadedImages") return VerificationPolicy::kNeverVerifyPreloadedImages;
  if (text == "NeverVerifyAllowlistedImages") {
    return VerificationPolicy::kNeverVerifyAllowlistedImages;
  }
  if (text == "AlwaysVerify") return VerificationPolicy::kAlwaysVerify;
  return Error(ErrorCode::kInvalidArgument,
               "imagePullCredentialsVerificationPolicy \"" + std::string(text) +
                   "\" is not one of NeverVerify, NeverVerifyPreloadedImages, "
                   "NeverVerifyAllowlistedImages, AlwaysVerify");
}

std::string_view ToString(VerificationPolicy policy) {
  switch (policy) {
    case VerificationPolicy::kNeverVerify:
      return "NeverVerify";
    case VerificationPolicy::kNeverVerifyPreloadedImages:
      return "NeverVerifyPreloadedImages";
    case VerificationPolicy::kNeverVerifyAllowlistedImages:
      return "NeverVerifyAllowlistedImages";
    case VerificationPolicy::kAlwaysVerify:
      return "AlwaysVerify";
  }
  return "NeverVerifyPreloadedImages";
}

Status ValidateAllowlistEntry(std::string_view entry) {
  std::string_view repository = entry;
  if (repository.size() >= 2 && repository.substr(repository.size() - 2) == "/*") {
    repository.remove_suffix(2);
  }
  const std::string quoted =
      "preloadedImagesVerificationAllowlist entry \"" + std::string(entry) + "\"";
  auto ref = image::ParseReference(repository);
  if (!ref.ok()) return ref.error().Wrap(quoted);
  if (!ref->tag.empty() || !ref->digest.empty()) {
    return Error(ErrorCode::kInvalidArgument, quoted +
                                                  ": must name a repository without a tag "
                                                  "or digest");
  }
  if (repository.find('/') == std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 quoted + ": must start with the registry host, e.g. registry.example.com/app");
  }
  return Status::Ok();
}

bool AllowlistMatches(const std::vector<std::string>& allowlist, const image::Reference& ref) {
  const std::string repository = ref.Repository();
  return std::any_of(allowlist.begin(), allowlist.end(), [&](const std::string& entry) {
    if (entry.size() >= 2 && entry.compare(entry.size() - 2, 2, "/*") == 0) {
      const std::string prefix = entry.substr(0, entry.size() - 1);  // keeps the "/"
      return repository.compare(0, prefix.size(), prefix) == 0;
    }
    return repository == entry;
  });
}

bool NeedsCredentialCheck(const pb::ImageRecord& record, VerificationPolicy policy,
                          const std::vector<std::string>& allowlist, const image::Reference& ref) {
  if (policy == VerificationPolicy::kNeverVerify) return false;
  if (IsPreloaded(record)) {
    switch (policy) {
      case VerificationPolicy::kNeverVerifyAllowlistedImages:
        return !AllowlistMatches(allowlist, ref);
      case VerificationPolicy::kAlwaysVerify:
        return true;
      default:
        return false;
    }
  }
  return !record.node_accessible();
}

bool PodMayUseWithoutPull(const pb::ImageRecord& record,
                          const std::vector<PodSecretCredential>& pod_secrets) {
  for (const auto& used : record.pulled_with()) {
    if (used.fingerprint().empty()) continue;
    for (const auto& mine : pod_secrets) {
      if (used.fingerprint() == mine.fingerprint) return true;
    }
  }
  return false;
}

}  // namespace pullfleet::node
