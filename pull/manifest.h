// Parsing of OCI / Docker schema 2 manifests and indexes (manifest lists) into the few fields
// a pull needs, with every digest validated before it can reach a file path. Pure functions,
// no I/O; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/platform.h"
#include "store/content_store.h"

namespace pullfleet::pull {

// One entry of an index, with the platform it was built for.
struct IndexEntry {
  store::Descriptor descriptor;
  image::Platform platform;
};

struct ParsedIndex {
  std::vector<IndexEntry> manifests;
};

// An image manifest: the config blob and the layers in order.
struct ParsedManifest {
  store::Descriptor config;
  std::vector<store::Descriptor> layers;
};

// True for the OCI index and Docker manifest list media types.
bool IsIndexMediaType(std::string_view media_type);
// True for the OCI image manifest and Docker schema 2 manifest media types.
bool IsManifestMediaType(std::string_view media_type);

// The media type of a manifest body: `declared` (Content-Type) when it is one pullfleet
// knows, else the body's own mediaType field, else guessed from its shape ("manifests" ->
// OCI index, "config" -> OCI manifest). kUnsupported for anything else (schema 1, ...).
Result<std::string> DetectMediaType(std::string_view declared, std::string_view body);

// kInvalidArgument, naming the bad field, for malformed JSON, a missing field or a digest
// that is not sha256:<64 hex>.
Result<ParsedIndex> ParseIndex(std::string_view body);
Result<ParsedManifest> ParseManifest(std::string_view body);

// "linux/amd64, linux/arm64/v8": the platforms of an index, for error messages.
std::string DescribePlatforms(const ParsedIndex& index);

}  // namespace pullfleet::pull
