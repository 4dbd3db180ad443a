// Admission defaults of the coordinator: the pull policies of image volumes, as the API server
// defaults them (the containers' rule is covered with image::DefaultPullPolicy).
#include "actors/cluster/admission.h"

#include <gtest/gtest.h>

namespace pullfleet::actors {
namespace {

pb::PodSpec SpecWithVolume(const std::string& reference, const std::string& policy = "") {
  pb::PodSpec spec;
  pb::Container* container = spec.add_containers();
  container->set_name("app");
  container->set_image("registry.example.com/app:1.0");
  pb::ImageVolume* volume = spec.add_image_volumes();
  volume->set_name("assets");
  volume->set_reference(reference);
  volume->set_pull_policy(policy);
  return spec;
}

TEST(AdmissionTest, ImageVolumePolicyDefaultsLikeAContainers) {
  struct Case {
    std::string reference, written, want;
  };
  const std::vector<Case> cases = {
      {"registry.example.com/assets", "", "Always"},
      {"registry.example.com/assets:latest", "", "Always"},
      {"registry.example.com/assets:2.0", "", "IfNotPresent"},
      {"registry.example.com/assets:2.0", "Never", "Never"},
      {"registry.example.com/assets", "IfNotPresent", "IfNotPresent"},
  };
  for (const auto& c : cases) {
    pb::PodSpec spec = SpecWithVolume(c.reference, c.written);
    DefaultPodSpec(&spec, nullptr, {});
    EXPECT_EQ(spec.image_volumes(0).pull_policy(), c.want) << c.reference << " " << c.written;
  }
}

TEST(AdmissionTest, ImageVolumeKeepsItsStoredPolicyWhenTheReferenceChanges) {
  pb::PodSpec first = SpecWithVolume("registry.example.com/assets");
  DefaultPodSpec(&first, nullptr, {});
  ASSERT_EQ(first.image_volumes(0).pull_policy(), "Always");

  pb::PodSpec second = SpecWithVolume("registry.example.com/assets:2.0");
  DefaultPodSpec(&second, &first, {});
  EXPECT_EQ(second.image_volumes(0).pull_policy(), "Always");
}

TEST(AdmissionTest, AlwaysPullImagesSetsImageVolumesToAlways) {
  pb::PodSpec spec = SpecWithVolume("registry.example.com/assets:2.0", "Never");
  DefaultPodSpec(&spec, nullptr, {/*always_pull_images=*/true});
  EXPECT_EQ(spec.image_volumes(0).pull_policy(), "Always");
  EXPECT_EQ(spec.containers(0).image_pull_policy(), "Always");
}

}  // namespace
}  // namespace pullfleet::actors
