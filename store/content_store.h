// A node's content-addressed image store, laid out as an OCI image layout so that
// `skopeo inspect oci:DIR:REF` and umoci can read it:
//   ROOT/oci-layout, ROOT/index.json, ROOT/blobs/sha256/<hex>, ROOT/ingest/<hex>.partial
//
// Invariant: a file under blobs/ is always complete and hashes to its name. Writers stream
// into ingest/, the digest and size are checked, the file is fsynced, then renamed into
// blobs/ atomically. A partial ingest file survives a crash and is resumed from its length
// (re-hashing the prefix) by the next writer of that digest.
//
// Thread-safe: one store is shared by every transfer of a node. At most one Ingest per
// digest exists at a time, across processes that open the same store too: a second
// BeginIngest for the same digest waits for the first to finish, in one
// process on the store's own set of active digests, across processes on an flock of the
// partial file, which its writer holds until the blob is renamed into blobs/ or deleted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace pullfleet::store {

// An OCI descriptor, as stored in index.json and manifests.
struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
};

// True for "sha256:" followed by 64 lowercase hex digits. Everything that comes from the
// network is checked with this before it becomes part of a file path.
bool IsValidDigest(std::string_view digest);

class ContentStore;

// How a BeginIngest that waits for another writer of the same digest behaves. Without one,
// it waits for as long as the other writer takes.
struct IngestWait {
  // Polled while waiting; when it returns true, BeginIngest gives up with kCancelled.
  std::function<bool()> stop;
  // Called a few times a second while waiting, with the bytes the other writer has in its
  // partial file so far: a caller that watches for stalls can tell waiting from hanging.
  std::function<void(int64_t other_bytes)> on_wait;
};

// A blob being written. Create with ContentStore::BeginIngest. Destroying an uncommitted
// Ingest keeps the partial file for a later resume.
class Ingest {
 public:
  virtual ~Ingest() = default;
  // Bytes already in the partial file (and hashed) when the ingest began or since.
  virtual int64_t offset() const = 0;
  virtual Status Append(const char* data, size_t size) = 0;
  // Checks size and digest. On mismatch the partial file is deleted and kDigestMismatch /
  // kSizeMismatch returned; no Append may follow a successful Verify.
  virtual Status Verify() = 0;
  // Verifies (unless Verify already succeeded), fsyncs and renames into blobs/. Split from
  // Verify so that a caller can hand the slow, disk-bound part to another thread.
  virtual Status Commit() = 0;
  // Deletes the partial file (the data is known to be wrong).
  virtual void Discard() = 0;
  // True when the blob was already complete in blobs/ when the ingest began (for instance a
  // concurrent writer committed it while this one waited): nothing is to be written, and
  // Commit() succeeds at once.
  virtual bool already_present() const = 0;
};

class ContentStore {
 public:
  // Opens (creating if absent) the layout at `root`.
  static Result<std::unique_ptr<ContentStore>> Open(const std::filesystem::path& root);
  virtual ~ContentStore() = default;

  virtual const std::filesystem::path& root() const = 0;

  // True when a complete, verified blob with this digest is in blobs/.
  virtual bool Has(std::string_view digest) const = 0;
  virtual std::filesystem::path BlobPath(std::string_view digest) const = 0;
  // Size of a present blob.
  virtual Result<int64_t> BlobSize(std::string_view digest) const = 0;

  // Reads a whole small blob (manifests, configs). Re-verifies its digest.
  virtual Result<std::string> ReadBlob(std::string_view digest) const = 0;
  // Writes a small blob held in memory after checking that it hashes to `digest`.
  virtual Status WriteBlob(std::string_view digest, std::string_view data) = 0;

  // Starts or resumes writing the blob `digest` of `expected_size` bytes (-1: unknown),
  // after any other writer of it (see IngestWait) is done.
  virtual Result<std::unique_ptr<Ingest>> BeginIngest(std::string_view digest,
                                                      int64_t expected_size,
                                                      const IngestWait& wait = {}) = 0;

  // Adds or replaces the index.json entry named `ref_name`
  // (annotation org.opencontainers.image.ref.name), written atomically.
  virtual Status Tag(std::string_view ref_name, const Descriptor& manifest) = 0;
  // Every index.json entry with its ref name.
  virtual Result<std::vector<std::pair<std::string, Descriptor>>> ListTags() const = 0;

  // Digests of every blob present (for verification tools and tests).
  virtual std::vector<std::string> ListBlobs() const = 0;
};

// Streaming SHA-256 (OpenSSL EVP). Digest() returns "sha256:<hex>".
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  std::string Digest();

 private:
  void* ctx_;
};

std::string Sha256Digest(std::string_view data);

}  // namespace pullfleet::store
