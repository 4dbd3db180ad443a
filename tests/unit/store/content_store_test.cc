#include "store/content_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

namespace pullfleet::store {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pf-store-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

// Polls `done` every 10 ms for up to 10 s.
bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

std::string FileContent(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct DigestCase {
  const char* name;
  std::string digest;
  bool valid;
};

TEST(IsValidDigest, Table) {
  const std::string hex64(64, 'a');
  const DigestCase cases[] = {
      {"lowercase hex", "sha256:" + hex64, true},
      {"digits", "sha256:" + std::string(64, '0'), true},
      {"uppercase hex", "sha256:" + std::string(64, 'A'), false},
      {"too short", "sha256:" + std::string(63, 'a'), false},
      {"too long", "sha256:" + std::string(65, 'a'), false},
      {"other algorithm", "sha512:" + hex64, false},
      {"no algorithm", hex64, false},
      {"path traversal", "sha256:../../" + std::string(58, 'a'), false},
      {"slash inside", "sha256:" + std::string(32, 'a') + "/" + std::string(31, 'a'), false},
      {"empty", "", false},
      {"non-hex letter", "sha256:" + std::string(63, 'a') + "g", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsValidDigest(c.digest), c.valid) << c.name;
  }
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update("a", 1);
  h.Update("bc", 2);
  EXPECT_EQ(h.Digest(), Sha256Digest("abc"));
}

TEST(ContentStore, OpenCreatesLayout) {
  TempDir dir;
  auto store = ContentStore::Open(dir.path() / "s");
  ASSERT_TRUE(store.ok()) << store.error().message();
  auto layout = nlohmann::json::parse(FileContent(dir.path() / "s" / "oci-layout"));
  EXPECT_EQ(layout["imageLayoutVersion"], "1.0.0");
  auto index = nlohmann::json::parse(FileContent(dir.path() / "s" / "index.json"));
  EXPECT_EQ(index["schemaVersion"], 2);
  EXPECT_TRUE(index["manifests"].is_array());
  EXPECT_TRUE(fs::is_directory(dir.path() / "s" / "blobs" / "sha256"));
}

TEST(ContentStore, IngestCommitLargeBlobInOddPieces) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string data = RandomBytes(1'000'003, 1);
  std::string digest = Sha256Digest(data);
  auto ingest = store->BeginIngest(digest, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(ingest.ok());
  EXPECT_FALSE((*ingest)->already_present());
  EXPECT_EQ((*ingest)->offset(), 0);
  // Mix small (buffered) and large (direct) appends.
  size_t pos = 0, step = 1;
  while (pos < data.size()) {
    size_t n = std::min(step, data.size() - pos);
    ASSERT_TRUE((*ingest)->Append(data.data() + pos, n).ok());
    pos += n;
    step = step * 3 + 7;
  }
  EXPECT_EQ((*ingest)->offset(), static_cast<int64_t>(data.size()));
  Status st = (*ingest)->Commit();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(store->Has(digest));
  EXPECT_EQ(FileContent(store->BlobPath(digest)), data);
  EXPECT_EQ(store->BlobSize(digest).value(), static_cast<int64_t>(data.size()));
  EXPECT_FALSE(fs::exists(dir.path() / "ingest" / (digest.substr(7) + ".partial")));
  EXPECT_EQ(store->ListBlobs(), std::vector<std::string>{digest});
}

TEST(ContentStore, DigestMismatchDeletesPartial) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string digest = Sha256Digest("expected");
  auto ingest = std::move(store->BeginIngest(digest, 8).value());
  ASSERT_TRUE(ingest->Append("unexpect", 8).ok());
  Status st = ingest->Commit();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_FALSE(store->Has(digest));
  EXPECT_FALSE(fs::exists(dir.path() / "ingest" / (digest.substr(7) + ".partial")));
}

TEST(ContentStore, VerifiedIngestIsInvisibleUntilCommittedAndTakesNoMoreBytes) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string data = RandomBytes(9 * 1024 * 1024 + 5, 2);  // past one writeback chunk
  std::string digest = Sha256Digest(data);
  auto ingest = std::move(store->BeginIngest(digest, static_cast<int64_t>(data.size())).value());
  ASSERT_TRUE(ingest->Append(data.data(), data.size()).ok());
  Status verified = ingest->Verify();
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_FALSE(store->Has(digest));  // verified, but not yet durable nor renamed
  Status appended = ingest->Append("x", 1);
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code(), ErrorCode::kInternal);
  Status committed = ingest->Commit();
  ASSERT_TRUE(committed.ok()) << committed.error().message();
  EXPECT_TRUE(store->Has(digest));
  EXPECT_EQ(FileContent(store->BlobPath(digest)), data);
}

TEST(ContentStore, VerifyOfWrongContentDeletesThePartialAndCommitsNothing) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string digest = Sha256Digest("expected");
  auto ingest = std::move(store->BeginIngest(digest, 8).value());
  ASSERT_TRUE(ingest->Append("unexpect", 8).ok());
  Status verified = ingest->Verify();
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_FALSE(fs::exists(dir.path() / "ingest" / (digest.substr(7) + ".partial")));
  EXPECT_FALSE(ingest->Commit().ok());
  EXPECT_FALSE(store->Has(digest));
}

TEST(ContentStore, SizeMismatchShortAndLong) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string digest = Sha256Digest("12345");
  {
    auto ingest = std::move(store->BeginIngest(digest, 5).value());
    ASSERT_TRUE(ingest->Append("1234", 4).ok());
    Status st = ingest->Commit();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::kSizeMismatch);
  }
  {
    auto ingest = std::move(store->BeginIngest(digest, 5).value());
    EXPECT_EQ(ingest->offset(), 0);
    Status st = ingest->Append("123456", 6);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::kSizeMismatch);
  }
  EXPECT_FALSE(store->Has(digest));
}

TEST(ContentStore, ResumeRehashesExistingPrefix) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string data = RandomBytes(300'000, 2);
  std::string digest = Sha256Digest(data);
  {
    auto ingest = std::move(store->BeginIngest(digest, static_cast<int64_t>(data.size())).value());
    ASSERT_TRUE(ingest->Append(data.data(), 123'457).ok());
    // Destroyed without commit: the partial stays.
  }
  EXPECT_FALSE(store->Has(digest));
  // A fresh store object (a restarted process) resumes it.
  auto store2 = std::move(ContentStore::Open(dir.path()).value());
  auto ingest = std::move(store2->BeginIngest(digest, static_cast<int64_t>(data.size())).value());
  ASSERT_EQ(ingest->offset(), 123'457);
  ASSERT_TRUE(ingest->Append(data.data() + 123'457, data.size() - 123'457).ok());
  Status st = ingest->Commit();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(FileContent(store2->BlobPath(digest)), data);
}

TEST(ContentStore, PartialLongerThanExpectedStartsOver) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string digest = Sha256Digest("abc");
  std::ofstream(dir.path() / "ingest" / (digest.substr(7) + ".partial")) << "abcdefgh";
  auto ingest = std::move(store->BeginIngest(digest, 3).value());
  EXPECT_EQ(ingest->offset(), 0);
  ASSERT_TRUE(ingest->Append("abc", 3).ok());
  EXPECT_TRUE(ingest->Commit().ok());
}

TEST(ContentStore, ConcurrentBeginIngestWaitsForFirst) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string data = "hello world";
  std::string digest = Sha256Digest(data);
  auto first = std::move(store->BeginIngest(digest, 11).value());
  std::atomic<bool> second_started{false};
  bool second_present = false;
  std::thread t([&] {
    auto second = store->BeginIngest(digest, 11);
    second_started = true;
    ASSERT_TRUE(second.ok());
    second_present = (*second)->already_present();
    EXPECT_TRUE((*second)->Commit().ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(second_started.load());
  ASSERT_TRUE(first->Append(data.data(), data.size()).ok());
  ASSERT_TRUE(first->Commit().ok());
  first.reset();
  t.join();
  EXPECT_TRUE(second_started.load());
  EXPECT_TRUE(second_present);
}

// A writer that waits for another one of the same digest sees its bytes grow, and stops
// waiting when asked to.
TEST(ContentStore, WaitingForAnotherWriterReportsItsBytesAndCanBeCancelled) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  const std::string data = RandomBytes(100'000, 3);
  const std::string digest = Sha256Digest(data);
  auto first = std::move(store->BeginIngest(digest, static_cast<int64_t>(data.size())).value());
  ASSERT_TRUE(first->Append(data.data(), 70'000).ok());

  std::atomic<int64_t> seen{-1};
  std::atomic<bool> stop{false};
  IngestWait wait;
  wait.stop = [&] {
    return stop.load();
  };
  wait.on_wait = [&](int64_t other_bytes) {
    seen = other_bytes;
  };
  Result<std::unique_ptr<Ingest>> second = Error(ErrorCode::kInternal, "not run");
  std::thread waiter([&] { second = store->BeginIngest(digest, 100'000, wait); });
  // Appends are buffered: the waiter sees what reached the file, the first 64 KiB.
  const bool saw_bytes = WaitFor([&] { return seen.load() >= 65'536; });
  stop = true;
  waiter.join();
  EXPECT_TRUE(saw_bytes) << "the waiter saw " << seen.load() << " bytes of the first writer";
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kCancelled) << second.error().message();

  // The first writer is untouched and the digest free again afterwards.
  ASSERT_TRUE(first->Append(data.data() + 70'000, data.size() - 70'000).ok());
  ASSERT_TRUE(first->Commit().ok());
  first.reset();
  auto third = store->BeginIngest(digest, 100'000, wait);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE((*third)->already_present());
}

// Another process writing the same blob into the same store is waited for, and its committed
// blob taken as present; before, the second writer resumed the first one's partial file while
// the first still wrote it.
TEST(ContentStore, BeginIngestWaitsForAWriterInAnotherProcess) {
  TempDir dir;
  const std::string data = RandomBytes(200'000, 7);
  const std::string digest = Sha256Digest(data);
  int half_written[2];
  ASSERT_EQ(::pipe(half_written), 0);
  const pid_t writer = ::fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {  // the other process: half, a pause, the rest, commit
    ::close(half_written[0]);
    auto store = ContentStore::Open(dir.path());
    if (!store.ok()) ::_exit(10);
    auto ingest = (*store)->BeginIngest(digest, static_cast<int64_t>(data.size()));
    if (!ingest.ok() || !(*ingest)->Append(data.data(), data.size() / 2).ok()) ::_exit(11);
    if (::write(half_written[1], "h", 1) != 1) ::_exit(12);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const size_t rest = data.size() - data.size() / 2;
    if (!(*ingest)->Append(data.data() + data.size() / 2, rest).ok()) ::_exit(13);
    ::_exit((*ingest)->Commit().ok() ? 0 : 14);
  }
  ::close(half_written[1]);
  char byte = 0;
  ASSERT_EQ(::read(half_written[0], &byte, 1), 1);
  ::close(half_written[0]);

  auto store = std::move(ContentStore::Open(dir.path()).value());
  int64_t seen = 0;
  IngestWait wait;
  wait.on_wait = [&](int64_t other_bytes) {
    seen = std::max(seen, other_bytes);
  };
  auto ingest = store->BeginIngest(digest, static_cast<int64_t>(data.size()), wait);
  EXPECT_GE(seen, static_cast<int64_t>(data.size() / 2)) << "the wait saw no byte of the writer";
  int status = 0;
  ASSERT_EQ(::waitpid(writer, &status, 0), writer);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer status " << status;
  ASSERT_TRUE(ingest.ok()) << ingest.error().message();
  EXPECT_TRUE((*ingest)->already_present())
      << "began at offset " << (*ingest)->offset() << " while the other process still wrote";
  EXPECT_TRUE((*ingest)->Commit().ok());
  EXPECT_EQ(FileContent(store->BlobPath(digest)), data);
  EXPECT_TRUE(fs::is_empty(dir.path() / "ingest"));
}

TEST(ContentStore, RejectsInvalidDigestsBeforeTouchingPaths) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  const std::string bad = "sha256:../../../../etc/passwd";
  auto ingest = store->BeginIngest(bad, -1);
  ASSERT_FALSE(ingest.ok());
  EXPECT_EQ(ingest.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store->Has(bad));
  EXPECT_EQ(store->ReadBlob(bad).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->WriteBlob(bad, "x").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->Tag("x", Descriptor{"t", bad, 1}).error().code(), ErrorCode::kInvalidArgument);
}

TEST(ContentStore, WriteAndReadSmallBlob) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string manifest = R"({"schemaVersion":2})";
  std::string digest = Sha256Digest(manifest);
  EXPECT_EQ(store->WriteBlob(digest, "other").error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(store->ReadBlob(digest).error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store->WriteBlob(digest, manifest).ok());
  ASSERT_TRUE(store->WriteBlob(digest, manifest).ok());  // idempotent
  EXPECT_EQ(store->ReadBlob(digest).value(), manifest);
  // A corrupted blob is reported, not returned.
  std::ofstream(store->BlobPath(digest), std::ios::trunc) << "corrupt";
  EXPECT_EQ(store->ReadBlob(digest).error().code(), ErrorCode::kDigestMismatch);
}

TEST(ContentStore, WriteBlobOverStalePartial) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  std::string data = "the real content";
  std::string digest = Sha256Digest(data);
  std::ofstream(dir.path() / "ingest" / (digest.substr(7) + ".partial")) << "garbage";
  ASSERT_TRUE(store->WriteBlob(digest, data).ok());
  EXPECT_EQ(store->ReadBlob(digest).value(), data);
}

TEST(ContentStore, TagReplacesSameNameAndKeepsOthers) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  const std::string d1 = Sha256Digest("1"), d2 = Sha256Digest("2"), d3 = Sha256Digest("3");
  const std::string type = "application/vnd.oci.image.manifest.v1+json";
  ASSERT_TRUE(store->Tag("127.0.0.1:5000/busybox:1.36", {type, d1, 10}).ok());
  ASSERT_TRUE(store->Tag("docker.io/library/alpine:3", {type, d2, 20}).ok());
  ASSERT_TRUE(store->Tag("127.0.0.1:5000/busybox:1.36", {type, d3, 30}).ok());
  auto tags = store->ListTags();
  ASSERT_TRUE(tags.ok());
  ASSERT_EQ(tags->size(), 2u);
  std::map<std::string, Descriptor> by_name(tags->begin(), tags->end());
  EXPECT_EQ(by_name["127.0.0.1:5000/busybox:1.36"].digest, d3);
  EXPECT_EQ(by_name["127.0.0.1:5000/busybox:1.36"].size, 30);
  EXPECT_EQ(by_name["docker.io/library/alpine:3"].digest, d2);
  // The file itself is the OCI shape skopeo reads.
  auto index = nlohmann::json::parse(FileContent(dir.path() / "index.json"));
  EXPECT_EQ(index["schemaVersion"], 2);
  for (const auto& m : index["manifests"]) {
    EXPECT_TRUE(m["annotations"].contains("org.opencontainers.image.ref.name"));
    EXPECT_EQ(m["mediaType"], type);
  }
  // No temp files are left behind.
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST(ContentStore, TagRejectsIncompleteDescriptor) {
  TempDir dir;
  auto store = std::move(ContentStore::Open(dir.path()).value());
  EXPECT_EQ(store->Tag("a:b", {"", Sha256Digest("x"), 1}).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->Tag("", {"t", Sha256Digest("x"), 1}).error().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace pullfleet::store
