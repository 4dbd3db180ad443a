// Kubernetes-shaped output for the CLI: `get pods` tables, PodList JSON, `describe pod`,
// and the image list of a node. Pure formatting of protobuf objects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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
// Columns are aligned as kubectl's tab writer does (3 spaces between columns); an empty list
// gives an empty string, so the caller prints kubectl's "No resources found ..." itself.
std::string PodTable(const pb::PodList& pods, const TableOptions& options);

// The STATUS column of one pod, in this order:
//   "Pending" (or the phase) while no container status has been reported;
//   "Init:<reason>" for the first init container not ready with a waiting reason other than
//   PodInitializing/ContainerCreating, else "Init:<i>/<n>" (i = init containers before it);
//   the waiting reason of the first container not ready that has one ("ErrImagePull",
//   "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "ContainerCreating", ...);
//   the phase (or "Pending") when a container is not ready without a reason;
//   "ImagesReady" when every container's image is present.
std::string PodStatusText(const pb::Pod& pod);

// A Kubernetes v1 PodList as JSON: metadata, spec.nodeName, spec.containers[] with image and
// imagePullPolicy, status.conditions, status.containerStatuses[] and
// initContainerStatuses[] with name, image, imageID, ready, state.waiting.
std::string PodListJson(const pb::PodList& pods);
// One pod as a v1 Pod object (`get pods NAME -o json`).
std::string PodJson(const pb::Pod& pod);

// `kubectl describe pod` text: containers with image, image ID, state and reason, pull
// progress while pulling, conditions, and the Events table.
std::string DescribePod(const pb::Pod& pod, int64_t now_unix_ms);

// Every event of the pods as a Kubernetes v1 EventList (involvedObject, reason, message, type,
// count, source.host, firstTimestamp/lastTimestamp to the second as metav1.Time, and eventTime
// with microseconds so scripts can order pulls), oldest first; and as `kubectl get events`
// prints them (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE; with NAMESPACE first when
// `show_namespace`).
std::string EventListJson(const pb::PodList& pods);
std::string EventTable(const pb::PodList& pods, bool show_namespace, int64_t now_unix_ms);

// REFERENCE DIGEST SIZE AGE table of a node's images (sorted by reference) followed by a
// "Store: <path>" line, and its JSON form. The overload without `now_unix_ms` reads the
// system clock for the AGE column.
std::string ImageTable(const pb::ImageList& images, int64_t now_unix_ms);
std::string ImageTable(const pb::ImageList& images);
std::string ImageListJson(const pb::ImageList& images);

// "12.3 MiB", "512 B": binary units with one decimal, as pull progress and sizes are shown.
std::string FormatBytes(double bytes);

// "3m20s", "45s", "2d" as kubectl prints ages.
std::string HumanDuration(int64_t milliseconds);

// Lines of tab-separated cells aligned as `kubectl get` prints them (columns padded to the
// widest cell plus 3 spaces, at least 6 wide; the last cell of a line is not padded). Cells
// must not contain tabs or line breaks.
std::string AlignColumns(std::string_view tab_separated);

}  // namespace pullfleet::kube
