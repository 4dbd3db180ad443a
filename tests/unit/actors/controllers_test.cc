// The names the controllers give the pods they make: valid however long the workload's name.
#include "actors/cluster/controllers.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/names.h"

namespace pullfleet::actors {
namespace {

pb::Workload MakeWorkload(const std::string& kind, const std::string& name, int replicas) {
  pb::Workload w;
  w.set_kind(kind);
  w.mutable_metadata()->set_name(name);
  w.mutable_metadata()->set_namespace_("default");
  w.mutable_metadata()->set_uid("uid-1");
  w.set_replicas(replicas);
  w.mutable_template_spec()->add_containers()->set_image("registry.example.com/app:1");
  return w;
}

TEST(ControllersTest, PodsOfALongNamedDeploymentGetGeneratedNamesOf63Characters) {
  std::mt19937_64 rng(1);
  const std::string name(250, 'a');
  ControllerPlan plan = PlanWorkload(MakeWorkload("Deployment", name, 3), {}, {}, rng);
  ASSERT_EQ(plan.create.size(), 3u);
  for (const auto& pod : plan.create) {
    const std::string& pod_name = pod.metadata().name();
    EXPECT_EQ(pod_name.size(), 63u) << pod_name;  // 58 of the prefix, 5 random
    EXPECT_EQ(pod_name.substr(0, 58), name.substr(0, 58));
    EXPECT_TRUE(CheckObjectName("pod name", pod_name).ok()) << pod_name;
  }
}

TEST(ControllersTest, ShortNamesKeepTheWholePrefix) {
  std::mt19937_64 rng(2);
  ControllerPlan plan = PlanWorkload(MakeWorkload("ReplicaSet", "web", 1), {}, {}, rng);
  ASSERT_EQ(plan.create.size(), 1u);
  EXPECT_EQ(plan.create[0].metadata().name().rfind("web-", 0), 0u);
  EXPECT_EQ(plan.create[0].metadata().name().size(), 9u);
}

TEST(ControllersTest, PrePullPodsAreNamedAfterTheirNodeWhileThatNameIsValid) {
  std::mt19937_64 rng(3);
  pb::Workload cron = MakeWorkload("CronJob", "backup", 0);
  const std::vector<NodeView> nodes = {{"node-1", {}}, {std::string(250, 'n'), {}}};
  ControllerPlan plan = PlanWorkload(cron, {}, nodes, rng);
  ASSERT_EQ(plan.create.size(), 2u);
  EXPECT_EQ(plan.create[0].metadata().name(), "backup-prepull-node-1");
  const std::string& long_one = plan.create[1].metadata().name();
  EXPECT_TRUE(CheckObjectName("pod name", long_one).ok()) << long_one;
  EXPECT_EQ(plan.create[1].spec().node_name(), nodes[1].name);
}

}  // namespace
}  // namespace pullfleet::actors
