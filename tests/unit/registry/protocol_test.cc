#include "registry/protocol.h"

#include <gtest/gtest.h>

#include "registry/client.h"

namespace pullfleet::registry {
namespace {

struct ChallengeCase {
  const char* name;
  const char* header;
  std::vector<Challenge> want;
};

TEST(ParseChallenges, Table) {
  const ChallengeCase cases[] = {
      {"docker hub bearer",
       R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")",
       {{"bearer",
         {{"realm", "https://auth.docker.io/token"},
          {"service", "registry.docker.io"},
          {"scope", "repository:library/busybox:pull"}}}}},
      {"basic", R"(Basic realm="Registry Realm")", {{"basic", {{"realm", "Registry Realm"}}}}},
      {"scheme case and spaces",
       R"(  bEaReR   realm = "r" , service=svc)",
       {{"bearer", {{"realm", "r"}, {"service", "svc"}}}}},
      {"insufficient scope",
       R"(Bearer realm="http://127.0.0.1:1/token",service="s",scope="repository:a:pull",error="insufficient_scope")",
       {{"bearer",
         {{"realm", "http://127.0.0.1:1/token"},
          {"service", "s"},
          {"scope", "repository:a:pull"},
          {"error", "insufficient_scope"}}}}},
      {"escaped quote",
       R"(Basic realm="a \"quoted\" realm")",
       {{"basic", {{"realm", R"(a "quoted" realm)"}}}}},
      {"two challenges",
       R"(Basic realm="x", Bearer realm="y",service="z")",
       {{"basic", {{"realm", "x"}}}, {"bearer", {{"realm", "y"}, {"service", "z"}}}}},
      {"scope with commas",
       R"(Bearer realm="r",scope="repository:a:pull,push")",
       {{"bearer", {{"realm", "r"}, {"scope", "repository:a:pull,push"}}}}},
      {"bare scheme", "Negotiate", {{"negotiate", {}}}},
      {"empty", "", {}},
      {"unterminated quote", R"(Basic realm="open)", {{"basic", {{"realm", "open"}}}}},
  };
  for (const auto& c : cases) {
    auto got = ParseChallenges(c.header);
    ASSERT_EQ(got.size(), c.want.size()) << c.name;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].scheme, c.want[i].scheme) << c.name;
      EXPECT_EQ(got[i].params, c.want[i].params) << c.name;
    }
  }
}

TEST(ParseTokenReply, TokenAccessTokenAndExpiry) {
  auto a = ParseTokenReply(R"({"token":"t1","expires_in":300})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->token, "t1");
  EXPECT_EQ(a->expires_in_s, 300);

  auto b = ParseTokenReply(R"({"access_token":"t2"})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->token, "t2");
  EXPECT_EQ(b->expires_in_s, 60);  // the spec's default

  auto c = ParseTokenReply(R"({"token":"","access_token":"t3","expires_in":0})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->token, "t3");
  EXPECT_EQ(c->expires_in_s, 60);

  EXPECT_EQ(ParseTokenReply(R"({"expires_in":5})").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseTokenReply("not json").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseTokenReply("[1]").error().code(), ErrorCode::kInvalidArgument);
}

TEST(ErrorCodeForStatus, Table) {
  const std::pair<long, ErrorCode> cases[] = {
      {401, ErrorCode::kUnauthorized},    {403, ErrorCode::kForbidden},
      {404, ErrorCode::kNotFound},        {429, ErrorCode::kRateLimited},
      {500, ErrorCode::kRegistryError},   {503, ErrorCode::kRegistryError},
      {400, ErrorCode::kInvalidArgument},
  };
  for (const auto& [status, code] : cases) {
    EXPECT_EQ(ErrorCodeForStatus(status), code) << status;
  }
}

TEST(DescribeHttpError, UsesRegistryErrorBody) {
  EXPECT_EQ(DescribeHttpError(
                404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"),
            "HTTP 404 MANIFEST_UNKNOWN: manifest unknown");
  EXPECT_EQ(DescribeHttpError(503, "<html>oops</html>"), "HTTP 503");
  EXPECT_EQ(DescribeHttpError(500, ""), "HTTP 500");
  EXPECT_EQ(DescribeHttpError(400, R"({"errors":[{"code":"X\u0001Y"}]})"), "HTTP 400 X Y");
}

TEST(Names, RepositoryTable) {
  const std::pair<const char*, bool> cases[] = {
      {"library/busybox", true},
      {"busybox", true},
      {"a/b/c", true},
      {"my-app_x.y", true},
      {"a__b", true},
      {"a--b", true},
      {"", false},
      {"Busybox", false},
      {"a//b", false},
      {"/a", false},
      {"a/", false},
      {"a/../b", false},
      {"a?b", false},
      {"a b", false},
      {"-a", false},
  };
  for (const auto& [name, valid] : cases) EXPECT_EQ(IsValidRepository(name), valid) << name;
}

TEST(Names, ManifestReferenceTable) {
  const std::pair<std::string, bool> cases[] = {
      {"latest", true},
      {"1.36", true},
      {"v1_2-rc.3", true},
      {"sha256:" + std::string(64, 'a'), true},
      {"", false},
      {".hidden", false},
      {"-x", false},
      {"a/b", false},
      {"a?b", false},
      {"sha256:xyz", false},
      {std::string(129, 'a'), false},
  };
  for (const auto& [ref, valid] : cases) EXPECT_EQ(IsValidManifestReference(ref), valid) << ref;
}

TEST(PullScope, Format) {
  EXPECT_EQ(PullScope("library/busybox"), "repository:library/busybox:pull");
}

TEST(EndpointHost, DockerHubMapsToRegistry1) {
  EXPECT_EQ(EndpointHost("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(EndpointHost("index.docker.io"), "registry-1.docker.io");
  EXPECT_EQ(EndpointHost("127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_EQ(EndpointHost("quay.io"), "quay.io");
}

TEST(IsLoopback, Table) {
  const std::pair<const char*, bool> cases[] = {
      {"localhost", true},        {"localhost:5000", true},
      {"127.0.0.1", true},        {"127.0.0.1:5000", true},
      {"127.1.2.3:80", true},     {"[::1]", true},
      {"[::1]:5000", true},       {"::1", true},
      {"128.0.0.1", false},       {"127.0.0", false},
      {"127.0.0.256", false},     {"127.0.0.1.example.com", false},
      {"localhost.evil", false},  {"10.0.0.1:5000", false},
      {"docker.io", false},       {"[::2]:5000", false},
      {"127.example.com", false}, {"", false},
  };
  for (const auto& [host, want] : cases) EXPECT_EQ(IsLoopback(host), want) << host;
}

}  // namespace
}  // namespace pullfleet::registry
