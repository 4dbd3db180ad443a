// PlanImages and its renderers. The plan is built in two passes: first the objects (the last
// version of each kind/namespace/name wins, as a second apply would replace the first), then
// every image reference of their pod specs, grouped by normalised reference.
#include "kube/image_plan.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <utility>

#include "image/policy.h"
#include "image/reference.h"
#include "kube/render.h"

namespace pullfleet::kube {
namespace {

using Json = nlohmann::json;

// One object with a pod spec, and how many pods it makes.
struct PlanObject {
  std::string kind, namespace_, name;
  const pb::PodSpec* spec = nullptr;
  PodCount pods;
};

// The objects of `sets` in order of first appearance, each in its last version.
std::vector<PlanObject> CollectObjects(const std::vector<ManifestSet>& sets) {
  std::vector<PlanObject> objects;
  std::map<std::tuple<std::string, std::string, std::string>, size_t> index;
  auto add = [&](PlanObject object) {
    auto key = std::make_tuple(object.kind, object.namespace_, object.name);
    auto [it, inserted] = index.emplace(std::move(key), objects.size());
    if (inserted) {
      objects.push_back(std::move(object));
    } else {
      objects[it->second] = std::move(object);
    }
  };
  for (const ManifestSet& set : sets) {
    for (const pb::Pod& pod : set.pods) {
      add({"Pod", pod.metadata().namespace_(), pod.metadata().name(), &pod.spec(), {1}});
    }
    for (const pb::Workload& workload : set.workloads) {
      add({workload.kind(), workload.metadata().namespace_(), workload.metadata().name(),
           &workload.template_spec(), WorkloadPods(workload)});
    }
  }
  return objects;
}

// One place in a pod spec where an image is named.
struct ImageUse {
  std::string image;   // as written
  std::string policy;  // as written, possibly empty
  std::string where;   // "nginx", "init:fetch", "volume:models"
};

std::vector<ImageUse> UsesOf(const pb::PodSpec& spec) {
  std::vector<ImageUse> uses;
  for (const auto& c : spec.init_containers()) {
    uses.push_back({c.image(), c.image_pull_policy(), "init:" + c.name()});
  }
  for (const auto& c : spec.containers()) {
    uses.push_back({c.image(), c.image_pull_policy(), c.name()});
  }
  for (const auto& v : spec.image_volumes()) {
    uses.push_back({v.reference(), v.pull_policy(), "volume:" + v.name()});
  }
  return uses;
}

// Builds up one PlannedImage: sets while collecting, sorted vectors at the end.
struct ImageAccumulator {
  PlannedImage image;
  std::set<std::string> written, policies;
  std::map<std::string, ImageUser> users;  // by Label()

  PlannedImage Finish() && {
    image.written.assign(written.begin(), written.end());
    image.policies.assign(policies.begin(), policies.end());
    for (auto& [label, user] : users) {
      image.pods += user.pods.pods;
      image.pods_per_node += user.pods.per_node ? 1 : 0;
      image.pre_pull |= user.pods.pre_pull;
      image.users.push_back(std::move(user));
    }
    return std::move(image);
  }
};

std::string JoinUsers(const std::vector<ImageUser>& users) {
  std::string out;
  for (const ImageUser& user : users) {
    if (!out.empty()) out += ", ";
    out += user.Label();
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string PodsText(const PlannedImage& image) {
  std::vector<std::string> parts;
  if (image.pods > 0 || (image.pods_per_node == 0 && !image.pre_pull)) {
    parts.push_back(std::to_string(image.pods));
  }
  if (image.pods_per_node > 0) parts.push_back(std::to_string(image.pods_per_node) + "/node");
  if (image.pre_pull) parts.push_back("pre-pull");
  return Join(parts, " + ");
}

// Table cells must hold neither tabs nor line breaks; a manifest may hold anything.
std::string Cell(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  return text;
}

Json UsersJson(const std::vector<ImageUser>& users) {
  Json list = Json::array();
  for (const ImageUser& user : users) {
    list.push_back({{"kind", user.kind},
                    {"namespace", user.namespace_},
                    {"name", user.name},
                    {"uses", user.uses},
                    {"pods", user.pods.pods},
                    {"perNode", user.pods.per_node},
                    {"prePull", user.pods.pre_pull}});
  }
  return list;
}

Json CountsJson(const PlannedImage& image) {
  return {{"pullPolicies", image.policies},
          {"pods", image.pods},
          {"podsPerNode", image.pods_per_node},
          {"prePull", image.pre_pull},
          {"usedBy", UsersJson(image.users)}};
}

}  // namespace

PodCount WorkloadPods(const pb::Workload& workload) {
  PodCount count;
  if (workload.kind() == "DaemonSet") {
    count.per_node = true;
  } else if (workload.kind() == "CronJob") {
    count.pre_pull = true;
  } else if (workload.kind() == "Job") {
    count.pods = workload.parallelism();
  } else {
    count.pods = workload.replicas();
  }
  return count;
}

std::string ImageUser::Label() const {
  const std::string object = kind + "/" + name;
  return namespace_ == "default" || namespace_.empty() ? object : namespace_ + "/" + object;
}

ImagePlan PlanImages(const std::vector<ManifestSet>& sets) {
  std::map<std::string, ImageAccumulator> valid, invalid;  // by normalised / written text
  std::map<std::string, Result<image::Reference>> parsed;  // each spelling parsed once

  for (const PlanObject& object : CollectObjects(sets)) {
    for (const ImageUse& use : UsesOf(*object.spec)) {
      auto found = parsed.find(use.image);
      if (found == parsed.end()) {
        found = parsed.emplace(use.image, image::ParseReference(use.image)).first;
      }
      const Result<image::Reference>& reference = found->second;
      ImageAccumulator& entry =
          reference.ok() ? valid[reference->Normalized()] : invalid[use.image];
      if (entry.image.reference.empty()) {
        entry.image.reference = reference.ok() ? reference->Normalized() : use.image;
        if (!reference.ok()) entry.image.error = reference.error().message();
      }
      entry.written.insert(use.image);
      entry.policies.insert(use.policy.empty()
                                ? std::string(image::ToString(image::DefaultPullPolicy(use.image)))
                                : use.policy);
      ImageUser user{object.kind, object.namespace_, object.name, {}, object.pods};
      auto [it, inserted] = entry.users.emplace(user.Label(), std::move(user));
      it->second.uses.push_back(use.where);
    }
  }

  ImagePlan plan;
  for (auto& [key, entry] : valid) plan.images.push_back(std::move(entry).Finish());
  for (auto& [key, entry] : invalid) plan.invalid.push_back(std::move(entry).Finish());
  return plan;
}

std::string ImagePlanTable(const ImagePlan& plan) {
  std::string out;
  if (!plan.images.empty()) {
    std::string text = "IMAGE\tPOLICY\tPODS\tUSED BY\n";
    for (const PlannedImage& image : plan.images) {
      text += Cell(image.reference) + "\t" + Join(image.policies, ",") + "\t" + PodsText(image) +
              "\t" + Cell(JoinUsers(image.users)) + "\n";
    }
    out = AlignColumns(text);
  }
  if (!plan.invalid.empty()) {
    if (!out.empty()) out += "\n";
    out += "Invalid image names (nothing is pulled; their containers report InvalidImageName):\n";
    for (const PlannedImage& image : plan.invalid) {
      out += "  " + Cell(image.error) + " (used by " + Cell(JoinUsers(image.users)) + ")\n";
    }
  }
  return out;
}

std::string ImagePlanJson(const ImagePlan& plan) {
  Json images = Json::array(), invalid = Json::array();
  for (const PlannedImage& image : plan.images) {
    Json json = {{"reference", image.reference}, {"written", image.written}};
    json.update(CountsJson(image));
    images.push_back(std::move(json));
  }
  for (const PlannedImage& image : plan.invalid) {
    Json json = {{"image", image.reference}, {"error", image.error}};
    json.update(CountsJson(image));
    invalid.push_back(std::move(json));
  }
  const Json out = {{"images", images}, {"invalidImages", invalid}};
  return out.dump(4, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace pullfleet::kube
