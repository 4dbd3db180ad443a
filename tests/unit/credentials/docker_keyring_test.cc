// Table tests for the docker-config keyring: key normalisation, the kubelet's matching rules,
// config parsing, lookup order, and that no secret reaches a message.
#include "credentials/docker_keyring.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pullfleet::credentials {
namespace {

image::Reference Ref(const std::string& text) {
  Result<image::Reference> ref = image::ParseReference(text);
  EXPECT_TRUE(ref.ok()) << text;
  return ref.ok() ? *ref : image::Reference{};
}

DockerKeyring Keyring(const std::string& json, const std::string& source = "test config") {
  Result<DockerKeyring> keyring = DockerKeyring::FromJson(json, source);
  EXPECT_TRUE(keyring.ok()) << (keyring.ok() ? "" : keyring.error().message());
  return keyring.ok() ? *keyring : DockerKeyring();
}

// "username@key" for each entry, so failures print no password.
std::vector<std::string> Who(const std::vector<AuthConfig>& auths) {
  std::vector<std::string> out;
  for (const AuthConfig& a : auths) out.push_back(a.username + "@" + a.matched_key);
  return out;
}

// ---- matching ----

struct MatchCase {
  std::string pattern;
  std::string target;
  bool want;
};

void PrintTo(const MatchCase& c, std::ostream* out) {
  *out << c.pattern << " vs " << c.target;
}

class KeyMatchesImageTest : public testing::TestWithParam<MatchCase> {};

TEST_P(KeyMatchesImageTest, FollowsKubernetesRules) {
  const MatchCase& c = GetParam();
  EXPECT_EQ(KeyMatchesImage(c.pattern, c.target), c.want) << c.pattern << " vs " << c.target;
}

INSTANTIATE_TEST_SUITE_P(
    Table, KeyMatchesImageTest,
    testing::Values(
        // The "Container Images" concept page's examples.
        MatchCase{"*.kubernetes.io", "abc.kubernetes.io/app", true},
        MatchCase{"*.kubernetes.io", "kubernetes.io/app", false},
        MatchCase{"*.*.kubernetes.io", "abc.def.kubernetes.io/app", true},
        MatchCase{"*.*.kubernetes.io", "abc.kubernetes.io/app", false},
        MatchCase{"prefix.*.io", "prefix.kubernetes.io/app", true},
        MatchCase{"*-good.kubernetes.io", "prefix-good.kubernetes.io/app", true},
        MatchCase{"*-good.kubernetes.io", "prefix-bad.kubernetes.io/app", false},
        MatchCase{"my-registry.io/images", "my-registry.io/images/app", true},
        MatchCase{"my-registry.io/images", "my-registry.io/other/app", false},
        // Paths are prefixes of whole components.
        MatchCase{"registry.io/foo", "registry.io/foo/bar", true},
        MatchCase{"registry.io/foo", "registry.io/foo", true},
        MatchCase{"registry.io/foo", "registry.io/foobar", false},
        MatchCase{"registry.io/foo/", "registry.io/foo/bar", true},
        MatchCase{"registry.io/foo/bar", "registry.io/foo", false},
        MatchCase{"registry.io", "registry.io/anything/at/all", true},
        // Ports must be equal.
        MatchCase{"registry.io:5000", "registry.io:5000/x", true},
        MatchCase{"registry.io", "registry.io:5000/x", false},
        MatchCase{"registry.io:5000", "registry.io/x", false},
        MatchCase{"registry.io:5000", "registry.io:5001/x", false},
        MatchCase{"localhost:5000", "localhost:5000/foo", true},
        MatchCase{"127.0.0.1:5000", "127.0.0.1:5000/foo", true},
        MatchCase{"127.0.0.*:5000", "127.0.0.1:5000/foo", true},
        MatchCase{"[::1]:5000", "[::1]:5000/foo", true},
        MatchCase{"[::1]:5000", "[::2]:5000/foo", false},
        // Label globs as filepath.Match.
        MatchCase{"*.docker.io", "blah.docker.io/x", true},
        MatchCase{"*.docker.io", "not.right.io/x", false}, MatchCase{"*", "localhost/x", true},
        MatchCase{"*", "docker.io/x", false},
        // As in the kubelet, a key is a URL: '?' starts its query, so "reg?.io" is host "reg".
        MatchCase{"reg?.io", "reg1.io/x", false}, MatchCase{"reg?", "reg/x", true},
        MatchCase{"reg[0-9].io", "reg7.io/x", true}, MatchCase{"reg[0-9].io", "regx.io/x", false},
        MatchCase{"reg[a-c-].io", "reg-.io/x", false},  // malformed range matches nothing
        // '^' and '\\' are not valid in a URL host, so such keys match nothing (kubelet too).
        MatchCase{"reg[^0-9].io", "regx.io/x", false}, MatchCase{"reg\\*.io", "reg*.io/x", false},
        MatchCase{"reg[.io", "reg[.io/x", false},   // malformed glob matches nothing
        MatchCase{"reg[].io", "reg].io/x", false},  // malformed glob matches nothing
        // Case-sensitive, as the kubelet compares.
        MatchCase{"Registry.io", "registry.io/x", false},
        MatchCase{"docker.io", "docker.io/library/busybox", true},
        MatchCase{"index.docker.io", "docker.io/library/busybox", false}));

// ---- key normalisation ----

TEST(NormalizeKeyTest, StripsSchemeApiVersionAndTrailingSlash) {
  struct Case {
    std::string key;
    std::string want;
  };
  for (const Case& c : {
           Case{"https://index.docker.io/v1/", "index.docker.io"},
           Case{"index.docker.io/v1/", "index.docker.io"},
           Case{"http://registry.io", "registry.io"},
           Case{"registry.io/v2/", "registry.io"},
           Case{"registry.io/v2/team", "registry.io/team"},
           Case{"registry.io/v1/team/", "registry.io/team"},
           Case{"registry.io/team/", "registry.io/team"},
           Case{"registry.io/", "registry.io"},
           Case{"registry.io:5000/team", "registry.io:5000/team"},
           Case{"https://user:hunter2@registry.io/x", "registry.io/x"},
           Case{"*.kubernetes.io", "*.kubernetes.io"},
           Case{"[::1]:5000", "[::1]:5000"},
       }) {
    Result<std::string> key = NormalizeKey(c.key);
    ASSERT_TRUE(key.ok()) << c.key << ": " << key.error().message();
    EXPECT_EQ(*key, c.want) << c.key;
  }
}

TEST(NormalizeKeyTest, RejectsUnusableKeys) {
  struct Case {
    std::string key;
    std::string message;
  };
  for (const Case& c : {
           Case{"", "registry key \"\" has no host"},
           Case{"https:///team", "registry key \"https:///team\" has no host"},
           Case{"registry.io:abc", "registry key \"registry.io:abc\" has an invalid port"},
           Case{"reg istry.io",
                "registry key \"reg istry.io\" has an invalid character in its host"},
           Case{"[::1", "registry key \"[::1\" has an unclosed '[' in its host"},
           Case{"https://user:hunter2@reg.io:x",
                "registry key \"https://<redacted>@reg.io:x\" has an invalid port"},
       }) {
    Result<std::string> key = NormalizeKey(c.key);
    ASSERT_FALSE(key.ok()) << c.key << " -> " << *key;
    EXPECT_EQ(key.error().message(), c.message);
  }
}

// ---- parsing ----

TEST(DockerKeyringTest, ParsesConfigJsonAuthField) {
  DockerKeyring keyring = Keyring(R"({"auths": {
      "https://registry.example.com:5000/team": {"auth": "YWxpY2U6czNjcjN0", "email": "a@b.c"},
      "unpadded.example.com": {"auth": "Y2Fyb2w6eA"},
      "colon.example.com": {"auth": "Ym9iOnBhOnNz"}
    }, "credsStore": "desktop"})");
  ASSERT_EQ(keyring.size(), 3u);

  std::vector<AuthConfig> found = keyring.Lookup(Ref("registry.example.com:5000/team/app:1"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].username, "alice");
  EXPECT_TRUE(found[0].password == "s3cr3t");
  EXPECT_EQ(found[0].matched_key, "registry.example.com:5000/team");
  EXPECT_EQ(found[0].source, "test config");

  found = keyring.Lookup(Ref("unpadded.example.com/app"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].username, "carol");
  EXPECT_TRUE(found[0].password == "x");

  found = keyring.Lookup(Ref("colon.example.com/app"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].username, "bob");
  EXPECT_TRUE(found[0].password == "pa:ss");  // split at the first ':'
}

TEST(DockerKeyringTest, UsernamePasswordFieldsAndAuthWins) {
  DockerKeyring keyring = Keyring(R"({"auths": {
      "plain.example.com": {"username": "dave", "password": "pw1"},
      "both.example.com": {"username": "ignored", "password": "ignored", "auth": "YWxpY2U6czNjcjN0"},
      "emptyauth.example.com": {"username": "erin", "password": "pw2", "auth": ""}
    }})");
  auto one = [&](const std::string& image) {
    std::vector<AuthConfig> found = keyring.Lookup(Ref(image));
    EXPECT_EQ(found.size(), 1u) << image;
    return found.empty() ? AuthConfig{} : found[0];
  };
  EXPECT_EQ(one("plain.example.com/a").username, "dave");
  EXPECT_TRUE(one("plain.example.com/a").password == "pw1");
  EXPECT_EQ(one("both.example.com/a").username, "alice");
  EXPECT_TRUE(one("both.example.com/a").password == "s3cr3t");
  EXPECT_EQ(one("emptyauth.example.com/a").username, "erin");
}

TEST(DockerKeyringTest, ParsesLegacyDockercfg) {
  DockerKeyring keyring = Keyring(R"({
      "https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcjN0", "email": "x@y.z"},
      "quay.io": {"username": "q", "password": "qq"}
    })");
  ASSERT_EQ(keyring.size(), 2u);
  EXPECT_EQ(Who(keyring.Lookup(Ref("busybox"))),
            (std::vector<std::string>{"alice@index.docker.io"}));
  EXPECT_EQ(Who(keyring.Lookup(Ref("quay.io/a/b"))), (std::vector<std::string>{"q@quay.io"}));
}

TEST(DockerKeyringTest, ConfigWithoutAuthsIsEmpty) {
  EXPECT_EQ(Keyring(R"({"credsStore": "desktop"})").size(), 0u);
  EXPECT_EQ(Keyring(R"({"auths": {}})").size(), 0u);
  EXPECT_EQ(Keyring(R"({})").size(), 0u);
}

TEST(DockerKeyringTest, SkipsUnusableKeysWithAWarning) {
  DockerKeyring keyring = Keyring(R"({"auths": {
      "registry.io:abc": {"username": "u", "password": "p"},
      "good.io": {"username": "g", "password": "p"}}})",
                                  "secret default/regcred");
  EXPECT_EQ(keyring.size(), 1u);
  ASSERT_EQ(keyring.warnings().size(), 1u);
  EXPECT_EQ(
      keyring.warnings()[0],
      "secret default/regcred: ignoring registry key \"registry.io:abc\" has an invalid port");
}

struct BadConfigCase {
  std::string name;
  std::string json;
  std::string message;
};

void PrintTo(const BadConfigCase& c, std::ostream* out) {
  *out << c.name;
}

class BadConfigTest : public testing::TestWithParam<BadConfigCase> {};

const char kSecret[] = "hunter2";

TEST_P(BadConfigTest, FailsNamingSourceAndProblemButNoSecret) {
  const BadConfigCase& c = GetParam();
  Result<DockerKeyring> keyring = DockerKeyring::FromJson(c.json, "secret ns/pull");
  ASSERT_FALSE(keyring.ok());
  EXPECT_EQ(keyring.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(keyring.error().message(), c.message);
  EXPECT_EQ(keyring.error().message().find(kSecret), std::string::npos);
  EXPECT_EQ(keyring.error().message().find("aHVudGVy"), std::string::npos);  // base64 "hunter"
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadConfigTest,
    testing::Values(
        BadConfigCase{"truncated", "{\"auths\": {\"r.io\": {\"password\": \"hunter2",
                      "secret ns/pull: invalid JSON at line 1, column 41"},
        BadConfigCase{"second_line", "{\"auths\": {\n  \"r.io\": {\"password\": hunter2}}}",
                      "secret ns/pull: invalid JSON at line 2, column 24"},
        BadConfigCase{"empty", "", "secret ns/pull: invalid JSON at line 1, column 1"},
        BadConfigCase{"array", "[1, 2]", "secret ns/pull: expected a JSON object, got array"},
        BadConfigCase{"auths_not_object", R"({"auths": "hunter2"})",
                      "secret ns/pull: \"auths\" must be a JSON object"},
        BadConfigCase{"entry_not_object", R"({"auths": {"r.io": "hunter2"}})",
                      "secret ns/pull: entry \"r.io\" must be a JSON object"},
        BadConfigCase{"legacy_entry_not_object", R"({"r.io": 5})",
                      "secret ns/pull: entry \"r.io\" must be a JSON object"},
        BadConfigCase{"password_not_string", R"({"auths": {"r.io": {"password": 5}}})",
                      "secret ns/pull: entry \"r.io\": field \"password\" must be a string"},
        BadConfigCase{"auth_not_base64", R"({"auths": {"r.io": {"auth": "hunter2!!"}}})",
                      "secret ns/pull: entry \"r.io\": field \"auth\" is not valid base64"},
        BadConfigCase{"auth_bad_padding", R"({"auths": {"r.io": {"auth": "aHVudGVy="}}})",
                      "secret ns/pull: entry \"r.io\": field \"auth\" is not valid base64"},
        BadConfigCase{"auth_without_colon", R"({"auths": {"r.io": {"auth": "aHVudGVyMg=="}}})",
                      "secret ns/pull: entry \"r.io\": field \"auth\" must be formatted as "
                      "base64(username:password)"},
        BadConfigCase{"key_with_userinfo",
                      R"({"auths": {"https://u:hunter2@r.io": {"auth": "%%%"}}})",
                      "secret ns/pull: entry \"https://<redacted>@r.io\": field \"auth\" is not "
                      "valid base64"}),
    [](const testing::TestParamInfo<BadConfigCase>& info) { return info.param.name; });

// ---- lookup order ----

TEST(DockerKeyringLookupTest, MostSpecificKeyFirstInReverseLexicographicOrder) {
  DockerKeyring keyring = Keyring(R"({"auths": {
      "quay.io": {"username": "host", "password": "p"},
      "quay.io/coreos": {"username": "org", "password": "p"},
      "quay.io/coreos/etcd": {"username": "repo", "password": "p"},
      "*.io": {"username": "glob", "password": "p"},
      "quay.io/other": {"username": "other", "password": "p"}}})");
  EXPECT_EQ(Who(keyring.Lookup(Ref("quay.io/coreos/etcd:v3"))),
            (std::vector<std::string>{"repo@quay.io/coreos/etcd", "org@quay.io/coreos",
                                      "host@quay.io", "glob@*.io"}));
  EXPECT_EQ(Who(keyring.Lookup(Ref("quay.io/coreos/etcdx"))),
            (std::vector<std::string>{"org@quay.io/coreos", "host@quay.io", "glob@*.io"}));
  EXPECT_TRUE(keyring.Lookup(Ref("gcr.io.example.com/x")).empty());
}

TEST(DockerKeyringLookupTest, SameKeyWrittenTwiceKeepsBothInDocumentOrder) {
  DockerKeyring keyring = Keyring(R"({"auths": {
      "https://registry.io/v2/": {"username": "first", "password": "p"},
      "registry.io": {"username": "second", "password": "p"}}})");
  EXPECT_EQ(Who(keyring.Lookup(Ref("registry.io/a"))),
            (std::vector<std::string>{"first@registry.io", "second@registry.io"}));
}

TEST(DockerKeyringLookupTest, DockerHubFallsBackToIndexDockerIo) {
  DockerKeyring keyring = Keyring(R"({"auths": {
      "https://index.docker.io/v1/": {"username": "hub", "password": "p"},
      "docker.io/team": {"username": "team", "password": "p"}}})");
  struct Case {
    std::string image;
    std::vector<std::string> want;
  };
  for (const Case& c : {
           Case{"busybox", {"hub@index.docker.io"}},
           Case{"docker.io/library/busybox:1", {"hub@index.docker.io"}},
           Case{"index.docker.io/user/app", {"hub@index.docker.io"}},
           // As the kubelet: the index.docker.io entry is only used when nothing else matched.
           Case{"team/app", {"team@docker.io/team"}},
           Case{"localhost/app", {}},  // never Docker Hub credentials for localhost
           Case{"registry.io/app", {}},
       }) {
    EXPECT_EQ(Who(keyring.Lookup(Ref(c.image))), c.want) << c.image;
  }
}

TEST(DockerKeyringLookupTest, MergePutsOtherKeyringAfterAllOfThisOne) {
  DockerKeyring secrets =
      Keyring(R"({"auths": {"registry.io": {"username": "pod"}}})", "secret ns/a");
  const DockerKeyring node = Keyring(R"({"auths": {"registry.io/team": {"username": "node"},
                            "index.docker.io": {"username": "nodehub"}}})",
                                     "node config");
  secrets.Merge(node);
  EXPECT_EQ(secrets.size(), 3u);
  std::vector<AuthConfig> found = secrets.Lookup(Ref("registry.io/team/app"));
  EXPECT_EQ(Who(found), (std::vector<std::string>{"pod@registry.io", "node@registry.io/team"}));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].source, "secret ns/a");
  EXPECT_EQ(found[1].source, "node config");
  // The Docker Hub fallback works per group.
  EXPECT_EQ(Who(secrets.Lookup(Ref("busybox"))),
            (std::vector<std::string>{"nodehub@index.docker.io"}));
}

TEST(DockerKeyringLookupTest, AddSortsSecretsTogether) {
  DockerKeyring first = Keyring(R"({"registry.io": {"username": "a"}})", "secret ns/a");
  const DockerKeyring second =
      Keyring(R"({"auths": {"registry.io/team": {"username": "b"}}})", "secret ns/b");
  first.Add(second);
  EXPECT_EQ(Who(first.Lookup(Ref("registry.io/team/app"))),
            (std::vector<std::string>{"b@registry.io/team", "a@registry.io"}));

  DockerKeyring empty;
  empty.Merge(first);
  EXPECT_EQ(Who(empty.Lookup(Ref("registry.io/team/app"))),
            (std::vector<std::string>{"b@registry.io/team", "a@registry.io"}));
}

// ---- files and printing ----

TEST(DockerKeyringTest, FromFile) {
  const std::string path = testing::TempDir() + "pf_keyring_" + std::to_string(getpid()) + ".json";
  {
    std::ofstream out(path);
    out << R"({"auths": {"registry.io": {"auth": "YWxpY2U6czNjcjN0"}}})";
  }
  Result<DockerKeyring> keyring = DockerKeyring::FromFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(keyring.ok()) << keyring.error().message();
  std::vector<AuthConfig> found = keyring->Lookup(Ref("registry.io/x"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].source, "docker config " + path);

  Result<DockerKeyring> missing = DockerKeyring::FromFile("/nonexistent/pf/config.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kIo);
  EXPECT_EQ(missing.error().message(),
            "read docker config /nonexistent/pf/config.json: No such file or directory");
}

TEST(DockerKeyringTest, PrintingAnAuthConfigHidesThePassword) {
  AuthConfig auth{"alice", kSecret, "registry.io", "node config"};
  std::ostringstream out;
  out << auth;
  EXPECT_EQ(out.str(),
            "AuthConfig{key=registry.io, source=node config, username=alice, password=<redacted>}");
  EXPECT_EQ(testing::PrintToString(auth).find(kSecret), std::string::npos);
}

}  // namespace
}  // namespace pullfleet::credentials
