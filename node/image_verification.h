// The kubelet's "ensure secret pulled images" check (KEP-2535): may a pod use an image that is
// already on the node, or must it first prove, by pulling with its own credentials, that the
// registry lets it have the image? Without this, a pod of one tenant could start from a
// private image another tenant's secret pulled onto the same node.
//
// The node records for each image how it got there (pb::ImageRecord: preloaded,
// node_accessible, pulled_with). The policy, `imagePullCredentialsVerificationPolicy` in the
// KubeletConfiguration, decides which present images need that proof:
//   NeverVerify                   none: any pod may use any present image (the old kubelet);
//   NeverVerifyPreloadedImages    (default) images pulled with a pod's secret, not images that
//                                 were on the node before (`images load`);
//   NeverVerifyAllowlistedImages  as above, and preloaded images too unless they match
//                                 `preloadedImagesVerificationAllowlist`;
//   AlwaysVerify                  every image that was not pulled anonymously or with the
//                                 node's own credentials.
// A pod passes without a pull when one of its pull secrets holds a credential that pulled the
// image before (equal fingerprints), whichever Secret held it then. The Secret's coordinates
// are recorded for people, not matched: a Secret whose content was rotated offers a new
// credential, which is verified once, by a pull.
//
// Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "image/reference.h"
#include "messages/pullfleet.pb.h"

namespace pullfleet::node {

enum class VerificationPolicy {
  kNeverVerify,
  kNeverVerifyPreloadedImages,
  kNeverVerifyAllowlistedImages,
  kAlwaysVerify,
};

// Parses the kubelet's spelling; kInvalidArgument naming the accepted values otherwise.
Result<VerificationPolicy> ParseVerificationPolicy(std::string_view text);
std::string_view ToString(VerificationPolicy policy);

// Checks one `preloadedImagesVerificationAllowlist` entry as the kubelet does: a repository
// without tag or digest ("registry.example.com/team/app"), optionally ending in "/*" to take
// every repository below that path. kInvalidArgument saying what is wrong otherwise.
Status ValidateAllowlistEntry(std::string_view entry);

// True when `ref`'s repository matches one of the entries.
bool AllowlistMatches(const std::vector<std::string>& allowlist, const image::Reference& ref);

// Whether a present image needs a pod's credentials checked before the pod may use it,
// before looking at the pod (no pod information is needed to say no).
bool NeedsCredentialCheck(const pb::ImageRecord& record, VerificationPolicy policy,
                          const std::vector<std::string>& allowlist, const image::Reference& ref);

// One pull secret of the pod, with the fingerprint of each credential it offers for the image.
struct PodSecretCredential {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string fingerprint;
};

// True when a credential of one of the pod's secrets pulled the image before.
bool PodMayUseWithoutPull(const pb::ImageRecord& record,
                          const std::vector<PodSecretCredential>& pod_secrets);

}  // namespace pullfleet::node
