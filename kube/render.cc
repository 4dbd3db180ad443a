// Kubernetes-shaped text and JSON for the CLI. Everything here is pure formatting: the same
// protobuf objects and `now` always give the same bytes, which the tests rely on.
#include "kube/render.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

namespace pullfleet::kube {
namespace {

using Json = nlohmann::json;
using Statuses = google::protobuf::RepeatedPtrField<pb::ContainerStatus>;

// Aligns tab-separated cells the way Go's text/tabwriter does, which is what kubectl prints
// through: a column block is a run of consecutive lines that all have a tab-terminated cell in
// that column; each such cell is padded to the block's widest cell plus `padding` (at least
// `min_width`). The last cell of a line is never padded.
class TabWriter {
 public:
  TabWriter(int min_width, int padding) : min_width_(min_width), padding_(padding) {}

  std::string Format(std::string_view text) {
    lines_.clear();
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::vector<std::string> cells;
      std::string_view line = text.substr(pos, end - pos);
      size_t start = 0;
      for (size_t tab; (tab = line.find('\t', start)) != std::string_view::npos; start = tab + 1) {
        cells.emplace_back(line.substr(start, tab - start));
      }
      cells.emplace_back(line.substr(start));
      lines_.push_back(std::move(cells));
      pos = end + 1;
    }
    out_.clear();
    widths_.clear();
    FormatBlock(0, lines_.size());
    return out_;
  }

 private:
  // Width in characters (UTF-8 code points), not bytes.
  static int CellWidth(const std::string& cell) {
    int width = 0;
    for (unsigned char c : cell) width += (c & 0xC0) != 0x80;
    return width;
  }

  void FormatBlock(size_t line0, size_t line1) {
    const size_t column = widths_.size();
    for (size_t i = line0; i < line1; ++i) {
      if (column + 1 >= lines_[i].size()) continue;
      // A block for `column` begins here: lines before it are done at this depth.
      WriteLines(line0, i);
      line0 = i;
      int width = min_width_;
      for (; i < line1 && column + 1 < lines_[i].size(); ++i) {
        width = std::max(width, CellWidth(lines_[i][column]) + padding_);
      }
      widths_.push_back(width);
      FormatBlock(line0, i);
      widths_.pop_back();
      line0 = i;
    }
    WriteLines(line0, line1);
  }

  void WriteLines(size_t line0, size_t line1) {
    for (size_t i = line0; i < line1; ++i) {
      const auto& cells = lines_[i];
      for (size_t j = 0; j < cells.size(); ++j) {
        out_ += cells[j];
        if (j < widths_.size()) out_.append(widths_[j] - CellWidth(cells[j]), ' ');
      }
      out_ += '\n';
    }
  }

  int min_width_;
  int padding_;
  std::vector<std::vector<std::string>> lines_;
  std::vector<int> widths_;
  std::string out_;
};

// kubectl's settings: `get` tables use minimum width 6 and 3 spaces of padding, `describe`
// uses no minimum and 2 spaces.
std::string AlignTable(std::string_view text) {
  return TabWriter(6, 3).Format(text);
}
std::string AlignDescribe(std::string_view text) {
  return TabWriter(0, 2).Format(text);
}

// Cells must not carry their own tabs or line breaks, or the layout breaks.
std::string Cell(std::string_view text) {
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  const size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

std::string OrNone(const std::string& text) {
  return text.empty() ? "<none>" : Cell(text);
}

std::tm UtcTime(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return tm;
}

// "2024-01-02T03:04:05Z", as Kubernetes writes metav1.Time.
std::string Rfc3339(int64_t unix_ms) {
  std::tm tm = UtcTime(unix_ms);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// "2024-01-02T03:04:05.123000Z", as Kubernetes writes metav1.MicroTime.
std::string Rfc3339Micro(int64_t unix_ms) {
  std::tm tm = UtcTime(unix_ms);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char micros[16];
  std::snprintf(micros, sizeof micros, ".%06dZ",
                static_cast<int>(((unix_ms % 1000) + 1000) % 1000) * 1000);
  return std::string(buffer) + micros;
}

// "Tue, 02 Jan 2024 03:04:05 +0000", kubectl describe's Start Time (RFC 1123 with zone).
std::string Rfc1123(int64_t unix_ms) {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm = UtcTime(unix_ms);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buffer;
}

// Age of something that happened at `then_unix_ms`; kubectl prints "<unknown>" for no time.
std::string Age(int64_t then_unix_ms, int64_t now_unix_ms) {
  if (then_unix_ms <= 0) return "<unknown>";
  return HumanDuration(now_unix_ms - then_unix_ms);
}

int64_t SystemNowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const pb::ContainerStatus* FindStatus(const Statuses& statuses, const std::string& name) {
  for (const auto& status : statuses) {
    if (status.name() == name) return &status;
  }
  return nullptr;
}

bool IsReady(const Statuses& statuses, const pb::Container& container) {
  const pb::ContainerStatus* status = FindStatus(statuses, container.name());
  return status != nullptr && status->ready();
}

std::string WaitingReason(const pb::ContainerStatus* status) {
  if (status == nullptr || status->ready() || !status->has_waiting()) return "";
  return status->waiting().reason();
}

// A native sidecar is an init container that keeps running; kubectl counts it as a container.
bool IsSidecar(const pb::Container& container) {
  return container.restart_policy() == "Always";
}

// "1/2": containers (and sidecars) whose image is present, of all of them.
std::string ReadyText(const pb::Pod& pod) {
  int ready = 0, total = 0;
  for (const auto& container : pod.spec().init_containers()) {
    if (!IsSidecar(container)) continue;
    ++total;
    ready += IsReady(pod.status().init_container_statuses(), container);
  }
  for (const auto& container : pod.spec().containers()) {
    ++total;
    ready += IsReady(pod.status().container_statuses(), container);
  }
  return std::to_string(ready) + "/" + std::to_string(total);
}

std::string PhaseOrPending(const pb::Pod& pod) {
  return pod.status().phase().empty() ? "Pending" : pod.status().phase();
}

std::string Images(const pb::Pod& pod) {
  std::string images;
  for (const auto& container : pod.spec().containers()) {
    if (!images.empty()) images += ",";
    images += container.image();
  }
  return images;
}

// ---------------------------------------------------------------------------------------------
// JSON pieces.

Json ContainerJson(const pb::Container& container) {
  Json json = {{"name", container.name()}, {"image", container.image()}};
  if (!container.image_pull_policy().empty()) {
    json["imagePullPolicy"] = container.image_pull_policy();
  }
  if (!container.restart_policy().empty()) json["restartPolicy"] = container.restart_policy();
  return json;
}

Json ContainerStatusJson(const pb::ContainerStatus& status) {
  Json state = Json::object();
  if (!status.ready()) {
    Json waiting = Json::object();
    if (!status.waiting().reason().empty()) waiting["reason"] = status.waiting().reason();
    if (!status.waiting().message().empty()) waiting["message"] = status.waiting().message();
    state["waiting"] = waiting;
  }
  // pullfleet starts no containers: restartCount is always 0 and started always false.
  return {{"name", status.name()},   {"image", status.image()}, {"imageID", status.image_id()},
          {"ready", status.ready()}, {"restartCount", 0},       {"started", false},
          {"state", state}};
}

Json StatusesJson(const Statuses& statuses) {
  Json list = Json::array();
  for (const auto& status : statuses) list.push_back(ContainerStatusJson(status));
  return list;
}

std::string OwnerApiVersion(const std::string& kind) {
  if (kind == "ReplicaSet" || kind == "Deployment" || kind == "StatefulSet" ||
      kind == "DaemonSet") {
    return "apps/v1";
  }
  if (kind == "Job" || kind == "CronJob") return "batch/v1";
  return "v1";
}

Json MetadataJson(const pb::ObjectMeta& meta) {
  Json json = {{"name", meta.name()}, {"namespace", meta.namespace_()}};
  if (!meta.uid().empty()) json["uid"] = meta.uid();
  if (meta.creation_unix_ms() > 0) json["creationTimestamp"] = Rfc3339(meta.creation_unix_ms());
  if (!meta.labels().empty()) {
    json["labels"] = std::map<std::string, std::string>(meta.labels().begin(), meta.labels().end());
  }
  if (!meta.owner_kind().empty()) {
    // Known shortcoming: pullfleet does not keep the owner's uid, which Kubernetes requires in
    // an ownerReference; readers that only follow kind/name are served.
    json["ownerReferences"] = Json::array({{{"apiVersion", OwnerApiVersion(meta.owner_kind())},
                                            {"kind", meta.owner_kind()},
                                            {"name", meta.owner_name()},
                                            {"controller", true}}});
  }
  return json;
}

Json SpecJson(const pb::PodSpec& spec) {
  Json json = Json::object();
  Json containers = Json::array();
  for (const auto& container : spec.containers()) containers.push_back(ContainerJson(container));
  json["containers"] = containers;
  if (!spec.init_containers().empty()) {
    Json init = Json::array();
    for (const auto& container : spec.init_containers()) init.push_back(ContainerJson(container));
    json["initContainers"] = init;
  }
  if (!spec.node_name().empty()) json["nodeName"] = spec.node_name();
  if (!spec.image_pull_secrets().empty()) {
    Json secrets = Json::array();
    for (const auto& name : spec.image_pull_secrets()) secrets.push_back({{"name", name}});
    json["imagePullSecrets"] = secrets;
  }
  if (!spec.service_account_name().empty()) {
    json["serviceAccountName"] = spec.service_account_name();
  }
  if (!spec.runtime_class_name().empty()) json["runtimeClassName"] = spec.runtime_class_name();
  if (!spec.node_selector().empty()) {
    json["nodeSelector"] = std::map<std::string, std::string>(spec.node_selector().begin(),
                                                              spec.node_selector().end());
  }
  if (!spec.image_volumes().empty()) {
    // Only image volumes are kept (see kube/manifests.h), in the v1 shape.
    Json volumes = Json::array();
    for (const auto& volume : spec.image_volumes()) {
      Json image = {{"reference", volume.reference()}};
      if (!volume.pull_policy().empty()) image["pullPolicy"] = volume.pull_policy();
      volumes.push_back({{"name", volume.name()}, {"image", image}});
    }
    json["volumes"] = volumes;
  }
  return json;
}

Json PodStatusJson(const pb::PodStatus& status) {
  Json json = {{"phase", status.phase().empty() ? "Pending" : status.phase()}};
  if (!status.conditions().empty()) {
    Json conditions = Json::array();
    for (const auto& condition : status.conditions()) {
      Json c = {{"type", condition.type()}, {"status", condition.status()}};
      if (condition.last_transition_unix_ms() > 0) {
        c["lastTransitionTime"] = Rfc3339(condition.last_transition_unix_ms());
      }
      if (!condition.reason().empty()) c["reason"] = condition.reason();
      if (!condition.message().empty()) c["message"] = condition.message();
      conditions.push_back(c);
    }
    json["conditions"] = conditions;
  }
  if (!status.container_statuses().empty()) {
    json["containerStatuses"] = StatusesJson(status.container_statuses());
  }
  if (!status.init_container_statuses().empty()) {
    json["initContainerStatuses"] = StatusesJson(status.init_container_statuses());
  }
  // Not a v1 field: Kubernetes has no status for image volumes, pullfleet reports their pulls
  // like containers' (readers of v1 ignore unknown fields).
  if (!status.image_volume_statuses().empty()) {
    json["imageVolumeStatuses"] = StatusesJson(status.image_volume_statuses());
  }
  return json;
}

// kubectl's layout: 4 spaces of indent; invalid UTF-8 is replaced rather than thrown on.
std::string DumpJson(const Json& json) {
  return json.dump(4, ' ', false, Json::error_handler_t::replace) + "\n";
}

// ---------------------------------------------------------------------------------------------
// describe pieces. Lines carry tabs between label and value; AlignDescribe lines them up.

void AppendLabels(std::string* out, const std::string& title,
                  const google::protobuf::Map<std::string, std::string>& labels) {
  *out += title + ":\t";
  if (labels.empty()) {
    *out += "<none>\n";
    return;
  }
  std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  bool first = true;
  for (const auto& [key, value] : sorted) {
    if (!first) *out += "\t";
    *out += Cell(key) + "=" + Cell(value) + "\n";
    first = false;
  }
}

std::string ProgressText(const pb::PullProgress& progress) {
  std::string text =
      FormatBytes(static_cast<double>(progress.bytes_done())) + " / " +
      (progress.bytes_total() > 0 ? FormatBytes(static_cast<double>(progress.bytes_total()))
                                  : std::string("?"));
  text += ", " + std::to_string(progress.layers_done()) + "/" +
          std::to_string(progress.layers_total()) + " layers";
  if (progress.bytes_per_second() > 0)
    text += ", " + FormatBytes(progress.bytes_per_second()) + "/s";
  return text;
}

bool HasProgress(const pb::ContainerStatus& status) {
  if (status.ready() || !status.has_progress()) return false;
  const auto& p = status.progress();
  return p.bytes_total() > 0 || p.bytes_done() > 0 || p.layers_total() > 0;
}

void AppendContainer(std::string* out, const pb::Container& container, const Statuses& statuses) {
  const pb::ContainerStatus* status = FindStatus(statuses, container.name());
  *out += "  " + Cell(container.name()) + ":\n";
  *out += "    Image:\t" + Cell(container.image()) + "\n";
  *out += "    Image ID:\t" + (status ? Cell(status->image_id()) : "") + "\n";
  *out += "    Image Pull Policy:\t" + OrNone(container.image_pull_policy()) + "\n";
  if (status != nullptr && status->ready()) {
    // pullfleet's work ends when the image is on the node; there is no Running state.
    *out += "    State:\tImagePresent\n";
  } else {
    *out += "    State:\tWaiting\n";
    if (status != nullptr && !status->waiting().reason().empty()) {
      *out += "      Reason:\t" + Cell(status->waiting().reason()) + "\n";
    }
    if (status != nullptr && !status->waiting().message().empty()) {
      *out += "      Message:\t" + Cell(status->waiting().message()) + "\n";
    }
  }
  if (status != nullptr && HasProgress(*status)) {
    *out += "    Pull Progress:\t" + ProgressText(status->progress()) + "\n";
  }
  *out += std::string("    Ready:\t") + (status != nullptr && status->ready() ? "True" : "False") +
          "\n";
}

// "10s", or "2m (x3 over 5m)" for a repeated event, as kubectl prints an event's age.
std::string EventAge(const pb::Event& event, int64_t now_unix_ms) {
  const int64_t first = event.first_unix_ms() > 0 ? event.first_unix_ms() : event.last_unix_ms();
  const int64_t last = event.last_unix_ms() > 0 ? event.last_unix_ms() : first;
  if (event.count() > 1) {
    return Age(last, now_unix_ms) + " (x" + std::to_string(event.count()) + " over " +
           Age(first, now_unix_ms) + ")";
  }
  return Age(first, now_unix_ms);
}

void AppendEvents(std::string* out, const pb::Pod& pod, int64_t now_unix_ms) {
  if (pod.events().empty()) {
    *out += "Events:\t<none>\n";
    return;
  }
  std::vector<const pb::Event*> events;
  for (const auto& event : pod.events()) events.push_back(&event);
  // Oldest last-seen first, as kubectl sorts them.
  std::stable_sort(events.begin(), events.end(), [](const pb::Event* a, const pb::Event* b) {
    const int64_t la = a->last_unix_ms() > 0 ? a->last_unix_ms() : a->first_unix_ms();
    const int64_t lb = b->last_unix_ms() > 0 ? b->last_unix_ms() : b->first_unix_ms();
    return la < lb;
  });
  *out += "Events:\n  Type\tReason\tAge\tFrom\tMessage\n";
  *out += "  ----\t------\t----\t----\t-------\n";
  for (const pb::Event* event : events) {
    *out += "  " + Cell(event->type()) + "\t" + Cell(event->reason()) + "\t" +
            EventAge(*event, now_unix_ms) + "\t" + Cell(event->source()) + "\t" +
            Cell(event->message()) + "\n";
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string PodStatusText(const pb::Pod& pod) {
  const pb::PodSpec& spec = pod.spec();
  const pb::PodStatus& status = pod.status();
  // A pod whose node is lost is not ready whatever its containers last reported.
  for (const auto& condition : status.conditions()) {
    if (condition.type() == "ImagesReady" && condition.reason() == "NodeLost") return "NodeLost";
  }
  if (status.init_container_statuses().empty() && status.container_statuses().empty()) {
    return PhaseOrPending(pod);
  }

  // Image volumes are pulled before any container can start: a failed one decides.
  for (const auto& volume : status.image_volume_statuses()) {
    const std::string reason = WaitingReason(&volume);
    if (!reason.empty() && reason != "ContainerCreating") return reason;
  }

  // Init containers run in order: the first one not ready decides.
  const int init_count = spec.init_containers_size();
  for (int i = 0; i < init_count; ++i) {
    const pb::Container& container = spec.init_containers(i);
    const pb::ContainerStatus* cs = FindStatus(status.init_container_statuses(), container.name());
    if (cs != nullptr && cs->ready()) continue;
    const std::string reason = WaitingReason(cs);
    if (!reason.empty() && reason != "PodInitializing" && reason != "ContainerCreating") {
      return "Init:" + reason;
    }
    return "Init:" + std::to_string(i) + "/" + std::to_string(init_count);
  }

  bool all_ready = true;
  for (const auto& container : spec.containers()) {
    const pb::ContainerStatus* cs = FindStatus(status.container_statuses(), container.name());
    if (cs != nullptr && cs->ready()) continue;
    all_ready = false;
    const std::string reason = WaitingReason(cs);
    if (!reason.empty()) return reason;
  }
  return all_ready ? "ImagesReady" : PhaseOrPending(pod);
}

std::string PodTable(const pb::PodList& pods, const TableOptions& options) {
  if (pods.items().empty()) return "";
  std::string text;
  if (options.show_namespace) text += "NAMESPACE\t";
  text += "NAME\tREADY\tSTATUS\tRESTARTS\tAGE";
  if (options.wide) text += "\tNODE\tIMAGES";
  text += "\n";
  for (const pb::Pod& pod : pods.items()) {
    if (options.show_namespace) text += Cell(pod.metadata().namespace_()) + "\t";
    text += Cell(pod.metadata().name()) + "\t" + ReadyText(pod) + "\t" + PodStatusText(pod) +
            "\t0\t" + Age(pod.metadata().creation_unix_ms(), options.now_unix_ms);
    if (options.wide) text += "\t" + OrNone(pod.spec().node_name()) + "\t" + Cell(Images(pod));
    text += "\n";
  }
  return AlignTable(text);
}

Json PodObject(const pb::Pod& pod) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", MetadataJson(pod.metadata())},
          {"spec", SpecJson(pod.spec())},
          {"status", PodStatusJson(pod.status())}};
}

std::string PodJson(const pb::Pod& pod) {
  return DumpJson(PodObject(pod));
}

std::string PodListJson(const pb::PodList& pods) {
  Json items = Json::array();
  for (const pb::Pod& pod : pods.items()) items.push_back(PodObject(pod));
  Json list = {{"apiVersion", "v1"},
               {"kind", "PodList"},
               {"metadata", {{"resourceVersion", ""}}},
               {"items", items}};
  return DumpJson(list);
}

std::string DescribePod(const pb::Pod& pod, int64_t now_unix_ms) {
  const pb::ObjectMeta& meta = pod.metadata();
  const pb::PodSpec& spec = pod.spec();
  std::string out;
  out += "Name:\t" + Cell(meta.name()) + "\n";
  out += "Namespace:\t" + Cell(meta.namespace_()) + "\n";
  out += "Service Account:\t" + OrNone(spec.service_account_name()) + "\n";
  out += "Node:\t" + OrNone(spec.node_name()) + "\n";
  if (meta.creation_unix_ms() > 0) out += "Start Time:\t" + Rfc1123(meta.creation_unix_ms()) + "\n";
  AppendLabels(&out, "Labels", meta.labels());
  out += "Status:\t" + PhaseOrPending(pod) + "\n";
  if (!spec.runtime_class_name().empty()) {
    out += "Runtime Class Name:\t" + Cell(spec.runtime_class_name()) + "\n";
  }
  if (!meta.owner_kind().empty()) {
    out += "Controlled By:\t" + Cell(meta.owner_kind()) + "/" + Cell(meta.owner_name()) + "\n";
  }
  AppendLabels(&out, "Node-Selectors", spec.node_selector());
  std::string secrets;
  for (const auto& name : spec.image_pull_secrets())
    secrets += (secrets.empty() ? "" : ", ") + name;
  out += "Image Pull Secrets:\t" + OrNone(secrets) + "\n";

  if (!spec.init_containers().empty()) {
    out += "Init Containers:\n";
    for (const auto& c : spec.init_containers()) {
      AppendContainer(&out, c, pod.status().init_container_statuses());
    }
  }
  out += "Containers:\n";
  for (const auto& c : spec.containers()) {
    AppendContainer(&out, c, pod.status().container_statuses());
  }
  if (!pod.status().conditions().empty()) {
    out += "Conditions:\n  Type\tStatus\n";
    for (const auto& condition : pod.status().conditions()) {
      // kubectl leaves a space after each cell here; kept so the output matches.
      out += "  " + Cell(condition.type()) + " \t" + Cell(condition.status()) + " \n";
    }
  }
  AppendEvents(&out, pod, now_unix_ms);
  return AlignDescribe(out);
}

std::string ImageTable(const pb::ImageList& images, int64_t now_unix_ms) {
  std::vector<const pb::ImageRecord*> sorted;
  for (const auto& image : images.images()) sorted.push_back(&image);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->reference() < b->reference(); });
  std::string text = "REFERENCE\tDIGEST\tSIZE\tAGE\n";
  for (const pb::ImageRecord* image : sorted) {
    text += Cell(image->reference()) + "\t" + OrNone(image->digest()) + "\t" +
            FormatBytes(static_cast<double>(image->size())) + "\t" +
            Age(image->pulled_unix_ms(), now_unix_ms) + "\n";
  }
  return AlignTable(text) + "Store: " + OrNone(images.store_path()) + "\n";
}

std::string ImageTable(const pb::ImageList& images) {
  return ImageTable(images, SystemNowMs());
}

std::string ImageListJson(const pb::ImageList& images) {
  Json list = Json::array();
  for (const auto& image : images.images()) {
    Json json = {{"reference", image.reference()},
                 {"digest", image.digest()},
                 {"manifestDigest", image.manifest_digest()},
                 {"configDigest", image.config_digest()},
                 {"size", image.size()},
                 {"layers", std::vector<std::string>(image.layer_digests().begin(),
                                                     image.layer_digests().end())}};
    if (image.pulled_unix_ms() > 0) json["pulledAt"] = Rfc3339(image.pulled_unix_ms());
    if (!image.runtime_handler().empty()) json["runtimeHandler"] = image.runtime_handler();
    list.push_back(json);
  }
  return DumpJson({{"node", images.node()}, {"storePath", images.store_path()}, {"images", list}});
}

std::string AlignColumns(std::string_view tab_separated) {
  return AlignTable(tab_separated);
}

std::string FormatBytes(double bytes) {
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(static_cast<int64_t>(bytes < 0 ? 0 : bytes)) + " B";
  int unit = -1;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %s", bytes, kUnits[unit]);
  return buffer;
}

// Same thresholds as Kubernetes' duration.HumanDuration: about two significant figures, and
// up to 2 s in the future still counts as now (clocks of different machines disagree).
std::string HumanDuration(int64_t milliseconds) {
  const int64_t seconds = milliseconds / 1000;  // truncates toward zero, like Go's int()
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";

  auto join = [](int64_t major, const char* major_unit, int64_t minor, const char* minor_unit) {
    std::string text = std::to_string(major) + major_unit;
    if (minor != 0) text += std::to_string(minor) + minor_unit;
    return text;
  };
  const int64_t minutes = seconds / 60;
  if (minutes < 10) return join(minutes, "m", seconds % 60, "s");
  if (minutes < 3 * 60) return std::to_string(minutes) + "m";
  const int64_t hours = minutes / 60;
  if (hours < 8) return join(hours, "h", minutes % 60, "m");
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) return join(hours / 24, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) return join(hours / 24 / 365, "y", (hours / 24) % 365, "d");
  return std::to_string(hours / 24 / 365) + "y";
}

}  // namespace pullfleet::kube

namespace pullfleet::kube {
namespace {

struct PodEvent {
  const pb::Pod* pod;
  const pb::Event* event;
};

int64_t LastSeen(const pb::Event& event) {
  return event.last_unix_ms() > 0 ? event.last_unix_ms() : event.first_unix_ms();
}

// Every event of every pod, oldest first by first occurrence (ties keep pod order).
std::vector<PodEvent> SortedEvents(const pb::PodList& pods) {
  std::vector<PodEvent> events;
  for (const auto& pod : pods.items()) {
    for (const auto& event : pod.events()) events.push_back({&pod, &event});
  }
  std::stable_sort(events.begin(), events.end(), [](const PodEvent& a, const PodEvent& b) {
    return a.event->first_unix_ms() < b.event->first_unix_ms();
  });
  return events;
}

}  // namespace

std::string EventListJson(const pb::PodList& pods) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& [pod, event] : SortedEvents(pods)) {
    const auto& meta = pod->metadata();
    nlohmann::json item;
    item["apiVersion"] = "v1";
    item["kind"] = "Event";
    item["metadata"] = {{"namespace", meta.namespace_()},
                        {"name", meta.name() + "." + std::to_string(event->first_unix_ms())}};
    item["involvedObject"] = {{"apiVersion", "v1"},
                              {"kind", "Pod"},
                              {"namespace", meta.namespace_()},
                              {"name", meta.name()},
                              {"uid", meta.uid()}};
    item["type"] = event->type();
    item["reason"] = event->reason();
    item["message"] = event->message();
    item["count"] = std::max(1, event->count());
    item["source"] = {{"component", "pullfleet"}, {"host", event->source()}};
    item["firstTimestamp"] = Rfc3339(event->first_unix_ms());
    item["lastTimestamp"] = Rfc3339(LastSeen(*event));
    item["eventTime"] = Rfc3339Micro(event->first_unix_ms());
    items.push_back(std::move(item));
  }
  nlohmann::json list = {{"apiVersion", "v1"}, {"kind", "EventList"}, {"items", items}};
  return list.dump(2);
}

std::string EventTable(const pb::PodList& pods, bool show_namespace, int64_t now_unix_ms) {
  auto events = SortedEvents(pods);
  if (events.empty()) return "";
  // kubectl sorts the table by last seen.
  std::stable_sort(events.begin(), events.end(), [](const PodEvent& a, const PodEvent& b) {
    return LastSeen(*a.event) < LastSeen(*b.event);
  });
  std::string rows = show_namespace ? "NAMESPACE\t" : "";
  rows += "LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE\n";
  for (const auto& [pod, event] : events) {
    if (show_namespace) rows += Cell(pod->metadata().namespace_()) + "\t";
    rows += HumanDuration(std::max<int64_t>(0, now_unix_ms - LastSeen(*event))) + "\t" +
            Cell(event->type()) + "\t" + Cell(event->reason()) + "\tpod/" +
            Cell(pod->metadata().name()) + "\t" + Cell(event->message()) + "\n";
  }
  return AlignColumns(rows);
}

}  // namespace pullfleet::kube
