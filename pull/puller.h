// Pulls one image into a node's content store: resolve the reference, pick the platform's
// manifest from an index, fetch every blob that is not already present (streamed, hashed
// while written, verified, renamed), store the manifests and tag the image in index.json.
//
// The pull machinery used by the node's transfer actors, by `pullfleet image pull` and by
// tests alike; it knows nothing of actors. Blocking: run it on a transfer thread. One Puller
// may run several Pulls at once on one store; two pulls sharing a blob download it once (the
// second waits for the first's ingest of that blob).
//
// Threads: Pull uses the calling thread plus up to max_concurrent_blobs - 1 threads of its
// own, each with its own registry::Client (one connection each), and one more thread that
// fsyncs and renames each verified blob while the transfers go on. Measured on 2 cores, two
// to four transfers at a time are about equally fast; more only help with slow links.
//
// Known shortcoming: images whose manifests are Docker schema 2 types are
// stored and tagged as they are (no conversion), and skopeo's oci: transport skips index.json
// entries of Docker media types, so only OCI-typed images can be inspected with skopeo.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/platform.h"
#include "image/reference.h"
#include "registry/client.h"
#include "store/content_store.h"

namespace pullfleet::pull {

// A credential to try, with a description of where it came from (never the secret).
struct CandidateCredential {
  registry::Credentials credentials;
  std::string source;  // e.g. "node config.json key 127.0.0.1:5000"
};

struct Progress {
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;
  int layers_done = 0;
  int layers_total = 0;
  // Bytes other writers (another pull of the same blob, in this process or another) wrote
  // while this pull waited for them: a waiting pull moves no byte of its own, yet is alive.
  int64_t bytes_waited_on = 0;
};

struct PullOptions {
  image::Reference reference;
  image::Platform platform;
  // Tried in order until one works; an empty list means one anonymous attempt.
  std::vector<CandidateCredential> credentials;
  registry::HostOptions host;
  // Blobs of one image fetched at once.
  int max_concurrent_blobs = 3;
  long stall_timeout_s = 60;
  const std::atomic<bool>* cancel = nullptr;
  // Called from the pulling threads, at most every few hundred milliseconds.
  std::function<void(const Progress&)> on_progress;
  // Told about every registry response and token fetch (metrics); may be null. Not owned.
  registry::ClientObserver* observer = nullptr;
};

struct PullResult {
  // What the reference resolved to at the registry (index or manifest digest).
  std::string resolved_digest;
  // The platform manifest stored for this node, and its parts.
  std::string manifest_digest;
  std::string config_digest;
  std::vector<std::string> layer_digests;
  int64_t image_size = 0;  // config + layers, as described by the manifest
  int64_t bytes_downloaded = 0;
  // Bytes of the image's blobs that were already in the store (or arrived there from a
  // concurrent pull while this one waited), so not downloaded by this pull.
  int64_t bytes_reused = 0;
  int blobs_downloaded = 0;
  int blobs_reused = 0;
  std::string credential_source;  // which candidate worked; empty for anonymous
  int credential_index = -1;      // its index in PullOptions::credentials; -1 for anonymous
};

class Puller {
 public:
  explicit Puller(store::ContentStore& store) : store_(store) {}

  // Pulls the image; returns once every blob is verified in the store and the image is
  // tagged with options.reference.Normalized().
  Result<PullResult> Pull(const PullOptions& options);

  // Asks the registry (HEAD, no download) which digest the reference points at now. When
  // `credential_index` is given, it is set as PullResult::credential_index is.
  Result<std::string> Resolve(const PullOptions& options, int* credential_index = nullptr);

  // The image rooted at `digest` (index or manifest) if it is complete in the store for
  // `platform`: every manifest and blob present. kNotFound otherwise. No network.
  Result<PullResult> FindLocal(std::string_view digest, const image::Platform& platform) const;

 private:
  store::ContentStore& store_;
};

}  // namespace pullfleet::pull
