#include "node/layout_import.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "image/reference.h"
#include "node/local_images.h"
#include "store/content_store.h"

namespace pullfleet::node {
namespace {

namespace fs = std::filesystem;

// Writes a minimal OCI layout holding one image: a config, one layer, a manifest, tagged.
class LayoutImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("pf-import-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "layout" / "blobs" / "sha256");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string AddBlob(const std::string& data) {
    const std::string digest = store::Sha256Digest(data);
    std::ofstream(root_ / "layout" / "blobs" / "sha256" / digest.substr(7), std::ios::binary)
        << data;
    return digest;
  }

  std::string WriteImage(const std::string& ref_name, const std::string& layer_data) {
    const std::string config = R"({"architecture":"amd64","os":"linux"})";
    const std::string config_digest = AddBlob(config);
    const std::string layer_digest = AddBlob(layer_data);
    nlohmann::json manifest = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config",
         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
          {"digest", config_digest},
          {"size", config.size()}}},
        {"layers",
         {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
           {"digest", layer_digest},
           {"size", layer_data.size()}}}}};
    const std::string body = manifest.dump();
    const std::string digest = AddBlob(body);
    nlohmann::json index = {
        {"schemaVersion", 2},
        {"manifests",
         {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
           {"digest", digest},
           {"size", body.size()},
           {"annotations", {{"org.opencontainers.image.ref.name", ref_name}}}}}}};
    std::ofstream(root_ / "layout" / "index.json") << index.dump();
    std::ofstream(root_ / "layout" / "oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
    layer_digest_ = layer_digest;
    return digest;
  }

  fs::path root_;
  std::string layer_digest_;
};

TEST_F(LayoutImportTest, ImportedImageIsPresentForItsReference) {
  const std::string digest = WriteImage("registry.example.com/team/app:1.0", "layer bytes");
  auto images = LocalImages::Open(root_ / "node");
  ASSERT_TRUE(images.ok()) << images.error().message();
  auto records = ImportLayout(root_ / "layout", **images, {"linux", "amd64", ""}, "");
  ASSERT_TRUE(records.ok()) << records.error().message();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].digest(), digest);

  auto ref = image::ParseReference("registry.example.com/team/app:1.0");
  ASSERT_TRUE(ref.ok());
  auto found = (*images)->Find(*ref, "");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->digest(), digest);
  EXPECT_TRUE((*images)->store().Has(layer_digest_));
}

TEST_F(LayoutImportTest, CorruptBlobIsRefusedAndNothingRecorded) {
  WriteImage("registry.example.com/team/app:1.0", "layer bytes");
  // Damage the layer after the manifest named its digest.
  std::ofstream(root_ / "layout" / "blobs" / "sha256" / layer_digest_.substr(7)) << "tampered";
  auto images = LocalImages::Open(root_ / "node");
  ASSERT_TRUE(images.ok());
  auto records = ImportLayout(root_ / "layout", **images, {"linux", "amd64", ""}, "");
  ASSERT_FALSE(records.ok());
  EXPECT_TRUE((*images)->List().empty());
  EXPECT_FALSE((*images)->store().Has(layer_digest_));
}

TEST_F(LayoutImportTest, ARefNameThatIsOnlyATagIsRefused) {
  WriteImage("1.0", "layer bytes");
  auto images = LocalImages::Open(root_ / "node");
  ASSERT_TRUE(images.ok());
  auto records = ImportLayout(root_ / "layout", **images, {"linux", "amd64", ""}, "");
  ASSERT_FALSE(records.ok());
  EXPECT_NE(records.error().message().find("not a full image reference"), std::string::npos)
      << records.error().message();
}

TEST_F(LayoutImportTest, MissingIndexIsAClearError) {
  auto images = LocalImages::Open(root_ / "node");
  ASSERT_TRUE(images.ok());
  auto records = ImportLayout(root_ / "nowhere", **images, {"linux", "amd64", ""}, "");
  ASSERT_FALSE(records.ok());
  EXPECT_NE(records.error().message().find("index.json"), std::string::npos);
}

}  // namespace
}  // namespace pullfleet::node
