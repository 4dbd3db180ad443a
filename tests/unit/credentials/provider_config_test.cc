// Table tests for CredentialProviderConfig: parsing (YAML and JSON), the kubelet's validation,
// folders merged in name order, Go durations and matchImages matching.
#include "credentials/provider_config.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/credentials/test_dir.h"

namespace pullfleet::credentials {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using testing_util::ScratchDir;

const char kValidYaml[] = R"(apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    matchImages:
      - "*.dkr.ecr.*.amazonaws.com"
      - "127.0.0.1:5000"
    defaultCacheDuration: "12h"
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    args: [get-credentials]
    env:
      - name: AWS_PROFILE
        value: ENV-SECRET-VALUE
)";

TEST(ProviderConfigTest, ParsesTheKubeletExample) {
  Result<CredentialProviderConfig> config = ParseCredentialProviderConfig(kValidYaml, "c.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  ASSERT_EQ(config->providers.size(), 1u);
  const ProviderConfig& p = config->providers[0];
  EXPECT_EQ(p.name, "ecr-credential-provider");
  EXPECT_EQ(p.match_images,
            (std::vector<std::string>{"*.dkr.ecr.*.amazonaws.com", "127.0.0.1:5000"}));
  EXPECT_EQ(p.default_cache_duration, hours(12));
  EXPECT_EQ(p.api_version, "credentialprovider.kubelet.k8s.io/v1");
  EXPECT_EQ(p.args, std::vector<std::string>{"get-credentials"});
  ASSERT_EQ(p.env.size(), 1u);
  EXPECT_EQ(p.env[0].name, "AWS_PROFILE");
  EXPECT_EQ(p.env[0].value, "ENV-SECRET-VALUE");
  EXPECT_EQ(p.source, "c.yaml");
  EXPECT_TRUE(ValidateCredentialProviderConfig(*config).ok());
}

TEST(ProviderConfigTest, ParsesJson) {
  const char json[] = R"({"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig",
    "providers":[{"name":"p","matchImages":["*.io"],"defaultCacheDuration":"0s",
    "apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1"}]})";
  Result<CredentialProviderConfig> config = ParseCredentialProviderConfig(json, "c.json");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->providers[0].default_cache_duration, nanoseconds(0));
  EXPECT_TRUE(ValidateCredentialProviderConfig(*config).ok());
}

struct InvalidCase {
  std::string label;
  std::string provider_yaml;  // one provider's fields, indented by 4
  std::string message_part;
};

void PrintTo(const InvalidCase& c, std::ostream* out) {
  *out << c.label;
}

class InvalidProviderTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidProviderTest, IsRejectedWithAClearReason) {
  const InvalidCase& c = GetParam();
  const std::string yaml =
      "apiVersion: kubelet.config.k8s.io/v1\n"
      "kind: CredentialProviderConfig\n"
      "providers:\n  - " +
      c.provider_yaml;
  Result<CredentialProviderConfig> config = ParseCredentialProviderConfig(yaml, "bad.yaml");
  Status status = config.ok() ? ValidateCredentialProviderConfig(*config) : config.error();
  ASSERT_FALSE(status.ok()) << c.label;
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.error().message().find(c.message_part), std::string::npos)
      << status.error().message();
  EXPECT_EQ(status.error().message().find("bad.yaml"), 0u) << status.error().message();
  EXPECT_EQ(status.error().message().find("ENV-SECRET"), std::string::npos);
}

#define OK_REST "    apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
#define FIELDS(name, match, duration) \
  "name: " name "\n    matchImages: [" match "]\n    defaultCacheDuration: " duration "\n"

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidProviderTest,
    testing::Values(
        InvalidCase{"slash in name", FIELDS("a/b", "\"x.io\"", "1m") OK_REST,
                    "name cannot contain '/'"},
        InvalidCase{"space in name", FIELDS("a b", "\"x.io\"", "1m") OK_REST,
                    "name cannot contain spaces"},
        InvalidCase{"dot name", FIELDS(".", "\"x.io\"", "1m") OK_REST, "name cannot be \".\""},
        InvalidCase{"dotdot name", FIELDS("..", "\"x.io\"", "1m") OK_REST, "name cannot be \"..\""},
        InvalidCase{"no name", "matchImages: [x.io]\n    defaultCacheDuration: 1m\n" OK_REST,
                    "name is required"},
        InvalidCase{"no apiVersion", FIELDS("p", "\"x.io\"", "1m"), "apiVersion is required"},
        InvalidCase{
            "bad apiVersion",
            FIELDS("p", "\"x.io\"", "1m") "    apiVersion: credentialprovider.kubelet.k8s.io/v2\n",
            "is not supported"},
        InvalidCase{"no matchImages", "name: p\n    defaultCacheDuration: 1m\n" OK_REST,
                    "matchImages needs at least one entry"},
        InvalidCase{"bad matchImages", FIELDS("p", "\"x.io:port\"", "1m") OK_REST,
                    "matchImages entry is invalid"},
        InvalidCase{"no duration", "name: p\n    matchImages: [x.io]\n" OK_REST,
                    "defaultCacheDuration is required"},
        InvalidCase{"negative duration", FIELDS("p", "\"x.io\"", "\"-1s\"") OK_REST,
                    "defaultCacheDuration must be greater than or equal to 0"},
        InvalidCase{"duration without unit", FIELDS("p", "\"x.io\"", "\"10\"") OK_REST,
                    "missing unit"},
        InvalidCase{"unknown field", FIELDS("p", "\"x.io\"", "1m") OK_REST "    cache: 1\n",
                    "unknown field \"cache\""},
        InvalidCase{"token attributes",
                    FIELDS("p", "\"x.io\"", "1m") OK_REST "    tokenAttributes: {}\n",
                    "tokenAttributes"},
        InvalidCase{"env without name",
                    FIELDS("p", "\"x.io\"", "1m") OK_REST "    env: [{value: ENV-SECRET}]\n",
                    "env[0]: name must be"},
        InvalidCase{"args not a list", FIELDS("p", "\"x.io\"", "1m") OK_REST "    args: {a: 1}\n",
                    "args must be a list"}),
    [](const testing::TestParamInfo<InvalidCase>& info) {
      std::string name;
      for (char ch : info.param.label)
        name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return name;
    });

TEST(ProviderConfigTest, RejectsWrongKindVersionAndSyntax) {
  auto message = [](const std::string& text) {
    Result<CredentialProviderConfig> c = ParseCredentialProviderConfig(text, "f");
    return c.ok() ? std::string("ok") : c.error().message();
  };
  EXPECT_NE(message("apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n")
                .find("kind is \"KubeletConfiguration\""),
            std::string::npos);
  EXPECT_NE(message("apiVersion: v1\nkind: CredentialProviderConfig\n").find("apiVersion \"v1\""),
            std::string::npos);
  EXPECT_NE(message("providers: [\n  oops: ENV-SECRET").find("invalid YAML/JSON at line"),
            std::string::npos);
  EXPECT_EQ(message("providers: [\n  oops: ENV-SECRET").find("ENV-SECRET"), std::string::npos);
  EXPECT_NE(message("- a\n- b\n").find("expected a CredentialProviderConfig"), std::string::npos);
  Result<CredentialProviderConfig> empty = ParseCredentialProviderConfig(
      "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders: []\n", "f");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(ValidateCredentialProviderConfig(*empty).ok());
}

std::string OneProvider(const std::string& name) {
  return "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n"
         "  - name: " +
         name +
         "\n    matchImages: [x.io]\n    defaultCacheDuration: 1m\n"
         "    apiVersion: credentialprovider.kubelet.k8s.io/v1\n";
}

TEST(LoadCredentialProviderConfigTest, FolderMergesConfigFilesInNameOrder) {
  ScratchDir dir;
  dir.Write("20-b.yaml", OneProvider("second"));
  dir.Write("10-a.json",
            R"({"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig",
               "providers":[{"name":"first","matchImages":["x.io"],"defaultCacheDuration":"1m",
               "apiVersion":"credentialprovider.kubelet.k8s.io/v1"}]})");
  dir.Write("30-c.yml", OneProvider("third"));
  dir.Write("README.md", "not a config");
  dir.Write("40-d.yaml.bak", "not: read");
  Result<CredentialProviderConfig> config = LoadCredentialProviderConfig(dir.path());
  ASSERT_TRUE(config.ok()) << config.error().message();
  ASSERT_EQ(config->providers.size(), 3u);
  EXPECT_EQ(config->providers[0].name, "first");
  EXPECT_EQ(config->providers[1].name, "second");
  EXPECT_EQ(config->providers[2].name, "third");
  EXPECT_EQ(config->providers[0].source, dir.Join("10-a.json"));
}

TEST(LoadCredentialProviderConfigTest, FolderErrors) {
  ScratchDir dir;
  Result<CredentialProviderConfig> none = LoadCredentialProviderConfig(dir.path());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("has no configuration files"), std::string::npos);

  dir.Write("a.yaml", OneProvider("same"));
  dir.Write("b.yaml", OneProvider("same"));
  Result<CredentialProviderConfig> duplicate = LoadCredentialProviderConfig(dir.path());
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message().find("duplicate provider name \"same\""),
            std::string::npos);
  EXPECT_NE(duplicate.error().message().find("b.yaml"), std::string::npos);

  Result<CredentialProviderConfig> missing = LoadCredentialProviderConfig(dir.Join("nope.yaml"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kIo);
}

TEST(LoadCredentialProviderConfigTest, SingleFileIsValidated) {
  ScratchDir dir;
  std::string path = dir.Write("c.yaml", OneProvider("a/b"));
  Result<CredentialProviderConfig> config = LoadCredentialProviderConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message().find(path + ": provider \"a/b\": name cannot contain '/'"),
            std::string::npos)
      << config.error().message();
}

// ---- durations ----

struct DurationCase {
  std::string text;
  bool ok;
  nanoseconds want;
};

void PrintTo(const DurationCase& c, std::ostream* out) {
  *out << c.text;
}

class GoDurationTest : public testing::TestWithParam<DurationCase> {};

TEST_P(GoDurationTest, ParsesLikeGo) {
  const DurationCase& c = GetParam();
  Result<nanoseconds> d = ParseGoDuration(c.text);
  ASSERT_EQ(d.ok(), c.ok) << c.text;
  if (c.ok) EXPECT_EQ(d->count(), c.want.count()) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, GoDurationTest,
    testing::Values(
        DurationCase{"0", true, nanoseconds(0)}, DurationCase{"0s", true, nanoseconds(0)},
        DurationCase{"12h", true, hours(12)}, DurationCase{"1h30m", true, minutes(90)},
        DurationCase{"1.5h", true, minutes(90)}, DurationCase{"300ms", true, milliseconds(300)},
        DurationCase{"2m3s", true, seconds(123)}, DurationCase{"10us", true, nanoseconds(10000)},
        DurationCase{"10\xc2\xb5s", true, nanoseconds(10000)},
        DurationCase{"7ns", true, nanoseconds(7)}, DurationCase{"-1s", true, seconds(-1)},
        DurationCase{"+5s", true, seconds(5)}, DurationCase{".5s", true, milliseconds(500)},
        DurationCase{"", false, {}}, DurationCase{"10", false, {}}, DurationCase{"1d", false, {}},
        DurationCase{"h", false, {}}, DurationCase{"1h 2m", false, {}},
        DurationCase{"-", false, {}}, DurationCase{"3000000h", false, {}}));

// ---- matchImages ----

struct PatternCase {
  std::string pattern;
  std::string image;
  bool want;
};

void PrintTo(const PatternCase& c, std::ostream* out) {
  *out << c.pattern << " vs " << c.image;
}

class PatternMatchesImageTest : public testing::TestWithParam<PatternCase> {};

TEST_P(PatternMatchesImageTest, UsesTheKeyringRules) {
  const PatternCase& c = GetParam();
  EXPECT_EQ(PatternMatchesImage(c.pattern, c.image), c.want) << c.pattern << " vs " << c.image;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PatternMatchesImageTest,
    testing::Values(
        PatternCase{"*.dkr.ecr.*.amazonaws.com", "123.dkr.ecr.eu-west-1.amazonaws.com/app", true},
        PatternCase{"*.dkr.ecr.*.amazonaws.com", "dkr.ecr.eu-west-1.amazonaws.com/app", false},
        PatternCase{"127.0.0.1:5000", "127.0.0.1:5000/pf/app", true},
        PatternCase{"127.0.0.1", "127.0.0.1:5000/pf/app", false},
        PatternCase{"127.0.0.1:*", "127.0.0.1:5000/pf/app", false},
        PatternCase{"https://registry.io/v2/", "registry.io/x", true},
        PatternCase{"registry.io/team", "registry.io/team/app", true},
        PatternCase{"registry.io/team", "registry.io/teamx/app", false},
        PatternCase{"*.kubernetes.io", "kubernetes.io/app", false},
        PatternCase{"prefix.*.io", "prefix.kubernetes.io/app", true},
        PatternCase{"*-good.kubernetes.io", "prefix-good.kubernetes.io/app", true},
        PatternCase{"x.io:bad", "x.io/app", false}));

}  // namespace
}  // namespace pullfleet::credentials
