// Kubernetes' rules for names (RFC 1123), shared by the manifest reader, the secret maker, the
// coordinator and the node: a name that breaks them could collide with another in storage
// keys ("a/b" in namespace "x" and "b" in namespace "x/a"), so it is refused where it enters.
#pragma once

#include <string>

#include "common/error.h"

namespace pullfleet {

// Pods, Secrets, workloads and most kinds: a lowercase RFC 1123 subdomain of at most 253
// characters. `what` names the field in the error ("pod name", "metadata.name").
Status CheckObjectName(const std::string& what, const std::string& name);

// Namespaces, container and volume names: a lowercase RFC 1123 label of at most 63
// characters.
Status CheckLabelName(const std::string& what, const std::string& name);

}  // namespace pullfleet
