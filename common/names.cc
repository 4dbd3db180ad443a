#include "common/names.h"

#include <regex>

namespace pullfleet {
namespace {

// `name` matches `pattern` and is at most `max_size` long, or an error naming `what` and
// saying the rule in the API server's words.
Status CheckAgainst(const std::string& what, const std::string& name, const std::regex& pattern,
                    size_t max_size, const std::string& rule) {
  if (name.size() <= max_size && std::regex_match(name, pattern)) return Status::Ok();
  return Error(ErrorCode::kInvalidArgument, "invalid " + what + " \"" + name + "\": " + rule);
}

}  // namespace

Status CheckObjectName(const std::string& what, const std::string& name) {
  static const std::regex kSubdomain(
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  return CheckAgainst(what, name, kSubdomain, 253,
                      "a lowercase RFC 1123 subdomain (at most 253 characters) must consist of "
                      "lower case alphanumeric characters, '-' or '.', and must start and end "
                      "with an alphanumeric character");
}

Status CheckLabelName(const std::string& what, const std::string& name) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return CheckAgainst(what, name, kLabel, 63,
                      "a lowercase RFC 1123 label (at most 63 characters) must consist of lower "
                      "case alphanumeric characters or '-', and must start and end with an "
                      "alphanumeric character");
}

}  // namespace pullfleet
