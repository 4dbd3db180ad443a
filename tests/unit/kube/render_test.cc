// Rendering: get-pods tables, PodList JSON, describe, image lists, durations.
#include "kube/render.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace pullfleet::kube {
namespace {

using Json = nlohmann::json;

constexpr int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20Z, a Tuesday
constexpr int64_t kSecond = 1000;

std::string Spaces(int n) {
  return std::string(n, ' ');
}

pb::Container MakeContainer(const std::string& name, const std::string& image,
                            const std::string& policy = "") {
  pb::Container c;
  c.set_name(name);
  c.set_image(image);
  c.set_image_pull_policy(policy);
  return c;
}

pb::ContainerStatus Ready(const std::string& name, const std::string& image_id) {
  pb::ContainerStatus s;
  s.set_name(name);
  s.set_image_id(image_id);
  s.set_ready(true);
  return s;
}

pb::ContainerStatus Waiting(const std::string& name, const std::string& reason,
                            const std::string& message = "") {
  pb::ContainerStatus s;
  s.set_name(name);
  s.set_ready(false);
  s.mutable_waiting()->set_reason(reason);
  s.mutable_waiting()->set_message(message);
  return s;
}

// A pod with init containers `inits` and containers `containers` (images "img-<name>").
pb::Pod MakePod(const std::vector<std::string>& inits, const std::vector<std::string>& containers) {
  pb::Pod pod;
  pod.mutable_metadata()->set_name("p");
  pod.mutable_metadata()->set_namespace_("default");
  for (const auto& name : inits)
    *pod.mutable_spec()->add_init_containers() = MakeContainer(name, "img-" + name);
  for (const auto& name : containers)
    *pod.mutable_spec()->add_containers() = MakeContainer(name, "img-" + name);
  return pod;
}

struct StatusCase {
  std::string name;
  pb::Pod pod;
  std::string expected;
};

std::vector<StatusCase> StatusCases() {
  std::vector<StatusCase> cases;
  auto add = [&](std::string name, pb::Pod pod, std::string expected) {
    cases.push_back({std::move(name), std::move(pod), std::move(expected)});
  };
  { add("nothing_reported", MakePod({"i"}, {"a"}), "Pending"); }
  {
    pb::Pod pod = MakePod({}, {"a"});
    pod.mutable_status()->set_phase("Scheduled");
    add("nothing_reported_uses_phase", pod, "Scheduled");
  }
  {
    pb::Pod pod = MakePod({"i1", "i2"}, {"a"});
    *pod.mutable_status()->add_init_container_statuses() = Waiting("i1", "ErrImagePull", "x");
    *pod.mutable_status()->add_init_container_statuses() = Waiting("i2", "PodInitializing");
    *pod.mutable_status()->add_container_statuses() = Waiting("a", "PodInitializing");
    add("init_error", pod, "Init:ErrImagePull");
  }
  {
    pb::Pod pod = MakePod({"i1", "i2"}, {"a"});
    *pod.mutable_status()->add_init_container_statuses() = Ready("i1", "r@sha256:1");
    *pod.mutable_status()->add_init_container_statuses() = Waiting("i2", "ImagePullBackOff");
    add("second_init_backoff", pod, "Init:ImagePullBackOff");
  }
  {
    pb::Pod pod = MakePod({"i1", "i2"}, {"a"});
    *pod.mutable_status()->add_init_container_statuses() = Waiting("i1", "");
    *pod.mutable_status()->add_init_container_statuses() = Waiting("i2", "");
    add("init_pending_without_reason", pod, "Init:0/2");
  }
  {
    pb::Pod pod = MakePod({"i1", "i2"}, {"a"});
    *pod.mutable_status()->add_init_container_statuses() = Ready("i1", "r@sha256:1");
    *pod.mutable_status()->add_init_container_statuses() = Waiting("i2", "PodInitializing");
    add("first_init_done", pod, "Init:1/2");
  }
  {
    pb::Pod pod = MakePod({"i1"}, {"a"});
    *pod.mutable_status()->add_init_container_statuses() = Waiting("i1", "ContainerCreating");
    add("init_creating_counts_as_pending", pod, "Init:0/1");
  }
  {
    pb::Pod pod = MakePod({"i1"}, {"a"});
    *pod.mutable_status()->add_init_container_statuses() = Ready("i1", "r@sha256:1");
    *pod.mutable_status()->add_container_statuses() = Waiting("a", "ImagePullBackOff", "m");
    add("container_backoff", pod, "ImagePullBackOff");
  }
  for (const std::string reason :
       {"ErrImagePull", "ErrImageNeverPull", "InvalidImageName", "ContainerCreating"}) {
    pb::Pod pod = MakePod({}, {"a", "b"});
    *pod.mutable_status()->add_container_statuses() = Ready("a", "r@sha256:1");
    *pod.mutable_status()->add_container_statuses() = Waiting("b", reason);
    add("second_container_" + reason, pod, reason);
  }
  {
    pb::Pod pod = MakePod({}, {"a", "b"});
    *pod.mutable_status()->add_container_statuses() = Waiting("a", "");
    *pod.mutable_status()->add_container_statuses() = Waiting("b", "ErrImagePull");
    add("first_reason_wins", pod, "ErrImagePull");
  }
  {
    pb::Pod pod = MakePod({}, {"a"});
    pod.mutable_status()->set_phase("Pending");
    *pod.mutable_status()->add_container_statuses() = Waiting("a", "");
    add("waiting_without_reason", pod, "Pending");
  }
  {
    pb::Pod pod = MakePod({}, {"a", "b"});
    *pod.mutable_status()->add_container_statuses() = Ready("a", "r@sha256:1");
    add("missing_status_is_not_ready", pod, "Pending");
  }
  {
    pb::Pod pod = MakePod({"i"}, {"a"});
    *pod.mutable_status()->add_image_volume_statuses() = Waiting("assets", "ErrImageNeverPull");
    *pod.mutable_status()->add_init_container_statuses() = Ready("i", "r@sha256:1");
    *pod.mutable_status()->add_container_statuses() = Ready("a", "r@sha256:1");
    add("image_volume_failure_first", pod, "ErrImageNeverPull");
  }
  {
    pb::Pod pod = MakePod({}, {"a"});
    *pod.mutable_status()->add_image_volume_statuses() = Waiting("assets", "ContainerCreating");
    *pod.mutable_status()->add_container_statuses() = Waiting("a", "ErrImagePull");
    add("image_volume_being_pulled", pod, "ErrImagePull");
  }
  {
    pb::Pod pod = MakePod({"i"}, {"a", "b"});
    *pod.mutable_status()->add_init_container_statuses() = Ready("i", "r@sha256:1");
    *pod.mutable_status()->add_container_statuses() = Ready("b", "r@sha256:2");
    *pod.mutable_status()->add_container_statuses() = Ready("a", "r@sha256:1");
    add("all_ready", pod, "ImagesReady");
  }
  {
    // Its containers last reported ready, but the node is gone.
    pb::Pod pod = MakePod({}, {"a"});
    *pod.mutable_status()->add_container_statuses() = Ready("a", "r@sha256:1");
    pb::PodCondition& lost = *pod.mutable_status()->add_conditions();
    lost.set_type("ImagesReady");
    lost.set_status("Unknown");
    lost.set_reason("NodeLost");
    add("node_lost_overrides_ready_containers", pod, "NodeLost");
  }
  return cases;
}

TEST(PodStatusText, Table) {
  for (const StatusCase& c : StatusCases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(PodStatusText(c.pod), c.expected);
  }
}

// Two pods: one with every image present, one stuck on its init container.
pb::PodList TwoPods() {
  pb::PodList list;
  pb::Pod& web = *list.add_items();
  web.mutable_metadata()->set_name("web-1");
  web.mutable_metadata()->set_namespace_("default");
  web.mutable_metadata()->set_uid("uid-web-1");
  web.mutable_metadata()->set_creation_unix_ms(kNow - 10 * kSecond);
  (*web.mutable_metadata()->mutable_labels())["app"] = "web";
  web.mutable_metadata()->set_owner_kind("ReplicaSet");
  web.mutable_metadata()->set_owner_name("web-5d9c");
  web.mutable_spec()->set_node_name("node-1");
  web.mutable_spec()->add_image_pull_secrets("regcred");
  web.mutable_spec()->set_service_account_name("web-sa");
  web.mutable_spec()->set_runtime_class_name("runc");
  *web.mutable_spec()->add_containers() = MakeContainer("app", "nginx:1.25", "IfNotPresent");
  web.mutable_status()->set_phase("Running");
  pb::PodCondition& condition = *web.mutable_status()->add_conditions();
  condition.set_type("ImagesReady");
  condition.set_status("True");
  condition.set_last_transition_unix_ms(kNow - 5 * kSecond);
  pb::ContainerStatus app = Ready("app", "docker.io/library/nginx@sha256:abc");
  app.set_image("nginx:1.25");
  *web.mutable_status()->add_container_statuses() = app;

  pb::Pod& loader = *list.add_items();
  loader.mutable_metadata()->set_name("loader");
  loader.mutable_metadata()->set_namespace_("batch");
  loader.mutable_metadata()->set_creation_unix_ms(kNow - 182 * kSecond);
  *loader.mutable_spec()->add_init_containers() = MakeContainer("fetch", "busybox", "Always");
  *loader.mutable_spec()->add_containers() = MakeContainer("main", "alpine:3.19");
  loader.mutable_status()->set_phase("Pending");
  *loader.mutable_status()->add_init_container_statuses() =
      Waiting("fetch", "ErrImagePull", "failed to pull image \"busybox\": HTTP 503");
  *loader.mutable_status()->add_container_statuses() = Waiting("main", "PodInitializing");
  return list;
}

TEST(PodTable, DefaultColumns) {
  const std::string expected = "NAME" + Spaces(5) + "READY" + Spaces(3) + "STATUS" + Spaces(14) +
                               "RESTARTS" + Spaces(3) + "AGE\n" +  //
                               "web-1" + Spaces(4) + "1/1" + Spaces(5) + "ImagesReady" + Spaces(9) +
                               "0" +                   //
                               Spaces(10) + "10s\n" +  //
                               "loader" + Spaces(3) + "0/1" + Spaces(5) + "Init:ErrImagePull" +
                               Spaces(3) + "0" + Spaces(10) + "3m2s\n";
  EXPECT_EQ(PodTable(TwoPods(), {false, false, kNow}), expected);
}

TEST(PodTable, WideWithNamespaces) {
  const std::string expected =
      "NAMESPACE" + Spaces(3) + "NAME" + Spaces(5) + "READY" + Spaces(3) + "STATUS" + Spaces(14) +
      "RESTARTS" + Spaces(3) + "AGE" + Spaces(4) + "NODE" + Spaces(5) + "IMAGES\n" + "default" +
      Spaces(5) + "web-1" + Spaces(4) + "1/1" + Spaces(5) + "ImagesReady" + Spaces(9) + "0" +
      Spaces(10) + "10s" + Spaces(4) + "node-1" + Spaces(3) + "nginx:1.25\n" + "batch" + Spaces(7) +
      "loader" + Spaces(3) + "0/1" + Spaces(5) + "Init:ErrImagePull" + Spaces(3) + "0" +
      Spaces(10) + "3m2s" + Spaces(3) + "<none>" + Spaces(3) + "alpine:3.19\n";
  EXPECT_EQ(PodTable(TwoPods(), {true, true, kNow}), expected);
}

TEST(PodTable, ReadyCountsSidecarsAndEmptyListIsEmpty) {
  pb::PodList list;
  pb::Pod& pod = *list.add_items() = MakePod({"init", "sidecar"}, {"a", "b"});
  pod.mutable_spec()->mutable_init_containers(1)->set_restart_policy("Always");
  *pod.mutable_status()->add_init_container_statuses() = Ready("init", "r@sha256:1");
  *pod.mutable_status()->add_init_container_statuses() = Ready("sidecar", "r@sha256:2");
  *pod.mutable_status()->add_container_statuses() = Ready("a", "r@sha256:3");
  *pod.mutable_status()->add_container_statuses() = Waiting("b", "ErrImagePull");
  const std::string table = PodTable(list, {false, false, kNow});
  EXPECT_NE(table.find("\np" + Spaces(6) + "2/3" + Spaces(5) + "ErrImagePull   0"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("<unknown>"), std::string::npos);  // no creation time

  EXPECT_EQ(PodTable(pb::PodList(), {false, false, kNow}), "");
}

TEST(PodListJson, KubernetesShape) {
  const std::string text = PodListJson(TwoPods());
  EXPECT_EQ(text.substr(0, 25), "{\n    \"apiVersion\": \"v1\",");  // 4-space indent
  EXPECT_EQ(text.back(), '\n');
  const Json json = Json::parse(text);
  EXPECT_EQ(json["kind"], "PodList");
  ASSERT_EQ(json["items"].size(), 2u);

  const Json& web = json["items"][0];
  EXPECT_EQ(web["apiVersion"], "v1");
  EXPECT_EQ(web["kind"], "Pod");
  EXPECT_EQ(web["metadata"]["name"], "web-1");
  EXPECT_EQ(web["metadata"]["namespace"], "default");
  EXPECT_EQ(web["metadata"]["uid"], "uid-web-1");
  EXPECT_EQ(web["metadata"]["creationTimestamp"], "2023-11-14T22:13:10Z");
  EXPECT_EQ(web["metadata"]["labels"]["app"], "web");
  EXPECT_EQ(web["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
  EXPECT_EQ(web["metadata"]["ownerReferences"][0]["name"], "web-5d9c");
  EXPECT_EQ(web["metadata"]["ownerReferences"][0]["apiVersion"], "apps/v1");
  EXPECT_EQ(web["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(web["spec"]["nodeName"], "node-1");
  EXPECT_EQ(web["spec"]["containers"][0]["name"], "app");
  EXPECT_EQ(web["spec"]["containers"][0]["image"], "nginx:1.25");
  EXPECT_EQ(web["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(web["spec"]["imagePullSecrets"], Json::parse(R"([{"name": "regcred"}])"));
  EXPECT_EQ(web["spec"]["serviceAccountName"], "web-sa");
  EXPECT_EQ(web["spec"]["runtimeClassName"], "runc");
  EXPECT_FALSE(web["spec"].contains("initContainers"));
  EXPECT_EQ(web["status"]["phase"], "Running");
  EXPECT_EQ(web["status"]["conditions"][0]["type"], "ImagesReady");
  EXPECT_EQ(web["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ(web["status"]["conditions"][0]["lastTransitionTime"], "2023-11-14T22:13:15Z");
  const Json& app = web["status"]["containerStatuses"][0];
  EXPECT_EQ(app["name"], "app");
  EXPECT_EQ(app["image"], "nginx:1.25");
  EXPECT_EQ(app["imageID"], "docker.io/library/nginx@sha256:abc");
  EXPECT_EQ(app["ready"], true);
  EXPECT_EQ(app["restartCount"], 0);
  EXPECT_EQ(app["started"], false);
  EXPECT_EQ(app["state"], Json::object());
  EXPECT_FALSE(web["status"].contains("initContainerStatuses"));

  const Json& loader = json["items"][1];
  EXPECT_FALSE(loader["spec"].contains("nodeName"));
  EXPECT_FALSE(loader["metadata"].contains("ownerReferences"));
  EXPECT_EQ(loader["spec"]["initContainers"][0]["name"], "fetch");
  EXPECT_EQ(loader["spec"]["initContainers"][0]["imagePullPolicy"], "Always");
  EXPECT_FALSE(loader["spec"]["containers"][0].contains("imagePullPolicy"));
  const Json& fetch = loader["status"]["initContainerStatuses"][0];
  EXPECT_EQ(fetch["ready"], false);
  EXPECT_EQ(fetch["imageID"], "");
  EXPECT_EQ(fetch["state"]["waiting"]["reason"], "ErrImagePull");
  EXPECT_EQ(fetch["state"]["waiting"]["message"], "failed to pull image \"busybox\": HTTP 503");
  const Json& main = loader["status"]["containerStatuses"][0];
  EXPECT_EQ(main["state"]["waiting"]["reason"], "PodInitializing");
  EXPECT_FALSE(main["state"]["waiting"].contains("message"));
}

TEST(PodListJson, ImageVolumesInSpecAndStatus) {
  pb::PodList list;
  pb::Pod& pod = *list.add_items() = MakePod({}, {"a"});
  pb::ImageVolume* volume = pod.mutable_spec()->add_image_volumes();
  volume->set_name("assets");
  volume->set_reference("registry.example.com/assets:2.0");
  volume->set_pull_policy("IfNotPresent");
  *pod.mutable_status()->add_image_volume_statuses() = Waiting("assets", "ImagePullBackOff", "m");
  const Json json = Json::parse(PodListJson(list));
  const Json& item = json["items"][0];
  EXPECT_EQ(item["spec"]["volumes"], Json::parse(R"([{"name": "assets", "image": {"reference":
                "registry.example.com/assets:2.0", "pullPolicy": "IfNotPresent"}}])"));
  EXPECT_EQ(item["status"]["imageVolumeStatuses"][0]["name"], "assets");
  EXPECT_EQ(item["status"]["imageVolumeStatuses"][0]["state"]["waiting"]["reason"],
            "ImagePullBackOff");
}

TEST(PodListJson, InvalidUtf8DoesNotThrow) {
  pb::PodList list;
  *list.add_items() = MakePod({}, {"a"});
  list.mutable_items(0)->mutable_spec()->mutable_containers(0)->set_image("bad\xff");
  const Json json = Json::parse(PodListJson(list));
  EXPECT_EQ(json["items"][0]["spec"]["containers"][0]["image"], "bad\xEF\xBF\xBD");
}

// A pod in the middle of pulling, with a bad image, conditions and events out of order.
pb::Pod DescribedPod() {
  pb::Pod pod;
  pod.mutable_metadata()->set_name("web-1");
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_metadata()->set_creation_unix_ms(kNow - 182 * kSecond);
  (*pod.mutable_metadata()->mutable_labels())["pod-template-hash"] = "5d9c";
  (*pod.mutable_metadata()->mutable_labels())["app"] = "web";
  pod.mutable_metadata()->set_owner_kind("ReplicaSet");
  pod.mutable_metadata()->set_owner_name("web-5d9c");
  pod.mutable_spec()->set_node_name("node-1");
  *pod.mutable_spec()->add_init_containers() = MakeContainer("fetch", "busybox", "IfNotPresent");
  *pod.mutable_spec()->add_containers() = MakeContainer("app", "nginx:1.25", "Always");
  *pod.mutable_spec()->add_containers() = MakeContainer("side", "bad::image");
  pb::PodStatus& status = *pod.mutable_status();
  status.set_phase("Pending");
  *status.add_init_container_statuses() = Ready("fetch", "docker.io/library/busybox@sha256:111");
  pb::ContainerStatus app = Waiting("app", "ContainerCreating");
  app.mutable_progress()->set_bytes_done(12'897'485);   // 12.3 MiB
  app.mutable_progress()->set_bytes_total(41'943'040);  // 40 MiB
  app.mutable_progress()->set_layers_done(1);
  app.mutable_progress()->set_layers_total(3);
  app.mutable_progress()->set_bytes_per_second(26'319'258);  // 25.1 MiB/s
  *status.add_container_statuses() = app;
  *status.add_container_statuses() =
      Waiting("side", "InvalidImageName", "couldn't parse image name \"bad::image\"");
  pb::PodCondition& images = *status.add_conditions();
  images.set_type("ImagesReady");
  images.set_status("False");
  pb::PodCondition& scheduled = *status.add_conditions();
  scheduled.set_type("PodScheduled");
  scheduled.set_status("True");

  auto event = [&](const char* type, const char* reason, const char* message, const char* source,
                   int64_t first_ago_s, int64_t last_ago_s, int count) {
    pb::Event& e = *pod.add_events();
    e.set_type(type);
    e.set_reason(reason);
    e.set_message(message);
    e.set_source(source);
    e.set_first_unix_ms(kNow - first_ago_s * kSecond);
    e.set_last_unix_ms(kNow - last_ago_s * kSecond);
    e.set_count(count);
  };
  event("Normal", "Pulling", "Pulling image \"nginx:1.25\"", "node-1", 5, 5, 1);
  event("Normal", "Scheduled", "Successfully assigned default/web-1 to node-1", "coordinator", 182,
        182, 1);
  event("Warning", "Failed", "Error: InvalidImageName", "node-1", 120, 10, 3);
  return pod;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(DescribePod, Sections) {
  const std::string text = DescribePod(DescribedPod(), kNow);
  const std::vector<std::string> lines = Lines(text);
  ASSERT_GE(lines.size(), 30u) << text;

  // The top block is aligned on its widest label, "Image Pull Secrets:" (19) + 2.
  const std::vector<std::string> top = {
      "Name:" + Spaces(16) + "web-1",
      "Namespace:" + Spaces(11) + "default",
      "Service Account:" + Spaces(5) + "<none>",
      "Node:" + Spaces(16) + "node-1",
      "Start Time:" + Spaces(10) + "Tue, 14 Nov 2023 22:10:18 +0000",
      "Labels:" + Spaces(14) + "app=web",
      Spaces(21) + "pod-template-hash=5d9c",
      "Status:" + Spaces(14) + "Pending",
      "Controlled By:" + Spaces(7) + "ReplicaSet/web-5d9c",
      "Node-Selectors:" + Spaces(6) + "<none>",
      "Image Pull Secrets:  <none>",
      "Init Containers:",
      "  fetch:",
      "    Image:" + Spaces(14) + "busybox",
      "    Image ID:" + Spaces(11) + "docker.io/library/busybox@sha256:111",
      "    Image Pull Policy:  IfNotPresent",
      "    State:" + Spaces(14) + "ImagePresent",
      "    Ready:" + Spaces(14) + "True",
      "Containers:",
      "  app:",
      "    Image:" + Spaces(14) + "nginx:1.25",
      "    Image ID:" + Spaces(11),
      "    Image Pull Policy:  Always",
      "    State:" + Spaces(14) + "Waiting",
      "      Reason:" + Spaces(11) + "ContainerCreating",
      "    Pull Progress:" + Spaces(6) + "12.3 MiB / 40.0 MiB, 1/3 layers, 25.1 MiB/s",
      "    Ready:" + Spaces(14) + "False",
      "  side:",
      "    Image:" + Spaces(14) + "bad::image",
      "    Image ID:" + Spaces(11),
      "    Image Pull Policy:  <none>",
      "    State:" + Spaces(14) + "Waiting",
      "      Reason:" + Spaces(11) + "InvalidImageName",
      "      Message:" + Spaces(10) + "couldn't parse image name \"bad::image\"",
      "    Ready:" + Spaces(14) + "False",
      "Conditions:",
      "  Type" + Spaces(11) + "Status",
      "  ImagesReady" + Spaces(4) + "False ",
      "  PodScheduled   True ",
      "Events:",
      // Sorted by last seen; "10s (x3 over 2m)" is the widest Age.
      "  Type" + Spaces(5) + "Reason" + Spaces(5) + "Age" + Spaces(15) + "From" + Spaces(9) +
          "Message",
      "  ----" + Spaces(5) + "------" + Spaces(5) + "----" + Spaces(14) + "----" + Spaces(9) +
          "-------",
      "  Normal" + Spaces(3) + "Scheduled  3m2s" + Spaces(14) +
          "coordinator  Successfully assigned default/web-1 to node-1",
      "  Warning  Failed" + Spaces(5) + "10s (x3 over 2m)  node-1" + Spaces(7) +
          "Error: InvalidImageName",
      "  Normal" + Spaces(3) + "Pulling" + Spaces(4) + "5s" + Spaces(16) + "node-1" + Spaces(7) +
          "Pulling image \"nginx:1.25\"",
  };
  ASSERT_EQ(lines.size(), top.size()) << text;
  for (size_t i = 0; i < top.size(); ++i) EXPECT_EQ(lines[i], top[i]) << "line " << i + 1;
}

TEST(DescribePod, NoEventsNoConditions) {
  pb::Pod pod = MakePod({}, {"a"});
  const std::string text = DescribePod(pod, kNow);
  EXPECT_EQ(text.find("Start Time"), std::string::npos);  // no creation time known
  EXPECT_EQ(text.find("Conditions:"), std::string::npos);
  EXPECT_EQ(text.find("Pull Progress"), std::string::npos);
  const std::vector<std::string> lines = Lines(text);
  ASSERT_FALSE(lines.empty());
  // "Events:" joins the column block of the container lines above it, as in kubectl.
  EXPECT_EQ(lines.back(), "Events:" + Spaces(17) + "<none>");
  EXPECT_NE(text.find("    State:" + Spaces(14) + "Waiting\n    Ready:"), std::string::npos)
      << text;
}

pb::ImageList TwoImages() {
  pb::ImageList list;
  list.set_node("node-1");
  list.set_store_path("/data/node-1/store");
  pb::ImageRecord& busybox = *list.add_images();
  busybox.set_reference("docker.io/library/busybox:1.36");
  busybox.set_digest("sha256:aaaa");
  busybox.set_manifest_digest("sha256:aaab");
  busybox.set_config_digest("sha256:aaac");
  busybox.set_size(2'202'009);
  busybox.add_layer_digests("sha256:1111");
  busybox.set_pulled_unix_ms(kNow - 45 * kSecond);
  pb::ImageRecord& big = *list.add_images();
  big.set_reference("127.0.0.1:5000/big:1");
  big.set_digest("sha256:bbbb");
  big.set_size(1'073'741'824);
  big.add_layer_digests("sha256:2222");
  big.add_layer_digests("sha256:3333");
  big.set_pulled_unix_ms(kNow - 3 * 3600 * kSecond);
  big.set_runtime_handler("kata");
  return list;
}

TEST(ImageTable, SortedAlignedWithStorePath) {
  const std::string expected = "REFERENCE" + Spaces(24) + "DIGEST" + Spaces(8) + "SIZE" +
                               Spaces(6) + "AGE\n" + "127.0.0.1:5000/big:1" + Spaces(13) +
                               "sha256:bbbb   1.0 GiB   3h\n" +
                               "docker.io/library/busybox:1.36   sha256:aaaa   2.1 MiB   45s\n" +
                               "Store: /data/node-1/store\n";
  EXPECT_EQ(ImageTable(TwoImages(), kNow), expected);
}

TEST(ImageListJson, Fields) {
  const Json json = Json::parse(ImageListJson(TwoImages()));
  EXPECT_EQ(json["node"], "node-1");
  EXPECT_EQ(json["storePath"], "/data/node-1/store");
  ASSERT_EQ(json["images"].size(), 2u);
  EXPECT_EQ(json["images"][0]["reference"], "docker.io/library/busybox:1.36");
  EXPECT_EQ(json["images"][0]["digest"], "sha256:aaaa");
  EXPECT_EQ(json["images"][0]["manifestDigest"], "sha256:aaab");
  EXPECT_EQ(json["images"][0]["configDigest"], "sha256:aaac");
  EXPECT_EQ(json["images"][0]["size"], 2'202'009);
  EXPECT_EQ(json["images"][0]["pulledAt"], "2023-11-14T22:12:35Z");
  EXPECT_FALSE(json["images"][0].contains("runtimeHandler"));
  EXPECT_EQ(json["images"][1]["layers"], Json::parse(R"(["sha256:2222", "sha256:3333"])"));
  EXPECT_EQ(json["images"][1]["runtimeHandler"], "kata");
}

TEST(FormatBytes, Table) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0 B"},
      {1023, "1023 B"},
      {1024, "1.0 KiB"},
      {1536, "1.5 KiB"},
      {12'897'485, "12.3 MiB"},
      {41'943'040, "40.0 MiB"},
      {1 << 30, "1.0 GiB"},
      {5.5 * (1LL << 40), "5.5 TiB"},
  };
  for (const auto& [bytes, expected] : cases) EXPECT_EQ(FormatBytes(bytes), expected) << bytes;
}

TEST(HumanDuration, MatchesKubectl) {
  constexpr int64_t s = 1000, m = 60 * s, h = 60 * m, d = 24 * h, y = 365 * d;
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {-3 * s, "<invalid>"},
      {-1500, "0s"},  // up to 2 s of clock skew counts as now
      {0, "0s"},
      {999, "0s"},
      {10 * s, "10s"},
      {119 * s, "119s"},
      {2 * m, "2m"},
      {3 * m + 2 * s, "3m2s"},
      {9 * m + 59 * s, "9m59s"},
      {10 * m + 30 * s, "10m"},
      {179 * m, "179m"},
      {3 * h, "3h"},
      {3 * h + 5 * m, "3h5m"},
      {7 * h + 59 * m, "7h59m"},
      {8 * h + 30 * m, "8h"},
      {47 * h, "47h"},
      {2 * d, "2d"},
      {2 * d + 2 * h, "2d2h"},
      {7 * d + 23 * h, "7d23h"},
      {8 * d + 5 * h, "8d"},
      {729 * d, "729d"},
      {2 * y, "2y"},
      {2 * y + 10 * d, "2y10d"},
      {8 * y + 100 * d, "8y"},
  };
  for (const auto& [ms, expected] : cases) EXPECT_EQ(HumanDuration(ms), expected) << ms;
}

}  // namespace
}  // namespace pullfleet::kube
