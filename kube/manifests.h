// Kubernetes manifests in: YAML documents (as users and projects write them) parsed into
// pullfleet's objects. Parsing only: no defaulting (the coordinator's admission does that)
// and no I/O beyond the text given.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "messages/pullfleet.pb.h"

namespace pullfleet::kube {

struct ManifestSet {
  std::vector<pb::Pod> pods;            // kind: Pod
  std::vector<pb::Workload> workloads;  // kind: Deployment (apps/v1)
  // Kinds pullfleet stores nothing for (Service, ConfigMap, ...), with their counts.
  std::map<std::string, int> skipped_kinds;
};

// Parses every document of `yaml_text`. `source` (a file name) is used in errors.
// metadata.namespace defaults to "default". imagePullPolicy is kept as written (possibly
// empty). An image that is not a valid reference is kept as written: the node reports
// InvalidImageName for it, the rest still applies.
// A document that is not valid YAML or lacks kind/apiVersion/metadata.name fails the whole
// call with kInvalidArgument: "<source>: document <n> (line <l>): <what is wrong>".
Result<ManifestSet> ParseManifests(std::string_view yaml_text, std::string_view source);

}  // namespace pullfleet::kube
