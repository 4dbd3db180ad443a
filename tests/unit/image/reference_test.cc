// Table tests for image reference parsing: distribution's grammar as the kubelet applies it.
#include "image/reference.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pullfleet::image {
namespace {

const std::string kHex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kHex96 = kHex64 + "0123456789abcdef0123456789abcdef";
const std::string kHex128 = kHex64 + kHex64;

struct ValidCase {
  std::string name;
  std::string input;
  std::string domain;
  std::string path;
  std::string tag;
  std::string digest;
  std::string normalized;
  std::string familiar;
};

void PrintTo(const ValidCase& c, std::ostream* out) {
  *out << c.name << " " << c.input;
}

class ValidReferenceTest : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidReferenceTest, Parses) {
  const ValidCase& c = GetParam();
  Result<Reference> ref = ParseReference(c.input);
  ASSERT_TRUE(ref.ok()) << c.input << ": " << ref.error().message();
  EXPECT_EQ(ref->domain, c.domain);
  EXPECT_EQ(ref->path, c.path);
  EXPECT_EQ(ref->tag, c.tag);
  EXPECT_EQ(ref->digest, c.digest);
  EXPECT_EQ(ref->Normalized(), c.normalized);
  EXPECT_EQ(ref->Familiar(), c.familiar);
  EXPECT_EQ(ref->Repository(), c.domain + "/" + c.path);
}

const ValidCase kValid[] = {
    {"bare_name", "busybox", "docker.io", "library/busybox", "", "",
     "docker.io/library/busybox:latest", "busybox"},
    {"bare_name_tag", "busybox:1.36", "docker.io", "library/busybox", "1.36", "",
     "docker.io/library/busybox:1.36", "busybox:1.36"},
    {"docker_io_prefix", "docker.io/busybox", "docker.io", "library/busybox", "", "",
     "docker.io/library/busybox:latest", "busybox"},
    {"index_docker_io", "index.docker.io/busybox:1", "docker.io", "library/busybox", "1", "",
     "docker.io/library/busybox:1", "busybox:1"},
    {"index_docker_io_user", "index.docker.io/user/app", "docker.io", "user/app", "", "",
     "docker.io/user/app:latest", "user/app"},
    {"hub_user_repo", "user/app:v1", "docker.io", "user/app", "v1", "", "docker.io/user/app:v1",
     "user/app:v1"},
    {"hub_library_nested", "docker.io/library/a/b", "docker.io", "library/a/b", "", "",
     "docker.io/library/a/b:latest", "library/a/b"},
    {"registry_corpus", "registry:2.6.2", "docker.io", "library/registry", "2.6.2", "",
     "docker.io/library/registry:2.6.2", "registry:2.6.2"},
    {"domain_with_port_no_dot", "registry:5000/kubevirt/x:devel", "registry:5000", "kubevirt/x",
     "devel", "", "registry:5000/kubevirt/x:devel", "registry:5000/kubevirt/x:devel"},
    {"nginx_digest", "nginx@sha256:" + kHex64, "docker.io", "library/nginx", "", "sha256:" + kHex64,
     "docker.io/library/nginx@sha256:" + kHex64, "nginx@sha256:" + kHex64},
    {"tag_and_digest", "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:" + kHex64,
     "registry.k8s.io", "ingress-nginx/controller", "v1.15.1", "sha256:" + kHex64,
     "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:" + kHex64,
     "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:" + kHex64},
    {"localhost", "localhost/foo", "localhost", "foo", "", "", "localhost/foo:latest",
     "localhost/foo"},
    {"localhost_port", "localhost:5000/foo/bar:1", "localhost:5000", "foo/bar", "1", "",
     "localhost:5000/foo/bar:1", "localhost:5000/foo/bar:1"},
    {"ipv4_port", "127.0.0.1:5000/busybox:1.36", "127.0.0.1:5000", "busybox", "1.36", "",
     "127.0.0.1:5000/busybox:1.36", "127.0.0.1:5000/busybox:1.36"},
    {"ipv6", "[::1]:5000/foo", "[::1]:5000", "foo", "", "", "[::1]:5000/foo:latest",
     "[::1]:5000/foo"},
    {"ipv6_no_port", "[fe80::1]/foo", "[fe80::1]", "foo", "", "", "[fe80::1]/foo:latest",
     "[fe80::1]/foo"},
    {"bare_localhost_port_is_tag", "localhost:5000", "docker.io", "library/localhost", "5000", "",
     "docker.io/library/localhost:5000", "localhost:5000"},
    {"quay", "quay.io/x/y:1", "quay.io", "x/y", "1", "", "quay.io/x/y:1", "quay.io/x/y:1"},
    {"separators", "example.com/a.b_c__d---e/f", "example.com", "a.b_c__d---e/f", "", "",
     "example.com/a.b_c__d---e/f:latest", "example.com/a.b_c__d---e/f"},
    {"uppercase_tag", "busybox:Latest_1.x-Y", "docker.io", "library/busybox", "Latest_1.x-Y", "",
     "docker.io/library/busybox:Latest_1.x-Y", "busybox:Latest_1.x-Y"},
    {"tag_starts_underscore", "busybox:_x", "docker.io", "library/busybox", "_x", "",
     "docker.io/library/busybox:_x", "busybox:_x"},
    {"max_tag", "busybox:" + std::string(128, 'a'), "docker.io", "library/busybox",
     std::string(128, 'a'), "", "docker.io/library/busybox:" + std::string(128, 'a'),
     "busybox:" + std::string(128, 'a')},
    {"sha384", "example.com/a@sha384:" + kHex96, "example.com", "a", "", "sha384:" + kHex96,
     "example.com/a@sha384:" + kHex96, "example.com/a@sha384:" + kHex96},
    {"sha512", "example.com/a@sha512:" + kHex128, "example.com", "a", "", "sha512:" + kHex128,
     "example.com/a@sha512:" + kHex128, "example.com/a@sha512:" + kHex128},
    // distribution v0.6 treats an uppercase first component as a registry host.
    {"uppercase_first_component_is_domain", "Foo/bar", "Foo", "bar", "", "", "Foo/bar:latest",
     "Foo/bar"},
    // A ':' in the first component makes it a host, even where a tag was probably meant.
    {"colon_first_component_is_host", "busybox:1/2", "busybox:1", "2", "", "", "busybox:1/2:latest",
     "busybox:1/2"},
    {"hex_path_with_domain", "example.com/" + kHex64, "example.com", kHex64, "", "",
     "example.com/" + kHex64 + ":latest", "example.com/" + kHex64},
    // The 255-character limit is on the path only (distribution v0.6).
    {"path_255", "example.com/" + std::string(255, 'a'), "example.com", std::string(255, 'a'), "",
     "", "example.com/" + std::string(255, 'a') + ":latest",
     "example.com/" + std::string(255, 'a')},
    {"bare_247", std::string(247, 'a'), "docker.io", "library/" + std::string(247, 'a'), "", "",
     "docker.io/library/" + std::string(247, 'a') + ":latest", std::string(247, 'a')},
};

INSTANTIATE_TEST_SUITE_P(Table, ValidReferenceTest, testing::ValuesIn(kValid),
                         [](const testing::TestParamInfo<ValidCase>& info) {
                           return info.param.name;
                         });

struct InvalidCase {
  std::string name;
  std::string input;
  std::string message;  // the whole message
};

void PrintTo(const InvalidCase& c, std::ostream* out) {
  *out << c.name << " " << c.input;
}

class InvalidReferenceTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidReferenceTest, FailsWithMessage) {
  const InvalidCase& c = GetParam();
  Result<Reference> ref = ParseReference(c.input);
  ASSERT_FALSE(ref.ok()) << c.input << " parsed as " << ref->Normalized();
  EXPECT_EQ(ref.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ref.error().message(), c.message);
}

const std::string kPrefix = "couldn't parse image name ";

const InvalidCase kInvalid[] = {
    // Docker's lowercase check runs before the grammar, so names with capitals report it.
    {"placeholder", "<YOUR-CONTAINER>",
     kPrefix + "\"<YOUR-CONTAINER>\": invalid reference format: repository name "
               "(library/<YOUR-CONTAINER>) must be lowercase"},
    {"placeholder_lowercase", "<your-container>",
     kPrefix + "\"<your-container>\": invalid reference format"},
    {"shell_variable", "$imageMysql",
     kPrefix + "\"$imageMysql\": invalid reference format: repository name "
               "(library/$imageMysql) must be lowercase"},
    {"shell_variable_lowercase", "$image", kPrefix + "\"$image\": invalid reference format"},
    {"uppercase", "Busybox",
     kPrefix + "\"Busybox\": invalid reference format: repository name (library/Busybox) must "
               "be lowercase"},
    {"uppercase_path", "example.com/Foo/bar:1",
     kPrefix + "\"example.com/Foo/bar:1\": invalid reference format: repository name (Foo/bar) "
               "must be lowercase"},
    {"uppercase_after_domain_underscore", "Foo_x/bar",
     kPrefix + "\"Foo_x/bar\": invalid reference format: repository name must be lowercase"},
    {"empty", "", kPrefix + "\"\": invalid reference format"},
    {"identifier", kHex64,
     kPrefix + "\"" + kHex64 + "\": invalid repository name (" + kHex64 +
         "), cannot specify 64-byte hexadecimal strings"},
    {"too_long_bare", std::string(256, 'a'),
     kPrefix + "\"" + std::string(256, 'a') +
         "\": repository name must not be more than 255 characters (264 given)"},
    {"too_long_path", "example.com/" + std::string(256, 'a'),
     kPrefix + "\"example.com/" + std::string(256, 'a') +
         "\": repository name must not be more than 255 characters (256 given)"},
    {"empty_tag", "busybox:", kPrefix + "\"busybox:\": invalid reference format"},
    {"tag_too_long", "busybox:" + std::string(129, 'a'),
     kPrefix + "\"busybox:" + std::string(129, 'a') + "\": invalid reference format"},
    {"tag_starts_dot", "busybox:.x", kPrefix + "\"busybox:.x\": invalid reference format"},
    {"tag_starts_dash", "busybox:-x", kPrefix + "\"busybox:-x\": invalid reference format"},
    {"empty_digest", "busybox@", kPrefix + "\"busybox@\": invalid reference format"},
    {"short_hex", "busybox@sha256:abc",
     kPrefix + "\"busybox@sha256:abc\": invalid reference format"},
    {"digest_wrong_length", "busybox@sha256:" + kHex64.substr(1),
     kPrefix + "\"busybox@sha256:" + kHex64.substr(1) +
         "\": invalid checksum digest length: sha256 needs 64 hex characters, got 63"},
    {"sha512_wrong_length", "busybox@sha512:" + kHex64,
     kPrefix + "\"busybox@sha512:" + kHex64 +
         "\": invalid checksum digest length: sha512 needs 128 hex characters, got 64"},
    {"digest_uppercase_hex", "busybox@sha256:" + std::string(64, 'A'),
     kPrefix + "\"busybox@sha256:" + std::string(64, 'A') +
         "\": invalid checksum digest format: sha256 digest must be lowercase hex"},
    {"unknown_algorithm", "busybox@md5:" + kHex64.substr(0, 32),
     kPrefix + "\"busybox@md5:" + kHex64.substr(0, 32) +
         "\": unsupported digest algorithm \"md5\" (supported: sha256, sha384, sha512)"},
    {"uppercase_algorithm_hits_lowercase_check", "busybox@SHA256:" + kHex64,
     kPrefix + "\"busybox@SHA256:" + kHex64 +
         "\": invalid reference format: repository name (library/busybox@SHA256) must be "
         "lowercase"},
    {"uppercase_algorithm", "example.com/a:1@SHA256:" + kHex64,
     kPrefix + "\"example.com/a:1@SHA256:" + kHex64 + "\": invalid checksum digest format"},
    {"algorithm_starts_digit", "busybox@5ha:" + kHex64,
     kPrefix + "\"busybox@5ha:" + kHex64 + "\": invalid reference format"},
    {"double_at", "busybox@sha256:" + kHex64 + "@sha256:" + kHex64,
     kPrefix + "\"busybox@sha256:" + kHex64 + "@sha256:" + kHex64 + "\": invalid reference format"},
    {"trailing_slash", "example.com/foo/",
     kPrefix + "\"example.com/foo/\": invalid reference format"},
    {"double_slash", "example.com//foo",
     kPrefix + "\"example.com//foo\": invalid reference format"},
    {"leading_separator", "example.com/-foo",
     kPrefix + "\"example.com/-foo\": invalid reference format"},
    {"trailing_separator", "example.com/foo-",
     kPrefix + "\"example.com/foo-\": invalid reference format"},
    {"triple_underscore", "a___b", kPrefix + "\"a___b\": invalid reference format"},
    {"dot_dot", "a..b", kPrefix + "\"a..b\": invalid reference format"},
    {"bad_port", "example.com:abc/foo",
     kPrefix + "\"example.com:abc/foo\": invalid reference format"},
    {"empty_port", "example.com:/foo", kPrefix + "\"example.com:/foo\": invalid reference format"},
    {"domain_only", "example.com/", kPrefix + "\"example.com/\": invalid reference format"},
    {"space", "busy box", kPrefix + "\"busy box\": invalid reference format"},
    {"tag_slash", "example.com/busybox:1/2",
     kPrefix + "\"example.com/busybox:1/2\": invalid reference format"},
    {"unbracketed_ipv6", "::1/foo", kPrefix + "\"::1/foo\": invalid reference format"},
    {"empty_brackets", "[]:5000/foo", kPrefix + "\"[]:5000/foo\": invalid reference format"},
    {"domain_dash_edge", "-example.com/foo",
     kPrefix + "\"-example.com/foo\": invalid reference format"},
    // distribution would accept this as a path without a registry; pullfleet rejects it.
    {"underscore_host", "my_host.com/foo",
     kPrefix + "\"my_host.com/foo\": invalid reference format: registry host (my_host.com) is "
               "not a valid host name"},
    {"quote_escaped", "a\"b\n", kPrefix + "\"a\\\"b\\x0a\": invalid reference format"},
};

INSTANTIATE_TEST_SUITE_P(Table, InvalidReferenceTest, testing::ValuesIn(kInvalid),
                         [](const testing::TestParamInfo<InvalidCase>& info) {
                           return info.param.name;
                         });

TEST(ReferenceTest, ManifestReferencePrefersDigestThenTagThenLatest) {
  struct Case {
    std::string input;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"busybox", "latest"},
      {"busybox:1.36", "1.36"},
      {"busybox@sha256:" + kHex64, "sha256:" + kHex64},
      {"busybox:1.36@sha256:" + kHex64, "sha256:" + kHex64},
  };
  for (const Case& c : cases) {
    Result<Reference> ref = ParseReference(c.input);
    ASSERT_TRUE(ref.ok()) << c.input;
    EXPECT_EQ(ref->ManifestReference(), c.want) << c.input;
  }
}

TEST(ReferenceTest, NormalizedAddsLatestOnlyWithoutTagAndDigest) {
  Reference ref{"docker.io", "library/busybox", "", ""};
  EXPECT_EQ(ref.Normalized(), "docker.io/library/busybox:latest");
  ref.digest = "sha256:" + kHex64;
  EXPECT_EQ(ref.Normalized(), "docker.io/library/busybox@sha256:" + kHex64);
  ref.tag = "1";
  EXPECT_EQ(ref.Normalized(), "docker.io/library/busybox:1@sha256:" + kHex64);
}

TEST(ReferenceTest, NormalizedFormParsesBackToTheSameReference) {
  for (const ValidCase& c : kValid) {
    Result<Reference> first = ParseReference(c.input);
    ASSERT_TRUE(first.ok()) << c.input;
    Result<Reference> again = ParseReference(first->Normalized());
    ASSERT_TRUE(again.ok()) << first->Normalized();
    EXPECT_EQ(again->Normalized(), first->Normalized());
    Result<Reference> familiar = ParseReference(first->Familiar());
    ASSERT_TRUE(familiar.ok()) << first->Familiar();
    EXPECT_EQ(familiar->Repository(), first->Repository()) << c.input;
  }
}

}  // namespace
}  // namespace pullfleet::image
