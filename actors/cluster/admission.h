// Validation, admission and the Deployment controller's naming: what the API server and the
// controller manager do to objects before nodes see them. Pure functions.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "messages/pullfleet.pb.h"

namespace pullfleet::actors {

// One error per object of `request` whose name or namespace breaks Kubernetes' rules, worded
// as the API server words them (`The Pod "a/b" is invalid: ...`); empty when all are valid.
// The client's manifest reader checks names too, but names become this coordinator's storage
// keys ("b" in namespace "x/a" would collide with "a/b" in "x"), and a sender other than the
// client may skip that check. An empty namespace is valid: it stands for "default".
std::vector<std::string> InvalidObjectNames(const pb::ApplyRequest& request);

struct AdmissionOptions {
  bool always_pull_images = false;
};

// Defaults a new pod once: namespace, pull policy of every container and image volume (the
// API server's rule), or Always for all with AlwaysPullImages. `previous`, when given, is the
// stored version of the same object: a policy it already holds is kept when the new spec omits it
// (re-applying does not redefault).
void DefaultPodSpec(pb::PodSpec* spec, const pb::PodSpec* previous,
                    const AdmissionOptions& options);

// A random lowercase id of `length` characters from the alphabet Kubernetes uses for
// generated names (no vowels, no confusable digits).
std::string RandomSuffix(std::mt19937_64& rng, size_t length);

// A UID in the 8-4-4-4-12 hex form.
std::string NewUid(std::mt19937_64& rng);

// The pod-template-hash of a pod template, 10 characters from the same alphabet.
std::string TemplateHash(const pb::PodSpec& spec);

}  // namespace pullfleet::actors
