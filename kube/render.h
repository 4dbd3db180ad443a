// Kubernetes-shaped output for the CLI: `get pods` tables, PodList JSON, `describe pod`,
// and the image list of a node. Pure formatting of protobuf objects.
#pragma once

#include <cstdint>
#include <string>

#include "messages/pullfleet.pb.h"

namespace pullfleet::kube {

struct TableOptions {
  bool wide = false;            // adds NODE and IMAGES columns
  bool show_namespace = false;  // -A
  int64_t now_unix_ms = 0;      // for the AGE column
};

// NAME READY STATUS RESTARTS AGE [NODE] table, kubectl style. STATUS is the waiting reason
// of the first container that is not ready ("Init:ErrImagePull" for init containers),
// "ImagesReady" once every image is present.
std::string PodTable(const pb::PodList& pods, const TableOptions& options);

// A Kubernetes v1 PodList as JSON: metadata, spec.nodeName, spec.containers[] with image and
// imagePullPolicy, status.conditions, status.containerStatuses[] and
// initContainerStatuses[] with name, image, imageID, ready, state.waiting.
std::string PodListJson(const pb::PodList& pods);

// `kubectl describe pod` text: containers with image, image ID, state and reason, pull
// progress while pulling, conditions, and the Events table.
std::string DescribePod(const pb::Pod& pod, int64_t now_unix_ms);

// REFERENCE DIGEST SIZE table of a node's images, and its JSON form.
std::string ImageTable(const pb::ImageList& images);
std::string ImageListJson(const pb::ImageList& images);

// "3m20s", "45s", "2d" as kubectl prints ages.
std::string HumanDuration(int64_t milliseconds);

}  // namespace pullfleet::kube
