#include "common/names.h"

#include <regex>

namespace pullfleet {

Status CheckObjectName(const std::string& what, const std::string& name) {
  static const std::regex kSubdomain(
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  if (name.size() <= 253 && std::regex_match(name, kSubdomain)) return Status::Ok();
  return Error(ErrorCode::kInvalidArgument,
               "invalid " + what + " \"" + name +
                   "\": a lowercase RFC 1123 subdomain (at most 253 characters) must consist of "
                   "lower case alphanumeric characters, '-' or '.', and must start and end with "
                   "an alphanumeric character");
}

Status CheckNamespaceName(const std::string& what, const std::string& name) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  if (name.size() <= 63 && std::regex_match(name, kLabel)) return Status::Ok();
  return Error(ErrorCode::kInvalidArgument,
               "invalid " + what + " \"" + name +
                   "\": a lowercase RFC 1123 label (at most 63 characters) must consist of "
                   "lower case alphanumeric characters or '-', and must start and end with an "
                   "alphanumeric character");
}

}  // namespace pullfleet
