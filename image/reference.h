// Image references: parsing and normalisation with the grammar of the distribution project.
//
// ParseReference accepts what the kubelet accepts (distribution/reference v0.6
// ParseNormalizedNamed, reached through the kubelet's parsers.ParseImageName) and fails with
// the kubelet's wording, e.g.
//   couldn't parse image name "<YOUR-CONTAINER>": invalid reference format
//
// Pure functions, no I/O; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace pullfleet::image {

// The parts of a normalised image reference.
struct Reference {
  std::string domain;  // "docker.io", "registry.k8s.io", "127.0.0.1:5000", "localhost"
  std::string path;    // "library/busybox", "ingress-nginx/controller"
  std::string tag;     // empty when the reference has none
  std::string digest;  // "sha256:<64 hex>", empty when the reference has none

  // domain/path, e.g. "docker.io/library/busybox".
  std::string Repository() const;
  // Repository plus ":tag" and/or "@digest" as written; a reference with neither gets
  // ":latest". E.g. "docker.io/library/busybox:latest".
  std::string Normalized() const;
  // The short form Docker prints (its FamiliarString): Docker Hub's domain and the "library/"
  // of official images dropped, tag and digest as written, nothing added. E.g. "busybox",
  // "busybox:1.36", "user/app:v1", "quay.io/x/y:1".
  std::string Familiar() const;
  // The string to ask a registry's manifest endpoint for: the digest when present, else the
  // tag ("latest" when neither is given).
  std::string ManifestReference() const;
};

// Parses `text` as written in a pod spec ("busybox", "registry:5000/a/b:1@sha256:..."),
// applying Docker Hub normalisation (docker.io, library/, index.docker.io == docker.io).
// Fails with kInvalidArgument and a message naming the input and what is wrong, e.g.
//   couldn't parse image name "Busybox": invalid reference format: repository name
//   (library/Busybox) must be lowercase
Result<Reference> ParseReference(std::string_view text);

// Maximum length of the repository path (without the domain), as distribution v0.6 checks.
inline constexpr size_t kMaxRepositoryPathLength = 255;

}  // namespace pullfleet::image
