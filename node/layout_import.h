// Pre-pulled images: imports the images of an OCI image layout folder (as `skopeo copy
// ... oci:DIR:REF` or `umoci` write it) into a node's store without a registry, so that
// IfNotPresent and Never find them, as images baked into a node's disk are found by the
// kubelet.
//
// Every index.json entry must carry a full image reference in its
// org.opencontainers.image.ref.name annotation (e.g. `registry.example.com/app:1.0`; write
// it with `skopeo copy docker://... oci:DIR:registry.example.com/app:1.0`). An index entry is
// resolved to the node's platform. Every blob is copied through the store's verified ingest:
// a corrupt blob is refused and nothing of that image is recorded.
//
// Blocking file I/O: run it on a transfer thread or in a tool.
#pragma once

#include <filesystem>
#include <vector>

#include "common/error.h"
#include "image/platform.h"
#include "messages/pullfleet.pb.h"

namespace pullfleet::node {

class LocalImages;

// Imports every tagged image of the layout at `dir`; returns the records made.
Result<std::vector<pb::ImageRecord>> ImportLayout(const std::filesystem::path& dir,
                                                  LocalImages& images,
                                                  const image::Platform& platform,
                                                  const std::string& runtime_handler);

}  // namespace pullfleet::node
