// The rollout plan behind `pullfleet images list -f FILE...`: every image that a set of parsed
// manifests would make nodes pull, worked out from the manifests alone, before anything is
// applied, so that an operator can warm or mirror the images first. Pure functions of their
// arguments; safe from any thread. The CLI calls them; nothing here talks to a cluster.
#pragma once

#include <string>
#include <vector>

#include "kube/manifests.h"
#include "messages/pullfleet.pb.h"

namespace pullfleet::kube {

// How many pods of one object run at a time. A DaemonSet's count depends on the nodes, and a
// CronJob runs none until its schedule fires, so those two are flags rather than numbers.
struct PodCount {
  int pods = 0;           // a fixed number: 1 for a Pod, replicas, a Job's parallelism
  bool per_node = false;  // DaemonSet: one pod on every node its nodeSelector allows
  bool pre_pull = false;  // CronJob: no pod now; its images are pulled ahead of the schedule
};

// The pods `workload` keeps running, as its controller would: replicas for Deployment,
// ReplicaSet, ReplicationController and StatefulSet; parallelism for a Job; per_node for a
// DaemonSet; pre_pull for a CronJob. An unknown kind counts as replicas.
PodCount WorkloadPods(const pb::Workload& workload);

// One object whose pods use an image.
struct ImageUser {
  std::string kind;  // "Deployment", "Pod", "CronJob", ...
  std::string namespace_;
  std::string name;
  // Where the image is used in the pod, in pod order: container names, "init:<name>" for init
  // containers (native sidecars included), "volume:<name>" for image volumes.
  std::vector<std::string> uses;
  PodCount pods;  // the object's pods; each uses the image once however many `uses` it has

  // "Deployment/web"; "shop/Deployment/web" outside the namespace "default".
  std::string Label() const;
};

// One image of the plan.
struct PlannedImage {
  // Valid: the normalised reference ("docker.io/library/busybox:latest"). Invalid: the text as
  // written ("<YOUR-CONTAINER>").
  std::string reference;
  std::string error;                  // invalid only: why, in the kubelet's words
  std::vector<std::string> written;   // the distinct spellings in the manifests, sorted
  std::vector<std::string> policies;  // distinct pull policies after defaulting, sorted
  std::vector<ImageUser> users;       // sorted by Label()
  int pods = 0;                       // sum of the users' fixed counts
  int pods_per_node = 0;              // DaemonSets using it: pods on each node they select
  bool pre_pull = false;              // a CronJob uses it
};

struct ImagePlan {
  // Images nodes would pull, sorted by reference.
  std::vector<PlannedImage> images;
  // References that do not parse: nothing is pulled for them and their containers report
  // InvalidImageName. Sorted by the text as written.
  std::vector<PlannedImage> invalid;
};

// The images of every pod, workload template (init containers, containers, image volumes)
// of `sets`, grouped by normalised reference. A policy left empty is defaulted as the API
// server would (image::DefaultPullPolicy); a written one is kept. An object (kind, namespace,
// name) given more than once counts once, as its last version: a later apply replaces it.
ImagePlan PlanImages(const std::vector<ManifestSet>& sets);

// IMAGE POLICY PODS USED-BY table, kubectl style, sorted by image. PODS reads "3", "1/node",
// "pre-pull", or a sum such as "2 + 1/node + pre-pull". Invalid references follow the table
// under "Invalid image names", one line each with its error and users. An empty plan gives
// an empty string (the caller prints its own "No images found").
std::string ImagePlanTable(const ImagePlan& plan);

// The plan as JSON for scripts:
//   {"images": [{"reference", "written": [], "pullPolicies": [], "pods", "podsPerNode",
//                "prePull", "usedBy": [{"kind", "namespace", "name", "uses": [], "pods",
//                                       "perNode", "prePull"}]}],
//    "invalidImages": [{"image", "error", "pullPolicies", "pods", "podsPerNode", "prePull",
//                       "usedBy"}]}
std::string ImagePlanJson(const ImagePlan& plan);

}  // namespace pullfleet::kube
