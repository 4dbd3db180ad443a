// Admission and the Deployment controller's naming: what the API server and the
// controller manager do to objects before nodes see them. Pure functions.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "messages/pullfleet.pb.h"

namespace pullfleet::actors {

struct AdmissionOptions {
  bool always_pull_images = false;
};

// Defaults a new pod once: namespace, pull policy of every container and image volume (the
// API server's rule), or Always for all with AlwaysPullImages. `previous`, when given, is the
// stored version of the same object: a policy it already holds is kept when the new spec omits it
// (re-applying does not redefault).
void DefaultPodSpec(pb::PodSpec* spec, const pb::PodSpec* previous, const AdmissionOptions& options);

// A random lowercase id of `length` characters from the alphabet Kubernetes uses for
// generated names (no vowels, no confusable digits).
std::string RandomSuffix(std::mt19937_64& rng, size_t length);

// A UID in the 8-4-4-4-12 hex form.
std::string NewUid(std::mt19937_64& rng);

// The pod-template-hash of a pod template, 10 characters from the same alphabet.
std::string TemplateHash(const pb::PodSpec& spec);

}  // namespace pullfleet::actors
