// Credential provider plugins, run for real: the exec protocol, the kubelet's cache rules,
// single flight, and plugins that crash, hang or answer nonsense (tiny scripts in plugins/).
// Also the example plugin shipped under deploy/credential-provider/.
#include "credentials/credential_providers.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "credentials/subprocess.h"
#include "tests/unit/credentials/test_dir.h"

namespace pullfleet::credentials {
namespace {

using testing_util::ReadAll;
using testing_util::ScratchDir;

const std::string kTestPlugins =
    std::string(PULLFLEET_SOURCE_DIR) + "/tests/unit/credentials/plugins";
const std::string kExamplePlugins =
    std::string(PULLFLEET_SOURCE_DIR) + "/deploy/credential-provider";

image::Reference Ref(const std::string& text) {
  Result<image::Reference> ref = image::ParseReference(text);
  EXPECT_TRUE(ref.ok()) << text;
  return ref.ok() ? *ref : image::Reference{};
}

std::string Response(const std::string& key_type, const std::string& duration_field,
                     const std::string& auth_json) {
  return R"({"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":")" +
         key_type + "\"" + duration_field + R"(,"auth":)" + auth_json + "}";
}

const char kAuth[] =
    R"({"127.0.0.1:5000":{"username":"plugin-user","password":"PLUGIN-PASSWORD"}})";

// ---- response parsing ----

struct ResponseCase {
  std::string label;
  std::string stdout_text;
  std::string message_part;  // empty: valid
};

void PrintTo(const ResponseCase& c, std::ostream* out) {
  *out << c.label;
}

class ParseResponseTest : public testing::TestWithParam<ResponseCase> {};

TEST_P(ParseResponseTest, AcceptsOnlyValidResponsesAndNeverEchoesStdout) {
  const ResponseCase& c = GetParam();
  Result<ProviderResponse> r = ParseProviderResponse(c.stdout_text, kProviderApiV1);
  if (c.message_part.empty()) {
    ASSERT_TRUE(r.ok()) << r.error().message();
    return;
  }
  ASSERT_FALSE(r.ok()) << c.label;
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find(c.message_part), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().message().find("STDOUT-SECRET"), std::string::npos) << r.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseResponseTest,
    testing::Values(
        ResponseCase{"valid", Response("Image", R"(,"cacheDuration":"5m")", kAuth), ""},
        ResponseCase{
            "no auth",
            R"({"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Global"})",
            ""},
        ResponseCase{"null fields",
                     Response("Registry", R"(,"cacheDuration":null)",
                              R"({"r.io":{"username":null,"password":"x"}})"),
                     ""},
        ResponseCase{"not json", "STDOUT-SECRET is here", "stdout is not JSON (line 1, column 1)"},
        ResponseCase{"array", "[\"STDOUT-SECRET\"]", "not a JSON object"},
        ResponseCase{
            "wrong apiVersion",
            R"({"apiVersion":"STDOUT-SECRET/v1","kind":"CredentialProviderResponse","cacheKeyType":"Image"})",
            "apiVersion does not match the request's \"credentialprovider.kubelet.k8s.io/v1\""},
        ResponseCase{
            "wrong kind",
            R"({"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"STDOUT-SECRET","cacheKeyType":"Image"})",
            "kind is not \"CredentialProviderResponse\""},
        ResponseCase{"missing cacheKeyType", Response("", "", kAuth), "cacheKeyType must be"},
        ResponseCase{"bad cacheKeyType", Response("STDOUT-SECRET", "", kAuth),
                     "cacheKeyType must be"},
        ResponseCase{"bad duration",
                     Response("Image", R"(,"cacheDuration":"STDOUT-SECRET")", kAuth),
                     "cacheDuration is not a valid duration"},
        ResponseCase{"numeric duration", Response("Image", R"(,"cacheDuration":300)", kAuth),
                     "cacheDuration must be a duration string"},
        ResponseCase{"unknown top-level field", Response("Image", R"(,"STDOUT-SECRET":1)", kAuth),
                     "unknown field"},
        ResponseCase{"auth not object", Response("Image", "", "\"STDOUT-SECRET\""),
                     "auth must be an object"},
        ResponseCase{"auth entry unknown field",
                     Response("Image", "", R"({"r.io":{"username":"u","token":"STDOUT-SECRET"}})"),
                     "auth entry #1 has an unknown field"},
        ResponseCase{"auth password not string",
                     Response("Image", "", R"({"r.io":{"username":"u","password":12345}})"),
                     "auth entry #1: password must be a string"}),
    [](const testing::TestParamInfo<ResponseCase>& info) {
      std::string name;
      for (char ch : info.param.label)
        name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return name;
    });

TEST(ProviderRequestTest, IsTheKubeletRequest) {
  nlohmann::json request =
      nlohmann::json::parse(ProviderRequestJson(kProviderApiV1, "docker.io/library/busybox"));
  EXPECT_EQ(request, nlohmann::json::parse(
                         R"({"apiVersion":"credentialprovider.kubelet.k8s.io/v1",
                             "kind":"CredentialProviderRequest",
                             "image":"docker.io/library/busybox"})"));
}

// ---- running plugins ----

class ProvidersTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    request_log_ = dir_.Join("requests.log");
    response_file_ = dir_.Join("response.json");
    SetResponse(Response("Image", R"(,"cacheDuration":"1m")", kAuth));
  }

  void SetResponse(const std::string& json) { dir_.Write("response.json", json); }

  ProviderConfig Scripted(const std::string& default_duration = "0s", double delay_s = 0) {
    ProviderConfig p;
    p.name = "scripted.sh";
    p.match_images = {"127.0.0.1:5000", "*.example.com"};
    p.default_cache_duration = *ParseGoDuration(default_duration);
    p.api_version = std::string(kProviderApiV1);
    p.args = {"first-arg"};
    p.env = {{"REQUEST_LOG", request_log_},
             {"RESPONSE_FILE", response_file_},
             {"DELAY", std::to_string(delay_s)},
             {"PLUGIN_ENV_CHECK", "env-ok"}};
    return p;
  }

  std::unique_ptr<CredentialProviders> Make(
      std::vector<ProviderConfig> providers,
      std::chrono::milliseconds timeout = std::chrono::seconds(20),
      const std::string& bin_dir = kTestPlugins) {
    CredentialProviderConfig config;
    config.providers = std::move(providers);
    CredentialProvidersOptions options;
    options.bin_dir = bin_dir;
    options.exec_timeout = timeout;
    options.on_run = on_run_;
    options.now = [this] {
      return start_ + std::chrono::seconds(clock_seconds_.load());
    };
    Result<std::unique_ptr<CredentialProviders>> made =
        CredentialProviders::Create(std::move(config), std::move(options));
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message());
    return made.ok() ? std::move(*made) : nullptr;
  }

  int Requests() {
    std::string log = ReadAll(request_log_);
    return static_cast<int>(std::count(log.begin(), log.end(), '\n'));
  }

  ScratchDir dir_;
  std::string request_log_;
  std::string response_file_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<int> clock_seconds_{0};
  std::function<void(const std::string&, double, bool)> on_run_;
};

TEST_F(ProvidersTest, SendsTheRequestAndReturnsTheAuthAsAKeyring) {
  auto providers = Make({Scripted()});
  ASSERT_TRUE(providers);
  ProviderAnswer answer = providers->Provide(Ref("127.0.0.1:5000/pf/app:v1"));
  ASSERT_TRUE(answer.problems.empty()) << answer.problems[0].message();
  EXPECT_EQ(answer.matched_providers, std::vector<std::string>{"scripted.sh"});

  nlohmann::json request = nlohmann::json::parse(ReadAll(request_log_));
  EXPECT_EQ(request["image"], "127.0.0.1:5000/pf/app");  // the repository, no tag
  EXPECT_EQ(request["kind"], "CredentialProviderRequest");
  EXPECT_EQ(request["apiVersion"], "credentialprovider.kubelet.k8s.io/v1");
  EXPECT_EQ(ReadAll(request_log_ + ".args"), "first-arg env-ok\n");

  std::vector<AuthConfig> found = answer.keyring.Lookup(Ref("127.0.0.1:5000/pf/app:v1"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].username, "plugin-user");
  EXPECT_EQ(found[0].password, "PLUGIN-PASSWORD");
  EXPECT_EQ(found[0].matched_key, "127.0.0.1:5000");
  EXPECT_EQ(found[0].source, "credential provider scripted.sh");
  EXPECT_EQ(found[0].origin, CredentialOrigin::kProvider);
}

TEST_F(ProvidersTest, ImagesOutsideMatchImagesRunNothing) {
  auto providers = Make({Scripted()});
  ASSERT_TRUE(providers);
  ProviderAnswer answer = providers->Provide(Ref("127.0.0.1:5001/pf/app"));
  EXPECT_TRUE(answer.matched_providers.empty());
  EXPECT_EQ(answer.keyring.size(), 0u);
  EXPECT_EQ(providers->exec_count(), 0);
  EXPECT_TRUE(providers->Matching(Ref("docker.io/library/busybox")).empty());
  ASSERT_EQ(providers->Matching(Ref("a.example.com/x")).size(), 1u);
  EXPECT_EQ(providers->Matching(Ref("a.example.com/x"))[0].pattern, "*.example.com");
}

struct CacheCase {
  std::string label;
  std::string key_type;
  std::string duration_field;  // "" (absent) or ,"cacheDuration":"..."
  std::string default_duration;
  std::string second_image;  // asked after the first, same clock
  bool second_cached;
};

void PrintTo(const CacheCase& c, std::ostream* out) {
  *out << c.label;
}

class ProviderCacheTest : public ProvidersTest, public testing::WithParamInterface<CacheCase> {};

TEST_P(ProviderCacheTest, FollowsTheKubeletRules) {
  const CacheCase& c = GetParam();
  SetResponse(Response(c.key_type, c.duration_field, kAuth));
  auto providers = Make({Scripted(c.default_duration)});
  ASSERT_TRUE(providers);
  providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  ProviderAnswer second = providers->Provide(Ref(c.second_image));
  EXPECT_TRUE(second.problems.empty());
  EXPECT_EQ(Requests(), c.second_cached ? 1 : 2) << c.label;
  EXPECT_EQ(providers->exec_count(), c.second_cached ? 1 : 2);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ProviderCacheTest,
    testing::Values(CacheCase{"image key, same image", "Image", R"(,"cacheDuration":"1m")", "0s",
                              "127.0.0.1:5000/pf/app:other-tag", true},
                    CacheCase{"image key, other image", "Image", R"(,"cacheDuration":"1m")", "0s",
                              "127.0.0.1:5000/pf/other", false},
                    CacheCase{"registry key, other image", "Registry", R"(,"cacheDuration":"1m")",
                              "0s", "127.0.0.1:5000/pf/other", true},
                    CacheCase{"registry key, other registry", "Registry",
                              R"(,"cacheDuration":"1m")", "0s", "x.example.com/pf/app", false},
                    CacheCase{"global key, other registry", "Global", R"(,"cacheDuration":"1m")",
                              "0s", "x.example.com/pf/app", true},
                    CacheCase{"zero duration caches nothing", "Global", R"(,"cacheDuration":"0s")",
                              "1h", "127.0.0.1:5000/pf/app", false},
                    CacheCase{"absent duration uses the default", "Image", "", "1h",
                              "127.0.0.1:5000/pf/app", true},
                    CacheCase{"absent duration, zero default", "Image", "", "0s",
                              "127.0.0.1:5000/pf/app", false}),
    [](const testing::TestParamInfo<CacheCase>& info) {
      std::string name;
      for (char ch : info.param.label)
        name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return name;
    });

TEST_F(ProvidersTest, CacheEntriesExpire) {
  SetResponse(Response("Image", R"(,"cacheDuration":"10s")", kAuth));
  auto providers = Make({Scripted()});
  ASSERT_TRUE(providers);
  providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  clock_seconds_ = 10;  // at the expiry instant still valid (the kubelet expires after it)
  providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  EXPECT_EQ(Requests(), 1);
  clock_seconds_ = 11;
  providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  EXPECT_EQ(Requests(), 2);
}

TEST_F(ProvidersTest, ConcurrentRequestsForOneImageRunThePluginOnce) {
  SetResponse(
      Response("Image", R"(,"cacheDuration":"0s")", kAuth));  // no cache: only single flight
  auto providers = Make({Scripted("0s", 0.5)});
  ASSERT_TRUE(providers);
  std::vector<std::thread> threads;
  std::atomic<int> with_credentials{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      // Two images, three callers each.
      auto ref = Ref(i % 2 == 0 ? "127.0.0.1:5000/pf/a" : "127.0.0.1:5000/pf/b");
      ProviderAnswer answer = providers->Provide(ref);
      if (answer.problems.empty() && answer.keyring.Lookup(ref).size() == 1) ++with_credentials;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(with_credentials.load(), 6);
  EXPECT_EQ(providers->exec_count(), 2);
  EXPECT_EQ(Requests(), 2);
}

struct FailureCase {
  std::string plugin;
  ErrorCode code;
  std::string message_part;
};

void PrintTo(const FailureCase& c, std::ostream* out) {
  *out << c.plugin;
}

class ProviderFailureTest : public ProvidersTest,
                            public testing::WithParamInterface<FailureCase> {};

TEST_P(ProviderFailureTest, FailsWithAClearReasonAndNoStdout) {
  const FailureCase& c = GetParam();
  ProviderConfig p = Scripted();
  p.name = c.plugin;
  auto providers = Make({p}, std::chrono::milliseconds(1500));
  ASSERT_TRUE(providers);
  const auto started = std::chrono::steady_clock::now();
  ProviderAnswer answer = providers->Provide(Ref("127.0.0.1:5000/pf/app:v1"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(answer.keyring.size(), 0u);
  ASSERT_EQ(answer.problems.size(), 1u);
  const Error& e = answer.problems[0];
  EXPECT_EQ(e.code(), c.code) << e.message();
  EXPECT_EQ(e.message().find("credential provider \"" + c.plugin +
                             "\" for image 127.0.0.1:5000/pf/app: "),
            0u)
      << e.message();
  EXPECT_NE(e.message().find(c.message_part), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("STDOUT-SECRET"), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("STDERR-SECOND-LINE"), std::string::npos) << e.message();
  // Failures are not cached: the next pull asks again.
  providers->Provide(Ref("127.0.0.1:5000/pf/app:v1"));
  EXPECT_EQ(providers->exec_count(), 2);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ProviderFailureTest,
    testing::Values(FailureCase{"crash.sh", ErrorCode::kIo,
                                "exited with status 3 (stderr: plugin exploded: disk on fire)"},
                    FailureCase{"segv.sh", ErrorCode::kIo, "killed by signal SIGSEGV"},
                    FailureCase{"hang.sh", ErrorCode::kTimeout,
                                "no answer within 1500ms; its process group was killed"},
                    FailureCase{"garbage.sh", ErrorCode::kInvalidArgument,
                                "invalid CredentialProviderResponse: stdout is not JSON"}),
    [](const testing::TestParamInfo<FailureCase>& info) {
      std::string name;
      for (char ch : info.param.plugin)
        name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return name;
    });

bool ProcessGone(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

TEST_F(ProvidersTest, TimeoutKillsThePluginsHelpersToo) {
  ProviderConfig p = Scripted();
  p.name = "hang.sh";
  p.env.push_back({"HANG_PID_FILE", dir_.Join("helper.pid")});
  auto providers = Make({p}, std::chrono::milliseconds(800));
  ASSERT_TRUE(providers);
  ProviderAnswer answer = providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  ASSERT_EQ(answer.problems.size(), 1u);
  EXPECT_EQ(answer.problems[0].code(), ErrorCode::kTimeout);
  const int helper = std::atoi(ReadAll(dir_.Join("helper.pid")).c_str());
  ASSERT_GT(helper, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ProcessGone(helper);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "helper " << helper << " outlived the timeout";
}

TEST_F(ProvidersTest, APluginThatIgnoresStdinStillWorks) {
  ProviderConfig p = Scripted();
  p.name = "no-stdin.sh";
  auto providers = Make({p});
  ASSERT_TRUE(providers);
  ProviderAnswer answer = providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  EXPECT_TRUE(answer.problems.empty()) << answer.problems[0].message();
}

TEST_F(ProvidersTest, OneFailingProviderDoesNotHideAnother) {
  ProviderConfig bad = Scripted();
  bad.name = "crash.sh";
  auto providers = Make({bad, Scripted()});
  ASSERT_TRUE(providers);
  ProviderAnswer answer = providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  EXPECT_EQ(answer.matched_providers, (std::vector<std::string>{"crash.sh", "scripted.sh"}));
  EXPECT_EQ(answer.problems.size(), 1u);
  EXPECT_EQ(answer.keyring.Lookup(Ref("127.0.0.1:5000/pf/app")).size(), 1u);
}

// What the kubelet_credential_provider_plugin_* metrics are fed: one report per run (none for
// an answer from the cache), with the provider's name and whether the run gave an answer.
TEST_F(ProvidersTest, ReportsEveryPluginRunForMetrics) {
  std::vector<std::pair<std::string, bool>> runs;
  on_run_ = [&runs](const std::string& provider, double seconds, bool ok) {
    EXPECT_GE(seconds, 0.0);
    runs.emplace_back(provider, ok);
  };
  ProviderConfig bad = Scripted();
  bad.name = "crash.sh";
  auto providers = Make({bad, Scripted("1m")});
  ASSERT_TRUE(providers);
  providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  EXPECT_EQ(runs, (std::vector<std::pair<std::string, bool>>{{"crash.sh", false},
                                                             {"scripted.sh", true}}));
  providers->Provide(Ref("127.0.0.1:5000/pf/app"));  // scripted.sh answers from its cache
  EXPECT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs.back(), (std::pair<std::string, bool>{"crash.sh", false}));
}

TEST(CredentialProvidersCreateTest, ChecksBinDirAndExecutables) {
  ScratchDir dir;
  std::ofstream(dir.Join("not-executable")) << "#!/bin/sh\n";
  ProviderConfig p;
  p.match_images = {"x.io"};
  p.api_version = std::string(kProviderApiV1);
  auto create = [&](const std::string& name, const std::string& bin_dir) {
    CredentialProviderConfig config;
    p.name = name;
    config.providers = {p};
    CredentialProvidersOptions options;
    options.bin_dir = bin_dir;
    auto made = CredentialProviders::Create(config, options);
    return made.ok() ? std::string("ok") : made.error().message();
  };
  EXPECT_EQ(create("crash.sh", kTestPlugins), "ok");
  EXPECT_NE(
      create("missing", dir.path()).find("plugin executable " + dir.Join("missing") + " not found"),
      std::string::npos);
  EXPECT_NE(create("not-executable", dir.path()).find("is not executable"), std::string::npos);
  EXPECT_NE(create("crash.sh", dir.Join("nope")).find("is not a folder"), std::string::npos);
  EXPECT_NE(create("a/b", kTestPlugins).find("name cannot contain '/'"), std::string::npos);
}

// ---- the shipped example plugin ----

TEST_F(ProvidersTest, ExamplePluginAnswersFromEnvironment) {
  ProviderConfig p;
  p.name = "pullfleet-file-credential-provider";
  p.match_images = {"127.0.0.1:5000"};
  p.api_version = std::string(kProviderApiV1);
  p.args = {"--cache-duration", "5m"};
  p.env = {{"PF_REGISTRY_USERNAME", "env-user"}, {"PF_REGISTRY_PASSWORD", "ENV-PASSWORD"}};
  auto providers = Make({p}, std::chrono::seconds(20), kExamplePlugins);
  ASSERT_TRUE(providers);
  ProviderAnswer answer = providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  ASSERT_TRUE(answer.problems.empty()) << answer.problems[0].message();
  std::vector<AuthConfig> found = answer.keyring.Lookup(Ref("127.0.0.1:5000/pf/app"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].username, "env-user");
  EXPECT_EQ(found[0].password, "ENV-PASSWORD");
  // cacheKeyType Registry, 5m: another repository of the registry is served from the cache.
  providers->Provide(Ref("127.0.0.1:5000/pf/other"));
  EXPECT_EQ(providers->exec_count(), 1);
}

TEST_F(ProvidersTest, ExamplePluginAnswersFromFileAndFailsCleanly) {
  const std::string file = dir_.Write(
      "creds.json", R"({"127.0.0.1:5000/pf":{"username":"file-user","password":"FILE-PASSWORD"},
                       "*.example.com":{"username":"other","password":"OTHER"}})");
  ProviderConfig p;
  p.name = "pullfleet-file-credential-provider";
  p.match_images = {"127.0.0.1:5000"};
  p.api_version = std::string(kProviderApiV1);
  p.args = {"--credentials-file", file, "--cache-key-type", "Image"};
  auto providers = Make({p}, std::chrono::seconds(20), kExamplePlugins);
  ASSERT_TRUE(providers);
  ProviderAnswer answer = providers->Provide(Ref("127.0.0.1:5000/pf/app"));
  ASSERT_TRUE(answer.problems.empty()) << answer.problems[0].message();
  std::vector<AuthConfig> found = answer.keyring.Lookup(Ref("127.0.0.1:5000/pf/app"));
  ASSERT_EQ(found.size(), 1u);  // the *.example.com entry does not match this image
  EXPECT_EQ(found[0].username, "file-user");

  p.args = {"--credentials-file", dir_.Join("missing.json")};
  auto broken = Make({p}, std::chrono::seconds(20), kExamplePlugins);
  ASSERT_TRUE(broken);
  ProviderAnswer failed = broken->Provide(Ref("127.0.0.1:5000/pf/app"));
  ASSERT_EQ(failed.problems.size(), 1u);
  EXPECT_NE(failed.problems[0].message().find("exited with status 1 (stderr: "
                                              "pullfleet-file-credential-provider: cannot read "
                                              "credentials file"),
            std::string::npos)
      << failed.problems[0].message();
}

// ---- the subprocess runner itself ----

TEST(SubprocessTest, LargeOutputIsCappedAndDrained) {
  SubprocessSpec spec;
  spec.path = "/bin/sh";
  spec.args = {"-c", "head -c 3000000 /dev/zero; echo done >&2"};
  spec.max_stdout = 1000;
  Result<SubprocessResult> r = RunSubprocess(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_TRUE(r->stdout_truncated);
  EXPECT_EQ(r->stdout_data.size(), 1000u);
  EXPECT_EQ(r->stderr_data, "done\n");
}

TEST(SubprocessTest, LargeStdinReachesTheChild) {
  SubprocessSpec spec;
  spec.path = "/usr/bin/wc";
  spec.args = {"-c"};
  spec.stdin_data.assign(500000, 'x');
  Result<SubprocessResult> r = RunSubprocess(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::atoi(r->stdout_data.c_str()), 500000);
}

TEST(SubprocessTest, MissingProgramFailsToStart) {
  SubprocessSpec spec;
  spec.path = "/nonexistent/plugin";
  Result<SubprocessResult> r = RunSubprocess(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_NE(r.error().message().find("No such file"), std::string::npos);
}

TEST(SubprocessTest, FirstLineSummary) {
  EXPECT_EQ(FirstLineSummary("\n  first line\x01 here\nsecond"), "first line here");
  EXPECT_EQ(FirstLineSummary(""), "");
  EXPECT_EQ(FirstLineSummary(std::string(300, 'a')), std::string(200, 'a') + "...");
}

}  // namespace
}  // namespace pullfleet::credentials
