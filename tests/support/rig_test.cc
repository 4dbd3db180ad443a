// Self-test of the real-registry rig: every registry mode answers as a client expects, and the
// pushed images are there with the digests build-images.sh reported.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/registry_fixture.h"

namespace pullfleet::testing {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Runs `cmd`, expecting success; returns its trimmed output.
std::string MustRun(const std::string& cmd) {
  CommandResult r = RunCommand(cmd);
  EXPECT_EQ(r.exit_code, 0) << "command failed: " << r.output;
  return Trim(r.output);
}

// HTTP status code of a GET with extra curl arguments.
std::string HttpCode(const std::string& url, const std::string& curl_args = "") {
  return Trim(RunCommand("curl -s -o /dev/null -w '%{http_code}' --max-time 5 " + curl_args + " " +
                         ShellQuote(url))
                  .output);
}

// The value of a response header of a GET (case-insensitive name), without the name.
std::string Header(const std::string& url, const std::string& name,
                   const std::string& curl_args = "") {
  return MustRun("curl -s -o /dev/null -D - --max-time 5 " + curl_args + " " + ShellQuote(url) +
                 " | tr -d '\\r' | grep -i '^" + name + ":' | cut -d' ' -f2-");
}

const char kAcceptAll[] =
    " -H 'Accept: application/vnd.oci.image.index.v1+json'"
    " -H 'Accept: application/vnd.oci.image.manifest.v1+json'"
    " -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json'"
    " -H 'Accept: application/vnd.docker.distribution.manifest.v2+json'";

// skopeo arguments that reach `registry` (TLS CA, credentials).
std::string SkopeoArgs(const RegistryFixture& registry) {
  std::string args = registry.options().tls
                         ? " --cert-dir " + ShellQuote(registry.Env("REGISTRY_CERT_DIR"))
                         : std::string(" --tls-verify=false");
  if (!registry.user().empty()) {
    args += " --creds " + ShellQuote(registry.user() + ":" + registry.password());
  }
  return args;
}

// sha256 of the raw manifest skopeo fetches for `ref`, as "sha256:...".
std::string RawManifestDigest(const RegistryFixture& registry, const std::string& ref) {
  return "sha256:" + MustRun("skopeo inspect --raw" + SkopeoArgs(registry) + " " +
                             ShellQuote("docker://" + ref) + " | sha256sum | cut -d' ' -f1");
}

// URL of the manifest of "repo:tag" in `registry`.
std::string ManifestUrl(const RegistryFixture& registry, std::string ref) {
  return registry.url() + "/v2/" + ref.replace(ref.rfind(':'), 1, "/manifests/");
}

// ---------------------------------------------------------------------------------------------
// No auth, plain HTTP, all images.

class PlainRegistryTest : public RegistrySuite<PlainRegistryTest> {};

TEST_F(PlainRegistryTest, V2AnswersOk) {
  EXPECT_EQ(registry().url(), "http://" + registry().host());
  EXPECT_EQ(HttpCode(registry().url() + "/v2/"), "200");
}

TEST_F(PlainRegistryTest, EveryImageHasTheDigestItWasPushedWith) {
  struct Case {
    const char* ref;
    const char* digest_name;
  };
  const std::vector<Case> cases = {
      {"pf/busybox:1.36", "BUSYBOX"},
      {"pf/busybox:latest", "BUSYBOX"},
      {"pf/multiarch:1.0", "MULTIARCH"},
      {"pf/big:1.0", "BIG"},
      {"pf/app:v1", "APP_V1"},
      {"pf/app:v2", "APP_V2"},
      {"pf/sidecar:1.0", "SIDECAR"},
      {"pf/docker:1.0", "DOCKER"},
      {"pf/dockerlist:1.0", "DOCKERLIST"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ref);
    std::string want = registry().Digest(c.digest_name);
    ASSERT_EQ(want.rfind("sha256:", 0), 0u) << "no digest named " << c.digest_name;
    EXPECT_EQ(RawManifestDigest(registry(), registry().Ref(c.ref)), want);
    EXPECT_EQ(Header(ManifestUrl(registry(), c.ref), "Docker-Content-Digest", kAcceptAll), want);
  }
  EXPECT_NE(registry().Digest("APP_V1"), registry().Digest("APP_V2"));
}

TEST_F(PlainRegistryTest, DockerTypedImagesKeepTheirDigests) {
  struct Case {
    const char* ref;
    const char* digest_name;
    const char* media_type;
  };
  const std::vector<Case> cases = {
      {"pf/docker:1.0", "DOCKER", "application/vnd.docker.distribution.manifest.v2+json"},
      {"pf/dockerlist:1.0", "DOCKERLIST",
       "application/vnd.docker.distribution.manifest.list.v2+json"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ref);
    std::string url = ManifestUrl(registry(), c.ref);
    EXPECT_EQ(Header(url, "Docker-Content-Digest", kAcceptAll), registry().Digest(c.digest_name));
    EXPECT_EQ(Header(url, "Content-Type", kAcceptAll), c.media_type);
  }
  // The list's children are there by digest, with their platforms.
  std::string children =
      MustRun("curl -s" + std::string(kAcceptAll) + " " +
              ShellQuote(ManifestUrl(registry(), "pf/dockerlist:1.0")) +
              " | jq -r '.manifests[] | .digest + \" \" + .platform.architecture'");
  EXPECT_EQ(children, registry().Digest("DOCKERLIST_AMD64") + " amd64\n" +
                          registry().Digest("DOCKERLIST_ARM64") + " arm64");
  EXPECT_EQ(RawManifestDigest(registry(), registry().Ref("pf/dockerlist@") +
                                              registry().Digest("DOCKERLIST_ARM64")),
            registry().Digest("DOCKERLIST_ARM64"));
}

TEST_F(PlainRegistryTest, MultiarchIsAnIndexOfAmd64AndArm64) {
  std::string index = MustRun("curl -s" + std::string(kAcceptAll) + " " +
                              ShellQuote(registry().url() + "/v2/pf/multiarch/manifests/1.0"));
  std::string platforms =
      MustRun("echo " + ShellQuote(index) +
              " | jq -r '.mediaType, (.manifests[] | .digest + \" \" + .platform.architecture)'");
  EXPECT_EQ(platforms, "application/vnd.oci.image.index.v1+json\n" +
                           registry().Digest("MULTIARCH_AMD64") + " amd64\n" +
                           registry().Digest("MULTIARCH_ARM64") + " arm64");
  // The arm64 child really carries an aarch64 busybox: its config says so.
  std::string arch = MustRun("skopeo inspect --tls-verify=false --override-arch arm64 " +
                             ShellQuote("docker://" + registry().Ref("pf/multiarch:1.0")) +
                             " | jq -r .Architecture");
  EXPECT_EQ(arch, "arm64");
}

TEST_F(PlainRegistryTest, BigImageIsAbout40MiBInThreeLayers) {
  long size = std::stol(registry().Env("BIG_SIZE"));
  EXPECT_GT(size, 38L << 20);
  EXPECT_LT(size, 45L << 20);
  std::string layers = MustRun("skopeo inspect --tls-verify=false " +
                               ShellQuote("docker://" + registry().Ref("pf/big:1.0")) +
                               " | jq -r '.Layers | join(\" \")'");
  EXPECT_EQ(layers, registry().Env("BIG_LAYER_DIGESTS"));
}

TEST_F(PlainRegistryTest, BlobGetCountsSeeEachBlobGet) {
  auto before = registry().BlobGetCount();
  auto before_repo = registry().BlobGetCount("pf/busybox");
  ASSERT_TRUE(before.ok()) << before.error().message();
  ASSERT_TRUE(before_repo.ok()) << before_repo.error().message();
  int before_big = registry().BlobGetCount("pf/big").value();

  std::string blob_url =
      registry().url() + "/v2/pf/busybox/blobs/" + registry().Digest("BUSYBOX_LAYER");
  EXPECT_EQ(HttpCode(blob_url), "200");
  EXPECT_EQ(HttpCode(blob_url), "200");
  EXPECT_EQ(HttpCode(registry().url() + "/v2/pf/busybox/manifests/1.36", kAcceptAll), "200");

  EXPECT_EQ(registry().BlobGetCount().value(), before.value() + 2);
  EXPECT_EQ(registry().BlobGetCount("pf/busybox").value(), before_repo.value() + 2);
  EXPECT_EQ(registry().BlobGetCount("pf/big").value(), before_big);
}

TEST_F(PlainRegistryTest, RetagMovesLatestAndBack) {
  EXPECT_EQ(RawManifestDigest(registry(), registry().Ref("pf/app:latest")),
            registry().Digest("APP_V1"));
  auto moved = registry().Retag("pf/app:v2", "pf/app:latest");
  ASSERT_TRUE(moved.ok()) << moved.error().message();
  EXPECT_EQ(moved.value(), registry().Digest("APP_V2"));
  EXPECT_EQ(RawManifestDigest(registry(), registry().Ref("pf/app:latest")),
            registry().Digest("APP_V2"));
  auto back = registry().Retag("pf/app:v1", "pf/app:latest");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back.value(), registry().Digest("APP_V1"));
}

TEST_F(PlainRegistryTest, StopRefusesConnectionsAndRestartKeepsContent) {
  std::string manifest_url = registry().url() + "/v2/pf/busybox/manifests/1.36";
  ASSERT_TRUE(registry().Stop().ok());
  EXPECT_EQ(HttpCode(manifest_url, kAcceptAll), "000");
  Status restarted = registry().Restart();
  ASSERT_TRUE(restarted.ok()) << restarted.error().message();
  EXPECT_EQ(registry().url() + "/v2/pf/busybox/manifests/1.36", manifest_url);  // same port
  EXPECT_EQ(HttpCode(manifest_url, kAcceptAll), "200");
}

// ---------------------------------------------------------------------------------------------
// htpasswd basic auth.

class HtpasswdRegistryTest : public RegistrySuite<HtpasswdRegistryTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions options;
    options.auth = RegistryAuth::kHtpasswd;
    options.images = "busybox";
    return options;
  }
};

TEST_F(HtpasswdRegistryTest, V2WantsBasicAuth) {
  std::string v2 = registry().url() + "/v2/";
  EXPECT_EQ(HttpCode(v2), "401");
  EXPECT_EQ(Header(v2, "WWW-Authenticate"), "Basic realm=\"pullfleet-test\"");
  EXPECT_EQ(HttpCode(v2, registry().CurlAuthArgs()), "200");
  EXPECT_EQ(HttpCode(v2, "-u " + ShellQuote(registry().user() + ":wrong")), "401");
}

TEST_F(HtpasswdRegistryTest, CredentialsAreRandomPerRegistry) {
  EXPECT_EQ(registry().user().rfind("pf-", 0), 0u);
  EXPECT_EQ(registry().password().size(), 32u);
}

TEST_F(HtpasswdRegistryTest, ImagesPullableWithCredentialsOnly) {
  EXPECT_EQ(RawManifestDigest(registry(), registry().Ref("pf/busybox:1.36")),
            registry().Digest("BUSYBOX"));
  CommandResult anonymous = RunCommand("skopeo inspect --raw --tls-verify=false " +
                                       ShellQuote("docker://" + registry().Ref("pf/busybox:1.36")));
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_NE(anonymous.output.find("authentication required"), std::string::npos)
      << anonymous.output;
}

// ---------------------------------------------------------------------------------------------
// TLS with the rig's own CA.

class TlsRegistryTest : public RegistrySuite<TlsRegistryTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions options;
    options.tls = true;
    options.images = "busybox";
    return options;
  }
};

TEST_F(TlsRegistryTest, V2AnswersOverTlsWithTheCa) {
  EXPECT_EQ(registry().url(), "https://" + registry().host());
  EXPECT_EQ(HttpCode(registry().url() + "/v2/", registry().CurlAuthArgs()), "200");
  // curl negotiates HTTP/2 with the Go server.
  EXPECT_EQ(MustRun("curl -s -o /dev/null -w '%{http_version}' " + registry().CurlAuthArgs() + " " +
                    ShellQuote(registry().url() + "/v2/")),
            "2");
  // The name localhost is in the certificate too.
  std::string by_name = "https://localhost:" + registry().Env("REGISTRY_PORT") + "/v2/";
  EXPECT_EQ(HttpCode(by_name, registry().CurlAuthArgs()), "200");
}

TEST_F(TlsRegistryTest, UnknownCaIsRejected) {
  CommandResult r =
      RunCommand("curl -s -o /dev/null --max-time 5 " + ShellQuote(registry().url() + "/v2/"));
  EXPECT_EQ(r.exit_code, 60);  // curl: peer certificate cannot be authenticated
}

TEST_F(TlsRegistryTest, ImagesPullableWithTheCa) {
  EXPECT_EQ(RawManifestDigest(registry(), registry().Ref("pf/busybox:1.36")),
            registry().Digest("BUSYBOX"));
}

// ---------------------------------------------------------------------------------------------
// Bearer tokens from token_server.py.

// Fetches a token for `scope` by GET, with Basic credentials when `with_creds`.
std::string FetchToken(const RegistryFixture& registry, const std::string& scope, bool with_creds) {
  std::string args =
      registry.ca_file().empty() ? "" : " --cacert " + ShellQuote(registry.ca_file());
  if (with_creds) args += " -u " + ShellQuote(registry.user() + ":" + registry.password());
  std::string url =
      registry.token_server_url() + "?service=" + registry.Env("TOKEN_SERVICE") + "&scope=" + scope;
  return MustRun("curl -sf" + args + " " + ShellQuote(url) + " | jq -er .token");
}

// Part `part` of the JWT `token` (0 = header, 1 = claims), decoded, as compact JSON.
std::string JwtPart(const std::string& token, int part) {
  return MustRun(
      "/usr/bin/python3 -c 'import base64, json, sys; p = "
      "sys.argv[1].split(\".\")[int(sys.argv[2])]; "
      "print(json.dumps(json.loads(base64.urlsafe_b64decode(p + \"=\" * (-len(p) % 4))), "
      "separators=(\",\", \":\")))' " +
      ShellQuote(token) + " " + std::to_string(part));
}

class TokenRegistryTest : public RegistrySuite<TokenRegistryTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions options;
    options.auth = RegistryAuth::kToken;
    options.images = "busybox,app";
    return options;
  }
};

TEST_F(TokenRegistryTest, V2ChallengesWithBearerRealm) {
  std::string want_realm =
      "Bearer realm=\"" + registry().token_server_url() + "\",service=\"pullfleet-test-registry\"";
  EXPECT_EQ(HttpCode(registry().url() + "/v2/"), "401");
  EXPECT_EQ(Header(registry().url() + "/v2/", "WWW-Authenticate"), want_realm);
  EXPECT_EQ(Header(ManifestUrl(registry(), "pf/busybox:1.36"), "WWW-Authenticate", kAcceptAll),
            want_realm + ",scope=\"repository:pf/busybox:pull\"");
}

TEST_F(TokenRegistryTest, TokenFlowWorksEndToEnd) {
  auto before = registry().TokenRequestCount();
  ASSERT_TRUE(before.ok()) << before.error().message();
  std::string token = FetchToken(registry(), "repository:pf/busybox:pull", true);
  ASSERT_FALSE(token.empty());

  std::string header = JwtPart(token, 0);
  EXPECT_NE(header.find("\"alg\":\"RS256\""), std::string::npos) << header;
  EXPECT_NE(header.find("\"x5c\":["), std::string::npos) << header;
  std::string claims = JwtPart(token, 1);
  EXPECT_NE(claims.find("\"aud\":\"pullfleet-test-registry\""), std::string::npos) << claims;
  EXPECT_NE(claims.find("\"access\":[{\"type\":\"repository\",\"name\":\"pf/busybox\","
                        "\"actions\":[\"pull\"]}]"),
            std::string::npos)
      << claims;

  std::string bearer = " -H " + ShellQuote("Authorization: Bearer " + token) + kAcceptAll;
  std::string url = ManifestUrl(registry(), "pf/busybox:1.36");
  EXPECT_EQ(HttpCode(url, bearer), "200");
  EXPECT_EQ(Header(url, "Docker-Content-Digest", bearer), registry().Digest("BUSYBOX"));
  // The token is scoped: another repository is out of reach.
  EXPECT_EQ(HttpCode(ManifestUrl(registry(), "pf/app:v1"), bearer), "401");
  EXPECT_EQ(registry().TokenRequestCount().value(), before.value() + 1);
}

TEST_F(TokenRegistryTest, TokenResponseHasAllFields) {
  std::string args = " -u " + ShellQuote(registry().user() + ":" + registry().password());
  std::string url = registry().token_server_url() +
                    "?service=pullfleet-test-registry&scope=repository:pf/app:pull";
  std::string keys = MustRun("curl -sf" + args + " " + ShellQuote(url) +
                             " | jq -r '[keys[], (.token == .access_token)] | join(\" \")'");
  EXPECT_EQ(keys, "access_token expires_in issued_at token true");
}

TEST_F(TokenRegistryTest, WrongPasswordIsRefusedByTheTokenServer) {
  std::string url = registry().token_server_url() +
                    "?service=pullfleet-test-registry&scope=repository:pf/app:pull";
  EXPECT_EQ(HttpCode(url, "-u " + ShellQuote(registry().user() + ":wrong")), "401");
}

TEST_F(TokenRegistryTest, AnonymousAndDeniedTokensGetInsufficientScope) {
  std::string url = ManifestUrl(registry(), "pf/app:v1");
  std::string anonymous = FetchToken(registry(), "repository:pf/app:pull", false);
  std::string bearer = " -H " + ShellQuote("Authorization: Bearer " + anonymous) + kAcceptAll;
  EXPECT_EQ(HttpCode(url, bearer), "401");
  EXPECT_NE(Header(url, "WWW-Authenticate", bearer).find("error=\"insufficient_scope\""),
            std::string::npos);

  ASSERT_TRUE(registry().SetTokenDenied(registry().user(), {"pf/app*"}).ok());
  std::string denied = FetchToken(registry(), "repository:pf/app:pull", true);
  EXPECT_NE(JwtPart(denied, 1).find("\"actions\":[]"), std::string::npos);
  bearer = " -H " + ShellQuote("Authorization: Bearer " + denied) + kAcceptAll;
  EXPECT_EQ(HttpCode(url, bearer), "401");
  EXPECT_NE(Header(url, "WWW-Authenticate", bearer).find("error=\"insufficient_scope\""),
            std::string::npos);

  ASSERT_TRUE(registry().SetTokenDenied(registry().user(), {}).ok());
  std::string allowed = FetchToken(registry(), "repository:pf/app:pull", true);
  EXPECT_EQ(HttpCode(url, " -H " + ShellQuote("Authorization: Bearer " + allowed) + kAcceptAll),
            "200");
}

TEST_F(TokenRegistryTest, SkopeoPullsWithCredentials) {
  EXPECT_EQ(RawManifestDigest(registry(), registry().Ref("pf/app:v2")),
            registry().Digest("APP_V2"));
  auto moved = registry().Retag("pf/app:v2", "pf/app:latest");
  ASSERT_TRUE(moved.ok()) << moved.error().message();
  EXPECT_EQ(RawManifestDigest(registry(), registry().Ref("pf/app:latest")),
            registry().Digest("APP_V2"));
}

class TokenTlsRegistryTest : public RegistrySuite<TokenTlsRegistryTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions options;
    options.auth = RegistryAuth::kToken;
    options.tls = true;
    options.images = "busybox";
    return options;
  }
};

TEST_F(TokenTlsRegistryTest, TokenServerAndRegistryBothSpeakTls) {
  EXPECT_EQ(registry().token_server_url().rfind("https://127.0.0.1:", 0), 0u);
  std::string token = FetchToken(registry(), "repository:pf/busybox:pull", true);
  std::string args = " --cacert " + ShellQuote(registry().ca_file()) + " -H " +
                     ShellQuote("Authorization: Bearer " + token) + kAcceptAll;
  EXPECT_EQ(HttpCode(ManifestUrl(registry(), "pf/busybox:1.36"), args), "200");
  EXPECT_EQ(RawManifestDigest(registry(), registry().Ref("pf/busybox:1.36")),
            registry().Digest("BUSYBOX"));
}

}  // namespace
}  // namespace pullfleet::testing
