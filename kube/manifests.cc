// ParseManifests: YAML text -> pods and workloads.
//
// The text is split into documents by hand (at `---` lines) before yaml-cpp sees it, so that
// every error can name its document number and an absolute line even when yaml-cpp throws
// part-way through a stream. Each document is then read by ObjectReader, which walks the
// yaml-cpp tree and stops at the first problem.
#include "kube/manifests.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace pullfleet::kube {
namespace {

// One `---`-separated piece of the input.
struct Segment {
  int number = 0;      // 1-based, as a user counts the documents of the file
  int first_line = 1;  // 1-based line of the file on which `text` starts
  int last_line = 1;   // 1-based line of its last line (errors at its end point here)
  std::string text;
};

// What is wrong with a document, and where.
struct Problem {
  YAML::Mark mark;  // null when no better place is known than the document start
  std::string what;
};

using MaybeProblem = std::optional<Problem>;

bool IsBlankOrComment(std::string_view line) {
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\r') continue;
    return c == '#' || c == '%';  // a comment, or a directive such as %YAML 1.2
  }
  return true;
}

// A `---` marker starts a line and is followed by nothing, white space or a comment; text
// after it on the same line (`--- {a: 1}`) belongs to the new document.
bool IsDocumentStart(std::string_view line) {
  if (line.substr(0, 3) != "---") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

bool IsDocumentEnd(std::string_view line) {
  if (line.substr(0, 3) != "...") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

// Splits at document markers. Lines keep their numbers: a `...` end marker becomes an empty
// line. Comments or directives before the first `---` are not a document of their own.
// Known shortcoming: a bare document right after `...` without a `---` is merged into the
// previous one (yaml-cpp then reports it as invalid); real manifests do not do this.
std::vector<Segment> SplitDocuments(std::string_view text) {
  std::vector<Segment> segments;
  Segment current;
  bool leading = true;  // still before the first `---`
  bool leading_blank = true;
  int line_number = 0;

  auto flush = [&] {
    if (leading && leading_blank) return;  // a licence header, not a document
    current.number = static_cast<int>(segments.size()) + 1;
    segments.push_back(std::move(current));
  };

  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    ++line_number;
    if (IsDocumentStart(line)) {
      flush();
      leading = false;
      current = Segment{};
      std::string_view rest = line.substr(3);
      if (IsBlankOrComment(rest)) {
        current.first_line = line_number + 1;
      } else {
        current.first_line = line_number;
        current.last_line = line_number;
        current.text.append("   ").append(rest).append("\n");
      }
    } else {
      if (leading && !IsBlankOrComment(line)) leading_blank = false;
      if (!IsDocumentEnd(line)) current.text.append(line);
      current.text.append("\n");
      current.last_line = line_number;
    }
    pos = end + 1;
  }
  flush();
  return segments;
}

bool Present(const YAML::Node& node) {
  return node.IsDefined() && !node.IsNull();
}

// The value of `key` in `map`, following YAML merge keys (`<<: *defaults`) as Kubernetes'
// YAML reader does; yaml-cpp 0.7 keeps `<<` as an ordinary key. Keys written in the mapping
// win over merged ones, and earlier merged mappings over later ones. Returns an undefined
// node when the key is absent.
YAML::Node Field(const YAML::Node& map, const std::string& key, int depth = 0) {
  if (!map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node direct = map[key];
  if (direct.IsDefined() || depth > 16) return direct;
  const YAML::Node merge = map["<<"];
  if (!merge.IsDefined()) return direct;
  if (merge.IsMap()) return Field(merge, key, depth + 1);
  if (merge.IsSequence()) {
    for (const auto& source : merge) {
      YAML::Node found = Field(source, key, depth + 1);
      if (found.IsDefined()) return found;
    }
  }
  return direct;
}

// The entries of `map` with merge keys applied (see Field), in key order.
std::map<std::string, YAML::Node> Entries(const YAML::Node& map, int depth = 0) {
  std::map<std::string, YAML::Node> entries;
  std::vector<YAML::Node> merged;
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    if (key == "<<" && depth <= 16) {
      if (entry.second.IsMap()) merged.push_back(entry.second);
      if (entry.second.IsSequence()) {
        for (const auto& source : entry.second) merged.push_back(source);
      }
      continue;
    }
    entries.emplace(key, entry.second);
  }
  for (const auto& source : merged) {
    if (!source.IsMap()) continue;
    for (auto& [key, value] : Entries(source, depth + 1)) entries.emplace(key, value);
  }
  return entries;
}

const char* TypeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

// Reads one Kubernetes object (a YAML mapping) into the set. Stops at the first problem.
class ObjectReader {
 public:
  explicit ObjectReader(ManifestSet* set) : set_(set) {}

  // `where` prefixes every message ("items[2]: "), empty for a top-level object.
  MaybeProblem Read(const YAML::Node& object, const std::string& where) {
    if (!object.IsMap()) {
      return Problem{object.Mark(), where + "expected a Kubernetes object (a mapping with kind, " +
                                        "apiVersion and metadata), got " + TypeName(object)};
    }
    std::string kind, api_version;
    if (auto p = ScalarField(object, "kind", where, &kind)) return p;
    if (auto p = ScalarField(object, "apiVersion", where, &api_version)) return p;
    if (kind.empty()) return Problem{object.Mark(), where + "missing kind"};
    if (api_version.empty()) return Problem{object.Mark(), where + "missing apiVersion"};

    // kind: List (and typed lists such as PodList) wrap whole objects; they have no name.
    const YAML::Node items = Field(object, "items");
    if (kind.size() >= 4 && kind.compare(kind.size() - 4, 4, "List") == 0) {
      if (!Present(items)) return std::nullopt;
      if (!items.IsSequence()) {
        return Problem{items.Mark(), where + kind + ": items must be a list"};
      }
      for (size_t i = 0; i < items.size(); ++i) {
        if (auto p = Read(items[i], where + "items[" + std::to_string(i) + "]: ")) return p;
      }
      return std::nullopt;
    }

    pb::ObjectMeta meta;
    if (auto p = ReadMetadata(object, where, &meta)) return p;
    const std::string context = where + kind + " \"" + meta.name() + "\": ";
    if (kind == "Pod") return ReadPod(object, api_version, context, std::move(meta));
    if (kind == "Deployment") {
      return ReadDeployment(object, kind, api_version, context, std::move(meta));
    }
    ++set_->skipped_kinds[kind];
    return std::nullopt;
  }

 private:
  // Reads an optional string field of `map`; a list or mapping there is a problem.
  static MaybeProblem ScalarField(const YAML::Node& map, const char* key,
                                  const std::string& context, std::string* out) {
    const YAML::Node value = Field(map, key);
    if (!Present(value)) return std::nullopt;
    if (!value.IsScalar()) {
      return Problem{value.Mark(), context + key + ": expected a string, got " + TypeName(value)};
    }
    *out = value.Scalar();
    return std::nullopt;
  }

  // Reads an optional map of strings (labels, nodeSelector).
  template <class ProtoMap>
  static MaybeProblem StringMap(const YAML::Node& map, const char* key, const std::string& context,
                                ProtoMap* out) {
    const YAML::Node value = Field(map, key);
    if (!Present(value)) return std::nullopt;
    if (!value.IsMap()) {
      return Problem{value.Mark(), context + key + ": expected a mapping, got " + TypeName(value)};
    }
    for (const auto& [name, item] : Entries(value)) {
      if (Present(item) && !item.IsScalar()) {
        return Problem{item.Mark(),
                       context + key + "." + name + ": expected a string, got " + TypeName(item)};
      }
      (*out)[name] = Present(item) ? item.Scalar() : "";
    }
    return std::nullopt;
  }

  static MaybeProblem ReadMetadata(const YAML::Node& object, const std::string& where,
                                   pb::ObjectMeta* meta) {
    const YAML::Node metadata = Field(object, "metadata");
    if (!Present(metadata)) return Problem{object.Mark(), where + "missing metadata.name"};
    if (!metadata.IsMap()) {
      return Problem{metadata.Mark(),
                     where + "metadata: expected a mapping, got " + TypeName(metadata)};
    }
    std::string name, ns;
    if (auto p = ScalarField(metadata, "name", where + "metadata.", &name)) return p;
    if (name.empty()) return Problem{metadata.Mark(), where + "missing metadata.name"};
    if (auto p = ScalarField(metadata, "namespace", where + "metadata.", &ns)) return p;
    meta->set_name(name);
    meta->set_namespace_(ns.empty() ? "default" : ns);
    return StringMap(metadata, "labels", where + "metadata.", meta->mutable_labels());
  }

  MaybeProblem ReadPod(const YAML::Node& object, const std::string& api_version,
                       const std::string& context, pb::ObjectMeta meta) {
    if (api_version != "v1") {
      return Problem{object.Mark(), context + "apiVersion \"" + api_version +
                                        "\" is not supported for Pod (use v1)"};
    }
    pb::Pod pod;
    *pod.mutable_metadata() = std::move(meta);
    if (auto p = ReadPodSpec(object, Field(object, "spec"), context + "spec", pod.mutable_spec())) {
      return p;
    }
    set_->pods.push_back(std::move(pod));
    return std::nullopt;
  }

  MaybeProblem ReadDeployment(const YAML::Node& object, const std::string& kind,
                              const std::string& api_version, const std::string& context,
                              pb::ObjectMeta meta) {
    static const std::set<std::string> kVersions = {"apps/v1", "apps/v1beta1", "apps/v1beta2",
                                                    "extensions/v1beta1"};
    if (kVersions.count(api_version) == 0) {
      return Problem{object.Mark(), context + "apiVersion \"" + api_version +
                                        "\" is not supported for Deployment (use apps/v1)"};
    }
    const YAML::Node spec = Field(object, "spec");
    if (!Present(spec) || !spec.IsMap()) {
      return Problem{Present(spec) ? spec.Mark() : object.Mark(),
                     context + "spec: expected a mapping with a pod template"};
    }

    pb::Workload workload;
    workload.set_kind(kind);
    workload.set_api_version(api_version);
    *workload.mutable_metadata() = std::move(meta);
    workload.set_replicas(1);  // Kubernetes' default when the field is absent
    const YAML::Node replicas = Field(spec, "replicas");
    if (Present(replicas)) {
      int value = -1;
      if (!replicas.IsScalar() || !YAML::convert<int>::decode(replicas, value) || value < 0) {
        return Problem{replicas.Mark(),
                       context + "spec.replicas: expected a whole number >= 0, got \"" +
                           (replicas.IsScalar() ? replicas.Scalar() : TypeName(replicas)) + "\""};
      }
      workload.set_replicas(value);
    }

    const YAML::Node tmpl = Field(spec, "template");
    if (!Present(tmpl) || !tmpl.IsMap()) {
      return Problem{Present(tmpl) ? tmpl.Mark() : spec.Mark(),
                     context + "spec.template: missing pod template"};
    }
    const YAML::Node tmpl_meta = Field(tmpl, "metadata");
    if (Present(tmpl_meta)) {
      if (!tmpl_meta.IsMap()) {
        return Problem{tmpl_meta.Mark(), context + "spec.template.metadata: expected a mapping"};
      }
      if (auto p = StringMap(tmpl_meta, "labels", context + "spec.template.metadata.",
                             workload.mutable_template_labels())) {
        return p;
      }
    }
    if (auto p = ReadPodSpec(tmpl, Field(tmpl, "spec"), context + "spec.template.spec",
                             workload.mutable_template_spec())) {
      return p;
    }
    set_->workloads.push_back(std::move(workload));
    return std::nullopt;
  }

  // `owner` is the node holding `spec`, for a line number when spec is missing.
  static MaybeProblem ReadPodSpec(const YAML::Node& owner, const YAML::Node& spec,
                                  const std::string& path, pb::PodSpec* out) {
    if (!Present(spec)) return Problem{owner.Mark(), path + ": missing"};
    if (!spec.IsMap()) {
      return Problem{spec.Mark(), path + ": expected a mapping, got " + TypeName(spec)};
    }
    std::set<std::string> names;
    if (auto p =
            ReadContainers(spec, "initContainers", path, &names, out->mutable_init_containers())) {
      return p;
    }
    if (auto p = ReadContainers(spec, "containers", path, &names, out->mutable_containers())) {
      return p;
    }
    if (out->containers().empty()) {
      return Problem{spec.Mark(), path + ".containers: a pod needs at least one container"};
    }

    const std::string field_context = path + ".";
    std::string value;
    if (auto p = ScalarField(spec, "nodeName", field_context, &value)) return p;
    out->set_node_name(value);
    value.clear();
    if (auto p = ScalarField(spec, "serviceAccountName", field_context, &value)) return p;
    if (value.empty()) {
      // serviceAccount is the deprecated spelling; Kubernetes still reads it.
      if (auto p = ScalarField(spec, "serviceAccount", field_context, &value)) return p;
    }
    out->set_service_account_name(value);
    value.clear();
    if (auto p = ScalarField(spec, "runtimeClassName", field_context, &value)) return p;
    out->set_runtime_class_name(value);
    if (auto p = StringMap(spec, "nodeSelector", field_context, out->mutable_node_selector())) {
      return p;
    }
    return ReadPullSecrets(spec, path, out);
  }

  static MaybeProblem ReadPullSecrets(const YAML::Node& spec, const std::string& path,
                                      pb::PodSpec* out) {
    const YAML::Node secrets = Field(spec, "imagePullSecrets");
    if (!Present(secrets)) return std::nullopt;
    if (!secrets.IsSequence()) {
      return Problem{secrets.Mark(), path + ".imagePullSecrets: expected a list"};
    }
    for (size_t i = 0; i < secrets.size(); ++i) {
      const YAML::Node entry = secrets[i];
      const std::string where = path + ".imagePullSecrets[" + std::to_string(i) + "].";
      if (!entry.IsMap()) {
        return Problem{entry.Mark(),
                       where.substr(0, where.size() - 1) + ": expected a mapping with a name"};
      }
      std::string name;
      if (auto p = ScalarField(entry, "name", where, &name)) return p;
      // Kubernetes accepts an empty entry and ignores it; so do we.
      if (!name.empty()) out->add_image_pull_secrets(name);
    }
    return std::nullopt;
  }

  template <class Containers>
  static MaybeProblem ReadContainers(const YAML::Node& spec, const char* key,
                                     const std::string& path, std::set<std::string>* names,
                                     Containers* out) {
    const YAML::Node list = Field(spec, key);
    if (!Present(list)) return std::nullopt;
    if (!list.IsSequence()) {
      return Problem{list.Mark(), path + "." + key + ": expected a list, got " + TypeName(list)};
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node item = list[i];
      std::string where = path + "." + key + "[" + std::to_string(i) + "]";
      if (!item.IsMap()) {
        return Problem{item.Mark(), where + ": expected a mapping, got " + TypeName(item)};
      }
      pb::Container container;
      if (auto p = ReadContainer(item, where, &container)) return p;
      if (!names->insert(container.name()).second) {
        return Problem{item.Mark(),
                       where + ": duplicate container name \"" + container.name() + "\""};
      }
      *out->Add() = std::move(container);
    }
    return std::nullopt;
  }

  static MaybeProblem ReadContainer(const YAML::Node& item, std::string where, pb::Container* out) {
    std::string name, image, policy, restart;
    if (auto p = ScalarField(item, "name", where + ".", &name)) return p;
    if (name.empty()) return Problem{item.Mark(), where + ": container has no name"};
    where += " (" + name + ")";
    if (auto p = ScalarField(item, "image", where + ": ", &image)) return p;
    // An invalid reference is kept: the node reports InvalidImageName. A missing one is a
    // manifest error, as the API server would say.
    if (image.empty()) return Problem{item.Mark(), where + ": container has no image"};
    if (auto p = ScalarField(item, "imagePullPolicy", where + ": ", &policy)) return p;
    if (!policy.empty() && policy != "Always" && policy != "IfNotPresent" && policy != "Never") {
      return Problem{
          Field(item, "imagePullPolicy").Mark(),
          where + ": imagePullPolicy \"" + policy + "\" is not one of Always, IfNotPresent, Never"};
    }
    if (auto p = ScalarField(item, "restartPolicy", where + ": ", &restart)) return p;
    out->set_name(name);
    out->set_image(image);
    out->set_image_pull_policy(policy);
    out->set_restart_policy(restart);
    return std::nullopt;
  }

  ManifestSet* set_;
};

// Reads one document; yaml-cpp's exceptions become problems with their marks.
MaybeProblem ReadDocument(const Segment& segment, ManifestSet* set) {
  YAML::Node root;
  try {
    root = YAML::Load(segment.text);
  } catch (const YAML::Exception& e) {
    return Problem{e.mark, "not valid YAML: " + e.msg};
  }
  if (!Present(root)) return std::nullopt;  // only comments: nothing to do
  try {
    return ObjectReader(set).Read(root, "");
  } catch (const YAML::Exception& e) {
    // Not expected (the reader checks node types first); kept as a safety net.
    return Problem{e.mark, e.msg};
  }
}

}  // namespace

Result<ManifestSet> ParseManifests(std::string_view yaml_text, std::string_view source) {
  // Editors on Windows may start the file with a UTF-8 byte order mark.
  if (yaml_text.substr(0, 3) == "\xEF\xBB\xBF") yaml_text.remove_prefix(3);
  ManifestSet set;
  for (const Segment& segment : SplitDocuments(yaml_text)) {
    MaybeProblem problem = ReadDocument(segment, &set);
    if (!problem) continue;
    // yaml-cpp may point just past the end of the text (an unclosed bracket): show the
    // document's last line instead of one that does not exist.
    const int line = problem->mark.is_null()
                         ? segment.first_line
                         : std::min(segment.first_line + problem->mark.line,
                                    std::max(segment.first_line, segment.last_line));
    return Error(ErrorCode::kInvalidArgument, std::string(source) + ": document " +
                                                  std::to_string(segment.number) + " (line " +
                                                  std::to_string(line) + "): " + problem->what);
  }
  return set;
}

}  // namespace pullfleet::kube
