// Subcommands that work on images without a cluster: `image pull` into a node's data
// folder exactly as a node would, and the inspection commands for the image rules.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cmd/commands.h"
#include "credentials/docker_keyring.h"
#include "image/platform.h"
#include "image/policy.h"
#include "image/reference.h"
#include "kube/image_plan.h"
#include "kube/manifests.h"
#include "node/local_images.h"
#include "node/node_config.h"
#include "node/pull_job.h"

namespace pullfleet::cmd {
namespace {

int Fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

std::vector<pull::CandidateCredential> NodeCredentials(const node::NodeConfig& config,
                                                       const image::Reference& ref) {
  std::vector<pull::CandidateCredential> out;
  if (config.docker_config_path.empty()) return out;
  auto keyring = credentials::DockerKeyring::FromFile(config.docker_config_path);
  if (!keyring.ok()) {
    std::cerr << "warning: ignoring docker config: " << keyring.error().message() << "\n";
    return out;
  }
  for (auto& auth : keyring->Lookup(ref)) {
    pull::CandidateCredential candidate;
    candidate.credentials.username = auth.username;
    candidate.credentials.password = auth.password;
    candidate.source = "docker config key " + auth.matched_key;
    out.push_back(std::move(candidate));
  }
  return out;
}

}  // namespace

int RunImagePull(const ImagePullOptions& options) {
  auto ref = image::ParseReference(options.reference);
  if (!ref.ok()) return Fail(ref.error().message());
  node::NodeConfig config;
  if (!options.config.empty()) {
    auto loaded = node::LoadNodeConfig(options.config);
    if (!loaded.ok()) return Fail(loaded.error().message());
    config = *loaded;
  }
  if (!options.platform.empty()) {
    auto platform = image::ParsePlatform(options.platform);
    if (!platform.ok()) return Fail("--platform: " + platform.error().message());
    config.platform = *platform;
  }
  auto images = node::LocalImages::Open(options.data_dir);
  if (!images.ok()) return Fail(images.error().message());

  node::PullJob job;
  job.image = options.reference;
  job.reference = *ref;
  job.options.reference = *ref;
  job.options.platform = config.platform;
  job.options.credentials = NodeCredentials(config, *ref);
  job.options.host = config.HostOptionsFor(ref->domain);
  job.options.max_concurrent_blobs = config.max_concurrent_blobs;
  job.options.stall_timeout_s = config.stall_timeout_seconds;
  job.key = node::MakeJobKey(job);

  const auto outcome = node::RunPullJob(job, **images);
  if (!outcome.ok) return Fail(outcome.error);
  const auto& r = outcome.result;
  const double seconds = std::max(outcome.transfer_seconds, 1e-6);
  std::printf("pulled %s (%s)\n", ref->Normalized().c_str(), config.platform.ToString().c_str());
  std::printf("  digest:     %s\n  manifest:   %s\n  config:     %s\n", r.resolved_digest.c_str(),
              r.manifest_digest.c_str(), r.config_digest.c_str());
  std::printf("  size:       %lld bytes in %zu layers\n", static_cast<long long>(r.image_size),
              r.layer_digests.size());
  std::printf("  fetched:    %d blobs, %lld bytes (%d already present)\n", r.blobs_downloaded,
              static_cast<long long>(r.bytes_downloaded), r.blobs_reused);
  std::printf("  time:       %.3fs (%.1f MiB/s)\n", seconds,
              static_cast<double>(r.bytes_downloaded) / seconds / (1024.0 * 1024.0));
  std::printf("  store:      %s\n", (*images)->store_path().c_str());
  return 0;
}

int RunImageParse(const std::string& reference, const std::string& output) {
  auto ref = image::ParseReference(reference);
  if (!ref.ok()) return Fail(ref.error().message());
  if (output == "json") {
    nlohmann::ordered_json j;
    j["domain"] = ref->domain;
    j["path"] = ref->path;
    j["tag"] = ref->tag;
    j["digest"] = ref->digest;
    j["familiar"] = ref->Familiar();
    j["normalized"] = ref->Normalized();
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf(
      "domain:      %s\npath:        %s\ntag:         %s\ndigest:      %s\n"
      "familiar:    %s\nnormalized:  %s\n",
      ref->domain.c_str(), ref->path.c_str(), ref->tag.c_str(), ref->digest.c_str(),
      ref->Familiar().c_str(), ref->Normalized().c_str());
  return 0;
}

int RunImagePolicy(const std::string& image, const std::string& policy) {
  // Kubernetes defaults the policy from the text alone, but a pod with a name that does not
  // parse never gets that far: it fails with InvalidImageName. Say so instead of a policy.
  if (auto ref = image::ParseReference(image); !ref.ok()) {
    return Fail(ref.error().message() +
                " (a container with this image fails with InvalidImageName)");
  }
  if (!policy.empty()) {
    auto parsed = image::ParsePullPolicy(policy);
    if (!parsed.ok()) return Fail(parsed.error().message());
    std::cout << image::ToString(*parsed) << "\n";
    return 0;
  }
  std::cout << image::ToString(image::DefaultPullPolicy(image)) << "\n";
  return 0;
}

int RunImagesList(const std::vector<std::string>& paths, const std::string& output) {
  auto files = ExpandManifestPaths(paths);
  if (!files) return 1;
  std::vector<kube::ManifestSet> sets;
  for (const auto& file : *files) {
    auto text = ReadInput(file);
    if (!text) return 1;
    auto set = kube::ParseManifests(*text, file == "-" ? "<stdin>" : file);
    if (!set.ok()) return Fail(set.error().message());
    sets.push_back(std::move(set).value());
  }
  const auto plan = kube::PlanImages(sets);
  if (output == "json") {
    std::cout << kube::ImagePlanJson(plan) << "\n";
  } else {
    const auto table = kube::ImagePlanTable(plan);
    std::cout << (table.empty() ? "No images.\n" : table);
  }
  return 0;
}

int RunPlatformMatch(const std::string& want, const std::string& have) {
  auto w = image::ParsePlatform(want);
  if (!w.ok()) return Fail(w.error().message());
  auto h = image::ParsePlatform(have);
  if (!h.ok()) return Fail(h.error().message());
  const bool matches = image::Matches(*w, *h);
  std::cout << (matches ? "true" : "false") << "\n";
  return matches ? 0 : 1;
}

}  // namespace pullfleet::cmd
