#include "credentials/registry_secret.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "credentials/pull_secrets.h"
#include "tests/unit/credentials/test_dir.h"

namespace pullfleet::credentials {
namespace {

TEST(MakeRegistrySecret, WritesTheDockerConfigJsonKubectlWrites) {
  RegistrySecretOptions options;
  options.name = "regcred";
  options.namespace_name = "team-a";
  options.server = "127.0.0.1:5000";
  options.username = "alice";
  options.password = "s3cret";
  options.email = "alice@example.com";
  auto secret = MakeRegistrySecret(options);
  ASSERT_TRUE(secret.ok()) << secret.error().message();
  EXPECT_EQ(secret->type(), "kubernetes.io/dockerconfigjson");
  EXPECT_EQ(secret->metadata().namespace_(), "team-a");
  auto config = nlohmann::json::parse(secret->data().at(".dockerconfigjson"));
  const auto& entry = config["auths"]["127.0.0.1:5000"];
  EXPECT_EQ(entry["username"], "alice");
  EXPECT_EQ(entry["password"], "s3cret");
  EXPECT_EQ(entry["email"], "alice@example.com");
  EXPECT_EQ(entry["auth"], "YWxpY2U6czNjcmV0");  // base64("alice:s3cret")

  // And the node reads it back as the same credential.
  auto keyring = KeyringFromSecret(*secret);
  ASSERT_TRUE(keyring.ok()) << keyring.error().message();
  auto ref = image::ParseReference("127.0.0.1:5000/pf/app:v1");
  ASSERT_TRUE(ref.ok());
  auto found = keyring->Lookup(*ref);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].username, "alice");
  EXPECT_EQ(found[0].password, "s3cret");
}

TEST(MakeRegistrySecret, DefaultsToDockerHubAndOmitsAnEmptyEmail) {
  RegistrySecretOptions options;
  options.name = "hub";
  options.username = "bob";
  options.password = "pw";
  auto secret = MakeRegistrySecret(options);
  ASSERT_TRUE(secret.ok());
  auto config = nlohmann::json::parse(secret->data().at(".dockerconfigjson"));
  ASSERT_TRUE(config["auths"].contains("https://index.docker.io/v1/"));
  EXPECT_FALSE(config["auths"]["https://index.docker.io/v1/"].contains("email"));
  EXPECT_EQ(secret->metadata().namespace_(), "default");
}

TEST(MakeRegistrySecret, RefusesBadNamesAndMissingFlagsWithoutEchoingThePassword) {
  RegistrySecretOptions options;
  options.name = "Bad_Name";
  options.username = "u";
  options.password = "hunter2";
  auto bad_name = MakeRegistrySecret(options);
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.error().message().find("Bad_Name"), std::string::npos);
  EXPECT_EQ(bad_name.error().message().find("hunter2"), std::string::npos);

  options.name = "ok";
  options.password.clear();
  auto no_password = MakeRegistrySecret(options);
  ASSERT_FALSE(no_password.ok());
  EXPECT_NE(no_password.error().message().find("--docker-password"), std::string::npos);
}

TEST(RegistrySecretFromFile, TakesAValidConfigAndRejectsAMalformedOne) {
  testing_util::ScratchDir dir;
  const std::string good =
      dir.Write("config.json", R"({"auths":{"127.0.0.1:5000":{"auth":"YTpi"}}})");
  auto secret = RegistrySecretFromFile("regcred", "team-a", good);
  ASSERT_TRUE(secret.ok()) << secret.error().message();
  EXPECT_EQ(secret->data().at(".dockerconfigjson"),
            R"({"auths":{"127.0.0.1:5000":{"auth":"YTpi"}}})");

  const std::string bad = dir.Write("bad.json", R"({"auths": {"x": "secret-value"}})");
  auto rejected = RegistrySecretFromFile("regcred", "team-a", bad);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.error().message().find("bad.json"), std::string::npos);
  EXPECT_EQ(rejected.error().message().find("secret-value"), std::string::npos);

  EXPECT_FALSE(RegistrySecretFromFile("regcred", "team-a", dir.Join("absent.json")).ok());
}

}  // namespace
}  // namespace pullfleet::credentials
