// End-to-end tests of issue 3: the image rules that need a real registry, checked on a running
// cluster (one `pullfleet up` process) through the real binary.
//
// Ordering is read from the pods' events (`get events -o json`, eventTime to the microsecond).
// Pulls that must last long enough to overlap go through a ThrottleProxy in front of the real
// registry, which slows what the registry sends; the registry itself stays the real one, and
// its own access log counts the requests it served.
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "tests/e2e/cluster.h"
#include "tests/support/throttle_proxy.h"

namespace pullfleet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::RegistrySuite;
using testing::TempDir;
using testing::ThrottleProxy;

constexpr auto kPullTimeout = std::chrono::seconds(90);
// Per connection: pf/big (about 40 MiB in 3 layers fetched at once) then takes seconds.
constexpr size_t kSlowBytesPerSecond = 4 * 1024 * 1024;

// Shortened backoff and rechecks so that failures show within the test's patience.
constexpr const char* kFastRetries = R"(imagePullBackOff:
  initialSeconds: 1
  maxSeconds: 2
neverPullRecheckSeconds: 1
)";

// A KubeletConfiguration document exactly as a kubelet reads it.
std::string KubeletConfig(bool serialize, int max_parallel) {
  std::string text =
      "---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
      "serializeImagePulls: " +
      std::string(serialize ? "true" : "false") + "\n";
  if (max_parallel > 0) text += "maxParallelImagePulls: " + std::to_string(max_parallel) + "\n";
  return text;
}

// A one-container pod on node-1.
std::string PodYaml(const std::string& name, const std::string& image,
                    const std::string& policy = "", const std::string& extra_spec = "") {
  std::string text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
                     "\nspec:\n  nodeName: node-1\n" + extra_spec +
                     "  containers:\n    - name: main\n      image: " + image + "\n";
  if (!policy.empty()) text += "      imagePullPolicy: " + policy + "\n";
  return text;
}

// Milliseconds since the epoch of a metav1.MicroTime ("2026-12-03T21:40:19.826000Z").
int64_t ParseMicroTime(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return -1;
  int64_t millis = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') millis += std::stoll(std::string(rest + 1, 6)) / 1000;
  return millis;
}

struct PodEvent {
  std::string reason;
  std::string message;
  int64_t at_ms = 0;
};

// One pull as its events tell it. As in the kubelet, "Pulling" is recorded when the pull is
// asked for (before it waits in the node's queue); the transfer itself started `in X` before
// the "Pulled" event ("Successfully pulled image ... in X (Y including waiting)").
struct PullSpan {
  int64_t queued_ms = -1;
  int64_t start_ms = -1;
  int64_t end_ms = -1;
  bool complete() const { return queued_ms >= 0 && start_ms >= 0 && end_ms >= 0; }
};

class ImageRulesTest : public RegistrySuite<ImageRulesTest> {
 protected:
  void TearDown() override {
    // Tests that move pf/app:latest put it back for the next one.
    if (moved_latest_) (void)registry().Retag("pf/app:v1", "pf/app:latest");
  }

  void StartCluster(const std::string& node_config_yaml, int nodes = 1) {
    ClusterOptions options;
    options.mode = ClusterMode::kEmbedded;
    options.nodes = nodes;
    options.data_dir = data_.path();
    options.node_config_yaml = node_config_yaml;
    auto started = Cluster::Start(options);
    ASSERT_TRUE(started.ok()) << started.error().message();
    cluster_ = std::move(started).value();
  }

  void StartProxy(size_t bytes_per_second = kSlowBytesPerSecond) {
    auto proxy = ThrottleProxy::Start(registry().host(), bytes_per_second);
    ASSERT_TRUE(proxy.ok()) << proxy.error().message();
    proxy_ = std::move(proxy).value();
  }

  void ApplyOk(const std::string& file, const std::string& yaml) {
    CommandResult applied = cluster_->Apply(file, yaml);
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
  }

  // Polls until `done` holds for pod `name`; returns the last pod JSON (null if never seen).
  json WaitPod(const std::string& name, const std::function<bool(const json&)>& done, bool* met) {
    json last;
    *met = WaitUntil(
        [&] {
          auto pods = cluster_->GetPods();
          if (!pods.ok()) return false;
          last = FindPod(*pods, name);
          return !last.is_null() && done(last);
        },
        kPullTimeout, std::chrono::milliseconds(100));
    return last;
  }

  void WaitReady(const std::string& name) {
    bool met = false;
    json pod = WaitPod(
        name, [](const json& p) { return ImagesReady(p); }, &met);
    ASSERT_TRUE(met) << "pod " << name << " not ImagesReady: " << pod.dump(1).substr(0, 3000)
                     << "\n"
                     << cluster_->LogTails();
  }

  // The status of the pod's only container.
  json MainStatus(const std::string& name) {
    auto pods = cluster_->GetPods();
    EXPECT_TRUE(pods.ok());
    if (!pods.ok()) return json();
    auto statuses = StatusesByName(FindPod(*pods, name));
    return statuses.count("main") ? statuses["main"] : json();
  }

  std::vector<PodEvent> Events(const std::string& pod) {
    CommandResult listed = cluster_->Client("get events -o json");
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    std::vector<PodEvent> out;
    json list = json::parse(listed.output, nullptr, false);
    if (list.is_discarded()) {
      ADD_FAILURE() << "get events -o json is not JSON: " << listed.output.substr(0, 500);
      return out;
    }
    for (const auto& item : list["items"]) {
      if (item.value("/involvedObject/name"_json_pointer, std::string()) != pod) continue;
      out.push_back({item.value("reason", ""), item.value("message", ""),
                     ParseMicroTime(item.value("eventTime", ""))});
    }
    return out;
  }

  bool HasEvent(const std::string& pod, const std::string& reason,
                const std::string& message_part) {
    for (const auto& event : Events(pod)) {
      if (event.reason == reason && event.message.find(message_part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  // When the pod asked for, started and finished pulling `image`.
  PullSpan Span(const std::string& pod, const std::string& image) {
    PullSpan span;
    const std::string quoted = "\"" + image + "\"";
    for (const auto& event : Events(pod)) {
      if (event.message.find(quoted) == std::string::npos) continue;
      if (event.reason == "Pulling") span.queued_ms = event.at_ms;
      if (event.reason != "Pulled") continue;
      const int64_t pull_ms = PullMillisOf(event.message);
      span.end_ms = event.at_ms;
      span.start_ms = pull_ms < 0 ? -1 : event.at_ms - pull_ms;
    }
    return span;
  }

  int BlobGets(const std::string& repo) {
    auto count = registry().BlobGetCount(repo);
    EXPECT_TRUE(count.ok()) << count.error().message();
    return count.ok() ? *count : -1;
  }

  // Blobs of one image: its config and layers, read from the registry's manifest.
  int BlobsOf(const std::string& repo_and_tag) {
    const auto colon = repo_and_tag.rfind(':');
    CommandResult manifest = testing::RunCommand(
        "curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' " +
        testing::ShellQuote(registry().url() + "/v2/" + repo_and_tag.substr(0, colon) +
                            "/manifests/" + repo_and_tag.substr(colon + 1)));
    json parsed = json::parse(manifest.output, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << manifest.output;
    if (parsed.is_discarded()) return -1;
    return 1 + static_cast<int>(parsed.value("layers", json::array()).size());
  }

  std::string Image(const std::string& repo_and_tag) { return registry().Ref(repo_and_tag); }
  std::string SlowImage(const std::string& repo_and_tag) {
    return proxy_->host() + "/" + repo_and_tag;
  }

  // Starts a long pull of pf/big for pod "big" on a node configured so, asks for pf/app:v1 for
  // pod "small" while it runs (both through the throttling relay), and returns both pulls once
  // both pods are ready.
  void BigThenSmall(bool serialize, int max_parallel, PullSpan* first, PullSpan* second) {
    ASSERT_NO_FATAL_FAILURE(StartProxy());
    ASSERT_NO_FATAL_FAILURE(
        StartCluster(std::string(kFastRetries) + KubeletConfig(serialize, max_parallel)));
    const std::string big = SlowImage("pf/big:1.0");
    const std::string small = SlowImage("pf/app:v1");
    ApplyOk("big.yaml", PodYaml("big", big));
    bool met = false;
    WaitPod(
        "big", [&](const json&) { return HasEvent("big", "Pulling", big); }, &met);
    ASSERT_TRUE(met) << cluster_->LogTails();
    ApplyOk("small.yaml", PodYaml("small", small));
    ASSERT_NO_FATAL_FAILURE(WaitReady("big"));
    ASSERT_NO_FATAL_FAILURE(WaitReady("small"));
    *first = Span("big", big);
    *second = Span("small", small);
    ASSERT_TRUE(first->complete() && second->complete());
  }

  TempDir data_{"pf-rules-"};
  std::unique_ptr<ThrottleProxy> proxy_;
  std::unique_ptr<Cluster> cluster_;  // after data_ and proxy_: stopped before them
  bool moved_latest_ = false;
};

// ---- pull policies ---------------------------------------------------------------------------

// Always asks the registry (a HEAD of the manifest) every time; an unchanged tag whose digest is
// present downloads no blob. As in the kubelet with containerd, the events are still Pulling and
// "Successfully pulled image" (the pull was asked for; it found everything present).
TEST_F(ImageRulesTest, AlwaysWithUnchangedTagChecksDigestAndDownloadsNoBlob) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(kFastRetries));
  const std::string image = Image("pf/app:latest");
  ApplyOk("first.yaml", PodYaml("first", image));
  ASSERT_NO_FATAL_FAILURE(WaitReady("first"));
  const int blobs_before = BlobGets("pf/app");
  auto heads_before = registry().AccessLogCount("HEAD", "/v2/pf/app/manifests/latest");
  ASSERT_TRUE(heads_before.ok()) << heads_before.error().message();

  ApplyOk("second.yaml", PodYaml("second", image));
  ASSERT_NO_FATAL_FAILURE(WaitReady("second"));
  EXPECT_EQ(MainStatus("second").value("imageID", ""),
            registry().host() + "/pf/app@" + registry().Digest("APP_V1"));
  EXPECT_EQ(BlobGets("pf/app"), blobs_before) << "an unchanged tag must not download a blob";
  auto heads_after = registry().AccessLogCount("HEAD", "/v2/pf/app/manifests/latest");
  ASSERT_TRUE(heads_after.ok());
  EXPECT_GT(*heads_after, *heads_before) << "Always must ask the registry for the digest";
  EXPECT_TRUE(HasEvent("second", "Pulled", "Successfully pulled image"));
  EXPECT_FALSE(HasEvent("second", "Pulled", "already present on machine"));
}

// Always with a tag that moved to another digest pulls the new image.
TEST_F(ImageRulesTest, AlwaysWithMovedTagPullsTheNewDigest) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(kFastRetries));
  const std::string image = Image("pf/app:latest");
  ApplyOk("first.yaml", PodYaml("first", image));
  ASSERT_NO_FATAL_FAILURE(WaitReady("first"));
  EXPECT_EQ(MainStatus("first").value("imageID", ""),
            registry().host() + "/pf/app@" + registry().Digest("APP_V1"));

  moved_latest_ = true;
  auto moved = registry().Retag("pf/app:v2", "pf/app:latest");
  ASSERT_TRUE(moved.ok()) << moved.error().message();
  ASSERT_EQ(*moved, registry().Digest("APP_V2"));
  const int blobs_before = BlobGets("pf/app");

  ApplyOk("second.yaml", PodYaml("second", image));
  ASSERT_NO_FATAL_FAILURE(WaitReady("second"));
  EXPECT_EQ(MainStatus("second").value("imageID", ""),
            registry().host() + "/pf/app@" + registry().Digest("APP_V2"));
  EXPECT_GT(BlobGets("pf/app"), blobs_before);
  EXPECT_TRUE(HasEvent("second", "Pulled", "Successfully pulled image"));
}

// IfNotPresent keeps using what the node has, even after the tag moved.
TEST_F(ImageRulesTest, IfNotPresentKeepsThePresentImageAfterTheTagMoved) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(kFastRetries));
  const std::string image = Image("pf/app:latest");
  ApplyOk("first.yaml", PodYaml("first", image, "IfNotPresent"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("first"));
  moved_latest_ = true;
  ASSERT_TRUE(registry().Retag("pf/app:v2", "pf/app:latest").ok());
  auto heads_before = registry().AccessLogCount("HEAD", "/v2/pf/app/manifests/");
  ASSERT_TRUE(heads_before.ok());

  ApplyOk("second.yaml", PodYaml("second", image, "IfNotPresent"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("second"));
  EXPECT_EQ(MainStatus("second").value("imageID", ""),
            registry().host() + "/pf/app@" + registry().Digest("APP_V1"));
  EXPECT_EQ(*registry().AccessLogCount("HEAD", "/v2/pf/app/manifests/"), *heads_before)
      << "IfNotPresent must not ask the registry when the image is present";
}

// Never without the image: ErrImageNeverPull with the kubelet's message, and no registry request.
TEST_F(ImageRulesTest, NeverWithoutTheImageFailsWithErrImageNeverPull) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(kFastRetries));
  const std::string image = Image("pf/sidecar:1.0");
  auto gets_before = registry().AccessLogCount("GET", "/v2/pf/sidecar/");
  auto heads_before = registry().AccessLogCount("HEAD", "/v2/pf/sidecar/");
  ASSERT_TRUE(gets_before.ok() && heads_before.ok());
  ApplyOk("never.yaml", PodYaml("never", image, "Never"));
  bool met = false;
  json pod = WaitPod(
      "never",
      [](const json& p) {
        auto statuses = StatusesByName(p);
        return statuses.count("main") && WaitingReason(statuses["main"]) == "ErrImageNeverPull";
      },
      &met);
  ASSERT_TRUE(met) << pod.dump(1) << cluster_->LogTails();
  EXPECT_EQ(WaitingMessage(MainStatus("never")),
            "Container image \"" + image + "\" is not present with pull policy of Never");
  EXPECT_TRUE(HasEvent("never", "ErrImageNeverPull", "is not present with pull policy of Never"));
  EXPECT_EQ(*registry().AccessLogCount("GET", "/v2/pf/sidecar/"), *gets_before);
  EXPECT_EQ(*registry().AccessLogCount("HEAD", "/v2/pf/sidecar/"), *heads_before);
}

// A pre-pulled image (an OCI layout imported with `images load`) serves Never and IfNotPresent
// without a single request to the registry.
TEST_F(ImageRulesTest, PreloadedImageServesNeverAndIfNotPresentWithoutTheRegistry) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(kFastRetries));
  const std::string image = Image("pf/sidecar:1.0");
  TempDir layout("pf-layout-");
  CommandResult copied =
      testing::RunCommand("skopeo copy --quiet --src-tls-verify=false docker://" + image + " " +
                          testing::ShellQuote("oci:" + layout.path() + "/img:" + image) + " 2>&1");
  ASSERT_EQ(copied.exit_code, 0) << copied.output;
  auto gets_before = registry().AccessLogCount("GET", "/v2/pf/sidecar/");
  ASSERT_TRUE(gets_before.ok());

  CommandResult loaded =
      cluster_->Client("images load --node node-1 " + testing::ShellQuote(layout.path() + "/img"));
  ASSERT_EQ(loaded.exit_code, 0) << loaded.output;
  ApplyOk("never.yaml", PodYaml("never", image, "Never"));
  ApplyOk("ifnp.yaml", PodYaml("ifnp", image, "IfNotPresent"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("never"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("ifnp"));
  EXPECT_EQ(MainStatus("never").value("imageID", ""),
            registry().host() + "/pf/sidecar@" + registry().Digest("SIDECAR"));
  EXPECT_EQ(*registry().AccessLogCount("GET", "/v2/pf/sidecar/"), *gets_before);
  EXPECT_TRUE(HasEvent("ifnp", "Pulled", "already present on machine"));
}

// A reference that breaks the grammar never reaches the registry: InvalidImageName, saying why.
TEST_F(ImageRulesTest, InvalidReferenceGivesInvalidImageNameWithTheReason) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(kFastRetries));
  ApplyOk("bad.yaml", PodYaml("bad", registry().host() + "/pf/BusyBox:1.36"));
  bool met = false;
  json pod = WaitPod(
      "bad",
      [](const json& p) {
        auto statuses = StatusesByName(p);
        return statuses.count("main") && WaitingReason(statuses["main"]) == "InvalidImageName";
      },
      &met);
  ASSERT_TRUE(met) << pod.dump(1);
  const std::string message = WaitingMessage(MainStatus("bad"));
  EXPECT_NE(message.find("BusyBox"), std::string::npos) << message;
  EXPECT_NE(message.find("lowercase"), std::string::npos) << message;
}

// ---- serial and parallel pulls ------------------------------------------------------------------

// Serial (the kubelet's default): a second pod's pull starts only after the first one ended.
TEST_F(ImageRulesTest, SerialPullsRunOneAtATimeInArrivalOrder) {
  PullSpan first, second;
  ASSERT_NO_FATAL_FAILURE(BigThenSmall(true, 0, &first, &second));
  // The small pull was asked for while the big one ran, and its transfer began only after the
  // big one ended (event times and transfer times are rounded to the millisecond).
  EXPECT_LT(second.queued_ms, first.end_ms);
  EXPECT_GE(second.start_ms + 5, first.end_ms) << "serial pulls overlapped";
}

// Parallel (serializeImagePulls: false): a small image of another pod finishes while a long pull
// is still running.
TEST_F(ImageRulesTest, ParallelPullsOfDifferentPodsOverlap) {
  PullSpan first, second;
  ASSERT_NO_FATAL_FAILURE(BigThenSmall(false, 2, &first, &second));
  EXPECT_LT(second.end_ms, first.end_ms) << "the small pull waited for the big one";
}

// However parallel the node, one pod never has two pulls in flight: its containers' pulls
// follow each other, init containers first.
TEST_F(ImageRulesTest, OnePodsPullsNeverOverlapEvenWhenParallel) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  ASSERT_NO_FATAL_FAILURE(StartCluster(std::string(kFastRetries) + KubeletConfig(false, 0)));
  const std::vector<std::string> images = {SlowImage("pf/sidecar:1.0"), SlowImage("pf/app:v2"),
                                           SlowImage("pf/busybox:1.36")};
  std::string yaml =
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: trio\nspec:\n  nodeName: node-1\n"
      "  initContainers:\n    - name: init\n      image: " +
      images[0] + "\n  containers:\n    - name: a\n      image: " + images[1] +
      "\n    - name: b\n      image: " + images[2] + "\n";
  ApplyOk("trio.yaml", yaml);
  ASSERT_NO_FATAL_FAILURE(WaitReady("trio"));

  std::vector<PullSpan> spans;
  for (const auto& image : images) {
    spans.push_back(Span("trio", image));
    ASSERT_TRUE(spans.back().complete()) << image;
  }
  for (size_t i = 1; i < spans.size(); ++i) {
    // Not even asked for: the chain asks for the next image only after the last one ended.
    EXPECT_GE(spans[i].queued_ms, spans[i - 1].end_ms)
        << images[i] << " was asked for before " << images[i - 1] << " finished";
  }
}

// Beyond the kubelet: two pods that need the same image at once share one download; the
// registry serves each blob once.
TEST_F(ImageRulesTest, TwoPodsNeedingOneImageShareOneDownload) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  ASSERT_NO_FATAL_FAILURE(StartCluster(std::string(kFastRetries) + KubeletConfig(false, 0)));
  const int blobs = BlobsOf("pf/big:1.0");
  ASSERT_GT(blobs, 1);
  const int gets_before = BlobGets("pf/big");
  const std::string big = SlowImage("pf/big:1.0");
  ApplyOk("pair.yaml", PodYaml("one", big) + "---\n" + PodYaml("two", big));
  ASSERT_NO_FATAL_FAILURE(WaitReady("one"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("two"));
  EXPECT_EQ(BlobGets("pf/big") - gets_before, blobs) << "one GET per blob, whatever the pods";
  const std::string digest = registry().Digest("BIG");
  EXPECT_EQ(MainStatus("one").value("imageID", ""), proxy_->host() + "/pf/big@" + digest);
  EXPECT_EQ(MainStatus("two").value("imageID", ""), proxy_->host() + "/pf/big@" + digest);
}

// Beyond the kubelet: in serial mode, a pod whose image is present is not held behind another
// pod's long pull.
TEST_F(ImageRulesTest, PresentImageIsNotStuckBehindALongPull) {
  ASSERT_NO_FATAL_FAILURE(StartProxy());
  ASSERT_NO_FATAL_FAILURE(StartCluster(std::string(kFastRetries) + KubeletConfig(true, 0)));
  const std::string present = Image("pf/busybox:1.36");
  ApplyOk("warm.yaml", PodYaml("warm", present));
  ASSERT_NO_FATAL_FAILURE(WaitReady("warm"));

  const std::string big = SlowImage("pf/big:1.0");
  ApplyOk("big.yaml", PodYaml("big", big));
  bool met = false;
  WaitPod(
      "big", [&](const json&) { return HasEvent("big", "Pulling", big); }, &met);
  ASSERT_TRUE(met) << cluster_->LogTails();
  ApplyOk("quick.yaml", PodYaml("quick", present));
  ASSERT_NO_FATAL_FAILURE(WaitReady("quick"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("big"));
  const auto quick_events = Events("quick");
  auto pulled = std::find_if(quick_events.begin(), quick_events.end(),
                             [](const PodEvent& e) { return e.reason == "Pulled"; });
  ASSERT_NE(pulled, quick_events.end());
  EXPECT_LT(pulled->at_ms, Span("big", big).end_ms) << "the present image waited for the pull";
}

// ---- runtime classes and platforms --------------------------------------------------------------

constexpr const char* kRuntimeClass = R"(apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: sandboxed
handler: kata
)";

// With RuntimeClassInImageCriApi, an image is identified by (reference, handler): present for
// the default handler is not present for kata, and the node's store lists both.
TEST_F(ImageRulesTest, RuntimeClassHandlersIdentifyImagesSeparatelyWithTheFeatureGate) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(std::string(kFastRetries) +
                                       "---\napiVersion: kubelet.config.k8s.io/v1beta1\n"
                                       "kind: KubeletConfiguration\nfeatureGates:\n"
                                       "  RuntimeClassInImageCriApi: true\n"));
  const std::string image = Image("pf/busybox:1.36");
  ApplyOk("rc.yaml", kRuntimeClass);
  ApplyOk("plain.yaml", PodYaml("plain", image));
  ASSERT_NO_FATAL_FAILURE(WaitReady("plain"));
  ApplyOk("kata.yaml", PodYaml("kata", image, "", "  runtimeClassName: sandboxed\n"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("kata"));
  EXPECT_TRUE(HasEvent("kata", "Pulled", "Successfully pulled image"))
      << "present for the default handler must not count for kata";

  CommandResult images = cluster_->Client("get images --node node-1 -o json");
  ASSERT_EQ(images.exit_code, 0) << images.output;
  std::set<std::string> handlers;
  for (const auto& item : json::parse(images.output).value("images", json::array())) {
    if (item.value("reference", "") == image) handlers.insert(item.value("runtimeHandler", ""));
  }
  EXPECT_EQ(handlers, (std::set<std::string>{"", "kata"})) << images.output;
}

// Beyond the kubelet: with the gate, two handlers pull one image as two downloads, and the
// second waits in the store for the first one's blobs instead of fetching them again. Its
// wait moves no byte of its own; it must not be cancelled as stalled while the first moves.
TEST_F(ImageRulesTest, ADownloadWaitingForAnotherOnesBlobsIsNotTakenForStalled) {
  // Slow enough that the second download waits on one blob for well over the stall timeout
  // (1 s); the first one's bytes keep coming meanwhile.
  ASSERT_NO_FATAL_FAILURE(StartProxy(kSlowBytesPerSecond / 2));
  ASSERT_NO_FATAL_FAILURE(StartCluster(std::string(kFastRetries) + "stallTimeoutSeconds: 1\n" +
                                       KubeletConfig(false, 0) +
                                       "featureGates:\n  RuntimeClassInImageCriApi: true\n"));
  const int blobs = BlobsOf("pf/big:1.0");
  const int gets_before = BlobGets("pf/big");
  const std::string big = SlowImage("pf/big:1.0");  // several seconds through the relay
  ApplyOk("rc.yaml", kRuntimeClass);
  ApplyOk("pair.yaml", PodYaml("plain", big) + "---\n" +
                           PodYaml("kata", big, "", "  runtimeClassName: sandboxed\n"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("plain"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("kata"));
  for (const char* pod : {"plain", "kata"}) {
    EXPECT_FALSE(HasEvent(pod, "Failed", "stalled")) << pod << "\n" << cluster_->LogTails();
    EXPECT_TRUE(HasEvent(pod, "Pulled", "Successfully pulled image")) << pod;
  }
  EXPECT_EQ(BlobGets("pf/big") - gets_before, blobs) << "the waiting download fetched blobs too";
}

// Without the gate, the handler does not matter: the second pod finds the image present.
TEST_F(ImageRulesTest, RuntimeClassHandlersShareImagesWithoutTheFeatureGate) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(kFastRetries));
  const std::string image = Image("pf/busybox:1.36");
  ApplyOk("rc.yaml", kRuntimeClass);
  ApplyOk("plain.yaml", PodYaml("plain", image));
  ASSERT_NO_FATAL_FAILURE(WaitReady("plain"));
  ApplyOk("kata.yaml", PodYaml("kata", image, "", "  runtimeClassName: sandboxed\n"));
  ASSERT_NO_FATAL_FAILURE(WaitReady("kata"));
  EXPECT_TRUE(HasEvent("kata", "Pulled", "already present on machine"));
}

// An index resolves to the node's platform: an arm64 node gets the arm64 member.
TEST_F(ImageRulesTest, IndexResolvesToTheNodesPlatform) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(std::string(kFastRetries) + "platform: linux/arm64\n"));
  ApplyOk("multi.yaml", PodYaml("multi", Image("pf/multiarch:1.0")));
  ASSERT_NO_FATAL_FAILURE(WaitReady("multi"));
  CommandResult images = cluster_->Client("get images --node node-1 -o json");
  ASSERT_EQ(images.exit_code, 0) << images.output;
  EXPECT_NE(images.output.find(registry().Digest("MULTIARCH_ARM64")), std::string::npos)
      << images.output;
  EXPECT_EQ(images.output.find(registry().Digest("MULTIARCH_AMD64")), std::string::npos)
      << images.output;
}

// A node whose platform has no entry fails the pull and names the platforms that exist.
TEST_F(ImageRulesTest, PlatformWithoutAnEntryFailsNamingTheAvailablePlatforms) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(std::string(kFastRetries) + "platform: linux/s390x\n"));
  ApplyOk("multi.yaml", PodYaml("multi", Image("pf/multiarch:1.0")));
  bool met = false;
  json pod = WaitPod(
      "multi",
      [](const json& p) {
        auto statuses = StatusesByName(p);
        const std::string reason = statuses.count("main") ? WaitingReason(statuses["main"]) : "";
        return reason == "ErrImagePull" || reason == "ImagePullBackOff";
      },
      &met);
  ASSERT_TRUE(met) << pod.dump(1) << cluster_->LogTails();
  std::string failures;
  for (const auto& event : Events("multi")) {
    if (event.reason == "Failed") failures += event.message + "\n";
  }
  EXPECT_NE(failures.find("linux/s390x"), std::string::npos) << failures;
  EXPECT_NE(failures.find("linux/amd64"), std::string::npos) << failures;
  EXPECT_NE(failures.find("linux/arm64"), std::string::npos) << failures;
}

}  // namespace
}  // namespace pullfleet::e2e
