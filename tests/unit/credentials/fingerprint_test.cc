// Credential fingerprints: stable per key, different for every differing field, not the
// secret, and the node key file created once with mode 0600.
#include "credentials/fingerprint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>
#include <sstream>

#include "tests/unit/credentials/test_dir.h"

namespace pullfleet::credentials {
namespace {

using testing_util::ScratchDir;

const std::string kKey(32, 'k');

TEST(CredentialHasherTest, StableAndShaped) {
  Result<CredentialHasher> hasher = CredentialHasher::FromKey(kKey);
  ASSERT_TRUE(hasher.ok());
  CredentialMaterial m{"127.0.0.1:5000", "alice", "PASSWORD-123", ""};
  const std::string a = hasher->Fingerprint(m);
  EXPECT_EQ(a, hasher->Fingerprint(m));
  ASSERT_EQ(a.size(), std::string("hmac-sha256:").size() + 64);
  EXPECT_EQ(a.rfind("hmac-sha256:", 0), 0u);
  EXPECT_EQ(a.find("PASSWORD"), std::string::npos);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 12), std::string::npos);

  AuthConfig auth;
  auth.username = "alice";
  auth.password = "PASSWORD-123";
  auth.matched_key = "127.0.0.1:5000/pf";
  EXPECT_EQ(hasher->Fingerprint("127.0.0.1:5000", auth), a);
}

TEST(CredentialHasherTest, KnownAnswer) {
  // Computed independently with Python's hmac module over the documented encoding.
  Result<CredentialHasher> hasher = CredentialHasher::FromKey(kKey);
  ASSERT_TRUE(hasher.ok());
  EXPECT_EQ(hasher->Fingerprint({"r", "u", "p", ""}),
            "hmac-sha256:2cc69a4d7f154fc75a2a7502658193d98c634ff56156dc6c29a4a745dc7e6083");
}

TEST(CredentialHasherTest, EveryFieldAndTheKeyMatter) {
  Result<CredentialHasher> hasher = CredentialHasher::FromKey(kKey);
  Result<CredentialHasher> other = CredentialHasher::FromKey(std::string(32, 'o'));
  ASSERT_TRUE(hasher.ok() && other.ok());
  const std::vector<CredentialMaterial> materials = {
      {"r.io", "alice", "pw", ""},  {"s.io", "alice", "pw", ""}, {"r.io", "bob", "pw", ""},
      {"r.io", "alice", "pw2", ""}, {"r.io", "alice", "", "pw"}, {"r.io", "alicep", "w", ""},
      {"r.io", "", "", ""},
  };
  std::set<std::string> seen;
  for (const CredentialMaterial& m : materials) seen.insert(hasher->Fingerprint(m));
  EXPECT_EQ(seen.size(), materials.size());  // including the field-boundary shift "alice|pw"
  EXPECT_NE(hasher->Fingerprint(materials[0]), other->Fingerprint(materials[0]));
}

TEST(CredentialHasherTest, RejectsShortKeys) {
  EXPECT_FALSE(CredentialHasher::FromKey("short").ok());
}

TEST(NodeKeyTest, CreatedOnceWithMode0600) {
  ScratchDir dir;
  const std::string path = dir.Join("credential-key");
  Result<std::string> first = LoadOrCreateNodeKey(path);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->size(), 32u);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  Result<std::string> second = LoadOrCreateNodeKey(path);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);

  Result<std::string> other = LoadOrCreateNodeKey(dir.Join("other-key"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*first, *other);

  dir.Write("tiny", "abc");
  Result<std::string> tiny = LoadOrCreateNodeKey(dir.Join("tiny"));
  ASSERT_FALSE(tiny.ok());
  EXPECT_EQ(tiny.error().code(), ErrorCode::kInvalidArgument);

  Result<std::string> unwritable = LoadOrCreateNodeKey(dir.Join("no/such/dir/key"));
  ASSERT_FALSE(unwritable.ok());
  EXPECT_EQ(unwritable.error().code(), ErrorCode::kIo);
}

TEST(SecretCoordinatesTest, Prints) {
  std::ostringstream out;
  out << SecretCoordinates{"team-a", "regcred", "u-1"};
  EXPECT_EQ(out.str(), "team-a/regcred (uid u-1)");
  EXPECT_EQ(ToString(SecretCoordinates{"team-a", "regcred", ""}), "team-a/regcred");
}

}  // namespace
}  // namespace pullfleet::credentials
