// Image references: parsing and normalisation with the grammar of the distribution project.
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
  // The short form Docker prints: "busybox:latest", "user/app:v1", "quay.io/x/y:1".
  std::string Familiar() const;
  // The string to ask a registry's manifest endpoint for: the digest when present, else the
  // tag ("latest" when neither is given).
  std::string ManifestReference() const;
};

// Parses `text` as written in a pod spec ("busybox", "registry:5000/a/b:1@sha256:..."),
// applying Docker Hub normalisation (docker.io, library/, index.docker.io == docker.io).
// Fails with kInvalidArgument and a message naming what is wrong, e.g.
//   invalid reference format: repository name must be lowercase
Result<Reference> ParseReference(std::string_view text);

}  // namespace pullfleet::image
