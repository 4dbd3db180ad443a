#include "pull/manifest.h"

#include <gtest/gtest.h>

#include "registry/client.h"

namespace pullfleet::pull {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

TEST(DetectMediaType, Table) {
  struct Case {
    const char* name;
    std::string declared;
    std::string body;
    std::string want;  // empty: an error is expected
    ErrorCode code = ErrorCode::kUnsupported;
  };
  const std::string oci_index(registry::kOciIndex), oci_manifest(registry::kOciManifest);
  const std::string docker_list(registry::kDockerManifestList),
      docker_manifest(registry::kDockerManifest);
  const Case cases[] = {
      {"declared oci index", oci_index, "{}", oci_index},
      {"declared docker v2", docker_manifest, "{}", docker_manifest},
      {"declared docker list", docker_list, "{}", docker_list},
      {"body mediaType wins over generic content type", "application/json",
       R"({"mediaType":")" + oci_manifest + R"("})", oci_manifest},
      {"shape: index", "", R"({"schemaVersion":2,"manifests":[]})", oci_index},
      {"shape: manifest", "", R"({"schemaVersion":2,"config":{}})", oci_manifest},
      {"schema 1", "application/vnd.docker.distribution.manifest.v1+prettyjws",
       R"({"schemaVersion":1})", ""},
      {"unknown body type", "", R"({"mediaType":"application/x-other"})", ""},
      {"not json", "", "<html>", "", ErrorCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    auto got = DetectMediaType(c.declared, c.body);
    if (c.want.empty()) {
      ASSERT_FALSE(got.ok()) << c.name;
      EXPECT_EQ(got.error().code(), c.code) << c.name;
    } else {
      ASSERT_TRUE(got.ok()) << c.name << ": " << got.error().message();
      EXPECT_EQ(*got, c.want) << c.name;
    }
  }
}

TEST(ParseManifest, ConfigAndLayersInOrder) {
  std::string body = R"({"schemaVersion":2,"config":{"mediaType":"c","digest":")" + kA +
                     R"(","size":10},"layers":[{"mediaType":"l","digest":")" + kB +
                     R"(","size":20},{"mediaType":"l","digest":")" + kC + R"(","size":0}]})";
  auto m = ParseManifest(body);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->config.digest, kA);
  EXPECT_EQ(m->config.size, 10);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].digest, kB);
  EXPECT_EQ(m->layers[1].digest, kC);
  EXPECT_EQ(m->layers[1].size, 0);
}

TEST(ParseManifest, RejectsWhatCouldHurt) {
  struct Case {
    const char* name;
    std::string body;
    const char* in_message;
  };
  auto layer = [](const std::string& digest, const std::string& size) {
    return R"({"schemaVersion":2,"config":{"digest":")" + kA +
           R"(","size":1},"layers":[{"digest":")" + digest + R"(","size":)" + size + "}]}";
  };
  const Case cases[] = {
      {"path traversal digest", layer("sha256:../../../etc/passwd", "1"), "invalid digest"},
      {"sha512 digest", layer("sha512:" + std::string(128, 'a'), "1"), "invalid digest"},
      {"negative size", layer(kB, "-1"), "size"},
      {"string size", layer(kB, "\"1\""), "size"},
      {"no config", R"({"schemaVersion":2,"layers":[]})", "config"},
      {"no layers", R"({"schemaVersion":2,"config":{"digest":")" + kA + R"(","size":1}})",
       "layers"},
      {"not an object", "[]", "JSON object"},
  };
  for (const auto& c : cases) {
    auto m = ParseManifest(c.body);
    ASSERT_FALSE(m.ok()) << c.name;
    EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument) << c.name;
    EXPECT_NE(m.error().message().find(c.in_message), std::string::npos)
        << c.name << ": " << m.error().message();
  }
}

TEST(ParseIndex, EntriesWithPlatforms) {
  std::string body = R"({"schemaVersion":2,"manifests":[
    {"mediaType":"m","digest":")" +
                     kA + R"(","size":5,
     "platform":{"os":"linux","architecture":"amd64"}},
    {"mediaType":"m","digest":")" +
                     kB + R"(","size":6,
     "platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"m","digest":")" +
                     kC + R"(","size":7}]})";
  auto index = ParseIndex(body);
  ASSERT_TRUE(index.ok()) << index.error().message();
  ASSERT_EQ(index->manifests.size(), 3u);
  EXPECT_EQ(index->manifests[1].platform.architecture, "arm64");
  EXPECT_EQ(index->manifests[1].platform.variant, "v8");
  EXPECT_EQ(index->manifests[1].descriptor.size, 6);
  EXPECT_EQ(index->manifests[2].platform.os, "");
  EXPECT_EQ(DescribePlatforms(*index), "linux/amd64, linux/arm64/v8, (no platform)");

  EXPECT_FALSE(ParseIndex(R"({"manifests":{}})").ok());
  EXPECT_FALSE(ParseIndex(R"({"manifests":[{"digest":"sha256:x","size":1}]})").ok());
}

}  // namespace
}  // namespace pullfleet::pull
