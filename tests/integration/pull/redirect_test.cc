// Credentials never follow a redirect to another host: a pull through tests/rig/redirect_proxy.py,
// which relays to the real htpasswd registry but sends every blob download to a "storage" server
// on another loopback address (127.0.0.2) with a one-time ticket, as registries backed by object
// storage do. The storage server records the headers it received.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "pull/puller.h"
#include "store/content_store.h"
#include "tests/support/registry_fixture.h"

namespace pullfleet::pull {
namespace {

using testing::RegistryAuth;
using testing::RegistryOptions;
using testing::RegistrySuite;
using testing::RunCommand;
using testing::ShellQuote;
using testing::TempDir;

class RedirectTest : public RegistrySuite<RedirectTest> {
 public:
  static RegistryOptions SuiteOptions() {
    RegistryOptions o;
    o.auth = RegistryAuth::kHtpasswd;
    o.images = "busybox,big";
    return o;
  }

 protected:
  void SetUp() override {
    log_ = dir_.Join("storage.log");
    const std::string ready = dir_.Join("ready");
    CommandResult started = RunCommand(
        "(/usr/bin/python3 " PULLFLEET_SOURCE_DIR "/tests/rig/redirect_proxy.py --upstream " +
        registry().host() + " --log " + ShellQuote(log_) + " --ready " + ShellQuote(ready) + " >" +
        ShellQuote(dir_.Join("proxy.out")) + " 2>&1 & echo $!)");
    pid_ = std::atoi(started.output.c_str());
    ASSERT_GT(pid_, 0) << started.output;
    for (int i = 0; i < 100 && front_.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream in(ready);
      for (std::string line; std::getline(in, line);) {
        if (line.rfind("FRONT_ADDR=", 0) == 0) front_ = line.substr(11);
        if (line.rfind("STORAGE_ADDR=", 0) == 0) storage_ = line.substr(13);
      }
    }
    ASSERT_FALSE(front_.empty()) << "redirect_proxy.py did not start";
  }

  void TearDown() override {
    if (pid_ > 0) RunCommand("kill " + std::to_string(pid_));
  }

  using CommandResult = testing::CommandResult;

  PullOptions Through(const std::string& repo_tag) {
    PullOptions o;
    auto ref = image::ParseReference(front_ + "/" + repo_tag);
    EXPECT_TRUE(ref.ok());
    if (ref.ok()) o.reference = *ref;
    o.platform = image::Platform{"linux", "amd64", ""};
    o.credentials.push_back(CandidateCredential{
        registry::Credentials{registry().user(), registry().password()}, "test htpasswd"});
    return o;
  }

  std::vector<nlohmann::json> StorageRequests() {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  TempDir dir_{"pf-redirect-"};
  std::string log_, front_, storage_;
  int pid_ = -1;
};

TEST_F(RedirectTest, BlobsComeFromTheStorageHostWithoutTheRegistryCredentials) {
  auto s = store::ContentStore::Open(dir_.Join("store"));
  ASSERT_TRUE(s.ok());
  Puller puller(**s);
  auto pulled = puller.Pull(Through("pf/big:1.0"));
  ASSERT_TRUE(pulled.ok()) << pulled.error().message();
  EXPECT_EQ(pulled->resolved_digest, registry().Digest("BIG"));

  const auto requests = StorageRequests();
  // The config and every layer went through the storage host.
  ASSERT_EQ(static_cast<int>(requests.size()), pulled->blobs_downloaded);
  ASSERT_GE(requests.size(), 2u);
  for (const auto& request : requests) {
    const auto& headers = request["headers"];
    for (auto it = headers.begin(); it != headers.end(); ++it) {
      std::string name = it.key();
      for (auto& c : name) c = static_cast<char>(std::tolower(c));
      EXPECT_NE(name, "authorization") << "credentials followed a redirect to " << storage_;
    }
  }
  for (const auto& digest : pulled->layer_digests) {
    auto path = (*s)->BlobPath(digest);
    EXPECT_TRUE(std::ifstream(path).good()) << digest;
  }
}

// Without credentials the registry refuses the manifest: the relay really passes the client's
// Authorization header to the registry, so the test above proves where it stopped.
TEST_F(RedirectTest, TheRelayNeedsTheCredentialsItPasses) {
  auto s = store::ContentStore::Open(dir_.Join("store"));
  ASSERT_TRUE(s.ok());
  PullOptions anonymous = Through("pf/busybox:1.36");
  anonymous.credentials.clear();
  auto pulled = Puller(**s).Pull(anonymous);
  ASSERT_FALSE(pulled.ok());
  EXPECT_NE(pulled.error().message().find("401"), std::string::npos) << pulled.error().message();
  EXPECT_TRUE(StorageRequests().empty());
}

}  // namespace
}  // namespace pullfleet::pull
