#include "persistence/sealer.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace pullfleet::persistence {
namespace {

std::string TempKeyPath(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / ("pf-sealer-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

TEST(SealerTest, RoundTripAndKeyPersists) {
  const auto path = TempKeyPath("k1");
  auto sealer = Sealer::LoadOrCreate(path);
  ASSERT_TRUE(sealer.ok()) << sealer.error().message();
  const std::string secret = "{\"auths\":{\"r\":{\"auth\":\"dXNlcjpodW50ZXIy\"}}}";
  auto sealed = sealer->Seal(secret);
  EXPECT_EQ(sealed.ciphertext().find("dXNlcjpodW50ZXIy"), std::string::npos);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  auto again = Sealer::LoadOrCreate(path);
  ASSERT_TRUE(again.ok());
  auto opened = again->Open(sealed);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(*opened, secret);
}

TEST(SealerTest, AlteredOrForeignRecordsDoNotOpen) {
  auto a = Sealer::LoadOrCreate(TempKeyPath("ka"));
  auto b = Sealer::LoadOrCreate(TempKeyPath("kb"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto sealed = a->Seal("password");
  EXPECT_FALSE(b->Open(sealed).ok());
  auto altered = sealed;
  altered.mutable_ciphertext()->at(0) ^= 1;
  EXPECT_FALSE(a->Open(altered).ok());
  EXPECT_EQ(a->Open(altered).error().code(), ErrorCode::kIo);
}

}  // namespace
}  // namespace pullfleet::persistence
