// Label selectors as `kubectl get -l` takes them, equality-based: "app=web,tier!=db,canary,!old"
// (`=` and `==` alike). Set-based requirements ("env in (a,b)") are refused with a clear error.
#pragma once

#include <google/protobuf/map.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace pullfleet::kube {

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kExists, kNotExists };
  std::string key;
  Op op = Op::kExists;
  std::string value;  // for kEquals and kNotEquals
};

// Every comma-separated requirement of `text`; an error names the one that does not parse.
Result<std::vector<LabelRequirement>> ParseSelector(std::string_view text);

// True when `labels` meet every requirement (an empty selector selects everything).
bool SelectorMatches(const std::vector<LabelRequirement>& selector,
                     const google::protobuf::Map<std::string, std::string>& labels);

}  // namespace pullfleet::kube
