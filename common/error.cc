#include "common/error.h"

namespace pullfleet {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kRegistryError: return "registry_error";
    case ErrorCode::kNetwork: return "network";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kDigestMismatch: return "digest_mismatch";
    case ErrorCode::kSizeMismatch: return "size_mismatch";
    case ErrorCode::kNoMatchingPlatform: return "no_matching_platform";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kStalled: return "stalled";
  }
  return "internal";
}

Error Error::Wrap(std::string_view context) const& {
  return Error(code_, std::string(context) + ": " + message_);
}

Error Error::Wrap(std::string_view context) && {
  message_.insert(0, std::string(context) + ": ");
  return std::move(*this);
}

}  // namespace pullfleet
