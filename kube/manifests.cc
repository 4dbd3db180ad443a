// ParseManifests: YAML text -> pods, workloads, secrets, service accounts, runtime classes and
// namespaces.
//
// The text is split into documents by hand (at `---` lines) before yaml-cpp sees it, so that
// every error can name its document number and an absolute line even when yaml-cpp throws
// part-way through a stream. Each document is then read by ObjectReader, which walks the
// yaml-cpp tree and stops at the first problem.
#include "kube/manifests.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "common/names.h"

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

// How the kinds pullfleet reads are laid out.
enum class Shape {
  kPod,
  kReplicas,     // Deployment, ReplicaSet, ReplicationController: spec.replicas + template
  kStatefulSet,  // as kReplicas, plus serviceName
  kDaemonSet,    // template only
  kJob,          // parallelism/completions + template
  kCronJob,      // schedule + jobTemplate.spec (a Job spec)
  kSecret,
  kServiceAccount,
  kRuntimeClass,
  kNamespace,
};

struct KindInfo {
  const char* kind;
  std::vector<std::string> versions;  // the first is the current one, named in errors
  Shape shape;
  bool cluster_scoped = false;
};

// Every kind pullfleet reads, with the API versions that served it. Older versions are read
// as the current one: the fields pullfleet needs did not change between them.
const KindInfo* FindKind(const std::string& kind) {
  static const std::vector<KindInfo> kKinds = {
      {"Pod", {"v1"}, Shape::kPod},
      {"Deployment",
       {"apps/v1", "apps/v1beta1", "apps/v1beta2", "extensions/v1beta1"},
       Shape::kReplicas},
      {"ReplicaSet", {"apps/v1", "apps/v1beta2", "extensions/v1beta1"}, Shape::kReplicas},
      {"ReplicationController", {"v1"}, Shape::kReplicas},
      {"StatefulSet", {"apps/v1", "apps/v1beta1", "apps/v1beta2"}, Shape::kStatefulSet},
      {"DaemonSet", {"apps/v1", "apps/v1beta2", "extensions/v1beta1"}, Shape::kDaemonSet},
      {"Job", {"batch/v1"}, Shape::kJob},
      {"CronJob", {"batch/v1", "batch/v1beta1", "batch/v2alpha1"}, Shape::kCronJob},
      {"Secret", {"v1"}, Shape::kSecret},
      {"ServiceAccount", {"v1"}, Shape::kServiceAccount},
      {"RuntimeClass", {"node.k8s.io/v1", "node.k8s.io/v1beta1"}, Shape::kRuntimeClass, true},
      {"Namespace", {"v1"}, Shape::kNamespace, true},
  };
  for (const KindInfo& info : kKinds) {
    if (kind == info.kind) return &info;
  }
  return nullptr;
}

// kubectl apply stores the whole object here, which for a Secret means its data in plain text.
constexpr char kLastApplied[] = "kubectl.kubernetes.io/last-applied-configuration";

// A Secret or ConfigMap key, as the API server validates it.
bool IsSecretKey(const std::string& key) {
  if (key.empty() || key.size() > 253 || key == "." || key == "..") return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// An RFC 1123 label: what RuntimeClass handlers must be.
bool IsDnsLabel(const std::string& text) {
  if (text.empty() || text.size() > 63 || text.front() == '-' || text.back() == '-') {
    return false;
  }
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// Standard base64 with padding, as Go's encoding/json decodes []byte fields (line breaks are
// ignored, anything else outside the alphabet is an error). nullopt when malformed.
std::optional<std::string> DecodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n') clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (size_t i = 0; i < clean.size(); i += 4) {
    const bool last = i + 4 == clean.size();
    const int pad = clean[i + 3] != '=' ? 0 : clean[i + 2] != '=' ? 1 : 2;
    if (pad > 0 && !last) return std::nullopt;
    uint32_t bits = 0;
    for (int j = 0; j < 4 - pad; ++j) {
      const int v = value(clean[i + j]);
      if (v < 0) return std::nullopt;
      bits |= static_cast<uint32_t>(v) << (18 - 6 * j);
    }
    out.push_back(static_cast<char>(bits >> 16));
    if (pad < 2) out.push_back(static_cast<char>((bits >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(bits & 0xFF));
  }
  return out;
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
    const KindInfo* info = FindKind(kind);
    if (info == nullptr) {
      ++set_->skipped_kinds[kind];
      return std::nullopt;
    }
    if (std::find(info->versions.begin(), info->versions.end(), api_version) ==
        info->versions.end()) {
      return Problem{object.Mark(), context + "apiVersion \"" + api_version +
                                        "\" is not supported for " + kind + " (use " +
                                        info->versions.front() + ")"};
    }
    // Names become storage keys: a kind that is kept must have a name Kubernetes accepts (the
    // kinds that are skipped have rules of their own, such as "system:coredns" for RBAC).
    if (Status st = CheckObjectName("metadata.name", meta.name()); !st.ok()) {
      return Problem{Field(object, "metadata").Mark(), context + st.error().message()};
    }
    if (Status st = CheckLabelName("metadata.namespace", meta.namespace_()); !st.ok()) {
      return Problem{Field(object, "metadata").Mark(), context + st.error().message()};
    }
    if (info->cluster_scoped) meta.clear_namespace_();
    switch (info->shape) {
      case Shape::kPod:
        return ReadPod(object, context, std::move(meta));
      case Shape::kSecret:
        return ReadSecret(object, context, std::move(meta));
      case Shape::kServiceAccount:
        return ReadServiceAccount(object, context, std::move(meta));
      case Shape::kRuntimeClass:
        return ReadRuntimeClass(object, context, std::move(meta));
      case Shape::kNamespace: {
        pb::Namespace ns;
        *ns.mutable_metadata() = std::move(meta);
        set_->namespaces.push_back(std::move(ns));
        return std::nullopt;
      }
      default:
        return ReadWorkload(object, *info, api_version, context, std::move(meta));
    }
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
    if (auto p = StringMap(metadata, "labels", where + "metadata.", meta->mutable_labels())) {
      return p;
    }
    return StringMap(metadata, "annotations", where + "metadata.", meta->mutable_annotations());
  }

  MaybeProblem ReadPod(const YAML::Node& object, const std::string& context, pb::ObjectMeta meta) {
    pb::Pod pod;
    *pod.mutable_metadata() = std::move(meta);
    if (auto p = ReadPodSpec(object, Field(object, "spec"), context + "spec", pod.mutable_spec())) {
      return p;
    }
    set_->pods.push_back(std::move(pod));
    return std::nullopt;
  }

  // The spec of a controller kind: the pod counts, then the pod template. `object` holds the
  // spec; the pod template lives at spec.template, or at spec.jobTemplate.spec.template for a
  // CronJob.
  MaybeProblem ReadWorkload(const YAML::Node& object, const KindInfo& info,
                            const std::string& api_version, const std::string& context,
                            pb::ObjectMeta meta) {
    const bool cron = info.shape == Shape::kCronJob;
    const YAML::Node spec = Field(object, "spec");
    if (!Present(spec) || !spec.IsMap()) {
      return Problem{
          Present(spec) ? spec.Mark() : object.Mark(),
          context + "spec: expected a mapping with a " + (cron ? "job template" : "pod template")};
    }

    pb::Workload workload;
    workload.set_kind(info.kind);
    workload.set_api_version(api_version);
    *workload.mutable_metadata() = std::move(meta);
    YAML::Node template_owner = spec;  // the mapping that holds `template`
    std::string template_path = context + "spec.";
    switch (info.shape) {
      case Shape::kReplicas:
      case Shape::kStatefulSet: {
        int replicas = 1;  // Kubernetes' default when the field is absent
        if (auto p = WholeNumber(spec, "replicas", context + "spec.", &replicas)) return p;
        workload.set_replicas(replicas);
        if (info.shape == Shape::kStatefulSet) {
          std::string service;
          if (auto p = ScalarField(spec, "serviceName", context + "spec.", &service)) return p;
          workload.set_service_name(service);
        }
        break;
      }
      case Shape::kJob: {
        int parallelism = 0;
        if (auto p = PodsAtOnce(spec, context + "spec.", &parallelism)) return p;
        workload.set_parallelism(parallelism);
        break;
      }
      case Shape::kCronJob: {
        if (auto p = ReadCronJob(spec, context, &workload, &template_owner)) return p;
        template_path = context + "spec.jobTemplate.spec.";
        break;
      }
      default:  // DaemonSet: one pod per node, no count of its own
        break;
    }
    if (auto p = ReadTemplate(template_owner, template_path, &workload)) return p;
    set_->workloads.push_back(std::move(workload));
    return std::nullopt;
  }

  // schedule and jobTemplate.spec of a CronJob; `job_spec` receives jobTemplate.spec.
  static MaybeProblem ReadCronJob(const YAML::Node& spec, const std::string& context,
                                  pb::Workload* workload, YAML::Node* job_spec) {
    std::string schedule;
    if (auto p = ScalarField(spec, "schedule", context + "spec.", &schedule)) return p;
    if (schedule.empty()) return Problem{spec.Mark(), context + "spec.schedule: missing"};
    workload->set_schedule(schedule);
    const YAML::Node job_template = Field(spec, "jobTemplate");
    if (!Present(job_template) || !job_template.IsMap()) {
      return Problem{Present(job_template) ? job_template.Mark() : spec.Mark(),
                     context + "spec.jobTemplate: missing job template"};
    }
    const YAML::Node inner = Field(job_template, "spec");
    if (!Present(inner) || !inner.IsMap()) {
      return Problem{Present(inner) ? inner.Mark() : job_template.Mark(),
                     context + "spec.jobTemplate.spec: expected a mapping with a pod template"};
    }
    int parallelism = 0;
    if (auto p = PodsAtOnce(inner, context + "spec.jobTemplate.spec.", &parallelism)) return p;
    workload->set_parallelism(parallelism);
    *job_spec = inner;
    return std::nullopt;
  }

  // The pods a Job runs at once, as its controller computes them: parallelism (default 1),
  // no more than completions when that is set, none while suspended.
  static MaybeProblem PodsAtOnce(const YAML::Node& job_spec, const std::string& path, int* out) {
    int parallelism = 1, completions = -1;
    if (auto p = WholeNumber(job_spec, "parallelism", path, &parallelism)) return p;
    if (auto p = WholeNumber(job_spec, "completions", path, &completions)) return p;
    bool suspend = false;
    const YAML::Node suspend_node = Field(job_spec, "suspend");
    if (Present(suspend_node) &&
        (!suspend_node.IsScalar() || !YAML::convert<bool>::decode(suspend_node, suspend))) {
      return Problem{suspend_node.Mark(), path + "suspend: expected true or false"};
    }
    if (completions >= 0) parallelism = std::min(parallelism, completions);
    *out = suspend ? 0 : parallelism;
    return std::nullopt;
  }

  // An optional whole number >= 0; `out` keeps its value when the field is absent.
  static MaybeProblem WholeNumber(const YAML::Node& map, const char* key, const std::string& path,
                                  int* out) {
    const YAML::Node node = Field(map, key);
    if (!Present(node)) return std::nullopt;
    int value = -1;
    if (!node.IsScalar() || !YAML::convert<int>::decode(node, value) || value < 0) {
      return Problem{node.Mark(), path + key + ": expected a whole number >= 0, got \"" +
                                      (node.IsScalar() ? node.Scalar() : TypeName(node)) + "\""};
    }
    *out = value;
    return std::nullopt;
  }

  // `path` ends in "spec." of the mapping `owner` that holds `template`.
  static MaybeProblem ReadTemplate(const YAML::Node& owner, const std::string& path,
                                   pb::Workload* workload) {
    const YAML::Node tmpl = Field(owner, "template");
    if (!Present(tmpl) || !tmpl.IsMap()) {
      return Problem{Present(tmpl) ? tmpl.Mark() : owner.Mark(),
                     path + "template: missing pod template"};
    }
    const YAML::Node tmpl_meta = Field(tmpl, "metadata");
    if (Present(tmpl_meta)) {
      if (!tmpl_meta.IsMap()) {
        return Problem{tmpl_meta.Mark(), path + "template.metadata: expected a mapping"};
      }
      if (auto p = StringMap(tmpl_meta, "labels", path + "template.metadata.",
                             workload->mutable_template_labels())) {
        return p;
      }
    }
    return ReadPodSpec(tmpl, Field(tmpl, "spec"), path + "template.spec",
                       workload->mutable_template_spec());
  }

  // A Secret. Its values never appear in a problem: only the secret's and the key's names.
  MaybeProblem ReadSecret(const YAML::Node& object, const std::string& context,
                          pb::ObjectMeta meta) {
    pb::Secret secret;
    meta.mutable_annotations()->erase(kLastApplied);
    *secret.mutable_metadata() = std::move(meta);
    std::string type;
    if (auto p = ScalarField(object, "type", context, &type)) return p;
    secret.set_type(type.empty() ? "Opaque" : type);
    const std::string payload_key = DockerPayloadKey(secret.type());
    // pullfleet uses only the Docker credential types. The values of any other type are
    // neither checked nor kept: no secret is held that nothing reads, and a template's
    // unsubstituted `password: $dbPassword` does not stop the rest of its file.
    if (!payload_key.empty()) {
      auto* data = secret.mutable_data();
      if (auto p = SecretEntries(object, "data", context, /*base64=*/true, data)) return p;
      if (auto p = SecretEntries(object, "stringData", context, /*base64=*/false, data)) return p;
      // Problems point at the entry (stringData wins, as the API server merges it last), else
      // at data, else at the object.
      // (Marks, not nodes, are kept: assigning a yaml-cpp node rebinds the one it held.)
      YAML::Mark at = object.Mark();
      bool at_entry = false;
      for (const char* key : {"data", "stringData"}) {
        const YAML::Node map = Field(object, key);
        if (!Present(map)) continue;
        const YAML::Node entry = Field(map, payload_key);
        if (Present(entry)) {
          at = entry.Mark();
          at_entry = true;
        } else if (!at_entry) {
          at = map.Mark();
        }
      }
      const auto found = secret.data().find(payload_key);
      if (found == secret.data().end()) {
        return Problem{
            at, context + "a Secret of type " + secret.type() + " needs data." + payload_key};
      }
      if (!nlohmann::json::accept(found->second)) {
        return Problem{at, context + "data." + payload_key + ": not valid JSON"};
      }
    }
    set_->secrets.push_back(std::move(secret));
    return std::nullopt;
  }

  // The data key holding the credentials of a Docker secret type (the API server requires
  // it and checks it is JSON); "" for every other type.
  static std::string DockerPayloadKey(const std::string& type) {
    if (type == "kubernetes.io/dockerconfigjson") return ".dockerconfigjson";
    if (type == "kubernetes.io/dockercfg") return ".dockercfg";
    return "";
  }

  template <class ProtoMap>
  static MaybeProblem SecretEntries(const YAML::Node& object, const char* key,
                                    const std::string& context, bool base64, ProtoMap* out) {
    const YAML::Node map = Field(object, key);
    if (!Present(map)) return std::nullopt;
    if (!map.IsMap()) {
      return Problem{map.Mark(), context + key + ": expected a mapping, got " + TypeName(map)};
    }
    for (const auto& [name, value] : Entries(map)) {
      const std::string where = context + key + "." + name;
      if (!IsSecretKey(name)) {
        return Problem{map.Mark(), context + key + ": \"" + name +
                                       "\" is not a valid key name (letters, digits, '-', "
                                       "'_' and '.', at most 253 characters)"};
      }
      if (Present(value) && !value.IsScalar()) {
        return Problem{value.Mark(), where + ": expected a string, got " + TypeName(value)};
      }
      const std::string text = Present(value) ? value.Scalar() : "";
      if (!base64) {
        (*out)[name] = text;
        continue;
      }
      std::optional<std::string> decoded = DecodeBase64(text);
      if (!decoded) return Problem{value.Mark(), where + ": value is not valid base64"};
      (*out)[name] = std::move(*decoded);
    }
    return std::nullopt;
  }

  MaybeProblem ReadServiceAccount(const YAML::Node& object, const std::string& context,
                                  pb::ObjectMeta meta) {
    pb::ServiceAccount account;
    *account.mutable_metadata() = std::move(meta);
    if (auto p = ReadPullSecrets(object, context, account.mutable_image_pull_secrets())) {
      return p;
    }
    set_->service_accounts.push_back(std::move(account));
    return std::nullopt;
  }

  MaybeProblem ReadRuntimeClass(const YAML::Node& object, const std::string& context,
                                pb::ObjectMeta meta) {
    pb::RuntimeClass runtime_class;
    *runtime_class.mutable_metadata() = std::move(meta);
    std::string handler;
    if (auto p = ScalarField(object, "handler", context, &handler)) return p;
    if (handler.empty()) return Problem{object.Mark(), context + "handler: missing"};
    if (!IsDnsLabel(handler)) {
      return Problem{Field(object, "handler").Mark(),
                     context + "handler \"" + handler +
                         "\" is not a DNS label (lowercase letters, digits and '-', at most 63)"};
    }
    runtime_class.set_handler(handler);
    set_->runtime_classes.push_back(std::move(runtime_class));
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
    if (auto p = ReadImageVolumes(spec, path, out)) return p;
    return ReadPullSecrets(spec, field_context, out->mutable_image_pull_secrets());
  }

  // imagePullSecrets of a pod spec or a ServiceAccount; `prefix` ends in "." or ": ".
  static MaybeProblem ReadPullSecrets(const YAML::Node& owner, const std::string& prefix,
                                      google::protobuf::RepeatedPtrField<std::string>* out) {
    const YAML::Node secrets = Field(owner, "imagePullSecrets");
    if (!Present(secrets)) return std::nullopt;
    if (!secrets.IsSequence()) {
      return Problem{secrets.Mark(), prefix + "imagePullSecrets: expected a list"};
    }
    for (size_t i = 0; i < secrets.size(); ++i) {
      const YAML::Node entry = secrets[i];
      const std::string where = prefix + "imagePullSecrets[" + std::to_string(i) + "]";
      if (!entry.IsMap()) return Problem{entry.Mark(), where + ": expected a mapping with a name"};
      std::string name;
      if (auto p = ScalarField(entry, "name", where + ".", &name)) return p;
      // Kubernetes accepts an empty entry and ignores it; so do we.
      if (!name.empty()) *out->Add() = name;
    }
    return std::nullopt;
  }

  // volumes[].image entries; other volume types are not read (a CSI driver's `image`
  // attribute, for one, is pulled by that driver, not by the kubelet).
  static MaybeProblem ReadImageVolumes(const YAML::Node& spec, const std::string& path,
                                       pb::PodSpec* out) {
    const YAML::Node volumes = Field(spec, "volumes");
    if (!Present(volumes)) return std::nullopt;
    if (!volumes.IsSequence()) {
      return Problem{volumes.Mark(), path + ".volumes: expected a list, got " + TypeName(volumes)};
    }
    for (size_t i = 0; i < volumes.size(); ++i) {
      const YAML::Node item = volumes[i];
      std::string where = path + ".volumes[" + std::to_string(i) + "]";
      if (!item.IsMap()) {
        return Problem{item.Mark(), where + ": expected a mapping, got " + TypeName(item)};
      }
      const YAML::Node image = Field(item, "image");
      if (!Present(image)) continue;
      std::string name, reference, policy;
      if (auto p = ScalarField(item, "name", where + ".", &name)) return p;
      if (name.empty()) return Problem{item.Mark(), where + ": volume has no name"};
      if (Status st = CheckLabelName("volume name", name); !st.ok()) {
        return Problem{Field(item, "name").Mark(), where + ": " + st.error().message()};
      }
      where += " (" + name + ")";
      if (!image.IsMap()) {
        return Problem{image.Mark(), where + ": image: expected a mapping, got " + TypeName(image)};
      }
      if (auto p = ScalarField(image, "reference", where + ": image.", &reference)) return p;
      if (reference.empty()) {
        return Problem{image.Mark(), where + ": image volume has no reference"};
      }
      if (auto p = PullPolicyField(image, "pullPolicy", where + ": image.", &policy)) return p;
      pb::ImageVolume* volume = out->add_image_volumes();
      volume->set_name(name);
      volume->set_reference(reference);
      volume->set_pull_policy(policy);
    }
    return std::nullopt;
  }

  // An optional pull policy: empty, or exactly one of the three values Kubernetes knows.
  static MaybeProblem PullPolicyField(const YAML::Node& map, const char* key,
                                      const std::string& prefix, std::string* out) {
    if (auto p = ScalarField(map, key, prefix, out)) return p;
    if (out->empty() || *out == "Always" || *out == "IfNotPresent" || *out == "Never") {
      return std::nullopt;
    }
    return Problem{Field(map, key).Mark(),
                   prefix + key + " \"" + *out + "\" is not one of Always, IfNotPresent, Never"};
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
    if (Status st = CheckLabelName("container name", name); !st.ok()) {
      return Problem{Field(item, "name").Mark(), where + ": " + st.error().message()};
    }
    where += " (" + name + ")";
    if (auto p = ScalarField(item, "image", where + ": ", &image)) return p;
    // An invalid reference is kept: the node reports InvalidImageName. A missing one is a
    // manifest error, as the API server would say.
    if (image.empty()) return Problem{item.Mark(), where + ": container has no image"};
    if (auto p = PullPolicyField(item, "imagePullPolicy", where + ": ", &policy)) return p;
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
