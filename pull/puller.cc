#include "pull/puller.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "pull/manifest.h"

namespace pullfleet::pull {
namespace {

using Clock = std::chrono::steady_clock;

// The progress callback is called at most this often (plus once at the end).
constexpr auto kProgressInterval = std::chrono::milliseconds(250);
// Attempts per blob within one pull: a connection reset mid-blob resumes with a Range
// request from what already reached the store. Anything beyond that is the caller's backoff.
constexpr int kBlobAttempts = 3;

bool IsAuthFailure(const Error& e) {
  return e.code() == ErrorCode::kUnauthorized || e.code() == ErrorCode::kForbidden;
}

bool IsTransient(const Error& e) {
  return e.code() == ErrorCode::kNetwork || e.code() == ErrorCode::kTimeout;
}

// Sums the bytes of every transfer of one pull and calls the user's callback, serialised and
// rate limited, from whichever pulling thread crosses the interval.
class ProgressReporter {
 public:
  ProgressReporter(const std::function<void(const Progress&)>& callback, Progress initial)
      : callback_(callback), progress_(initial) {}

  void AddBytes(int64_t n) {
    if (!callback_) return;
    std::lock_guard<std::mutex> lock(mu_);
    progress_.bytes_done += n;
    MaybeReport(false);
  }
  // Another writer of a blob this pull waits for has `bytes` of it so far.
  void OtherWriter(const std::string& digest, int64_t bytes) {
    if (!callback_) return;
    std::lock_guard<std::mutex> lock(mu_);
    int64_t& seen = others_[digest];
    if (bytes <= seen) return;
    progress_.bytes_waited_on += bytes - seen;
    seen = bytes;
    MaybeReport(false);
  }
  void LayerDone() {
    if (!callback_) return;
    std::lock_guard<std::mutex> lock(mu_);
    ++progress_.layers_done;
    MaybeReport(false);
  }
  void Final() {
    if (!callback_) return;
    std::lock_guard<std::mutex> lock(mu_);
    MaybeReport(true);
  }

 private:
  void MaybeReport(bool force) {
    auto now = Clock::now();
    if (!force && now - last_ < kProgressInterval) return;
    last_ = now;
    callback_(progress_);
  }

  const std::function<void(const Progress&)>& callback_;
  std::mutex mu_;
  Progress progress_;
  std::map<std::string, int64_t> others_;  // by digest: the other writer's bytes last seen
  Clock::time_point last_{};
};

// Makes verified blobs durable and visible (fsync, then rename into blobs/) on a thread of
// its own, so that a transfer thread starts its next blob instead of waiting for the disk:
// with 40 small layers the fsyncs were about a tenth of the pull's wall time. Blobs are
// committed in the order they were submitted, whether or not the pull has been aborted since
// (they are complete and verified; keeping them spares a later pull the download).
class Committer {
 public:
  using Done = std::function<void(const std::string& digest, const Status& committed)>;

  explicit Committer(Done on_done) : on_done_(std::move(on_done)), thread_([this] { Run(); }) {}
  ~Committer() { Finish(); }
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  void Submit(std::unique_ptr<store::Ingest> ingest, std::string digest) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(Pending{std::move(ingest), std::move(digest)});
    }
    cv_.notify_one();
  }

  // Commits everything submitted so far and stops the thread.
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Pending {
    std::unique_ptr<store::Ingest> ingest;
    std::string digest;
  };

  void Run() {
    for (;;) {
      Pending next;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) return;
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      Status committed = next.ingest->Commit();
      next.ingest.reset();  // releases the store's lock on the digest before telling
      on_done_(next.digest, committed);
    }
  }

  Done on_done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool closing_ = false;
  std::thread thread_;  // last: started once the members above exist
};

registry::ClientOptions ClientOptionsFor(const PullOptions& options,
                                         const registry::Credentials& credentials,
                                         const std::atomic<bool>* abort) {
  registry::ClientOptions o;
  o.domain = options.reference.domain;
  o.host = options.host;
  o.credentials = credentials;
  o.stall_timeout_s = options.stall_timeout_s;
  o.cancel = options.cancel;
  o.abort = abort;
  o.observer = options.observer;
  return o;
}

// One pull attempt with one credential.
class PullRun {
 public:
  PullRun(store::ContentStore& store, const PullOptions& options,
          const registry::Credentials& credentials)
      : store_(store), options_(options), credentials_(credentials) {}

  Result<PullResult> Run();

 private:
  struct Resolved {
    registry::Manifest top;
    std::string top_type;
    registry::Manifest child;  // equal to top for a single-platform image
    bool is_index = false;
  };

  Result<Resolved> ResolveManifests(registry::Client& client);
  Result<registry::Manifest> ChildManifest(registry::Client& client, const ParsedIndex& index,
                                           const std::string& top_digest);
  Status FetchBlobs(registry::Client& first_client, std::vector<store::Descriptor> blobs,
                    ProgressReporter& progress, const std::set<std::string>& layer_digests);
  Status FetchOne(registry::Client& client, const store::Descriptor& blob,
                  ProgressReporter& progress, const std::set<std::string>& layer_digests,
                  Committer& committer);
  void Worker(registry::Client& client, const std::vector<store::Descriptor>& blobs,
              ProgressReporter& progress, const std::set<std::string>& layer_digests,
              Committer& committer);
  // Keeps the first real error of the pull and stops the other transfers.
  void Fail(const std::string& digest, const Error& error);

  store::ContentStore& store_;
  const PullOptions& options_;
  const registry::Credentials& credentials_;
  std::atomic<bool> abort_{false};
  std::atomic<size_t> next_blob_{0};
  std::atomic<int64_t> bytes_downloaded_{0};
  std::atomic<int> blobs_downloaded_{0};
  std::atomic<int> blobs_raced_{0};  // committed by a concurrent pull while we waited
  std::atomic<int64_t> bytes_raced_{0};
  std::mutex error_mu_;
  std::optional<Error> first_error_;
};

Result<PullRun::Resolved> PullRun::ResolveManifests(registry::Client& client) {
  const std::string& repo = options_.reference.path;
  const std::string ref = options_.reference.ManifestReference();
  Resolved r;
  auto top = client.GetManifest(repo, ref);
  if (!top.ok()) return top.error().Wrap("fetch manifest " + ref);
  r.top = std::move(*top);
  auto type = DetectMediaType(r.top.media_type, r.top.body);
  if (!type.ok()) return type.error().Wrap("manifest " + r.top.digest);
  r.top_type = *type;
  r.top.media_type = *type;
  if (!IsIndexMediaType(r.top_type)) {
    r.child = r.top;
    return r;
  }
  r.is_index = true;
  auto index = ParseIndex(r.top.body);
  if (!index.ok()) return index.error().Wrap("index " + r.top.digest);
  auto child = ChildManifest(client, *index, r.top.digest);
  if (!child.ok()) return child.error();
  r.child = std::move(*child);
  return r;
}

Result<registry::Manifest> PullRun::ChildManifest(registry::Client& client,
                                                  const ParsedIndex& index,
                                                  const std::string& top_digest) {
  std::vector<image::Platform> platforms;
  for (const auto& e : index.manifests) platforms.push_back(e.platform);
  auto best = image::BestMatch(options_.platform, platforms);
  if (!best) {
    return Error(ErrorCode::kNoMatchingPlatform,
                 "no manifest for platform " + options_.platform.ToString() + " in index " +
                     top_digest + " (it has: " + DescribePlatforms(index) + ")");
  }
  const store::Descriptor& want = index.manifests[*best].descriptor;
  registry::Manifest child;
  // A manifest already in the store was verified when it was written: no request needed.
  auto local = store_.ReadBlob(want.digest);
  if (local.ok()) {
    child.digest = want.digest;
    child.body = std::move(*local);
    child.media_type = want.media_type;
  } else {
    auto fetched = client.GetManifest(options_.reference.path, want.digest);
    if (!fetched.ok()) return fetched.error().Wrap("fetch manifest " + want.digest);
    child = std::move(*fetched);
  }
  if (static_cast<int64_t>(child.body.size()) != want.size) {
    return Error(ErrorCode::kSizeMismatch,
                 "manifest " + want.digest + " is " + std::to_string(child.body.size()) +
                     " bytes, the index says " + std::to_string(want.size));
  }
  auto type =
      DetectMediaType(child.media_type.empty() ? want.media_type : child.media_type, child.body);
  if (!type.ok()) return type.error().Wrap("manifest " + want.digest);
  if (!IsManifestMediaType(*type)) {
    return Error(ErrorCode::kUnsupported,
                 "index entry " + want.digest + " is not an image manifest but " + *type);
  }
  child.media_type = *type;
  return child;
}

Status PullRun::FetchOne(registry::Client& client, const store::Descriptor& blob,
                         ProgressReporter& progress, const std::set<std::string>& layer_digests,
                         Committer& committer) {
  const std::string& repo = options_.reference.path;
  Status last;
  for (int attempt = 0; attempt < kBlobAttempts; ++attempt) {
    store::IngestWait wait;
    wait.stop = [this] {
      return abort_ || (options_.cancel && options_.cancel->load());
    };
    wait.on_wait = [&](int64_t other_bytes) {
      progress.OtherWriter(blob.digest, other_bytes);
    };
    auto ingest = store_.BeginIngest(blob.digest, blob.size, wait);
    if (!ingest.ok()) return ingest.error();
    if ((*ingest)->already_present()) {
      ++blobs_raced_;
      bytes_raced_ += blob.size;
      if (layer_digests.count(blob.digest)) progress.LayerDone();
      return Status::Ok();
    }
    int64_t start = (*ingest)->offset();
    Status fetched = Status::Ok();
    if (start < blob.size || blob.size == 0) {
      store::Ingest* in = ingest->get();
      fetched = client.FetchBlob(repo, blob.digest, start, [&](const char* data, size_t n) {
        Status st = in->Append(data, n);
        if (st.ok()) {
          bytes_downloaded_ += static_cast<int64_t>(n);
          progress.AddBytes(static_cast<int64_t>(n));
        }
        return st;
      });
    }
    if (!fetched.ok()) {
      last = fetched;
      if (fetched.error().code() == ErrorCode::kSizeMismatch) {
        (*ingest)->Discard();  // the registry sends more than the descriptor says
        return fetched;
      }
      if (start > 0 && fetched.error().code() == ErrorCode::kRegistryError) {
        // The registry would not resume (a bad range answer): start this blob over.
        (*ingest)->Discard();
        continue;
      }
      if (IsTransient(fetched.error()) && !abort_ &&
          !(options_.cancel && options_.cancel->load())) {
        continue;  // the partial file stays; the next attempt resumes from it
      }
      return fetched;
    }
    Status verified = (*ingest)->Verify();
    if (verified.ok()) {
      committer.Submit(std::move(*ingest), blob.digest);
      return verified;
    }
    last = verified;
    // A resumed prefix may have been the bad part; the partial is gone, so try once afresh.
    if (start > 0 && verified.error().code() == ErrorCode::kDigestMismatch) continue;
    return verified;
  }
  return last;
}

void PullRun::Worker(registry::Client& client, const std::vector<store::Descriptor>& blobs,
                     ProgressReporter& progress, const std::set<std::string>& layer_digests,
                     Committer& committer) {
  while (!abort_) {
    size_t i = next_blob_++;
    if (i >= blobs.size()) return;
    Status st = FetchOne(client, blobs[i], progress, layer_digests, committer);
    if (!st.ok()) {
      Fail(blobs[i].digest, st.error());
      return;
    }
  }
}

void PullRun::Fail(const std::string& digest, const Error& error) {
  std::lock_guard<std::mutex> lock(error_mu_);
  // A sibling stopped by abort_ reports kCancelled; keep the error that caused it.
  if (!first_error_ ||
      (first_error_->code() == ErrorCode::kCancelled && error.code() != ErrorCode::kCancelled)) {
    first_error_ = error.Wrap("fetch blob " + digest);
  }
  abort_ = true;
}

Status PullRun::FetchBlobs(registry::Client& first_client, std::vector<store::Descriptor> blobs,
                           ProgressReporter& progress, const std::set<std::string>& layer_digests) {
  if (blobs.empty()) return Status::Ok();
  // Largest first, so that the last blob to finish is a small one.
  std::sort(blobs.begin(), blobs.end(),
            [](const auto& a, const auto& b) { return a.size > b.size; });
  size_t threads = std::clamp<size_t>(
      static_cast<size_t>(std::max(1, options_.max_concurrent_blobs)), 1, blobs.size());
  // Each extra thread has its own client and so its own connection; the calling thread
  // keeps the client that resolved the manifests (its connection and token are warm). The
  // extra clients are made here, before any thread uses the first one, and start with its
  // scheme and tokens: a new client would otherwise try TLS on a plain-HTTP loopback
  // registry again (a wasted handshake per thread) and fetch its own token.
  std::vector<std::unique_ptr<registry::Client>> clients;
  for (size_t t = 1; t < threads; ++t) {
    clients.push_back(std::make_unique<registry::Client>(
        ClientOptionsFor(options_, credentials_, &abort_), first_client));
  }
  Committer committer([&](const std::string& digest, const Status& committed) {
    if (!committed.ok()) return Fail(digest, committed.error());
    ++blobs_downloaded_;
    if (layer_digests.count(digest)) progress.LayerDone();
  });
  std::vector<std::thread> pool;
  for (auto& client : clients) {
    pool.emplace_back(
        [&, c = client.get()] { Worker(*c, blobs, progress, layer_digests, committer); });
  }
  Worker(first_client, blobs, progress, layer_digests, committer);
  for (auto& t : pool) t.join();
  committer.Finish();
  if (first_error_) return *first_error_;
  return Status::Ok();
}

Result<PullResult> PullRun::Run() {
  registry::Client client(ClientOptionsFor(options_, credentials_, &abort_));
  auto resolved = ResolveManifests(client);
  if (!resolved.ok()) return resolved.error();
  auto manifest = ParseManifest(resolved->child.body);
  if (!manifest.ok()) return manifest.error().Wrap("manifest " + resolved->child.digest);

  PullResult result;
  result.resolved_digest = resolved->top.digest;
  result.manifest_digest = resolved->child.digest;
  result.config_digest = manifest->config.digest;
  result.image_size = manifest->config.size;
  for (const auto& l : manifest->layers) {
    result.layer_digests.push_back(l.digest);
    result.image_size += l.size;
  }

  // What is missing: config and layers, each digest once (an image may repeat a layer).
  std::vector<store::Descriptor> missing;
  std::set<std::string> seen;
  std::set<std::string> layer_digests(result.layer_digests.begin(), result.layer_digests.end());
  Progress initial;
  initial.layers_total = static_cast<int>(layer_digests.size());
  std::vector<store::Descriptor> all = manifest->layers;
  all.insert(all.begin(), manifest->config);
  for (const auto& d : all) {
    if (!seen.insert(d.digest).second) continue;
    initial.bytes_total += d.size;
    if (store_.Has(d.digest)) {
      ++result.blobs_reused;
      result.bytes_reused += d.size;
      initial.bytes_done += d.size;
      if (layer_digests.count(d.digest)) ++initial.layers_done;
    } else {
      missing.push_back(d);
    }
  }
  ProgressReporter progress(options_.on_progress, initial);
  if (Status st = FetchBlobs(client, missing, progress, layer_digests); !st.ok()) {
    return st.error();
  }
  result.bytes_downloaded = bytes_downloaded_;
  result.blobs_downloaded = blobs_downloaded_;
  result.blobs_reused += blobs_raced_;
  result.bytes_reused += bytes_raced_;

  // Manifests last: a stored manifest promises that its blobs are present.
  if (Status st = store_.WriteBlob(resolved->child.digest, resolved->child.body); !st.ok()) {
    return st.error().Wrap("store manifest " + resolved->child.digest);
  }
  if (resolved->is_index) {
    if (Status st = store_.WriteBlob(resolved->top.digest, resolved->top.body); !st.ok()) {
      return st.error().Wrap("store index " + resolved->top.digest);
    }
  }
  store::Descriptor top{resolved->top_type, resolved->top.digest,
                        static_cast<int64_t>(resolved->top.body.size())};
  if (Status st = store_.Tag(options_.reference.Normalized(), top); !st.ok()) {
    return st.error().Wrap("tag");
  }
  progress.Final();
  return result;
}

// Runs `attempt` once per candidate credential (or once anonymously) until one is not
// refused: an auth failure moves on to the next candidate, any other error ends the loop.
// `*used` is set to the index of the candidate that worked (-1: the anonymous attempt).
template <class T, class F>
Result<T> WithCandidates(const PullOptions& options, const std::string& context, F attempt,
                         int* used) {
  std::vector<CandidateCredential> candidates = options.credentials;
  const bool anonymous = candidates.empty();
  if (anonymous) candidates.push_back(CandidateCredential{});
  std::optional<Error> last;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto& candidate = candidates[i];
    Result<T> r = attempt(candidate);
    if (r.ok()) {
      *used = anonymous ? -1 : static_cast<int>(i);
      return r;
    }
    if (!IsAuthFailure(r.error())) return r.error().Wrap(context);
    std::string from = candidate.source.empty() ? "anonymous" : candidate.source;
    last = r.error().Wrap("with credential from " + from);
  }
  std::string tried = candidates.size() > 1
                          ? " (all " + std::to_string(candidates.size()) + " credentials refused)"
                          : "";
  return last->Wrap(context + tried);
}

}  // namespace

Result<PullResult> Puller::Pull(const PullOptions& options) {
  const std::string context = "pull " + options.reference.Normalized();
  int used = -1;
  auto result = WithCandidates<PullResult>(
      options, context,
      [&](const CandidateCredential& c) {
        Result<PullResult> r = PullRun(store_, options, c.credentials).Run();
        if (r.ok()) r->credential_source = c.source;
        return r;
      },
      &used);
  if (result.ok()) result->credential_index = used;
  return result;
}

Result<std::string> Puller::Resolve(const PullOptions& options, int* credential_index) {
  const std::string context = "resolve " + options.reference.Normalized();
  int used = -1;
  auto digest = WithCandidates<std::string>(
      options, context,
      [&](const CandidateCredential& c) {
        registry::Client client(ClientOptionsFor(options, c.credentials, nullptr));
        auto head =
            client.HeadManifest(options.reference.path, options.reference.ManifestReference());
        if (!head.ok()) return Result<std::string>(head.error());
        return Result<std::string>(head->digest);
      },
      &used);
  if (credential_index != nullptr) *credential_index = used;
  return digest;
}

Result<PullResult> Puller::FindLocal(std::string_view digest,
                                     const image::Platform& platform) const {
  const std::string root(digest);
  auto body = store_.ReadBlob(root);
  if (!body.ok()) return body.error();
  auto type = DetectMediaType("", *body);
  if (!type.ok()) return type.error().Wrap("manifest " + root);

  PullResult result;
  result.resolved_digest = root;
  result.manifest_digest = root;
  if (IsIndexMediaType(*type)) {
    auto index = ParseIndex(*body);
    if (!index.ok()) return index.error().Wrap("index " + root);
    std::vector<image::Platform> platforms;
    for (const auto& e : index->manifests) platforms.push_back(e.platform);
    auto best = image::BestMatch(platform, platforms);
    if (!best) {
      return Error(ErrorCode::kNoMatchingPlatform,
                   "no manifest for platform " + platform.ToString() + " in index " + root +
                       " (it has: " + DescribePlatforms(*index) + ")");
    }
    result.manifest_digest = index->manifests[*best].descriptor.digest;
    body = store_.ReadBlob(result.manifest_digest);
    if (!body.ok()) return body.error();
  }
  auto manifest = ParseManifest(*body);
  if (!manifest.ok()) return manifest.error().Wrap("manifest " + result.manifest_digest);
  result.config_digest = manifest->config.digest;
  result.image_size = manifest->config.size;
  std::set<std::string> seen;
  std::vector<store::Descriptor> all = manifest->layers;
  all.insert(all.begin(), manifest->config);
  for (const auto& d : all) {
    if (&d != &all.front()) {
      result.layer_digests.push_back(d.digest);
      result.image_size += d.size;
    }
    if (!seen.insert(d.digest).second) continue;
    if (!store_.Has(d.digest)) {
      return Error(ErrorCode::kNotFound,
                   "blob " + d.digest + " of image " + root + " is not in the store");
    }
    ++result.blobs_reused;
    result.bytes_reused += d.size;
  }
  return result;
}

}  // namespace pullfleet::pull
