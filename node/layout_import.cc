#include "node/layout_import.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "image/reference.h"
#include "node/local_images.h"
#include "pull/manifest.h"
#include "store/content_store.h"

namespace pullfleet::node {
namespace {

constexpr const char* kRefNameAnnotation = "org.opencontainers.image.ref.name";

std::filesystem::path SourceBlob(const std::filesystem::path& dir, const std::string& digest) {
  return dir / "blobs" / "sha256" / digest.substr(std::string("sha256:").size());
}

Result<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Streams one blob from the layout into the store through a verified ingest.
Status CopyBlob(const std::filesystem::path& dir, const store::Descriptor& blob,
                store::ContentStore& store) {
  if (!store::IsValidDigest(blob.digest)) {
    return Error(ErrorCode::kInvalidArgument, "invalid digest \"" + blob.digest + "\"");
  }
  if (store.Has(blob.digest)) return Status::Ok();
  std::ifstream in(SourceBlob(dir, blob.digest), std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "blob " + blob.digest + " is missing from the layout");
  auto ingest = store.BeginIngest(blob.digest, blob.size);
  if (!ingest.ok()) return ingest.error();
  // A partial ingest left by an interrupted import or pull resumes where it stopped; the
  // commit checks the digest of the whole.
  in.seekg((*ingest)->offset());
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) {
      auto appended = (*ingest)->Append(buffer.data(), static_cast<size_t>(in.gcount()));
      if (!appended.ok()) return appended.error();
    }
  }
  return (*ingest)->Commit();
}

Status CopyManifestBlob(const std::string& digest, const std::string& body,
                        store::ContentStore& store) {
  if (store.Has(digest)) return Status::Ok();
  return store.WriteBlob(digest, body);
}

Result<pb::ImageRecord> ImportOne(const std::filesystem::path& dir, const std::string& ref_name,
                                  const store::Descriptor& top, LocalImages& images,
                                  const image::Platform& platform) {
  auto ref = image::ParseReference(ref_name);
  if (!ref.ok() || ref_name.find('/') == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "ref name \"" + ref_name + "\" is not a full image reference (write the layout "
                 "with oci:DIR:registry.example.com/name:tag)");
  }
  auto& store = images.store();
  auto top_body = ReadText(SourceBlob(dir, top.digest));
  if (!top_body.ok()) return top_body.error();
  if (store::Sha256Digest(*top_body) != top.digest) {
    return Error(ErrorCode::kDigestMismatch, "manifest " + top.digest + " does not match its digest");
  }

  std::string manifest_digest = top.digest;
  std::string manifest_body = *top_body;
  auto media_type = pull::DetectMediaType(top.media_type, *top_body);
  if (!media_type.ok()) return media_type.error();
  if (pull::IsIndexMediaType(*media_type)) {
    auto index = pull::ParseIndex(*top_body);
    if (!index.ok()) return index.error();
    std::vector<image::Platform> platforms;
    for (const auto& entry : index->manifests) platforms.push_back(entry.platform);
    auto best = image::BestMatch(platform, platforms);
    if (!best) {
      return Error(ErrorCode::kNoMatchingPlatform,
                   "no " + platform.ToString() + " image in the index (it has " +
                       pull::DescribePlatforms(*index) + ")");
    }
    manifest_digest = index->manifests[*best].descriptor.digest;
    auto body = ReadText(SourceBlob(dir, manifest_digest));
    if (!body.ok()) return body.error();
    if (store::Sha256Digest(*body) != manifest_digest) {
      return Error(ErrorCode::kDigestMismatch, "manifest " + manifest_digest + " does not match");
    }
    manifest_body = *body;
  }
  auto manifest = pull::ParseManifest(manifest_body);
  if (!manifest.ok()) return manifest.error();

  // Content first, manifests last, the record at the very end.
  pb::ImageRecord record;
  int64_t size = manifest->config.size;
  if (auto s = CopyBlob(dir, manifest->config, store); !s.ok()) return s.error();
  for (const auto& layer : manifest->layers) {
    if (auto s = CopyBlob(dir, layer, store); !s.ok()) return s.error();
    record.add_layer_digests(layer.digest);
    size += layer.size;
  }
  if (auto s = CopyManifestBlob(manifest_digest, manifest_body, store); !s.ok()) return s.error();
  if (auto s = CopyManifestBlob(top.digest, *top_body, store); !s.ok()) return s.error();
  if (auto s = store.Tag(ref->Normalized(), top); !s.ok()) return s.error();

  record.set_reference(ref->Normalized());
  record.set_digest(top.digest);
  record.set_manifest_digest(manifest_digest);
  record.set_config_digest(manifest->config.digest);
  record.set_size(size);
  record.set_pulled_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  return record;
}

}  // namespace

Result<std::vector<pb::ImageRecord>> ImportLayout(const std::filesystem::path& dir,
                                                  LocalImages& images,
                                                  const image::Platform& platform,
                                                  const std::string& runtime_handler) {
  auto index_text = ReadText(dir / "index.json");
  if (!index_text.ok()) return index_text.error().Wrap("import " + dir.string());
  nlohmann::json index = nlohmann::json::parse(*index_text, nullptr, false);
  if (index.is_discarded() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return Error(ErrorCode::kInvalidArgument,
                 "import " + dir.string() + ": index.json is not an OCI image index");
  }
  std::vector<pb::ImageRecord> records;
  for (const auto& entry : index["manifests"]) {
    const auto ref_name = entry.value("annotations", nlohmann::json::object())
                              .value(kRefNameAnnotation, std::string());
    if (ref_name.empty()) continue;  // untagged content: nothing to name it by
    store::Descriptor top;
    top.media_type = entry.value("mediaType", std::string());
    top.digest = entry.value("digest", std::string());
    top.size = entry.value("size", int64_t{0});
    if (!store::IsValidDigest(top.digest)) {
      return Error(ErrorCode::kInvalidArgument, "import " + dir.string() + ": entry " + ref_name +
                                                    " has an invalid digest");
    }
    auto record = ImportOne(dir, ref_name, top, images, platform);
    if (!record.ok()) return record.error().Wrap("import " + dir.string() + " " + ref_name);
    record->set_runtime_handler(runtime_handler);
    record->set_preloaded(true);
    if (auto s = images.Record(*record); !s.ok()) return s.error();
    records.push_back(std::move(record).value());
  }
  if (records.empty()) {
    return Error(ErrorCode::kNotFound, "import " + dir.string() +
                                           ": no index.json entry carries a ref name annotation");
  }
  return records;
}

}  // namespace pullfleet::node
