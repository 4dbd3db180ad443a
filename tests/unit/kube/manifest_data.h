// The project's own test manifests (tests/data/manifests), read and parsed for kube tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "kube/manifests.h"

namespace pullfleet::kube::testdata {

// The text of tests/data/manifests/NAME; a test failure when it cannot be opened.
inline std::string ReadData(const std::string& name) {
  const std::string path = std::string(PULLFLEET_SOURCE_DIR) + "/tests/data/manifests/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// tests/data/manifests/NAME parsed; a test failure (and an empty set) when it does not parse.
inline ManifestSet MustParse(const std::string& name) {
  Result<ManifestSet> set = ParseManifests(ReadData(name), name);
  if (!set.ok()) {
    ADD_FAILURE() << set.error().message();
    return {};
  }
  return std::move(set).value();
}

}  // namespace pullfleet::kube::testdata
