// Pulls from the real registry (Debian's docker-registry, started by the rig) into a content
// store, in each of the registry's auth and transport modes.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "image/reference.h"
#include "pull/puller.h"
#include "registry/client.h"
#include "store/content_store.h"
#include "tests/support/registry_fixture.h"

namespace pullfleet::pull {
namespace {

using testing::RegistryAuth;
using testing::RegistryFixture;
using testing::RegistryOptions;
using testing::RegistrySuite;
using testing::RunCommand;
using testing::ShellQuote;
using testing::TempDir;

image::Platform Linux(const std::string& arch, const std::string& variant = "") {
  return image::Platform{"linux", arch, variant};
}

PullOptions OptionsFor(const RegistryFixture& reg, const std::string& repo_tag,
                       image::Platform platform = Linux("amd64")) {
  PullOptions o;
  auto ref = image::ParseReference(reg.Ref(repo_tag));
  EXPECT_TRUE(ref.ok()) << ref.error().message();
  if (ref.ok()) o.reference = *ref;
  o.platform = platform;
  if (reg.options().tls) o.host.ca_file = reg.ca_file();
  return o;
}

CandidateCredential Cred(std::string user, std::string password, std::string source) {
  return CandidateCredential{registry::Credentials{std::move(user), std::move(password)},
                             std::move(source)};
}

std::unique_ptr<store::ContentStore> OpenStore(const TempDir& dir, const std::string& name = "s") {
  auto s = store::ContentStore::Open(dir.Join(name));
  EXPECT_TRUE(s.ok()) << s.error().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Every file under blobs/ hashes to its own name.
void ExpectBlobsHashToTheirNames(const store::ContentStore& s) {
  auto blobs = s.ListBlobs();
  EXPECT_FALSE(blobs.empty());
  for (const auto& digest : blobs) {
    std::ifstream in(s.BlobPath(digest), std::ios::binary);
    store::Sha256 h;
    std::vector<char> buf(1 << 20);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      h.Update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    EXPECT_EQ(h.Digest(), digest);
  }
}

// Docker-Content-Digest of a HEAD on the manifest, through our own client.
std::string RegistryDigest(const RegistryFixture& reg, const std::string& repo,
                           const std::string& tag) {
  registry::ClientOptions o;
  o.domain = reg.host();
  auto head = registry::Client(o).HeadManifest(repo, tag);
  EXPECT_TRUE(head.ok()) << head.error().message();
  return head.ok() ? head->digest : "";
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP, no auth.

class PullPlainTest : public RegistrySuite<PullPlainTest> {};

TEST_F(PullPlainTest, PullsBusyboxVerifiedAndReadableBySkopeo) {
  TempDir dir;
  auto s = OpenStore(dir);
  Puller puller(*s);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  auto r = puller.Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();

  EXPECT_EQ(r->resolved_digest, registry().Digest("BUSYBOX"));
  EXPECT_EQ(r->resolved_digest, RegistryDigest(registry(), "pf/busybox", "1.36"));
  EXPECT_EQ(r->manifest_digest, r->resolved_digest);
  ASSERT_EQ(r->layer_digests.size(), 1u);
  EXPECT_EQ(r->layer_digests[0], registry().Digest("BUSYBOX_LAYER"));
  EXPECT_EQ(r->blobs_downloaded, 2);  // config + layer
  EXPECT_EQ(r->blobs_reused, 0);
  EXPECT_GT(r->image_size, 500'000);
  EXPECT_EQ(r->bytes_downloaded, r->image_size);
  EXPECT_TRUE(r->credential_source.empty());
  EXPECT_TRUE(s->Has(r->manifest_digest));
  EXPECT_TRUE(s->Has(r->config_digest));
  ExpectBlobsHashToTheirNames(*s);

  auto tags = s->ListTags();
  ASSERT_TRUE(tags.ok());
  ASSERT_EQ(tags->size(), 1u);
  EXPECT_EQ((*tags)[0].first, o.reference.Normalized());
  EXPECT_EQ((*tags)[0].second.digest, r->resolved_digest);
  EXPECT_EQ((*tags)[0].second.media_type, registry::kOciManifest);

  // skopeo reads the layout and agrees on the layer.
  auto inspect = RunCommand("skopeo inspect " +
                            ShellQuote("oci:" + s->root().string() + ":" + (*tags)[0].first));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  auto json = nlohmann::json::parse(inspect.output, nullptr, false);
  ASSERT_TRUE(json.is_object()) << inspect.output;
  EXPECT_EQ(json["Layers"][0], r->layer_digests[0]);
  EXPECT_EQ(json["Architecture"], "amd64");
  // umoci (another independent reader) agrees the layout is sound.
  auto umoci = RunCommand("umoci stat --image " +
                          ShellQuote(s->root().string() + ":" + (*tags)[0].first) + " 2>&1");
  EXPECT_EQ(umoci.exit_code, 0) << umoci.output;

  // Nothing is left in ingest/.
  EXPECT_TRUE(std::filesystem::is_empty(s->root() / "ingest"));

  // FindLocal sees it without network; Resolve agrees with the registry.
  auto local = puller.FindLocal(r->resolved_digest, o.platform);
  ASSERT_TRUE(local.ok()) << local.error().message();
  EXPECT_EQ(local->config_digest, r->config_digest);
  EXPECT_EQ(local->layer_digests, r->layer_digests);
  EXPECT_EQ(local->image_size, r->image_size);
  auto resolved = puller.Resolve(o);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message();
  EXPECT_EQ(*resolved, r->resolved_digest);
}

TEST_F(PullPlainTest, MultiArchIndexPicksThePlatform) {
  struct Case {
    image::Platform platform;
    const char* want_digest_name;
  };
  const Case cases[] = {
      {Linux("amd64"), "MULTIARCH_AMD64"},
      {Linux("arm64", "v8"), "MULTIARCH_ARM64"},
      {Linux("arm64"), "MULTIARCH_ARM64"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.platform.ToString());
    TempDir dir;
    auto s = OpenStore(dir);
    Puller puller(*s);
    auto r = puller.Pull(OptionsFor(registry(), "pf/multiarch:1.0", c.platform));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->resolved_digest, registry().Digest("MULTIARCH"));
    EXPECT_EQ(r->manifest_digest, registry().Digest(c.want_digest_name));
    EXPECT_TRUE(s->Has(r->resolved_digest));  // the index itself is stored
    EXPECT_TRUE(s->Has(r->manifest_digest));
    auto tags = s->ListTags();
    ASSERT_TRUE(tags.ok());
    ASSERT_EQ(tags->size(), 1u);
    EXPECT_EQ((*tags)[0].second.media_type, registry::kOciIndex);
    ExpectBlobsHashToTheirNames(*s);
    auto local = puller.FindLocal(r->resolved_digest, c.platform);
    ASSERT_TRUE(local.ok()) << local.error().message();
    EXPECT_EQ(local->manifest_digest, r->manifest_digest);
  }
}

TEST_F(PullPlainTest, NoMatchingPlatformListsWhatExists) {
  TempDir dir;
  auto s = OpenStore(dir);
  auto r = Puller(*s).Pull(OptionsFor(registry(), "pf/multiarch:1.0", Linux("riscv64")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNoMatchingPlatform);
  EXPECT_NE(r.error().message().find("linux/amd64"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("linux/arm64"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("linux/riscv64"), std::string::npos) << r.error().message();
}

TEST_F(PullPlainTest, SecondPullDownloadsNothing) {
  TempDir dir;
  auto s = OpenStore(dir);
  Puller puller(*s);
  PullOptions o = OptionsFor(registry(), "pf/big:1.0");
  auto first = puller.Pull(o);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->layer_digests.size(), 3u);
  EXPECT_EQ(first->blobs_downloaded, 4);
  EXPECT_EQ(std::to_string(first->image_size - s->BlobSize(first->config_digest).value()),
            registry().Env("BIG_SIZE"));
  auto gets_before = registry().BlobGetCount("pf/big");
  ASSERT_TRUE(gets_before.ok()) << gets_before.error().message();

  auto second = puller.Pull(o);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(second->blobs_downloaded, 0);
  EXPECT_EQ(second->blobs_reused, 4);
  EXPECT_EQ(second->bytes_downloaded, 0);
  EXPECT_EQ(second->resolved_digest, first->resolved_digest);
  auto gets_after = registry().BlobGetCount("pf/big");
  ASSERT_TRUE(gets_after.ok());
  EXPECT_EQ(*gets_after, *gets_before);
  ExpectBlobsHashToTheirNames(*s);
}

TEST_F(PullPlainTest, MissingTagIsNotFound) {
  TempDir dir;
  auto s = OpenStore(dir);
  auto r = Puller(*s).Pull(OptionsFor(registry(), "pf/busybox:no-such-tag"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound) << r.error().message();
  EXPECT_EQ(r.error().message().rfind("pull " + registry().host() + "/pf/busybox:no-such-tag: ", 0),
            0u)
      << r.error().message();
  auto missing_repo = Puller(*s).Pull(OptionsFor(registry(), "pf/nothing-here:1"));
  ASSERT_FALSE(missing_repo.ok());
  EXPECT_EQ(missing_repo.error().code(), ErrorCode::kNotFound) << missing_repo.error().message();
}

TEST_F(PullPlainTest, PullByDigestVerifiesIt) {
  TempDir dir;
  auto s = OpenStore(dir);
  auto r = Puller(*s).Pull(OptionsFor(registry(), "pf/busybox@" + registry().Digest("BUSYBOX")));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->resolved_digest, registry().Digest("BUSYBOX"));
}

TEST_F(PullPlainTest, ResumesAPartialIngestWithRange) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/big:1.0");
  std::string layer = registry().Env("BIG_LAYER_DIGESTS");
  layer = layer.substr(0, layer.find(' '));
  ASSERT_TRUE(store::IsValidDigest(layer)) << layer;

  // Fetch the first 3 MiB of a layer into its partial file, then stop (a dropped transfer).
  constexpr int64_t kPrefix = 3 << 20;
  {
    registry::ClientOptions co;
    co.domain = registry().host();
    registry::Client client(co);
    auto ingest = s->BeginIngest(layer, -1);
    ASSERT_TRUE(ingest.ok());
    int64_t got = 0;
    Status st = client.FetchBlob("pf/big", layer, 0, [&](const char* d, size_t n) -> Status {
      size_t take = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(n), kPrefix - got));
      if (Status a = (*ingest)->Append(d, take); !a.ok()) return a;
      got += static_cast<int64_t>(take);
      if (got >= kPrefix) return Error(ErrorCode::kCancelled, "stop here");
      return Status::Ok();
    });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::kCancelled);
    EXPECT_EQ((*ingest)->offset(), kPrefix);
  }
  std::string hex = layer.substr(7);
  ASSERT_EQ(std::filesystem::file_size(s->root() / "ingest" / (hex + ".partial")),
            static_cast<uintmax_t>(kPrefix));

  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->bytes_downloaded, r->image_size - kPrefix);
  EXPECT_TRUE(s->Has(layer));
  ExpectBlobsHashToTheirNames(*s);
  // The registry answered that layer once with 206 Partial Content (its access log line ends
  // in `" 206 <bytes>`), for the bytes after the prefix.
  auto ranged = RunCommand("grep -F 'GET /v2/pf/big/blobs/" + layer + " ' " +
                           ShellQuote(registry().log_file()) + " | grep -c '\" 206 '");
  EXPECT_EQ(std::atoi(ranged.output.c_str()), 1) << ranged.output;
}

TEST_F(PullPlainTest, CorruptPartialIsDetectedAndStartedOver) {
  TempDir dir;
  auto s = OpenStore(dir);
  std::string layer = registry().Env("BIG_LAYER_DIGESTS");
  layer = layer.substr(0, layer.find(' '));
  {
    std::ofstream bad(s->root() / "ingest" / (layer.substr(7) + ".partial"), std::ios::binary);
    bad << std::string(1 << 20, 'x');  // not a prefix of the real layer
  }
  auto r = Puller(*s).Pull(OptionsFor(registry(), "pf/big:1.0"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(s->Has(layer));
  ExpectBlobsHashToTheirNames(*s);
}

TEST_F(PullPlainTest, ProgressIsReportedAndEndsComplete) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/big:1.0");
  std::mutex mu;
  std::vector<Progress> seen;
  o.on_progress = [&](const Progress& p) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(p);
  };
  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_FALSE(seen.empty());
  EXPECT_LT(seen.size(), 200u);  // rate limited
  EXPECT_EQ(seen.back().bytes_done, seen.back().bytes_total);
  EXPECT_EQ(seen.back().bytes_total, r->image_size);
  EXPECT_EQ(seen.back().layers_done, 3);
  EXPECT_EQ(seen.back().layers_total, 3);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].bytes_done, seen[i - 1].bytes_done);
}

TEST_F(PullPlainTest, ConcurrentPullsOfOneImageShareTheStore) {
  TempDir dir;
  auto s = OpenStore(dir);
  Puller puller(*s);
  PullOptions o = OptionsFor(registry(), "pf/big:1.0");
  Result<PullResult> a = Error(ErrorCode::kInternal, "not run");
  Result<PullResult> b = Error(ErrorCode::kInternal, "not run");
  std::thread ta([&] { a = puller.Pull(o); });
  std::thread tb([&] { b = puller.Pull(o); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(b.ok()) << b.error().message();
  // Between them each blob was downloaded once.
  EXPECT_EQ(a->blobs_downloaded + b->blobs_downloaded, 4);
  ExpectBlobsHashToTheirNames(*s);
}

TEST_F(PullPlainTest, CancelFlagStopsThePull) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/big:1.0");
  std::atomic<bool> cancel{false};
  o.cancel = &cancel;
  o.on_progress = [&](const Progress& p) {
    if (p.bytes_done > 0) cancel = true;
  };
  auto r = Puller(*s).Pull(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled) << r.error().message();
}

TEST_F(PullPlainTest, ConnectionRefusedIsNetwork) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  o.reference.domain = "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  auto r = Puller(*s).Pull(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNetwork) << r.error().message();
}

// ---------------------------------------------------------------------------------------------
// htpasswd Basic auth.

class PullBasicAuthTest : public RegistrySuite<PullBasicAuthTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions o;
    o.auth = RegistryAuth::kHtpasswd;
    o.images = "busybox";
    return o;
  }
};

TEST_F(PullBasicAuthTest, RightCredentialsPull) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  o.credentials = {Cred(registry().user(), registry().password(), "right")};
  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->resolved_digest, registry().Digest("BUSYBOX"));
  EXPECT_EQ(r->credential_source, "right");
  ExpectBlobsHashToTheirNames(*s);
}

TEST_F(PullBasicAuthTest, WrongOrNoCredentialsAreUnauthorized) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  auto anonymous = Puller(*s).Pull(o);
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.error().code(), ErrorCode::kUnauthorized) << anonymous.error().message();

  const std::string secret = "not-the-password-" + registry().password();
  o.credentials = {Cred(registry().user(), secret, "wrong")};
  auto wrong = Puller(*s).Pull(o);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kUnauthorized) << wrong.error().message();
  EXPECT_EQ(wrong.error().message().find(secret), std::string::npos);
  EXPECT_NE(wrong.error().message().find("wrong"), std::string::npos);
  EXPECT_TRUE(s->ListBlobs().empty());
}

TEST_F(PullBasicAuthTest, FallsBackFromWrongToRightCandidate) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  o.credentials = {Cred("nobody", "nothing", "first (wrong)"),
                   Cred(registry().user(), registry().password(), "second (right)")};
  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->credential_source, "second (right)");
  auto resolved = Puller(*s).Resolve(o);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message();
  EXPECT_EQ(*resolved, registry().Digest("BUSYBOX"));
}

// ---------------------------------------------------------------------------------------------
// Bearer tokens (the Docker Hub flow).

class PullTokenTest : public RegistrySuite<PullTokenTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions o;
    o.auth = RegistryAuth::kToken;
    o.images = "busybox,big";
    return o;
  }
};

TEST_F(PullTokenTest, PullsWithOneTokenSharedByItsTransferThreads) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/big:1.0");
  o.credentials = {Cred(registry().user(), registry().password(), "token user")};
  o.max_concurrent_blobs = 3;
  auto before = registry().TokenRequestCount();
  ASSERT_TRUE(before.ok()) << before.error().message();
  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->blobs_downloaded, 4);
  ExpectBlobsHashToTheirNames(*s);
  auto after = registry().TokenRequestCount();
  ASSERT_TRUE(after.ok());
  // The token fetched while resolving the manifest is handed to the other two transfer
  // threads' clients: one token for the whole pull.
  EXPECT_EQ(*after - *before, 1);
}

TEST_F(PullTokenTest, WrongCredentialsAreUnauthorizedAndFallBack) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  o.credentials = {Cred(registry().user(), "wrong-password", "bad")};
  auto wrong = Puller(*s).Pull(o);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kUnauthorized) << wrong.error().message();

  o.credentials.push_back(Cred(registry().user(), registry().password(), "good"));
  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->credential_source, "good");
}

TEST_F(PullTokenTest, InsufficientScopeIsForbidden) {
  ASSERT_TRUE(registry().SetTokenDenied(registry().user(), {"pf/busybox"}).ok());
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  o.credentials = {Cred(registry().user(), registry().password(), "denied user")};
  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(registry().SetTokenDenied(registry().user(), {}).ok());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kForbidden) << r.error().message();
  EXPECT_NE(r.error().message().find("insufficient_scope"), std::string::npos)
      << r.error().message();
}

// ---------------------------------------------------------------------------------------------
// TLS with the rig's own CA.

class PullTlsTest : public RegistrySuite<PullTlsTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions o;
    o.tls = true;
    o.images = "busybox";
    return o;
  }
};

TEST_F(PullTlsTest, PullsWithTheCaFile) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  ASSERT_FALSE(o.host.ca_file.empty());
  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->resolved_digest, registry().Digest("BUSYBOX"));
  ExpectBlobsHashToTheirNames(*s);
}

TEST_F(PullTlsTest, UnknownCaFailsWithoutFallingBackToHttp) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
  o.host.ca_file.clear();
  auto r = Puller(*s).Pull(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNetwork) << r.error().message();
  EXPECT_NE(r.error().message().find("certificate"), std::string::npos) << r.error().message();
}

// ---------------------------------------------------------------------------------------------
// Basic auth over TLS, on a registry that also wants a client certificate (mutual TLS).

class PullMutualTlsTest : public RegistrySuite<PullMutualTlsTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions o;
    o.auth = RegistryAuth::kHtpasswd;
    o.tls = true;
    o.client_certs = true;
    o.images = "busybox";
    return o;
  }

 protected:
  PullOptions WithClientCert() {
    PullOptions o = OptionsFor(registry(), "pf/busybox:1.36");
    o.host.client_cert_file = registry().client_cert();
    o.host.client_key_file = registry().client_key();
    o.credentials.push_back(Cred(registry().user(), registry().password(), "test htpasswd"));
    return o;
  }
};

TEST_F(PullMutualTlsTest, PullsWithTheClientCertificateAndBasicAuth) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = WithClientCert();
  ASSERT_FALSE(o.host.client_cert_file.empty());
  auto r = Puller(*s).Pull(o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->resolved_digest, registry().Digest("BUSYBOX"));
  ExpectBlobsHashToTheirNames(*s);
}

TEST_F(PullMutualTlsTest, WithoutTheClientCertificateTheRegistryRefusesTheConnection) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = WithClientCert();
  o.host.client_cert_file.clear();
  o.host.client_key_file.clear();
  auto r = Puller(*s).Pull(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNetwork) << r.error().message();
  EXPECT_NE(r.error().message().find(registry().host()), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(s->ListBlobs().empty());
}

TEST_F(PullMutualTlsTest, WrongPasswordIsRefusedEvenWithTheClientCertificate) {
  TempDir dir;
  auto s = OpenStore(dir);
  PullOptions o = WithClientCert();
  o.credentials = {Cred(registry().user(), "not-" + registry().password(), "wrong")};
  auto r = Puller(*s).Pull(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("401"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace pullfleet::pull
