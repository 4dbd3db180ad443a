#include "kube/selector.h"

#include <regex>

#include "common/names.h"

namespace pullfleet::kube {
namespace {

// A label value, or the name part of a key: at most 63 characters of alphanumerics, '-', '_'
// and '.', starting and ending with an alphanumeric (a value may also be empty).
bool IsLabelValue(const std::string& text) {
  static const std::regex kValue("([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?");
  return text.size() <= 63 && std::regex_match(text, kValue);
}

// A key: an optional prefix (a DNS subdomain, as object names are) and '/', then a name as
// above but not empty.
bool IsLabelKey(const std::string& key) {
  const size_t slash = key.find('/');
  const std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  if (name.empty() || !IsLabelValue(name)) return false;
  return slash == std::string::npos ||
         CheckObjectName("label key prefix", key.substr(0, slash)).ok();
}

std::string Trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  const size_t last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

Error Unparsable(const std::string& requirement, const std::string& why) {
  return Error(ErrorCode::kInvalidArgument,
               "unable to parse requirement \"" + requirement + "\": " + why);
}

Result<LabelRequirement> ParseRequirement(const std::string& text) {
  LabelRequirement requirement;
  std::string key = text;
  if (text.find(" in ") != std::string::npos || text.find(" notin ") != std::string::npos ||
      text.find('(') != std::string::npos) {
    return Unparsable(text, "set-based requirements (in, notin) are not supported");
  }
  if (const size_t at = text.find("!="); at != std::string::npos) {
    requirement.op = LabelRequirement::Op::kNotEquals;
    key = Trim(text.substr(0, at));
    requirement.value = Trim(text.substr(at + 2));
  } else if (const size_t eq = text.find('='); eq != std::string::npos) {
    requirement.op = LabelRequirement::Op::kEquals;
    key = Trim(text.substr(0, eq));
    const size_t value_at = text.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
    requirement.value = Trim(text.substr(value_at));
  } else if (!text.empty() && text[0] == '!') {
    requirement.op = LabelRequirement::Op::kNotExists;
    key = Trim(text.substr(1));
  }
  if (!IsLabelKey(key)) return Unparsable(text, "\"" + key + "\" is not a valid label key");
  if (!IsLabelValue(requirement.value)) {
    return Unparsable(text, "\"" + requirement.value + "\" is not a valid label value");
  }
  requirement.key = key;
  return requirement;
}

}  // namespace

Result<std::vector<LabelRequirement>> ParseSelector(std::string_view text) {
  std::vector<LabelRequirement> selector;
  if (Trim(text).empty()) return selector;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = Trim(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (part.empty()) return Unparsable(std::string(text), "an empty requirement");
    auto requirement = ParseRequirement(part);
    if (!requirement.ok()) return requirement.error();
    selector.push_back(std::move(requirement).value());
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return selector;
}

bool SelectorMatches(const std::vector<LabelRequirement>& selector,
                     const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& requirement : selector) {
    auto it = labels.find(requirement.key);
    const bool has = it != labels.end();
    switch (requirement.op) {
      case LabelRequirement::Op::kExists:
        if (!has) return false;
        break;
      case LabelRequirement::Op::kNotExists:
        if (has) return false;
        break;
      case LabelRequirement::Op::kEquals:
        if (!has || it->second != requirement.value) return false;
        break;
      case LabelRequirement::Op::kNotEquals:  // true also when the label is absent
        if (has && it->second == requirement.value) return false;
        break;
    }
  }
  return true;
}

}  // namespace pullfleet::kube
