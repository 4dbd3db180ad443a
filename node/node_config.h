// A node's configuration: its platform, where its credentials are, how to reach each
// registry, and how it queues pulls. Read from a YAML file at start-up (`--config FILE`);
// nothing here changes at run time except what the named files contain (the docker config
// is re-read before every pull, so rotated credentials are picked up).
//
// The file holds one or more YAML documents. A document with
// `kind: KubeletConfiguration` (apiVersion kubelet.config.k8s.io/v1beta1), exactly as a
// kubelet reads it, supplies the kubelet's image settings (serializeImagePulls,
// maxParallelImagePulls, registryPullQPS, registryBurst, featureGates) and every other
// kubelet field is ignored; a document without `kind` holds pullfleet's own fields below.
// `kubeletConfigFile: PATH` in pullfleet's document reads the kubelet's file from elsewhere.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/platform.h"
#include "node/image_verification.h"
#include "registry/client.h"

namespace pullfleet::node {

struct NodeConfig {
  // The platform images are pulled for. Default: the machine's own.
  image::Platform platform = image::HostPlatform();
  // A docker config.json with "auths" for this node. Default: none (anonymous pulls).
  std::string docker_config_path;
  // Credential provider plugins (the kubelet's --image-credential-provider-config, a
  // CredentialProviderConfig file or a folder of them) and the folder holding their
  // executables (--image-credential-provider-bin-dir). Default: none. Read at start-up.
  std::string credential_provider_config;
  std::string credential_provider_bin_dir;
  // kubelet imagePullCredentialsVerificationPolicy and preloadedImagesVerificationAllowlist:
  // which present images a pod may use only with credentials of its own (see
  // node/image_verification.h). Default: NeverVerifyPreloadedImages, no allowlist.
  VerificationPolicy verification_policy = VerificationPolicy::kNeverVerifyPreloadedImages;
  std::vector<std::string> verification_allowlist;
  // Node labels, matched by nodeSelector (kubernetes.io/os, /arch, /hostname are added).
  std::map<std::string, std::string> labels;
  // Per-registry transport settings, keyed by host[:port] as written in image names.
  std::map<std::string, registry::HostOptions> registries;
  // kubelet serializeImagePulls: one pull at a time per node. Default: true.
  bool serialize_image_pulls = true;
  // kubelet maxParallelImagePulls; unset means unbounded when not serialised.
  std::optional<int> max_parallel_image_pulls;
  // kubelet registryPullQPS: pull starts per second, 0 for no limit. Default: 5.
  double registry_pull_qps = 5;
  // kubelet registryBurst: pull starts allowed at once above the QPS. Default: 10.
  int registry_burst = 10;
  // kubelet feature gate RuntimeClassInImageCriApi: images are identified by (reference,
  // runtime handler), so an image pulled for one handler is not present for another.
  // Default: false.
  bool runtime_class_in_image_cri_api = false;
  // Blobs of one image fetched at once. Default: 3 (as containerd).
  int max_concurrent_blobs = 3;
  // A transfer moving no byte for this long fails. Default: 60 s.
  int stall_timeout_seconds = 60;
  // ImagePullBackOff: the kubelet's 10 s doubling to 300 s. Tests shorten them.
  double backoff_initial_seconds = 10;
  double backoff_max_seconds = 300;
  // How soon a pod is looked at again after a failed pull (the kubelet's pod worker
  // requeue), which turns ErrImagePull into ImagePullBackOff. Default: 1 s.
  double resync_seconds = 1;
  // How often a container with ErrImageNeverPull checks again. Default: 10 s.
  double never_pull_recheck_seconds = 10;
  // After losing its coordinator the node keeps serving its pods and tries to reach it again,
  // first after about `initial`, doubling to `max`, each wait jittered (ReconnectBackoff).
  // Defaults: 0.2 s and 5 s.
  double reconnect_initial_seconds = 0.2;
  double reconnect_max_seconds = 5;
  // `pullfleet chaos kill|list` may act on this node (testing only). Default: false.
  bool allow_chaos = false;

  // Transport options for `domain`, with plain HTTP allowed for loopback hosts.
  registry::HostOptions HostOptionsFor(const std::string& domain) const;
};

// Parses the YAML text of a node config; `source` names it in errors.
Result<NodeConfig> ParseNodeConfig(const std::string& yaml_text, const std::string& source);
Result<NodeConfig> LoadNodeConfig(const std::string& path);

}  // namespace pullfleet::node
