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

TEST(ValidationTest, ValidNamesAndAnEmptyNamespacePass) {
  pb::ApplyRequest request;
  pb::Pod* pod = request.add_pods();
  pod->mutable_metadata()->set_name("web-1.example");
  pb::Secret* secret = request.add_secrets();
  secret->mutable_metadata()->set_name("regcred");
  secret->mutable_metadata()->set_namespace_("team-a");
  request.add_namespaces()->mutable_metadata()->set_name("team-a");
  EXPECT_TRUE(InvalidObjectNames(request).empty());
}

// Names that would collide in storage keys or that Kubernetes refuses, each named in its error.
TEST(ValidationTest, EachInvalidNameOrNamespaceIsNamed) {
  pb::ApplyRequest request;
  request.add_pods()->mutable_metadata()->set_name("a/b");
  pb::Pod* in_bad_namespace = request.add_pods();
  in_bad_namespace->mutable_metadata()->set_name("ok");
  in_bad_namespace->mutable_metadata()->set_namespace_("x/a");
  pb::Workload* deployment = request.add_workloads();
  deployment->set_kind("Deployment");
  deployment->mutable_metadata()->set_name("Web");
  request.add_namespaces()->mutable_metadata()->set_name("a.b");  // a label: no dots
  request.add_secrets()->mutable_metadata()->set_name("");

  const std::vector<std::string> errors = InvalidObjectNames(request);
  ASSERT_EQ(errors.size(), 5u);
  // Objects others depend on come first, in the order the coordinator applies them.
  EXPECT_EQ(errors[0].rfind("The Namespace \"a.b\" is invalid: invalid metadata.name", 0), 0u)
      << errors[0];
  EXPECT_EQ(errors[1].rfind("The Secret \"\" is invalid: invalid metadata.name", 0), 0u)
      << errors[1];
  EXPECT_EQ(errors[2].rfind("The Pod \"a/b\" is invalid: invalid metadata.name", 0), 0u)
      << errors[2];
  EXPECT_EQ(errors[3].rfind("The Pod \"ok\" is invalid: invalid metadata.namespace \"x/a\"", 0), 0u)
      << errors[3];
  EXPECT_EQ(errors[4].rfind("The Deployment \"Web\" is invalid", 0), 0u) << errors[4];
}

TEST(ValidationTest, AStatefulSetWhosePodNamesWouldBeTooLongIsRefused) {
  pb::ApplyRequest request;
  pb::Workload* fits = request.add_workloads();
  fits->set_kind("StatefulSet");
  fits->mutable_metadata()->set_name(std::string(251, 'a'));  // pods a...a-0 and a...a-1
  fits->set_replicas(2);
  EXPECT_TRUE(InvalidObjectNames(request).empty());
  fits->set_replicas(10);  // a...a-9 still fits: 253
  EXPECT_TRUE(InvalidObjectNames(request).empty());
  fits->set_replicas(11);  // a...a-10: 254
  const std::vector<std::string> errors = InvalidObjectNames(request);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("would be 254 characters long"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace pullfleet::actors
