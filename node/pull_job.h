// One pull as a node runs it: what to fetch (PullJob), what became of it (PullOutcome), and
// RunPullJob, the blocking work a transfer thread does. Plain C++, no actors: the node's
// transfer actors, `pullfleet image pull` and tests all call RunPullJob.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "image/reference.h"
#include "pull/puller.h"

namespace pullfleet::node {

class LocalImages;

// Where one candidate credential came from, for the image record (never the secret itself).
struct CandidateOrigin {
  bool pull_secret = false;  // else the node's own (docker config or a credential provider)
  std::string secret_namespace;
  std::string secret_name;
  std::string secret_uid;
  std::string fingerprint;  // credentials/fingerprint.h; empty when the node has no key
};

// The credentials a pull may try, in order, from the credential resolver.
struct CredentialSet {
  std::vector<pull::CandidateCredential> candidates;
  std::vector<CandidateOrigin> origins;  // one per candidate, same order
  // Sources that could not be used (a missing or malformed pull secret, an unreadable config
  // file, a failing credential provider), one line each for events; no secrets.
  std::vector<std::string> problems;
};

// A request to make one image present on a node.
struct PullJob {
  // Jobs with equal keys share one download: handler, normalised reference, whether the
  // reference is re-resolved (policy Always), and a fingerprint of the credentials.
  std::string key;
  std::string image;  // as written in the pod spec, for events
  image::Reference reference;
  std::string runtime_handler;
  // Policy Always: ask the registry for the current digest first, and use the local image
  // when that digest is complete in the store.
  bool resolve_first = false;
  pull::PullOptions options;
  // One per options.credentials entry: recorded with the image for the credential check.
  std::vector<CandidateOrigin> origins;
};

// What became of a PullJob.
struct PullOutcome {
  bool ok = false;
  ErrorCode code = ErrorCode::kInternal;
  std::string error;  // the full error text, with context
  pull::PullResult result;
  // The image was already complete at the digest the registry named: nothing downloaded.
  bool already_present = false;
  // This requester joined a download started for another pod.
  bool shared = false;
  double transfer_seconds = 0;
};

// The dedupe key of a job; see PullJob::key.
std::string MakeJobKey(const PullJob& job);

// Runs one pull job to the end, blocking. Records the image in `images` on success.
PullOutcome RunPullJob(const PullJob& job, LocalImages& images);

}  // namespace pullfleet::node
