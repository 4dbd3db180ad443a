#include "image/policy.h"

#include <string>

#include "image/reference.h"

namespace pullfleet::image {

Result<PullPolicy> ParsePullPolicy(std::string_view text) {
  if (text == "Always") return PullPolicy::kAlways;
  if (text == "IfNotPresent") return PullPolicy::kIfNotPresent;
  if (text == "Never") return PullPolicy::kNever;
  return Error(ErrorCode::kInvalidArgument,
               "unsupported imagePullPolicy \"" + std::string(text) +
                   "\": supported values: \"Always\", \"IfNotPresent\", \"Never\"");
}

std::string_view ToString(PullPolicy policy) {
  switch (policy) {
    case PullPolicy::kAlways:
      return "Always";
    case PullPolicy::kIfNotPresent:
      return "IfNotPresent";
    case PullPolicy::kNever:
      return "Never";
  }
  return "IfNotPresent";
}

PullPolicy DefaultPullPolicy(std::string_view image) {
  // Same steps as SetDefaults_Container: parse as ParseImageName does (which reports the tag
  // "latest" when neither tag nor digest is given) and look only at the tag. A digest next to
  // the tag "latest" does not change the answer.
  Result<Reference> ref = ParseReference(image);
  if (!ref.ok()) return PullPolicy::kIfNotPresent;
  std::string tag = ref->tag;
  if (tag.empty() && ref->digest.empty()) tag = "latest";
  return tag == "latest" ? PullPolicy::kAlways : PullPolicy::kIfNotPresent;
}

}  // namespace pullfleet::image
