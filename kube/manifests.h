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
  std::vector<pb::Pod> pods;  // kind: Pod (v1)
  // kind: Deployment (apps/v1, and the old extensions/v1beta1, apps/v1beta1, apps/v1beta2;
  // api_version keeps what was written). replicas defaults to 1.
  // Known shortcoming: StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job and
  // CronJob are not read yet (issue 8): they land in skipped_kinds like any other kind.
  std::vector<pb::Workload> workloads;
  // Kinds pullfleet stores nothing for (Service, ConfigMap, ...), with their counts.
  std::map<std::string, int> skipped_kinds;
};

// Parses every document of `yaml_text`. `source` (a file name) is used in errors.
// metadata.namespace defaults to "default". imagePullPolicy is kept as written (possibly
// empty). An image that is not a valid reference is kept as written: the node reports
// InvalidImageName for it, the rest still applies.
// A document that is not valid YAML or lacks kind/apiVersion/metadata.name fails the whole
// call with kInvalidArgument: "<source>: document <n> (line <l>): <what is wrong>".
// So do, naming the field: a container without name or image, a pod without containers,
// duplicate container names, an imagePullPolicy other than Always/IfNotPresent/Never, a
// Pod/Deployment apiVersion pullfleet does not know, and a field of the wrong YAML type.
// Documents are counted from 1 as separated by `---`; comments before the first `---` are
// not a document, and a document holding only comments is skipped. `kind: List` (or any
// kind ending in "List") contributes its items. Anchors, aliases and merge keys (`<<`) work.
Result<ManifestSet> ParseManifests(std::string_view yaml_text, std::string_view source);

}  // namespace pullfleet::kube
