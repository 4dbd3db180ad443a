#include "store/content_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

namespace pullfleet::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kSha256Prefix = "sha256:";
constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";
constexpr std::string_view kOciIndexType = "application/vnd.oci.image.index.v1+json";
// Writes to the page cache in slices of this size: on these VMs much larger writes cost
// several times the system time (see /work/shared/RIG.md), smaller ones cost syscalls.
constexpr size_t kWriteSlice = 64 * 1024;
// Every this many bytes an ingest asks the kernel to start writing the blob to disk. Without
// it, the whole blob sits dirty in the page cache until Commit's fsync, which then waits for
// all of it (0.2-0.4 s for a 256 MiB layer here, during which the pull does nothing else).
constexpr int64_t kWritebackChunk = 8 * 1024 * 1024;
// Largest blob ReadBlob holds in memory (manifests and configs are far smaller).
constexpr int64_t kMaxSmallBlob = 64 * 1024 * 1024;

Error IoError(std::string_view what, const fs::path& path, int err) {
  return Error(ErrorCode::kIo, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

std::string_view HexOf(std::string_view digest) {
  return digest.substr(kSha256Prefix.size());
}

// Writes all of [data, data+size) at the current position, retrying short writes.
Status WriteAll(int fd, const char* data, size_t size, const fs::path& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Writes `data` to a temporary file beside `path`, fsyncs it and renames it over `path`, so
// readers see the old or the new content, never a mix.
Status WriteFileAtomically(const fs::path& path, std::string_view data) {
  static std::atomic<uint64_t> counter{0};
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("create", tmp, errno);
  Status st = WriteAll(fd, data.data(), data.size(), tmp);
  if (st.ok() && ::fsync(fd) != 0) st = IoError("fsync", tmp, errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = IoError("rename", tmp, errno);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

Result<std::string> ReadFile(const fs::path& path, int64_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "no such file " + path.string());
    return IoError("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("stat", path, err);
  }
  if (st.st_size > limit) {
    ::close(fd);
    return Error(ErrorCode::kInvalidArgument,
                 path.string() + " is " + std::to_string(st.st_size) + " bytes, too large to read");
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      return IoError("read", path, err);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return data;
}

Error InvalidDigest(std::string_view digest) {
  return Error(ErrorCode::kInvalidArgument,
               "invalid digest \"" + std::string(digest.substr(0, 80)) +
                   "\": want sha256: followed by 64 lowercase hex digits");
}

class LocalStore;

// One blob being streamed into ingest/<hex>.partial. Holds the store's per-digest lock
// for its whole life.
class LocalIngest : public Ingest {
 public:
  LocalIngest(LocalStore& store, std::string digest, int64_t expected_size, int fd,
              fs::path partial, fs::path final_path)
      : store_(store),
        digest_(std::move(digest)),
        expected_size_(expected_size),
        fd_(fd),
        partial_(std::move(partial)),
        final_(std::move(final_path)) {}
  ~LocalIngest() override;

  int64_t offset() const override { return offset_; }
  Status Append(const char* data, size_t size) override;
  Status Verify() override;
  Status Commit() override;
  void Discard() override;
  bool already_present() const override { return fd_ < 0 && !finished_; }

  // Hashes the bytes already in the partial file; truncates it when it cannot be a prefix
  // of the blob (longer than expected) or cannot be read.
  Status Resume();

 private:
  Status Flush();
  void Close();
  // Starts asynchronous writeback of the bytes written since the last call, once a
  // kWritebackChunk of them has gathered.
  void StartWriteback();

  LocalStore& store_;
  std::string digest_;
  int64_t expected_size_;
  int fd_;
  fs::path partial_;
  fs::path final_;
  Sha256 hash_;
  int64_t offset_ = 0;
  int64_t written_back_ = 0;  // bytes of the file handed to the kernel's writeback
  bool finished_ = false;
  bool verified_ = false;
  // Small appends (TLS records arrive in 16 KiB pieces) are gathered into one slice.
  std::unique_ptr<char[]> buffer_;
  size_t buffered_ = 0;
};

class LocalStore : public ContentStore {
 public:
  explicit LocalStore(fs::path root)
      : root_(std::move(root)), blobs_(root_ / "blobs" / "sha256"), ingest_(root_ / "ingest") {}
  ~LocalStore() override {
    if (blobs_fd_ >= 0) ::close(blobs_fd_);
  }

  Status Init();

  const fs::path& root() const override { return root_; }
  bool Has(std::string_view digest) const override;
  fs::path BlobPath(std::string_view digest) const override;
  Result<int64_t> BlobSize(std::string_view digest) const override;
  Result<std::string> ReadBlob(std::string_view digest) const override;
  Status WriteBlob(std::string_view digest, std::string_view data) override;
  Result<std::unique_ptr<Ingest>> BeginIngest(std::string_view digest, int64_t expected_size,
                                              const IngestWait& wait) override;
  Status Tag(std::string_view ref_name, const Descriptor& manifest) override;
  Result<std::vector<std::pair<std::string, Descriptor>>> ListTags() const override;
  std::vector<std::string> ListBlobs() const override;

  // Called by an Ingest when it ends (committed, discarded or destroyed).
  void ReleaseDigest(const std::string& digest);

 private:
  Result<json> ReadIndex() const;

  fs::path root_;
  fs::path blobs_;
  // blobs/sha256 held open, so that Has() looks up one name instead of walking the whole
  // path: a node checks every blob of an image for each pod that uses it, and with 10,000
  // pods the path walks were a tenth of the process's time (perf).
  int blobs_fd_ = -1;
  fs::path ingest_;
  std::mutex ingest_mu_;
  std::condition_variable ingest_cv_;
  std::set<std::string> active_;  // digests with a live Ingest
  mutable std::mutex index_mu_;   // serialises read-modify-write of index.json
};

// ---- LocalIngest ----

LocalIngest::~LocalIngest() {
  if (fd_ >= 0) {
    // Keep what was received for a later resume.
    (void)Flush();
    Close();
  }
  store_.ReleaseDigest(digest_);
}

void LocalIngest::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status LocalIngest::Resume() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return IoError("stat", partial_, errno);
  int64_t have = st.st_size;
  if (expected_size_ >= 0 && have > expected_size_) have = 0;  // cannot be a prefix
  auto chunk = std::make_unique<char[]>(1 << 20);
  int64_t pos = 0;
  while (pos < have) {
    size_t want = static_cast<size_t>(std::min<int64_t>(have - pos, 1 << 20));
    ssize_t n = ::pread(fd_, chunk.get(), want, pos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // unreadable tail: keep the prefix that was read
    hash_.Update(chunk.get(), static_cast<size_t>(n));
    pos += n;
  }
  if (::ftruncate(fd_, pos) != 0) return IoError("truncate", partial_, errno);
  if (::lseek(fd_, pos, SEEK_SET) < 0) return IoError("seek", partial_, errno);
  offset_ = pos;
  written_back_ = pos;
  return Status::Ok();
}

Status LocalIngest::Flush() {
  if (buffered_ == 0) return Status::Ok();
  Status st = WriteAll(fd_, buffer_.get(), buffered_, partial_);
  buffered_ = 0;
  if (st.ok()) StartWriteback();
  return st;
}

void LocalIngest::StartWriteback() {
  if (offset_ - written_back_ < kWritebackChunk) return;
  // Only a hint: it does not wait for the disk and durability still comes from Commit's
  // fsync, so a failure here changes nothing and is ignored.
  (void)::sync_file_range(fd_, written_back_, offset_ - written_back_, SYNC_FILE_RANGE_WRITE);
  written_back_ = offset_;
}

Status LocalIngest::Append(const char* data, size_t size) {
  if (fd_ < 0 || verified_) {
    return Error(ErrorCode::kInternal, "append to a finished ingest of " + digest_);
  }
  if (expected_size_ >= 0 && offset_ + static_cast<int64_t>(size) > expected_size_) {
    return Error(ErrorCode::kSizeMismatch, "blob " + digest_ + " is longer than the expected " +
                                               std::to_string(expected_size_) + " bytes");
  }
  // Hash and write each slice in one pass while it is still in the CPU cache.
  while (size > 0) {
    if (buffered_ == 0 && size >= kWriteSlice) {
      hash_.Update(data, kWriteSlice);
      if (Status st = WriteAll(fd_, data, kWriteSlice, partial_); !st.ok()) return st;
      data += kWriteSlice;
      size -= kWriteSlice;
      offset_ += kWriteSlice;
      StartWriteback();
      continue;
    }
    if (!buffer_) buffer_ = std::make_unique<char[]>(kWriteSlice);
    size_t n = std::min(size, kWriteSlice - buffered_);
    std::memcpy(buffer_.get() + buffered_, data, n);
    hash_.Update(data, n);
    buffered_ += n;
    data += n;
    size -= n;
    offset_ += static_cast<int64_t>(n);
    if (buffered_ == kWriteSlice) {
      if (Status st = Flush(); !st.ok()) return st;
    }
  }
  return Status::Ok();
}

Status LocalIngest::Verify() {
  if (fd_ < 0) {
    if (already_present()) return Status::Ok();
    return Error(ErrorCode::kInternal, "verify of a finished ingest of " + digest_);
  }
  if (verified_) return Status::Ok();
  if (Status st = Flush(); !st.ok()) return st;
  if (expected_size_ >= 0 && offset_ != expected_size_) {
    Discard();
    return Error(ErrorCode::kSizeMismatch, "blob " + digest_ + ": got " + std::to_string(offset_) +
                                               " bytes, expected " +
                                               std::to_string(expected_size_));
  }
  std::string got = hash_.Digest();
  if (got != digest_) {
    Discard();
    return Error(ErrorCode::kDigestMismatch, "blob " + digest_ + ": content hashes to " + got);
  }
  verified_ = true;
  return Status::Ok();
}

Status LocalIngest::Commit() {
  if (fd_ < 0) {
    if (already_present()) return Status::Ok();
    return Error(ErrorCode::kInternal, "commit of a finished ingest of " + digest_);
  }
  if (Status st = Verify(); !st.ok()) return st;
  // fsync before the rename: otherwise a crash could leave a name in blobs/ whose data never
  // reached the disk, breaking the invariant that blobs/ only holds verified content. The
  // directory is not fsynced: if the rename itself is lost, the complete partial file stays
  // in ingest/ and the next ingest of this digest re-hashes and commits it.
  if (::fsync(fd_) != 0) {
    int err = errno;
    Close();
    return IoError("fsync", partial_, err);
  }
  // Renamed while the file is still open and so locked: a writer in another process that
  // waits for the lock finds the name gone when it gets it, not a complete file to resume.
  const bool renamed = ::rename(partial_.c_str(), final_.c_str()) == 0;
  const int err = errno;
  Close();
  if (!renamed) return IoError("rename", partial_, err);
  finished_ = true;
  return Status::Ok();
}

void LocalIngest::Discard() {
  if (fd_ >= 0) {
    ::unlink(partial_.c_str());  // before the lock goes, as in Commit
    Close();
  }
  finished_ = true;
  buffered_ = 0;
}

// ---- LocalStore ----

Status LocalStore::Init() {
  std::error_code ec;
  fs::create_directories(blobs_, ec);
  if (ec) return Error(ErrorCode::kIo, "create " + blobs_.string() + ": " + ec.message());
  fs::create_directories(ingest_, ec);
  if (ec) return Error(ErrorCode::kIo, "create " + ingest_.string() + ": " + ec.message());
  blobs_fd_ = ::open(blobs_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (blobs_fd_ < 0) return IoError("open", blobs_, errno);
  if (!fs::exists(root_ / "oci-layout")) {
    Status st = WriteFileAtomically(root_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    if (!st.ok()) return st;
  }
  if (!fs::exists(root_ / "index.json")) {
    json index = {{"schemaVersion", 2}, {"mediaType", kOciIndexType}, {"manifests", json::array()}};
    Status st = WriteFileAtomically(root_ / "index.json", index.dump());
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

fs::path LocalStore::BlobPath(std::string_view digest) const {
  // Callers that pass an unchecked digest get a path that cannot exist rather than one that
  // escapes the store.
  if (!IsValidDigest(digest)) return blobs_ / "invalid-digest";
  return blobs_ / std::string(HexOf(digest));
}

bool LocalStore::Has(std::string_view digest) const {
  if (!IsValidDigest(digest)) return false;
  const std::string hex(HexOf(digest));
  struct stat st {};
  return ::fstatat(blobs_fd_, hex.c_str(), &st, 0) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> LocalStore::BlobSize(std::string_view digest) const {
  if (!IsValidDigest(digest)) return InvalidDigest(digest);
  struct stat st {};
  if (::stat(BlobPath(digest).c_str(), &st) != 0) {
    return Error(ErrorCode::kNotFound, "blob " + std::string(digest) + " is not in the store");
  }
  return static_cast<int64_t>(st.st_size);
}

Result<std::string> LocalStore::ReadBlob(std::string_view digest) const {
  if (!IsValidDigest(digest)) return InvalidDigest(digest);
  auto data = ReadFile(BlobPath(digest), kMaxSmallBlob);
  if (!data.ok()) {
    if (data.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kNotFound, "blob " + std::string(digest) + " is not in the store");
    }
    return data.error().Wrap("read blob " + std::string(digest));
  }
  std::string got = Sha256Digest(*data);
  if (got != digest) {
    return Error(ErrorCode::kDigestMismatch,
                 "stored blob " + std::string(digest) + " hashes to " + got);
  }
  return data;
}

Status LocalStore::WriteBlob(std::string_view digest, std::string_view data) {
  if (!IsValidDigest(digest)) return InvalidDigest(digest);
  std::string got = Sha256Digest(data);
  if (got != digest) {
    return Error(ErrorCode::kDigestMismatch,
                 "blob " + std::string(digest) + ": content hashes to " + got);
  }
  // A stale partial may hold a wrong prefix; the commit then fails and deletes it, and a
  // second attempt starts from nothing.
  Status st;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto ingest = BeginIngest(digest, static_cast<int64_t>(data.size()), {});
    if (!ingest.ok()) return ingest.error();
    if ((*ingest)->already_present()) return Status::Ok();
    std::string_view rest = data.substr(static_cast<size_t>((*ingest)->offset()));
    st = (*ingest)->Append(rest.data(), rest.size());
    if (st.ok()) st = (*ingest)->Commit();
    if (st.ok() || st.error().code() != ErrorCode::kDigestMismatch) return st;
  }
  return st;
}

constexpr auto kWaitPoll = std::chrono::milliseconds(100);

// Bytes in the partial file at `partial` (0 when there is none yet).
int64_t PartialSize(const fs::path& partial) {
  struct stat st {};
  return ::stat(partial.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

// One round of waiting for another writer: true when the caller gives up.
bool WaitRound(const IngestWait& wait, const fs::path& partial) {
  if (wait.stop && wait.stop()) return true;
  if (wait.on_wait) wait.on_wait(PartialSize(partial));
  return false;
}

Error WaitCancelled(std::string_view digest) {
  return Error(ErrorCode::kCancelled,
               "cancelled while waiting for another writer of blob " + std::string(digest));
}

// Opens the partial file of a blob and locks it. Threads of one process are kept apart by
// the store's own set of active digests; the lock keeps apart another process that opened
// the same store, which would otherwise truncate and write the same file at other offsets. Waits
// while that process holds it; returns -1 when the file it waited on was renamed into blobs/ or
// deleted meanwhile, so the caller looks again.
Result<int> OpenLockedPartial(std::string_view digest, const fs::path& partial,
                              const IngestWait& wait) {
  int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("open", partial, errno);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK) {
      ::close(fd);
      return IoError("lock", partial, err);
    }
    if (WaitRound(wait, partial)) {
      ::close(fd);
      return WaitCancelled(digest);
    }
    std::this_thread::sleep_for(kWaitPoll);
  }
  struct stat held {};
  struct stat named {};
  const bool same = ::fstat(fd, &held) == 0 && ::stat(partial.c_str(), &named) == 0 &&
                    held.st_dev == named.st_dev && held.st_ino == named.st_ino;
  if (same) return fd;
  ::close(fd);
  return -1;
}

Result<std::unique_ptr<Ingest>> LocalStore::BeginIngest(std::string_view digest,
                                                        int64_t expected_size,
                                                        const IngestWait& wait) {
  if (!IsValidDigest(digest)) return InvalidDigest(digest);
  std::string key(digest);
  fs::path partial = ingest_ / (std::string(HexOf(digest)) + ".partial");
  fs::path final_path = BlobPath(digest);
  {
    std::unique_lock<std::mutex> lock(ingest_mu_);
    while (!ingest_cv_.wait_for(lock, kWaitPoll, [&] { return active_.count(key) == 0; })) {
      lock.unlock();  // the callbacks may take their time
      const bool stop = WaitRound(wait, partial);
      lock.lock();
      if (stop) return WaitCancelled(digest);
    }
    active_.insert(key);
  }
  // From here on this thread owns the digest; the Ingest releases it when it ends.
  int fd = -1;
  while (fd < 0) {
    if (Has(digest)) {  // present already, or committed by the writer this one waited for
      return std::unique_ptr<Ingest>(
          new LocalIngest(*this, key, expected_size, -1, partial, final_path));
    }
    auto locked = OpenLockedPartial(digest, partial, wait);
    if (!locked.ok()) {
      ReleaseDigest(key);
      return locked.error();
    }
    fd = *locked;
  }
  auto ingest = std::make_unique<LocalIngest>(*this, key, expected_size, fd, partial, final_path);
  if (Status st = ingest->Resume(); !st.ok()) return st.error();
  return std::unique_ptr<Ingest>(std::move(ingest));
}

void LocalStore::ReleaseDigest(const std::string& digest) {
  {
    std::lock_guard<std::mutex> lock(ingest_mu_);
    active_.erase(digest);
  }
  ingest_cv_.notify_all();
}

Result<json> LocalStore::ReadIndex() const {
  auto text = ReadFile(root_ / "index.json", kMaxSmallBlob);
  if (!text.ok()) return text.error().Wrap("read index.json");
  json index = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object()) {
    return Error(ErrorCode::kIo, "index.json in " + root_.string() + " is not a JSON object");
  }
  if (!index.contains("manifests") || !index["manifests"].is_array()) {
    index["manifests"] = json::array();
  }
  return index;
}

Status LocalStore::Tag(std::string_view ref_name, const Descriptor& manifest) {
  if (ref_name.empty()) return Error(ErrorCode::kInvalidArgument, "empty ref name");
  if (!IsValidDigest(manifest.digest)) return InvalidDigest(manifest.digest);
  if (manifest.media_type.empty() || manifest.size < 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "descriptor of " + manifest.digest + " lacks a media type or size");
  }
  std::lock_guard<std::mutex> lock(index_mu_);
  auto index = ReadIndex();
  if (!index.ok()) return index.error();
  json& manifests = (*index)["manifests"];
  json kept = json::array();
  for (auto& entry : manifests) {
    const json* annotations = entry.is_object() ? &entry["annotations"] : nullptr;
    bool same = annotations && annotations->is_object() &&
                annotations->value(std::string(kRefNameAnnotation), "") == ref_name;
    if (!same) kept.push_back(std::move(entry));
  }
  kept.push_back({{"mediaType", manifest.media_type},
                  {"digest", manifest.digest},
                  {"size", manifest.size},
                  {"annotations", {{std::string(kRefNameAnnotation), std::string(ref_name)}}}});
  manifests = std::move(kept);
  return WriteFileAtomically(root_ / "index.json", index->dump(2));
}

Result<std::vector<std::pair<std::string, Descriptor>>> LocalStore::ListTags() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  auto index = ReadIndex();
  if (!index.ok()) return index.error();
  std::vector<std::pair<std::string, Descriptor>> out;
  for (const auto& entry : (*index)["manifests"]) {
    if (!entry.is_object()) continue;
    std::string name;
    if (auto it = entry.find("annotations"); it != entry.end() && it->is_object()) {
      name = it->value(std::string(kRefNameAnnotation), "");
    }
    Descriptor d;
    d.media_type = entry.value("mediaType", "");
    d.digest = entry.value("digest", "");
    d.size = entry.value("size", int64_t{0});
    out.emplace_back(std::move(name), std::move(d));
  }
  return out;
}

std::vector<std::string> LocalStore::ListBlobs() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(blobs_, ec)) {
    std::string digest = std::string(kSha256Prefix) + entry.path().filename().string();
    if (IsValidDigest(digest) && entry.is_regular_file()) out.push_back(std::move(digest));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool IsValidDigest(std::string_view digest) {
  if (digest.size() != kSha256Prefix.size() + 64) return false;
  if (digest.substr(0, kSha256Prefix.size()) != kSha256Prefix) return false;
  for (char c : HexOf(digest)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::unique_ptr<ContentStore>> ContentStore::Open(const std::filesystem::path& root) {
  if (root.empty()) return Error(ErrorCode::kInvalidArgument, "empty store path");
  auto store = std::make_unique<LocalStore>(root);
  if (Status st = store->Init(); !st.ok()) return st.error().Wrap("open store");
  return std::unique_ptr<ContentStore>(std::move(store));
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256::Update(const void* data, size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string Sha256::Digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kSha256Prefix);
  out.reserve(out.size() + 2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string Sha256Digest(std::string_view data) {
  Sha256 hash;
  hash.Update(data.data(), data.size());
  return hash.Digest();
}

}  // namespace pullfleet::store
