// PlanImages, WorkloadPods and the plan's table and JSON (the output of `images list -f`).
#include "kube/image_plan.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace pullfleet::kube {
namespace {

ManifestSet Parse(const std::string& yaml, const std::string& source) {
  Result<ManifestSet> set = ParseManifests(yaml, source);
  if (!set.ok()) {
    ADD_FAILURE() << set.error().message();
    return {};
  }
  return std::move(set).value();
}

ManifestSet ParseData(const std::string& name) {
  const std::string path = std::string(PULLFLEET_SOURCE_DIR) + "/tests/data/manifests/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), name);
}

const PlannedImage* Find(const std::vector<PlannedImage>& images, const std::string& reference) {
  for (const PlannedImage& image : images) {
    if (image.reference == reference) return &image;
  }
  return nullptr;
}

std::vector<std::string> Labels(const PlannedImage& image) {
  std::vector<std::string> labels;
  for (const ImageUser& user : image.users) labels.push_back(user.Label());
  return labels;
}

TEST(WorkloadPods, PerKind) {
  struct Case {
    std::string kind;
    int replicas, parallelism;
    int pods;
    bool per_node, pre_pull;
  };
  const std::vector<Case> cases = {
      {"Deployment", 3, 0, 3, false, false},
      {"ReplicaSet", 2, 0, 2, false, false},
      {"ReplicationController", 0, 0, 0, false, false},
      {"StatefulSet", 5, 0, 5, false, false},
      {"DaemonSet", 0, 0, 0, true, false},
      {"Job", 0, 4, 4, false, false},
      {"CronJob", 0, 2, 0, false, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.kind);
    pb::Workload workload;
    workload.set_kind(c.kind);
    workload.set_replicas(c.replicas);
    workload.set_parallelism(c.parallelism);
    const PodCount count = WorkloadPods(workload);
    EXPECT_EQ(count.pods, c.pods);
    EXPECT_EQ(count.per_node, c.per_node);
    EXPECT_EQ(count.pre_pull, c.pre_pull);
  }
}

TEST(PlanImages, RolloutCountsKindsAndPolicies) {
  const ImagePlan plan = PlanImages({ParseData("rollout.yaml")});

  struct Expected {
    std::string reference;
    std::vector<std::string> policies;
    int pods, per_node;
    bool pre_pull;
    std::vector<std::string> users;
    std::vector<std::string> written;
  };
  const std::vector<Expected> expected = {
      // A native sidecar's image is pulled like any other.
      {"docker.io/envoyproxy/envoy:v1.31.0",
       {"IfNotPresent"},
       3,
       0,
       false,
       {"Deployment/web"},
       {"envoyproxy/envoy:v1.31.0"}},
      // Three spellings of one image; the DaemonSet counts per node, the CronJob as pre-pull.
      {"docker.io/library/busybox:1.36",
       {"Always", "IfNotPresent"},
       1,
       1,
       true,
       {"CronJob/backup", "Pod/debug", "kube-system/DaemonSet/agent"},
       {"busybox:1.36", "index.docker.io/library/busybox:1.36"}},
      // No tag defaults to Always; the copy's written IfNotPresent is kept. Two containers of
      // the same pods count the pods once.
      {"docker.io/library/nginx:latest",
       {"Always", "IfNotPresent"},
       3,
       0,
       false,
       {"Deployment/web"},
       {"docker.io/library/nginx:latest", "nginx"}},
      // An image volume of a Job with parallelism 2.
      {"registry.example.com/models/llm:v1",
       {"IfNotPresent"},
       2,
       0,
       false,
       {"Job/warm"},
       {"registry.example.com/models/llm:v1"}},
      {"registry.example.com:5000/tools/warm@sha256:"
       "7e8bdd271312fd25fc5ff5a8f04727be84044eb3d7d8d03611972a6752e2e11e",
       {"IfNotPresent"},
       2,
       0,
       false,
       {"Job/warm"},
       {"registry.example.com:5000/tools/warm@sha256:"
        "7e8bdd271312fd25fc5ff5a8f04727be84044eb3d7d8d03611972a6752e2e11e"}},
  };
  ASSERT_EQ(plan.images.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const Expected& e = expected[i];
    SCOPED_TRACE(e.reference);
    const PlannedImage& image = plan.images[i];
    EXPECT_EQ(image.reference, e.reference);
    EXPECT_TRUE(image.error.empty());
    EXPECT_EQ(image.policies, e.policies);
    EXPECT_EQ(image.pods, e.pods);
    EXPECT_EQ(image.pods_per_node, e.per_node);
    EXPECT_EQ(image.pre_pull, e.pre_pull);
    EXPECT_EQ(Labels(image), e.users);
    EXPECT_EQ(image.written, e.written);
  }

  const PlannedImage* nginx = Find(plan.images, "docker.io/library/nginx:latest");
  ASSERT_NE(nginx, nullptr);
  ASSERT_EQ(nginx->users.size(), 1u);
  EXPECT_EQ(nginx->users[0].uses, (std::vector<std::string>{"nginx", "nginx-copy"}));
  const PlannedImage* envoy = Find(plan.images, "docker.io/envoyproxy/envoy:v1.31.0");
  ASSERT_NE(envoy, nullptr);
  EXPECT_EQ(envoy->users[0].uses, (std::vector<std::string>{"init:proxy"}));
  const PlannedImage* model = Find(plan.images, "registry.example.com/models/llm:v1");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->users[0].uses, (std::vector<std::string>{"volume:model"}));
}

TEST(PlanImages, PlaceholdersAreInvalidNotPulled) {
  const ImagePlan plan = PlanImages({ParseData("rollout.yaml")});
  ASSERT_EQ(plan.invalid.size(), 2u);
  const std::vector<std::string> expected = {"$imageMysql", "<your-private-image>"};
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i]);
    const PlannedImage& image = plan.invalid[i];
    EXPECT_EQ(image.reference, expected[i]);
    EXPECT_EQ(image.error.rfind("couldn't parse image name \"" + expected[i] + "\"", 0), 0u)
        << image.error;
    EXPECT_EQ(image.pods, 2);
    EXPECT_EQ(Labels(image), (std::vector<std::string>{"Deployment/wordpress"}));
    EXPECT_EQ(Find(plan.images, expected[i]), nullptr);
  }
}

TEST(PlanImages, SeveralFilesAndAReappliedObject) {
  const std::string first =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n"
      "  template:\n    spec:\n      containers: [{name: c, image: 'nginx:1.26'}]\n";
  // The same Deployment again: it replaces the first (scaled, new image), as a second apply
  // would. A Deployment of the same name in another namespace is another object.
  const std::string second =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 5\n"
      "  template:\n    spec:\n      containers: [{name: c, image: 'nginx:1.27'}]\n---\n"
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
      "spec:\n  template:\n    spec:\n      containers: [{name: c, image: 'nginx:1.27'}]\n";
  const ImagePlan plan = PlanImages({Parse(first, "a.yaml"), Parse(second, "b.yaml")});
  ASSERT_EQ(plan.images.size(), 1u);
  EXPECT_EQ(plan.images[0].reference, "docker.io/library/nginx:1.27");
  EXPECT_EQ(plan.images[0].pods, 6);
  EXPECT_EQ(Labels(plan.images[0]),
            (std::vector<std::string>{"Deployment/web", "shop/Deployment/web"}));
  EXPECT_TRUE(plan.invalid.empty());
}

TEST(PlanImages, SkippedKindsAndEmptyInput) {
  EXPECT_TRUE(PlanImages({}).images.empty());
  const ImagePlan plan = PlanImages({ParseData("mixed-list.yaml")});
  std::vector<std::string> references;
  for (const auto& image : plan.images) references.push_back(image.reference);
  // Nothing from the ConfigMap, CloneSet or ImageCache.
  EXPECT_EQ(references,
            (std::vector<std::string>{"127.0.0.1:5000/report:2", "127.0.0.1:5000/tools:1"}));
}

TEST(ImagePlanTable, Layout) {
  const std::string yaml =
      "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  template:\n"
      "    spec:\n      containers: [{name: c, image: 'busybox:1.36'}]\n---\n"
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
      "  containers:\n  - {name: a, image: busybox:1.36}\n  - {name: b, image: <YOUR-CONTAINER>}\n"
      "---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n"
      "  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
      "          containers: [{name: c, image: alpine}]\n";
  const std::string expected =
      "IMAGE                             POLICY         PODS         USED BY\n"
      "docker.io/library/alpine:latest   Always         pre-pull     CronJob/nightly\n"
      "docker.io/library/busybox:1.36    IfNotPresent   1 + 1/node   DaemonSet/agent, Pod/p\n"
      "\n"
      "Invalid image names (nothing is pulled; their containers report InvalidImageName):\n"
      "  couldn't parse image name \"<YOUR-CONTAINER>\": invalid reference format: repository "
      "name (library/<YOUR-CONTAINER>) must be lowercase (used by Pod/p)\n";
  EXPECT_EQ(ImagePlanTable(PlanImages({Parse(yaml, "t.yaml")})), expected);
  EXPECT_EQ(ImagePlanTable(ImagePlan{}), "");
}

TEST(ImagePlanJson, Fields) {
  const ImagePlan plan = PlanImages({ParseData("rollout.yaml")});
  const nlohmann::json json = nlohmann::json::parse(ImagePlanJson(plan));
  ASSERT_EQ(json.at("images").size(), plan.images.size());
  ASSERT_EQ(json.at("invalidImages").size(), 2u);

  const nlohmann::json& busybox = json.at("images").at(1);
  EXPECT_EQ(busybox.at("reference"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(busybox.at("pods"), 1);
  EXPECT_EQ(busybox.at("podsPerNode"), 1);
  EXPECT_EQ(busybox.at("prePull"), true);
  EXPECT_EQ(busybox.at("pullPolicies"), nlohmann::json({"Always", "IfNotPresent"}));
  EXPECT_EQ(busybox.at("written"),
            nlohmann::json({"busybox:1.36", "index.docker.io/library/busybox:1.36"}));
  const nlohmann::json& agent = busybox.at("usedBy").at(2);
  EXPECT_EQ(agent.at("kind"), "DaemonSet");
  EXPECT_EQ(agent.at("namespace"), "kube-system");
  EXPECT_EQ(agent.at("name"), "agent");
  EXPECT_EQ(agent.at("perNode"), true);
  EXPECT_EQ(agent.at("pods"), 0);
  EXPECT_EQ(agent.at("uses"), nlohmann::json({"agent"}));

  const nlohmann::json& invalid = json.at("invalidImages").at(1);
  EXPECT_EQ(invalid.at("image"), "<your-private-image>");
  EXPECT_EQ(invalid.at("error"),
            "couldn't parse image name \"<your-private-image>\": invalid reference format");
  EXPECT_EQ(invalid.at("pods"), 2);
}

}  // namespace
}  // namespace pullfleet::kube
