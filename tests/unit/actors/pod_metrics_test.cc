// Pod counts by waiting reason (pullfleet_pods_waiting, pullfleet_cluster_pods_waiting).
#include "actors/common/pod_metrics.h"

#include <gtest/gtest.h>

namespace pullfleet::actors {
namespace {

pb::ContainerStatus Waiting(const std::string& reason) {
  pb::ContainerStatus status;
  status.mutable_waiting()->set_reason(reason);
  return status;
}

pb::ContainerStatus Ready() {
  pb::ContainerStatus status;
  status.set_ready(true);
  return status;
}

TEST(PodMetrics, APodCountsOncePerReasonAnyOfItsContainersWaitsFor) {
  pb::PodStatus two_backoffs;
  *two_backoffs.add_init_container_statuses() = Waiting("ImagePullBackOff");
  *two_backoffs.add_container_statuses() = Waiting("ImagePullBackOff");
  *two_backoffs.add_container_statuses() = Waiting("PodInitializing");
  pb::PodStatus ready;
  *ready.add_container_statuses() = Ready();
  pb::PodStatus odd;
  *odd.add_container_statuses() = Waiting("CrashLoopBackOff");

  WaitingCounts counts = ZeroWaitingCounts();
  for (const auto* status : {&two_backoffs, &ready, &odd}) CountWaiting(*status, counts);
  EXPECT_EQ(counts["ImagePullBackOff"], 1);
  EXPECT_EQ(counts["PodInitializing"], 1);
  EXPECT_EQ(counts["Other"], 1) << "reasons outside the closed set are not label values";
  EXPECT_EQ(counts["ErrImagePull"], 0) << "every reason of the closed set is present";
  EXPECT_EQ(counts.count("CrashLoopBackOff"), 0u);
}

TEST(PodMetrics, ImagesReadyReadsTheCondition) {
  pb::PodStatus status;
  EXPECT_FALSE(ImagesReady(status));
  auto* condition = status.add_conditions();
  condition->set_type("ImagesReady");
  condition->set_status("True");
  EXPECT_TRUE(ImagesReady(status));
  condition->set_status("False");
  EXPECT_FALSE(ImagesReady(status));
}

}  // namespace
}  // namespace pullfleet::actors
