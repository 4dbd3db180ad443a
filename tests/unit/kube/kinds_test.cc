// ParseManifests on every workload kind, old API versions, image volumes, Secrets,
// ServiceAccounts, RuntimeClasses, Namespaces and mixed Lists (tests/data/manifests).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kube/manifests.h"
#include "tests/unit/kube/manifest_data.h"

namespace pullfleet::kube {
namespace {

using testdata::MustParse;
using testdata::ReadData;

const pb::Workload* FindWorkload(const ManifestSet& set, const std::string& name) {
  for (const auto& workload : set.workloads) {
    if (workload.metadata().name() == name) return &workload;
  }
  return nullptr;
}

TEST(WorkloadKinds, OneOfEach) {
  struct Expected {
    std::string name, kind, api_version, ns;
    int replicas, parallelism;
    std::string first_image;
  };
  const std::vector<Expected> expected = {
      {"web", "Deployment", "apps/v1", "default", 2, 0, "nginx:1.27"},
      {"web-5d9c7b8f6", "ReplicaSet", "apps/v1", "default", 1, 0, "nginx:1.26"},
      {"legacy", "ReplicationController", "v1", "default", 3, 0, "busybox"},
      {"db", "StatefulSet", "apps/v1", "data", 2, 0, "postgres:16"},
      {"agent", "DaemonSet", "apps/v1", "kube-system", 0, 0, "ghcr.io/example/agent:v0.3"},
      // parallelism 3 capped by completions 2, as the Job controller does.
      {"migrate", "Job", "batch/v1", "default", 0, 2, "registry.example.com/tools/migrate:1"},
      {"once", "Job", "batch/v1", "default", 0, 1, "alpine:3.20"},
      {"held", "Job", "batch/v1", "default", 0, 0, "alpine:3.20"},  // suspended
      {"backup", "CronJob", "batch/v1", "default", 0, 2, "docker.io/example/backup:2024.1"},
  };
  ManifestSet set = MustParse("workloads.yaml");
  EXPECT_TRUE(set.pods.empty());
  EXPECT_TRUE(set.skipped_kinds.empty());
  ASSERT_EQ(set.workloads.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const Expected& e = expected[i];
    SCOPED_TRACE(e.name);
    const pb::Workload& w = set.workloads[i];
    EXPECT_EQ(w.metadata().name(), e.name);
    EXPECT_EQ(w.kind(), e.kind);
    EXPECT_EQ(w.api_version(), e.api_version);
    EXPECT_EQ(w.metadata().namespace_(), e.ns);
    EXPECT_EQ(w.replicas(), e.replicas);
    EXPECT_EQ(w.parallelism(), e.parallelism);
    const pb::PodSpec& spec = w.template_spec();
    const std::string first = spec.init_containers_size() > 0 ? spec.init_containers(0).image()
                                                              : spec.containers(0).image();
    EXPECT_EQ(first, e.first_image);
  }

  const pb::Workload* web = FindWorkload(set, "web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->metadata().annotations().at("deployment.kubernetes.io/revision"), "4");
  const pb::Workload* legacy = FindWorkload(set, "legacy");
  ASSERT_NE(legacy, nullptr);
  EXPECT_EQ(legacy->template_labels().at("app"), "legacy");
  ASSERT_EQ(legacy->template_spec().containers_size(), 1);
  EXPECT_EQ(legacy->template_spec().init_containers(0).image_pull_policy(), "IfNotPresent");
  EXPECT_EQ(legacy->template_spec().containers(0).image(), "quay.io/example/legacy:2.0");
  const pb::Workload* db = FindWorkload(set, "db");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->service_name(), "db-headless");
  const pb::Workload* agent = FindWorkload(set, "agent");
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ(agent->template_spec().node_selector().at("kubernetes.io/os"), "linux");
  const pb::Workload* backup = FindWorkload(set, "backup");
  ASSERT_NE(backup, nullptr);
  EXPECT_EQ(backup->schedule(), "*/30 * * * *");
  EXPECT_EQ(backup->template_labels().at("app"), "backup");
  EXPECT_EQ(backup->template_spec().containers(0).image_pull_policy(), "Always");
}

TEST(WorkloadKinds, OldApiVersionsReadAsTheSameKinds) {
  struct Expected {
    std::string name, kind, api_version;
    int replicas;
  };
  const std::vector<Expected> expected = {
      {"ext-ds", "DaemonSet", "extensions/v1beta1", 0},
      {"ext-rs", "ReplicaSet", "extensions/v1beta1", 2},
      {"beta1-sts", "StatefulSet", "apps/v1beta1", 1},
      {"beta2-ds", "DaemonSet", "apps/v1beta2", 0},
      {"beta2-sts", "StatefulSet", "apps/v1beta2", 0},
      {"beta2-rs", "ReplicaSet", "apps/v1beta2", 1},
      {"beta1-cron", "CronJob", "batch/v1beta1", 0},
      {"alpha-cron", "CronJob", "batch/v2alpha1", 0},
  };
  ManifestSet set = MustParse("old-workloads.yaml");
  ASSERT_EQ(set.workloads.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    const pb::Workload& w = set.workloads[i];
    EXPECT_EQ(w.metadata().name(), expected[i].name);
    EXPECT_EQ(w.kind(), expected[i].kind);
    EXPECT_EQ(w.api_version(), expected[i].api_version);
    EXPECT_EQ(w.replicas(), expected[i].replicas);
    ASSERT_EQ(w.template_spec().containers_size(), 1);
    EXPECT_EQ(w.template_spec().containers(0).image(), "busybox:1.36");
  }
  EXPECT_EQ(set.workloads[2].service_name(), "beta1");
  EXPECT_EQ(set.workloads[6].schedule(), "@hourly");
  EXPECT_EQ(set.workloads[6].parallelism(), 1);
}

TEST(PodSpecs, ImageVolumesAndNativeSidecars) {
  ManifestSet set = MustParse("image-volumes.yaml");
  ASSERT_EQ(set.pods.size(), 1u);
  const pb::PodSpec& spec = set.pods[0].spec();
  ASSERT_EQ(spec.init_containers_size(), 1);
  EXPECT_EQ(spec.init_containers(0).restart_policy(), "Always");
  ASSERT_EQ(spec.image_volumes_size(), 2);  // not emptyDir, configMap or the CSI attribute
  EXPECT_EQ(spec.image_volumes(0).name(), "model");
  EXPECT_EQ(spec.image_volumes(0).reference(), "registry.example.com/models/llm:v1");
  EXPECT_EQ(spec.image_volumes(0).pull_policy(), "Always");
  EXPECT_EQ(spec.image_volumes(1).name(), "tools");
  EXPECT_EQ(spec.image_volumes(1).reference(), "quay.io/example/tools:latest");
  EXPECT_EQ(spec.image_volumes(1).pull_policy(), "");  // kept as written: not defaulted here
}

TEST(Secrets, DockerTypesDecodedOthersKeptWithoutValues) {
  ManifestSet set = MustParse("secrets.yaml");
  ASSERT_EQ(set.secrets.size(), 5u);

  const pb::Secret& regcred = set.secrets[0];
  EXPECT_EQ(regcred.metadata().name(), "regcred");
  EXPECT_EQ(regcred.metadata().namespace_(), "shop");
  EXPECT_EQ(regcred.type(), "kubernetes.io/dockerconfigjson");
  ASSERT_EQ(regcred.data().size(), 1u);
  EXPECT_EQ(regcred.data().at(".dockerconfigjson"),
            R"({"auths": {"registry.example.com:5000": {"auth": )"
            R"("cm9ib3Q6bm90LWEtcmVhbC1wYXNzd29yZA=="}}})");
  // kubectl's copy of the whole object would hold the data in plain text.
  EXPECT_EQ(
      regcred.metadata().annotations().count("kubectl.kubernetes.io/last-applied-configuration"),
      0u);
  EXPECT_EQ(regcred.metadata().annotations().at("team"), "payments");

  const pb::Secret& oldcred = set.secrets[1];
  EXPECT_EQ(oldcred.type(), "kubernetes.io/dockercfg");
  EXPECT_EQ(oldcred.data().at(".dockercfg"),
            R"({"quay.example.com": {"auth": "dTpw", "email": "x@example.com"}})");

  const pb::Secret& merged = set.secrets[2];
  EXPECT_EQ(merged.data().at(".dockerconfigjson"), R"({"auths": {}})");  // stringData wins
  EXPECT_EQ(merged.data().at("extra"), "hello");                         // base64 over two lines

  EXPECT_EQ(set.secrets[3].type(), "Opaque");
  EXPECT_TRUE(set.secrets[3].data().empty());
  EXPECT_EQ(set.secrets[4].type(), "Opaque");  // the default
  EXPECT_TRUE(set.secrets[4].data().empty());
}

TEST(Secrets, Base64Decoding) {
  struct Case {
    std::string encoded;  // inside a YAML double-quoted string
    bool ok;
    std::string decoded;
  };
  const std::vector<Case> cases = {
      {"", true, ""},
      {"YQ==", true, "a"},
      {"YWI=", true, "ab"},
      {"YWJj", true, "abc"},
      {"YWJj\\nZGVm\\n", true, "abcdef"},  // line breaks (YAML escapes) are ignored
      {"AP8=", true, std::string("\x00\xff", 2)},
      {"YQ", false, ""},        // padding is required
      {"YQ==YQ==", false, ""},  // padding only at the end
      {"YW Jj", false, ""},     // spaces are not ignored
      {"YW-j", false, ""},      // URL alphabet
      {"=YWJ", false, ""},      // padding first
      {"Y===", false, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.encoded);
    const std::string yaml =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockercfg\n"
        "stringData: {.dockercfg: '{}'}\ndata:\n  k: \"" +
        c.encoded + "\"\n";
    Result<ManifestSet> set = ParseManifests(yaml, "s.yaml");
    ASSERT_EQ(set.ok(), c.ok) << (set.ok() ? "" : set.error().message());
    if (c.ok) {
      EXPECT_EQ(set->secrets[0].data().at("k"), c.decoded);
    } else {
      EXPECT_EQ(set.error().message(),
                "s.yaml: document 1 (line 7): Secret \"s\": data.k: value is not valid base64");
    }
  }
}

// Every case carries "TOPSECRET" in a value; no message may repeat it.
TEST(Secrets, ErrorsNameSecretAndKeyButNeverTheValue) {
  struct Case {
    std::string name, yaml, expected;
  };
  const std::string head = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\n";  // 1-4
  const std::vector<Case> cases = {
      {"malformed_base64",
       head + "type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: VE9QU0VDUkVU!x\n",
       "in.yaml: document 1 (line 7): Secret \"regcred\": data..dockerconfigjson: value is not "
       "valid base64"},
      {"payload_not_json",
       // base64 of "TOPSECRET is not JSON"
       head + "type: kubernetes.io/dockerconfigjson\ndata:\n"
              "  .dockerconfigjson: VE9QU0VDUkVUIGlzIG5vdCBKU09O\n",
       "in.yaml: document 1 (line 7): Secret \"regcred\": data..dockerconfigjson: not valid "
       "JSON"},
      {"payload_missing", head + "type: kubernetes.io/dockercfg\nstringData:\n  other: TOPSECRET\n",
       "in.yaml: document 1 (line 7): Secret \"regcred\": a Secret of type "
       "kubernetes.io/dockercfg needs data..dockercfg"},
      {"value_is_a_list",
       head + "type: kubernetes.io/dockercfg\nstringData:\n  .dockercfg: [TOPSECRET]\n",
       "in.yaml: document 1 (line 7): Secret \"regcred\": stringData..dockercfg: expected a "
       "string, got a list"},
      {"bad_key_name", head + "type: kubernetes.io/dockercfg\ndata:\n  bad/key: VE9QU0VDUkVU\n",
       "in.yaml: document 1 (line 7): Secret \"regcred\": data: \"bad/key\" is not a valid key "
       "name (letters, digits, '-', '_' and '.', at most 253 characters)"},
      {"invalid_yaml_in_value",
       head + "type: kubernetes.io/dockercfg\nstringData:\n  .dockercfg: {\"TOPSECRET\n",
       "in.yaml: document 1 (line 7): not valid YAML: end of map flow not found"},
      {"secret_api_version", "apiVersion: v2\nkind: Secret\nmetadata: {name: s}\n",
       "in.yaml: document 1 (line 1): Secret \"s\": apiVersion \"v2\" is not supported for "
       "Secret (use v1)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<ManifestSet> set = ParseManifests(c.yaml, "in.yaml");
    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(set.error().message(), c.expected);
    EXPECT_EQ(set.error().message().find("TOPSECRET"), std::string::npos);
    EXPECT_EQ(set.error().message().find("VE9QU0VDUkVU"), std::string::npos);
  }
}

TEST(ClusterObjects, NamespacesServiceAccountsRuntimeClasses) {
  ManifestSet set = MustParse("cluster-objects.yaml");
  EXPECT_TRUE(set.skipped_kinds.empty());

  ASSERT_EQ(set.namespaces.size(), 1u);
  EXPECT_EQ(set.namespaces[0].metadata().name(), "shop");
  EXPECT_EQ(set.namespaces[0].metadata().namespace_(), "");  // cluster-scoped
  EXPECT_EQ(set.namespaces[0].metadata().labels().at("team"), "payments");

  ASSERT_EQ(set.service_accounts.size(), 2u);
  const pb::ServiceAccount& builder = set.service_accounts[0];
  EXPECT_EQ(builder.metadata().name(), "builder");
  EXPECT_EQ(builder.metadata().namespace_(), "shop");
  EXPECT_EQ(std::vector<std::string>(builder.image_pull_secrets().begin(),
                                     builder.image_pull_secrets().end()),
            (std::vector<std::string>{"regcred", "oldcred"}));  // the empty entry is ignored
  EXPECT_EQ(set.service_accounts[1].metadata().namespace_(), "default");
  EXPECT_EQ(set.service_accounts[1].image_pull_secrets_size(), 0);

  ASSERT_EQ(set.runtime_classes.size(), 2u);
  EXPECT_EQ(set.runtime_classes[0].metadata().name(), "gvisor");
  EXPECT_EQ(set.runtime_classes[0].metadata().namespace_(), "");
  EXPECT_EQ(set.runtime_classes[0].handler(), "runsc");
  EXPECT_EQ(set.runtime_classes[1].metadata().name(), "kata");
  EXPECT_EQ(set.runtime_classes[1].handler(), "kata-qemu");
}

TEST(KindList, MixedKindsAndCustomResources) {
  ManifestSet set = MustParse("mixed-list.yaml");
  EXPECT_EQ(set.namespaces.size(), 1u);
  EXPECT_EQ(set.service_accounts.size(), 1u);
  ASSERT_EQ(set.secrets.size(), 1u);
  EXPECT_EQ(set.secrets[0].metadata().namespace_(), "tools");
  EXPECT_EQ(set.runtime_classes.size(), 1u);
  ASSERT_EQ(set.workloads.size(), 2u);
  EXPECT_EQ(set.workloads[0].kind(), "DaemonSet");
  EXPECT_EQ(set.workloads[0].template_spec().runtime_class_name(), "fast");
  EXPECT_EQ(set.workloads[1].kind(), "CronJob");
  EXPECT_EQ(set.skipped_kinds, (std::map<std::string, int>{{"CloneSet", 1},
                                                           {"ClusterRole", 1},
                                                           {"ConfigMap", 1},
                                                           {"ImageCache", 1},
                                                           {"Service", 1}}));
  for (const auto& workload : set.workloads) {
    for (const auto& c : workload.template_spec().containers()) {
      EXPECT_EQ(c.image().rfind("127.0.0.1:5000/", 0), 0u) << c.image();
    }
  }
}

// Inline documents for the new kinds' errors. Line numbers count from 1 in `yaml`.
TEST(WorkloadKinds, ErrorMessages) {
  struct Case {
    std::string name, yaml, expected;
  };
  const std::vector<Case> cases = {
      {"statefulset_unknown_version",
       "apiVersion: apps/v2\nkind: StatefulSet\nmetadata: {name: s}\n",
       "in.yaml: document 1 (line 1): StatefulSet \"s\": apiVersion \"apps/v2\" is not supported "
       "for StatefulSet (use apps/v1)"},
      {"job_in_extensions", "apiVersion: extensions/v1beta1\nkind: Job\nmetadata: {name: j}\n",
       "in.yaml: document 1 (line 1): Job \"j\": apiVersion \"extensions/v1beta1\" is not "
       "supported for Job (use batch/v1)"},
      {"daemonset_in_apps_v1beta1",
       "apiVersion: apps/v1beta1\nkind: DaemonSet\nmetadata: {name: d}\n",
       "in.yaml: document 1 (line 1): DaemonSet \"d\": apiVersion \"apps/v1beta1\" is not "
       "supported for DaemonSet (use apps/v1)"},
      {"runtimeclass_v1alpha1",
       "apiVersion: node.k8s.io/v1alpha1\nkind: RuntimeClass\n"
       "metadata: {name: r}\nspec: {runtimeHandler: runsc}\n",
       "in.yaml: document 1 (line 1): RuntimeClass \"r\": apiVersion \"node.k8s.io/v1alpha1\" is "
       "not supported for RuntimeClass (use node.k8s.io/v1)"},
      {"rc_without_template",
       "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: r}\n"
       "spec:\n  replicas: 2\n",
       "in.yaml: document 1 (line 5): ReplicationController \"r\": spec.template: missing pod "
       "template"},
      {"daemonset_without_spec", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\n",
       "in.yaml: document 1 (line 1): DaemonSet \"d\": spec: expected a mapping with a pod "
       "template"},
      {"job_bad_parallelism",
       "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  parallelism: -1\n",
       "in.yaml: document 1 (line 5): Job \"j\": spec.parallelism: expected a whole number >= 0, "
       "got \"-1\""},
      {"job_bad_suspend",
       "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  suspend: maybe\n",
       "in.yaml: document 1 (line 5): Job \"j\": spec.suspend: expected true or false"},
      {"cronjob_without_schedule",
       "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate: {}\n",
       "in.yaml: document 1 (line 5): CronJob \"c\": spec.schedule: missing"},
      {"cronjob_without_job_template",
       "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '@daily'\n",
       "in.yaml: document 1 (line 5): CronJob \"c\": spec.jobTemplate: missing job template"},
      {"cronjob_container_without_image",
       "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '@daily'\n"
       "  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n"
       "          - name: x\n",
       "in.yaml: document 1 (line 11): CronJob \"c\": spec.jobTemplate.spec.template.spec."
       "containers[0] (x): container has no image"},
      {"statefulset_bad_replicas",
       "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  replicas: [1]\n",
       "in.yaml: document 1 (line 5): StatefulSet \"s\": spec.replicas: expected a whole number "
       ">= 0, got \"a list\""},
      {"image_volume_without_reference",
       "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "
       "x}]\n"
       "  volumes:\n  - name: m\n    image: {pullPolicy: Always}\n",
       "in.yaml: document 1 (line 8): Pod \"p\": spec.volumes[0] (m): image volume has no "
       "reference"},
      {"image_volume_bad_policy",
       "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "
       "x}]\n"
       "  volumes:\n  - name: m\n    image:\n      reference: x\n      pullPolicy: Sometimes\n",
       "in.yaml: document 1 (line 10): Pod \"p\": spec.volumes[0] (m): image.pullPolicy "
       "\"Sometimes\" is not one of Always, IfNotPresent, Never"},
      {"image_volume_without_name",
       "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "
       "x}]\n"
       "  volumes:\n  - image: {reference: x}\n",
       "in.yaml: document 1 (line 7): Pod \"p\": spec.volumes[0]: volume has no name"},
      {"volumes_not_a_list",
       "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "
       "x}]\n"
       "  volumes: {a: b}\n",
       "in.yaml: document 1 (line 6): Pod \"p\": spec.volumes: expected a list, got a mapping"},
      {"runtimeclass_without_handler",
       "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: r}\n",
       "in.yaml: document 1 (line 1): RuntimeClass \"r\": handler: missing"},
      {"runtimeclass_bad_handler",
       "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: r}\nhandler: Run_SC\n",
       "in.yaml: document 1 (line 4): RuntimeClass \"r\": handler \"Run_SC\" is not a DNS label "
       "(lowercase letters, digits and '-', at most 63)"},
      {"service_account_pull_secrets_not_a_list",
       "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\nimagePullSecrets: regcred\n",
       "in.yaml: document 1 (line 4): ServiceAccount \"sa\": imagePullSecrets: expected a list"},
      {"annotation_not_a_string",
       "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  annotations:\n    a: {b: c}\n",
       "in.yaml: document 1 (line 6): metadata.annotations.a: expected a string, got a mapping"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<ManifestSet> set = ParseManifests(c.yaml, "in.yaml");
    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(set.error().message(), c.expected);
  }
}

TEST(WorkloadKinds, ErrorInALaterDocumentAppliesNothing) {
  const std::string text = ReadData("workloads.yaml") +
                           "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: broken}\n";
  Result<ManifestSet> set = ParseManifests(text, "w.yaml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().message().find("w.yaml: document 10 (line "), std::string::npos)
      << set.error().message();
}

}  // namespace
}  // namespace pullfleet::kube
