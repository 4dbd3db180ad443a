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
  // Controllers with a pod template, `kind` set to one of (api_version keeps what was written;
  // the older versions are read as the same kind):
  //   Deployment             apps/v1, apps/v1beta1, apps/v1beta2, extensions/v1beta1
  //   ReplicaSet             apps/v1, apps/v1beta2, extensions/v1beta1
  //   ReplicationController  v1 (its template is spec.template too)
  //   StatefulSet            apps/v1, apps/v1beta1, apps/v1beta2 (service_name = serviceName)
  //   DaemonSet              apps/v1, apps/v1beta2, extensions/v1beta1
  //   Job                    batch/v1
  //   CronJob                batch/v1, batch/v1beta1, batch/v2alpha1 (template from
  //                          spec.jobTemplate.spec.template; schedule as written)
  // replicas: spec.replicas (default 1) for Deployment, ReplicaSet, ReplicationController and
  // StatefulSet; 0 for DaemonSet (one pod per node), Job and CronJob.
  // parallelism (Job, and CronJob for each run): the pods that run at once, as the Job
  // controller computes them: spec.parallelism (default 1), capped by spec.completions when
  // set, 0 when spec.suspend is true. 0 for the other kinds.
  std::vector<pb::Workload> workloads;
  // kind: Secret (v1). type defaults to "Opaque". For the two types pullfleet uses,
  // kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg, data holds the base64-decoded
  // bytes of `data` with `stringData` entries merged over them as written (stringData wins, as
  // in Kubernetes), and the payload key (.dockerconfigjson / .dockercfg) must be there and be
  // JSON. Secrets of any other type keep metadata and type only: their values are neither
  // checked nor stored. The kubectl last-applied-configuration annotation is dropped: it would
  // hold the secret's data in plain text.
  std::vector<pb::Secret> secrets;
  std::vector<pb::ServiceAccount> service_accounts;  // kind: ServiceAccount (v1)
  // kind: RuntimeClass (node.k8s.io/v1, node.k8s.io/v1beta1). Cluster-scoped: namespace "".
  std::vector<pb::RuntimeClass> runtime_classes;
  std::vector<pb::Namespace> namespaces;  // kind: Namespace (v1). Cluster-scoped: namespace "".
  // Kinds pullfleet stores nothing for (Service, ConfigMap, RBAC, CRDs, custom resources such
  // as CloneSet or ImageCache), with their counts. Nothing inside them is read, so image-like
  // strings there are never taken for images.
  std::map<std::string, int> skipped_kinds;
};

// Parses every document of `yaml_text`. `source` (a file name) is used in errors.
// metadata.namespace defaults to "default" for namespaced kinds; metadata.labels and
// metadata.annotations are kept. imagePullPolicy (of containers and image volumes) is kept
// as written (possibly empty). An image that is not a valid reference is kept as written:
// the node reports InvalidImageName for it, the rest still applies.
// Pod specs (of Pods and of every template) give init containers in order (restartPolicy
// kept, so native sidecars keep "Always"), containers, nodeName, serviceAccountName,
// runtimeClassName, nodeSelector, imagePullSecrets, and image volumes (volumes[].image:
// name, reference, pullPolicy). Other volume types are not read.
// A document that is not valid YAML or lacks kind/apiVersion/metadata.name fails the whole
// call with kInvalidArgument: "<source>: document <n> (line <l>): <what is wrong>".
// So do, naming the field: a container without name or image, a pod without containers,
// duplicate container names, an imagePullPolicy other than Always/IfNotPresent/Never, an image
// volume without name or reference, an apiVersion pullfleet does not know for a kind it reads,
// a workload without its template, a CronJob without schedule, a RuntimeClass without handler,
// and, in a dockercfg/dockerconfigjson Secret, a key that is not a valid key name, a data value
// that is not valid base64, or a payload that is missing or not JSON; and a field of the
// wrong YAML type. Errors about a Secret name the secret and the key, never a value.
// Documents are counted from 1 as separated by `---`; comments before the first `---` are
// not a document, and a document holding only comments is skipped. `kind: List` (or any
// kind ending in "List") contributes its items. Anchors, aliases and merge keys (`<<`) work.
Result<ManifestSet> ParseManifests(std::string_view yaml_text, std::string_view source);

}  // namespace pullfleet::kube
