#include "pull/manifest.h"

#include <nlohmann/json.hpp>

#include "registry/client.h"

namespace pullfleet::pull {
namespace {

using nlohmann::json;

Result<json> ParseObject(std::string_view body, std::string_view what) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error(ErrorCode::kInvalidArgument, std::string(what) + " is not a JSON object");
  }
  return doc;
}

Result<store::Descriptor> ParseDescriptor(const json& node, const std::string& where) {
  if (!node.is_object()) {
    return Error(ErrorCode::kInvalidArgument, where + " is not an object");
  }
  store::Descriptor d;
  auto digest = node.find("digest");
  auto size = node.find("size");
  auto media = node.find("mediaType");
  if (digest == node.end() || !digest->is_string()) {
    return Error(ErrorCode::kInvalidArgument, where + " has no digest");
  }
  d.digest = digest->get<std::string>();
  if (!store::IsValidDigest(d.digest)) {
    return Error(ErrorCode::kInvalidArgument,
                 where + " has an invalid digest \"" + d.digest.substr(0, 80) + "\"");
  }
  if (size == node.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return Error(ErrorCode::kInvalidArgument, where + " has no valid size");
  }
  d.size = size->get<int64_t>();
  if (media != node.end() && media->is_string()) d.media_type = media->get<std::string>();
  return d;
}

}  // namespace

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == registry::kOciIndex || media_type == registry::kDockerManifestList;
}

bool IsManifestMediaType(std::string_view media_type) {
  return media_type == registry::kOciManifest || media_type == registry::kDockerManifest;
}

Result<std::string> DetectMediaType(std::string_view declared, std::string_view body) {
  if (IsIndexMediaType(declared) || IsManifestMediaType(declared)) return std::string(declared);
  auto doc = ParseObject(body, "manifest");
  if (!doc.ok()) return doc.error();
  std::string own = doc->value("mediaType", "");
  if (IsIndexMediaType(own) || IsManifestMediaType(own)) return own;
  if (!own.empty()) {
    return Error(ErrorCode::kUnsupported, "unsupported manifest media type " + own.substr(0, 100));
  }
  if (doc->value("schemaVersion", 0) == 2) {
    if (doc->contains("manifests")) return std::string(registry::kOciIndex);
    if (doc->contains("config")) return std::string(registry::kOciManifest);
  }
  std::string shown = declared.empty() ? "none" : std::string(declared.substr(0, 100));
  return Error(ErrorCode::kUnsupported,
               "unsupported manifest (media type " + shown + ", not schema 2)");
}

Result<ParsedIndex> ParseIndex(std::string_view body) {
  auto doc = ParseObject(body, "index");
  if (!doc.ok()) return doc.error();
  auto manifests = doc->find("manifests");
  if (manifests == doc->end() || !manifests->is_array()) {
    return Error(ErrorCode::kInvalidArgument, "index has no manifests array");
  }
  ParsedIndex index;
  for (size_t i = 0; i < manifests->size(); ++i) {
    const json& node = (*manifests)[i];
    auto d = ParseDescriptor(node, "index entry " + std::to_string(i));
    if (!d.ok()) return d.error();
    IndexEntry entry;
    entry.descriptor = std::move(*d);
    auto platform = node.find("platform");
    if (platform != node.end() && platform->is_object()) {
      entry.platform.os = platform->value("os", "");
      entry.platform.architecture = platform->value("architecture", "");
      entry.platform.variant = platform->value("variant", "");
    }
    index.manifests.push_back(std::move(entry));
  }
  return index;
}

Result<ParsedManifest> ParseManifest(std::string_view body) {
  auto doc = ParseObject(body, "manifest");
  if (!doc.ok()) return doc.error();
  auto config = doc->find("config");
  if (config == doc->end()) return Error(ErrorCode::kInvalidArgument, "manifest has no config");
  ParsedManifest m;
  auto c = ParseDescriptor(*config, "manifest config");
  if (!c.ok()) return c.error();
  m.config = std::move(*c);
  auto layers = doc->find("layers");
  if (layers == doc->end() || !layers->is_array()) {
    return Error(ErrorCode::kInvalidArgument, "manifest has no layers array");
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    auto d = ParseDescriptor((*layers)[i], "manifest layer " + std::to_string(i));
    if (!d.ok()) return d.error();
    m.layers.push_back(std::move(*d));
  }
  return m;
}

std::string DescribePlatforms(const ParsedIndex& index) {
  std::string out;
  for (const auto& e : index.manifests) {
    if (!out.empty()) out += ", ";
    if (e.platform.os.empty() && e.platform.architecture.empty()) {
      out += "(no platform)";
      continue;
    }
    std::string p = e.platform.os + "/" + e.platform.architecture;
    if (!e.platform.variant.empty()) p += "/" + e.platform.variant;
    out += p;
  }
  return out.empty() ? "none" : out;
}

}  // namespace pullfleet::pull
