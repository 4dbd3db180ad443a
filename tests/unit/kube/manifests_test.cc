// ParseManifests on the project's own manifests (tests/data/manifests) and on inline cases.
#include "kube/manifests.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/kube/manifest_data.h"

namespace pullfleet::kube {
namespace {

using testdata::MustParse;
using testdata::ReadData;

std::vector<std::string> AllImages(const ManifestSet& set) {
  std::vector<std::string> images;
  auto add = [&](const pb::PodSpec& spec) {
    for (const auto& c : spec.init_containers()) images.push_back(c.image());
    for (const auto& c : spec.containers()) images.push_back(c.image());
  };
  for (const auto& pod : set.pods) add(pod.spec());
  for (const auto& workload : set.workloads) add(workload.template_spec());
  return images;
}

TEST(ParseManifests, MultiDocumentBundle) {
  ManifestSet set = MustParse("multi-doc.yaml");
  ASSERT_EQ(set.pods.size(), 1u);
  ASSERT_EQ(set.workloads.size(), 1u);
  EXPECT_EQ(set.skipped_kinds,
            (std::map<std::string, int>{{"ConfigMap", 1}, {"ImageCache", 1}, {"Service", 1}}));

  const pb::Workload& web = set.workloads[0];
  EXPECT_EQ(web.kind(), "Deployment");
  EXPECT_EQ(web.api_version(), "apps/v1");
  EXPECT_EQ(web.metadata().name(), "web");
  EXPECT_EQ(web.metadata().namespace_(), "shop");
  EXPECT_EQ(web.metadata().labels().at("app.kubernetes.io/name"), "web");
  EXPECT_EQ(web.replicas(), 3);
  EXPECT_EQ(web.template_labels().size(), 2u);
  EXPECT_EQ(web.template_labels().at("app"), "web");
  EXPECT_EQ(web.template_labels().at("tier"), "frontend");
  const pb::PodSpec& tmpl = web.template_spec();
  EXPECT_EQ(tmpl.service_account_name(), "web-sa");
  ASSERT_EQ(tmpl.containers_size(), 2);
  EXPECT_EQ(tmpl.containers(0).name(), "nginx");
  // The trailing comment is not part of the value.
  EXPECT_EQ(tmpl.containers(0).image(), "registry.example.com:5000/team/nginx:1.25");
  EXPECT_EQ(tmpl.containers(0).image_pull_policy(), "IfNotPresent");
  EXPECT_EQ(tmpl.containers(1).image(),
            "quay.io/prom/exporter@sha256:"
            "7e8bdd271312fd25fc5ff5a8f04727be84044eb3d7d8d03611972a6752e2e11e");
  EXPECT_EQ(tmpl.containers(1).image_pull_policy(), "");  // no defaulting here

  const pb::Pod& loader = set.pods[0];
  EXPECT_EQ(loader.metadata().name(), "loader");
  EXPECT_EQ(loader.metadata().namespace_(), "default");
  EXPECT_EQ(loader.metadata().labels().at("app"), "loader");
  EXPECT_EQ(loader.spec().node_name(), "node-2");
  EXPECT_EQ(loader.spec().runtime_class_name(), "gvisor");
  EXPECT_EQ(loader.spec().node_selector().at("kubernetes.io/os"), "linux");
  EXPECT_EQ(loader.spec().node_selector().at("disktype"), "ssd");
  ASSERT_EQ(loader.spec().image_pull_secrets_size(), 2);
  EXPECT_EQ(loader.spec().image_pull_secrets(0), "regcred");
  EXPECT_EQ(loader.spec().image_pull_secrets(1), "other-cred");
  ASSERT_EQ(loader.spec().init_containers_size(), 2);
  EXPECT_EQ(loader.spec().init_containers(0).name(), "fetch");
  EXPECT_EQ(loader.spec().init_containers(0).image(), "busybox");
  EXPECT_EQ(loader.spec().init_containers(0).image_pull_policy(), "Always");
  EXPECT_EQ(loader.spec().init_containers(0).restart_policy(), "");
  EXPECT_EQ(loader.spec().init_containers(1).restart_policy(), "Always");
  EXPECT_EQ(loader.spec().init_containers(1).image(),
            "ghcr.io/example/proxy:v2@sha256:"
            "01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd");
  ASSERT_EQ(loader.spec().containers_size(), 1);
  EXPECT_EQ(loader.spec().containers(0).image(), "corp.reg.com/busybox:1.35");
  EXPECT_EQ(loader.spec().containers(0).image_pull_policy(), "Never");

  // Image-like strings in comments, ConfigMaps and custom resources are not containers.
  for (const std::string& image : AllImages(set)) {
    EXPECT_EQ(image.find("should-not-appear"), std::string::npos);
    EXPECT_EQ(image.find("not-a-container"), std::string::npos);
    EXPECT_EQ(image.find("example/cached"), std::string::npos);
    EXPECT_EQ(image.find("example/hidden"), std::string::npos);
  }
  EXPECT_EQ(AllImages(set).size(), 5u);
}

TEST(ParseManifests, AnchorsAliasesAndMergeKeys) {
  ManifestSet set = MustParse("anchors.yaml");
  ASSERT_EQ(set.workloads.size(), 1u);
  const pb::Workload& blog = set.workloads[0];
  EXPECT_EQ(blog.metadata().labels().at("component"), "frontend");
  EXPECT_EQ(blog.template_labels().at("app"), "blog");
  EXPECT_EQ(blog.template_labels().at("component"), "frontend");
  ASSERT_EQ(blog.template_spec().containers_size(), 2);
  EXPECT_EQ(blog.template_spec().containers(1).name(), "wordpress-copy");
  EXPECT_EQ(blog.template_spec().containers(1).image(), "docker.io/library/wordpress:6.4");
  EXPECT_EQ(blog.template_spec().containers(1).image_pull_policy(), "IfNotPresent");

  ASSERT_EQ(set.pods.size(), 1u);
  const pb::Pod& merged = set.pods[0];
  EXPECT_EQ(merged.metadata().labels().at("app"), "merged");  // written key wins
  EXPECT_EQ(merged.metadata().labels().at("team"), "blue");
  EXPECT_EQ(merged.spec().service_account_name(), "builder");
  ASSERT_EQ(merged.spec().image_pull_secrets_size(), 1);
  EXPECT_EQ(merged.spec().image_pull_secrets(0), "shared-cred");
}

TEST(ParseManifests, KindList) {
  ManifestSet set = MustParse("list.yaml");
  ASSERT_EQ(set.pods.size(), 1u);
  EXPECT_EQ(set.pods[0].metadata().name(), "first");
  EXPECT_EQ(set.pods[0].metadata().namespace_(), "batch");
  EXPECT_EQ(set.pods[0].spec().containers(0).image(), "alpine:3.19");
  ASSERT_EQ(set.workloads.size(), 1u);
  EXPECT_EQ(set.workloads[0].metadata().name(), "second");
  EXPECT_EQ(set.workloads[0].api_version(), "apps/v1beta2");
  EXPECT_EQ(set.workloads[0].replicas(), 1);
  EXPECT_EQ(set.skipped_kinds, (std::map<std::string, int>{{"Service", 1}}));
}

TEST(ParseManifests, OldDeploymentVersionsAndReplicas) {
  struct Expected {
    std::string name, api_version;
    int replicas;
  };
  const std::vector<Expected> expected = {
      {"ext", "extensions/v1beta1", 1}, {"beta1", "apps/v1beta1", 0}, {"beta2", "apps/v1beta2", 2}};
  ManifestSet set = MustParse("old-deployments.yaml");
  ASSERT_EQ(set.workloads.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(set.workloads[i].kind(), "Deployment");
    EXPECT_EQ(set.workloads[i].metadata().name(), expected[i].name);
    EXPECT_EQ(set.workloads[i].api_version(), expected[i].api_version);
    EXPECT_EQ(set.workloads[i].replicas(), expected[i].replicas);
    EXPECT_EQ(set.workloads[i].template_spec().containers(0).image(), "nginx:1.7.9");
  }
  EXPECT_TRUE(set.workloads[0].template_labels().empty());
  EXPECT_EQ(set.workloads[2].template_labels().at("app"), "beta2");
}

TEST(ParseManifests, InvalidImageReferencesAreKeptAsWritten) {
  ManifestSet set = MustParse("invalid-images.yaml");
  ASSERT_EQ(set.pods.size(), 1u);
  EXPECT_EQ(AllImages(set),
            (std::vector<std::string>{"<YOUR-CONTAINER>", "$imageWordpressRepo:$imageWordpressTag",
                                      "UPPER/case:tag"}));
}

TEST(ParseManifests, FileErrorsNameDocumentAndLine) {
  struct Case {
    std::string file, expected_prefix;
  };
  const std::vector<Case> cases = {
      {"missing-kind.yaml", "missing-kind.yaml: document 3 (line 18): missing kind"},
      {"invalid-yaml.yaml", "invalid-yaml.yaml: document 2 (line 17): not valid YAML: "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    Result<ManifestSet> set = ParseManifests(ReadData(c.file), c.file);
    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(set.error().message().substr(0, c.expected_prefix.size()), c.expected_prefix)
        << set.error().message();
  }
}

// Inline documents. Line numbers count from 1 in `yaml`.
struct ErrorCase {
  std::string name;
  std::string yaml;
  std::string expected;  // the whole message
};

const char kPodHead[] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n";

// What CheckLabelName says after the name.
const std::string kLabelRule =
    ": a lowercase RFC 1123 label (at most 63 characters) must consist of lower case "
    "alphanumeric characters or '-', and must start and end with an alphanumeric character";

std::vector<ErrorCase> ErrorCases() {
  const std::string pod = kPodHead;  // lines 1-5
  return {
      {"missing_api_version", "kind: Pod\nmetadata:\n  name: x\n",
       "in.yaml: document 1 (line 1): missing apiVersion"},
      {"missing_metadata", "apiVersion: v1\nkind: Service\n",
       "in.yaml: document 1 (line 1): missing metadata.name"},
      {"missing_name", "apiVersion: v1\nkind: Service\nmetadata:\n  labels: {a: b}\n",
       "in.yaml: document 1 (line 4): missing metadata.name"},
      {"container_without_image",
       pod + "  containers:\n  - name: a\n    image: busybox\n  - name: b\n"
             "    imagePullPolicy: Always\n",
       "in.yaml: document 1 (line 9): Pod \"p\": spec.containers[1] (b): container has no image"},
      {"container_without_name", pod + "  containers:\n  - image: busybox\n",
       "in.yaml: document 1 (line 7): Pod \"p\": spec.containers[0]: container has no name"},
      {"container_name_not_a_label", pod + "  containers:\n  - name: Bad_Name\n    image: x\n",
       "in.yaml: document 1 (line 7): Pod \"p\": spec.containers[0]: invalid container name "
       "\"Bad_Name\"" +
           kLabelRule},
      {"volume_name_not_a_label",
       pod + "  containers:\n  - {name: a, image: x}\n  volumes:\n  - name: my.vol\n"
             "    image: {reference: x}\n",
       "in.yaml: document 1 (line 9): Pod \"p\": spec.volumes[0]: invalid volume name "
       "\"my.vol\"" +
           kLabelRule},
      {"init_container_image_null",
       pod + "  initContainers:\n  - name: i\n    image:\n"
             "  containers:\n  - name: c\n    image: x\n",
       "in.yaml: document 1 (line 7): Pod \"p\": spec.initContainers[0] (i): container has no "
       "image"},
      {"image_is_a_list", pod + "  containers:\n  - name: a\n    image: [x, y]\n",
       "in.yaml: document 1 (line 8): Pod \"p\": spec.containers[0] (a): image: expected a "
       "string, got a list"},
      {"no_containers", pod + "  nodeName: n\n",
       "in.yaml: document 1 (line 6): Pod \"p\": spec.containers: a pod needs at least one "
       "container"},
      {"pod_without_spec", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n",
       "in.yaml: document 1 (line 1): Pod \"p\": spec: missing"},
      {"duplicate_container_name",
       pod + "  initContainers:\n  - {name: a, image: x}\n  containers:\n  - {name: a, image: y}\n",
       "in.yaml: document 1 (line 9): Pod \"p\": spec.containers[0]: duplicate container name "
       "\"a\""},
      {"bad_pull_policy",
       pod + "  containers:\n  - name: a\n    image: x\n"
             "    imagePullPolicy: always\n",
       "in.yaml: document 1 (line 9): Pod \"p\": spec.containers[0] (a): imagePullPolicy "
       "\"always\" is not one of Always, IfNotPresent, Never"},
      {"pod_api_version", "apiVersion: v2\nkind: Pod\nmetadata:\n  name: p\n",
       "in.yaml: document 1 (line 1): Pod \"p\": apiVersion \"v2\" is not supported for Pod "
       "(use v1)"},
      {"deployment_bad_replicas",
       "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\n"
       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: three\n",
       "in.yaml: document 2 (line 11): Deployment \"d\": spec.replicas: expected a whole number "
       ">= 0, got \"three\""},
      {"deployment_without_template",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 1\n",
       "in.yaml: document 1 (line 6): Deployment \"d\": spec.template: missing pod template"},
      {"deployment_unknown_version",
       "apiVersion: apps/v9\nkind: Deployment\nmetadata:\n  name: d\n",
       "in.yaml: document 1 (line 1): Deployment \"d\": apiVersion \"apps/v9\" is not supported "
       "for Deployment (use apps/v1)"},
      {"scalar_document", "# header\n---\njust words\n",
       "in.yaml: document 1 (line 3): expected a Kubernetes object (a mapping with kind, "
       "apiVersion and metadata), got a scalar"},
      {"list_item_without_kind",
       "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n"
       "    name: s\n- apiVersion: v1\n  metadata:\n    name: t\n",
       "in.yaml: document 1 (line 8): items[1]: missing kind"},
      {"labels_not_strings",
       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n"
       "    a: [1]\n",
       "in.yaml: document 1 (line 6): metadata.labels.a: expected a string, got a list"},
      {"pull_secrets_not_a_list",
       pod + "  containers: [{name: a, image: x}]\n"
             "  imagePullSecrets: regcred\n",
       "in.yaml: document 1 (line 7): Pod \"p\": spec.imagePullSecrets: expected a list"},
      {"invalid_yaml_after_empty_docs",
       "---\n# nothing\n---\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n",
       // yaml-cpp notices the unclosed flow sequence at the end of the document, which is
       // reported as the document's last line.
       "in.yaml: document 3 (line 8): not valid YAML: end of sequence flow not found"},
  };
}

TEST(ParseManifests, ErrorMessages) {
  for (const ErrorCase& c : ErrorCases()) {
    SCOPED_TRACE(c.name);
    Result<ManifestSet> set = ParseManifests(c.yaml, "in.yaml");
    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(set.error().message(), c.expected);
  }
}

// Documents that must parse; `pods` and `skipped` count what comes out.
struct OkCase {
  std::string name;
  std::string yaml;
  size_t pods;
  int skipped;
};

TEST(ParseManifests, AcceptedShapes) {
  const std::string pod =
      std::string(kPodHead) + "  containers:\n  - name: c\n    image: busybox\n";
  const std::vector<OkCase> cases = {
      {"empty_text", "", 0, 0},
      {"only_comments", "# nothing here\n\n# still nothing\n", 0, 0},
      {"only_separators", "---\n---\n...\n", 0, 0},
      {"no_trailing_newline", pod.substr(0, pod.size() - 1), 1, 0},
      {"crlf_line_ends",
       "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: p\r\nspec:\r\n"
       "  containers:\r\n  - name: c\r\n    image: busybox\r\n",
       1, 0},
      {"marker_with_comment", "--- # first\n" + pod + "--- # second\n" + pod, 2, 0},
      {"content_after_marker", "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: s}}\n", 0,
       1},
      {"document_end_marker",
       pod + "...\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
             "  name: s\n",
       1, 1},
      {"kind_before_metadata_order",
       "data: {a: b}\nkind: ConfigMap\napiVersion: v1\n"
       "metadata: {name: s}\n",
       0, 1},
      {"block_scalar_with_dashes",
       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
       "data:\n  x: |\n    ---\n    not: a document\n",
       0, 1},
      {"empty_list", "apiVersion: v1\nkind: List\nitems: []\n", 0, 0},
      {"byte_order_mark", "\xEF\xBB\xBF---\n" + pod, 1, 0},
  };
  for (const OkCase& c : cases) {
    SCOPED_TRACE(c.name);
    Result<ManifestSet> set = ParseManifests(c.yaml, "in.yaml");
    ASSERT_TRUE(set.ok()) << set.error().message();
    EXPECT_EQ(set->pods.size(), c.pods);
    int skipped = 0;
    for (const auto& [kind, count] : set->skipped_kinds) skipped += count;
    EXPECT_EQ(skipped, c.skipped);
  }
}

// Names become storage keys: "x/y" in default and "y" in "default/x" must not meet.
TEST(ParseManifests, ObjectAndNamespaceNamesFollowKubernetesRules) {
  const std::string pod =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: NAME, namespace: NS}\n"
      "spec: {containers: [{name: a, image: busybox}]}\n";
  auto with = [&](const std::string& name, const std::string& ns) {
    std::string text = pod;
    text.replace(text.find("NAME"), 4, name);
    text.replace(text.find("NS"), 2, ns);
    return ParseManifests(text, "in.yaml");
  };
  for (const std::string& bad :
       std::vector<std::string>{"\"x/y\"", "Bad_Name", "-lead", "trail-", std::string(254, 'a')}) {
    SCOPED_TRACE(bad);
    auto set = with(bad, "default");
    ASSERT_FALSE(set.ok());
    EXPECT_NE(set.error().message().find("invalid metadata.name"), std::string::npos)
        << set.error().message();
  }
  for (const std::string& bad :
       std::vector<std::string>{"\"default/x\"", "a.b", std::string(64, 'n')}) {
    SCOPED_TRACE(bad);
    auto set = with("ok", bad);
    ASSERT_FALSE(set.ok());
    EXPECT_NE(set.error().message().find("invalid metadata.namespace"), std::string::npos)
        << set.error().message();
  }
  auto fine = with("web-1.example", "team-a");
  ASSERT_TRUE(fine.ok()) << fine.error().message();
  ASSERT_EQ(fine->pods.size(), 1u);
  EXPECT_EQ(fine->pods[0].metadata().name(), "web-1.example");
  // Kinds that are skipped keep their own rules (RBAC names hold colons).
  auto skipped = ParseManifests(
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
      "metadata: {name: \"system:coredns\"}\n",
      "rbac.yaml");
  ASSERT_TRUE(skipped.ok()) << skipped.error().message();
  EXPECT_EQ(skipped->skipped_kinds["ClusterRole"], 1);
}

TEST(ParseManifests, ErrorInAnyDocumentFailsTheWholeFile) {
  const std::string good = std::string(kPodHead) + "  containers:\n  - name: c\n    image: x\n";
  Result<ManifestSet> set = ParseManifests(good + "---\n" + good + "---\nkind: Pod\n", "f.yaml");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message(), "f.yaml: document 3 (line 19): missing apiVersion");
}

}  // namespace
}  // namespace pullfleet::kube
