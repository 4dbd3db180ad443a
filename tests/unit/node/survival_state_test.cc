// Plain state a node needs to survive failures (issue 5): the reconnect backoff, the pull
// intents kept in its database, and the config fields that control both.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "node/keyed_locks.h"
#include "node/local_images.h"
#include "node/node_config.h"
#include "node/reconnect_backoff.h"

namespace pullfleet::node {
namespace {

using std::chrono::milliseconds;

TEST(ReconnectBackoffTest, DoublesToTheMaximumWithinTheJitterBand) {
  ReconnectBackoff backoff(milliseconds(100), milliseconds(1000));
  // random01 = 0 gives the lower edge (half the step), 1 the upper edge (the step).
  EXPECT_EQ(backoff.Next(0.0), milliseconds(50));
  EXPECT_EQ(backoff.Next(1.0), milliseconds(200));
  EXPECT_EQ(backoff.Next(0.5), milliseconds(300));  // step 400: 200 + 100
  EXPECT_EQ(backoff.Next(1.0), milliseconds(800));
  EXPECT_EQ(backoff.Next(1.0), milliseconds(1000));  // capped
  EXPECT_EQ(backoff.Next(0.0), milliseconds(500));
}

TEST(ReconnectBackoffTest, ResetStartsOverAndJitterSpreadsAFleet) {
  ReconnectBackoff backoff(milliseconds(200), milliseconds(5000));
  for (int i = 0; i < 10; ++i) backoff.Next(0.7);
  backoff.Reset();
  EXPECT_EQ(backoff.Next(1.0), milliseconds(200));

  // 100 nodes that lost the coordinator together do not all retry at one moment.
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::set<int64_t> first_waits;
  for (int node = 0; node < 100; ++node) {
    ReconnectBackoff fresh(milliseconds(200), milliseconds(5000));
    const auto wait = fresh.Next(uniform(rng));
    EXPECT_GE(wait, milliseconds(100));
    EXPECT_LE(wait, milliseconds(200));
    first_waits.insert(wait.count());
  }
  EXPECT_GT(first_waits.size(), 50u);
}

TEST(NodeConfigSurvivalTest, ReconnectAndChaosFields) {
  auto defaults = ParseNodeConfig("", "defaults");
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->allow_chaos);
  EXPECT_DOUBLE_EQ(defaults->reconnect_initial_seconds, 0.2);
  EXPECT_DOUBLE_EQ(defaults->reconnect_max_seconds, 5);

  auto set = ParseNodeConfig(
      "allowChaos: true\ncoordinatorReconnect: {initialSeconds: 0.5, maxSeconds: 30}\n", "t");
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_TRUE(set->allow_chaos);
  EXPECT_DOUBLE_EQ(set->reconnect_initial_seconds, 0.5);
  EXPECT_DOUBLE_EQ(set->reconnect_max_seconds, 30);

  auto bad = ParseNodeConfig("coordinatorReconnect: {initialSeconds: 10, maxSeconds: 1}\n", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("coordinatorReconnect"), std::string::npos);
}

// The documented example config of deploy/ must stay a valid config.
TEST(NodeConfigSurvivalTest, TheExampleConfigOfDeployParses) {
  auto config = LoadNodeConfig(PULLFLEET_SOURCE_DIR "/deploy/config/node.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->labels.at("zone"), "rack-1");
  EXPECT_FALSE(config->allow_chaos);
  EXPECT_EQ(config->registries.count("registry.example.com:5000"), 1u);
}

class PullIntentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pf-intents-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static pb::PullIntent Intent(uint64_t sequence, const std::string& reference) {
    pb::PullIntent intent;
    intent.set_sequence(sequence);
    intent.set_key("|" + reference + "|present|");
    intent.set_reference(reference);
    return intent;
  }

  std::filesystem::path dir_;
};

TEST_F(PullIntentTest, LeftoversSurviveAReopenInQueueOrderAndAreTakenOnce) {
  {
    auto images = LocalImages::Open(dir_);
    ASSERT_TRUE(images.ok());
    // Sequence 10 sorts after 9 (keys are zero-padded), and a cleared one is gone.
    ASSERT_TRUE((*images)->RecordIntent(Intent(10, "example.com/b:1")).ok());
    ASSERT_TRUE((*images)->RecordIntent(Intent(9, "example.com/a:1")).ok());
    ASSERT_TRUE((*images)->RecordIntent(Intent(11, "example.com/c:1")).ok());
    ASSERT_TRUE((*images)->ClearIntent(11).ok());
  }
  auto reopened = LocalImages::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  auto leftovers = (*reopened)->TakeLeftoverIntents();
  ASSERT_EQ(leftovers.size(), 2u);
  EXPECT_EQ(leftovers[0].reference(), "example.com/a:1");
  EXPECT_EQ(leftovers[1].reference(), "example.com/b:1");
  EXPECT_EQ(leftovers[0].record_version(), 1u);
  EXPECT_TRUE((*reopened)->TakeLeftoverIntents().empty());
  // New intents are numbered after the leftovers, so queue order stays true.
  EXPECT_GT((*reopened)->NextIntentSequence(), 10u);
}

TEST_F(PullIntentTest, ARecordOfANewerVersionWithUnknownFieldsIsStillRead) {
  auto images = LocalImages::Open(dir_);
  ASSERT_TRUE(images.ok());
  pb::PullIntent intent = Intent(3, "example.com/new:1");
  // A newer binary's field 99 (varint 7), as unknown bytes.
  std::string bytes = intent.SerializeAsString() + std::string("\x98\x06\x07", 3);
  pb::PullIntent parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_TRUE((*images)->RecordIntent(parsed).ok());
  auto leftovers = (*images)->TakeLeftoverIntents();
  ASSERT_EQ(leftovers.size(), 1u);
  EXPECT_EQ(leftovers[0].reference(), "example.com/new:1");
}

}  // namespace
}  // namespace pullfleet::node

namespace pullfleet::node {
namespace {

// A node's store given where its data folder belongs is refused, pointing at the folder.
TEST_F(PullIntentTest, AStoreGivenAsTheDataFolderIsRefused) {
  {
    auto images = LocalImages::Open(dir_);
    ASSERT_TRUE(images.ok());
  }
  auto wrong = LocalImages::Open(dir_ / "store");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("is an image store itself"), std::string::npos)
      << wrong.error().message();
  EXPECT_NE(wrong.error().message().find(": " + dir_.string()), std::string::npos)
      << wrong.error().message();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "store" / "store")) << "nothing made inside it";
}

TEST(KeyedLocksTest, OneHolderPerKeyOthersIndependent) {
  KeyedLocks locks;
  bool waited = true;
  {
    auto a = locks.Acquire("a", &waited);
    EXPECT_FALSE(waited);
    auto b = locks.Acquire("b", &waited);  // another key: no wait, no deadlock
    EXPECT_FALSE(waited);
  }
  auto again = locks.Acquire("a", &waited);
  EXPECT_FALSE(waited);
}

TEST(KeyedLocksTest, ASecondHolderOfAKeyGetsItOnlyAfterTheFirstLetsGo) {
  KeyedLocks locks;
  std::atomic<bool> second_has_it{false};
  std::atomic<bool> released{false};
  bool order_kept = true;
  std::thread second;
  {
    auto first = locks.Acquire("image");
    second = std::thread([&] {
      auto guard = locks.Acquire("image");
      order_kept = released.load();
      second_has_it = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it reach the lock
    EXPECT_FALSE(second_has_it.load());
    released = true;
  }
  second.join();
  EXPECT_TRUE(second_has_it.load());
  EXPECT_TRUE(order_kept);
}

}  // namespace
}  // namespace pullfleet::node
