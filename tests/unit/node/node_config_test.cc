#include "node/node_config.h"

#include <gtest/gtest.h>

namespace pullfleet::node {
namespace {

TEST(NodeConfigTest, EmptyFileGivesKubeletDefaults) {
  auto config = ParseNodeConfig("", "empty.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_TRUE(config->serialize_image_pulls);
  EXPECT_FALSE(config->max_parallel_image_pulls.has_value());
  EXPECT_EQ(config->registry_pull_qps, 5);
  EXPECT_EQ(config->registry_burst, 10);
  EXPECT_EQ(config->backoff_initial_seconds, 10);
  EXPECT_EQ(config->backoff_max_seconds, 300);
  EXPECT_FALSE(config->runtime_class_in_image_cri_api);
}

TEST(NodeConfigTest, ReadsARealKubeletConfiguration) {
  const char* text = R"(
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 0.0.0.0
authentication:
  anonymous:
    enabled: false
cgroupDriver: systemd
serializeImagePulls: false
maxParallelImagePulls: 3
registryPullQPS: 2.5
registryBurst: 4
featureGates:
  RuntimeClassInImageCriApi: true
---
platform: linux/arm64
resyncSeconds: 0.2
)";
  auto config = ParseNodeConfig(text, "node.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_FALSE(config->serialize_image_pulls);
  EXPECT_EQ(config->max_parallel_image_pulls, 3);
  EXPECT_EQ(config->registry_pull_qps, 2.5);
  EXPECT_EQ(config->registry_burst, 4);
  EXPECT_TRUE(config->runtime_class_in_image_cri_api);
  EXPECT_EQ(config->platform.architecture, "arm64");
  EXPECT_DOUBLE_EQ(config->resync_seconds, 0.2);
}

struct RejectCase {
  const char* name;
  const char* yaml;
  const char* want_in_error;
};

class NodeConfigRejects : public ::testing::TestWithParam<RejectCase> {};

TEST_P(NodeConfigRejects, WithTheKubeletsReason) {
  auto config = ParseNodeConfig(GetParam().yaml, "bad.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(config.error().message().find(GetParam().want_in_error), std::string::npos)
      << config.error().message();
  EXPECT_NE(config.error().message().find("bad.yaml"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Table, NodeConfigRejects,
    ::testing::Values(
        RejectCase{"parallel_zero",
                   "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n"
                   "serializeImagePulls: false\nmaxParallelImagePulls: 0\n",
                   "invalid configuration: maxParallelImagePulls 0 must be a positive number"},
        RejectCase{"parallel_with_serial",
                   "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n"
                   "maxParallelImagePulls: 2\n",
                   "invalid configuration: maxParallelImagePulls cannot be larger than 1 unless "
                   "SerializeImagePulls (--serialize-image-pulls) is set to false"},
        RejectCase{"negative_qps",
                   "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n"
                   "registryPullQPS: -1\n",
                   "registryPullQPS (--registry-qps) -1 must not be a negative number"},
        RejectCase{"negative_burst", "registryBurst: -3\n",
                   "registryBurst (--registry-burst) -3 must not be a negative number"},
        RejectCase{"wrong_api_version", "kind: KubeletConfiguration\napiVersion: v1\n",
                   "is not kubelet.config"},
        RejectCase{"unknown_field", "platfrom: linux/amd64\n", "unknown field \"platfrom\""},
        RejectCase{"bad_bool", "serializeImagePulls: perhaps\n",
                   "line 1: serializeImagePulls: value \"perhaps\" has the wrong type"},
        RejectCase{"bad_int", "\nmaxConcurrentBlobs: [1, 2]\n",
                   "line 2: maxConcurrentBlobs: value [a list] has the wrong type"},
        RejectCase{"int_too_large", "maxParallelImagePulls: 99999999999999999999\n",
                   "maxParallelImagePulls: value \"99999999999999999999\" has the wrong type"},
        RejectCase{"stall_zero", "stallTimeoutSeconds: 0\n", "stallTimeoutSeconds must be >= 1"},
        RejectCase{"bad_platform", "platform: linux/\n", "platform"},
        RejectCase{"unexpected_kind", "kind: Pod\n", "unexpected kind \"Pod\""},
        RejectCase{"backoff_order", "imagePullBackOff: {initialSeconds: 10, maxSeconds: 1}\n",
                   "imagePullBackOff"},
        // Nested fields are named by their path, and a scalar where a mapping belongs says so.
        RejectCase{"reconnect_scalar", "coordinatorReconnect: 5\n",
                   "coordinatorReconnect must be a mapping such as"},
        RejectCase{"reconnect_unknown", "coordinatorReconnect: {initialMs: -1}\n",
                   "coordinatorReconnect: unknown field \"initialMs\""},
        RejectCase{"backoff_type", "imagePullBackOff: {initialSeconds: soon}\n",
                   "imagePullBackOff.initialSeconds: value \"soon\" has the wrong type"},
        RejectCase{"registry_flag_type", "registries:\n  \"127.0.0.1:5000\": {plainHTTP: maybe}\n",
                   "line 2: registries.127.0.0.1:5000.plainHTTP: value \"maybe\" has the wrong"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(NodeConfigTest, LoopbackRegistriesMayUsePlainHttp) {
  auto config = ParseNodeConfig("registries:\n  reg.example.com:5000: {caFile: /x.pem}\n", "n");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_TRUE(config->HostOptionsFor("127.0.0.1:5000").allow_plain_http);
  EXPECT_TRUE(config->HostOptionsFor("localhost:5000").allow_plain_http);
  EXPECT_FALSE(config->HostOptionsFor("reg.example.com:5000").allow_plain_http);
  EXPECT_EQ(config->HostOptionsFor("reg.example.com:5000").ca_file, "/x.pem");
  EXPECT_FALSE(config->HostOptionsFor("quay.io").allow_plain_http);
}

}  // namespace
}  // namespace pullfleet::node
