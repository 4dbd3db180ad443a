#include "node/token_bucket.h"

#include <gtest/gtest.h>

namespace pullfleet::node {
namespace {

using std::chrono::milliseconds;

TEST(TokenBucketTest, BurstThenQps) {
  const auto t0 = TokenBucket::Clock::time_point{} + std::chrono::hours(1);
  TokenBucket bucket(2.0, 3, t0);  // 2 per second, burst 3
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_FALSE(bucket.TryTake(t0));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.TimeUntilNext(t0)).count(), 500);
  EXPECT_FALSE(bucket.TryTake(t0 + milliseconds(499)));
  EXPECT_TRUE(bucket.TryTake(t0 + milliseconds(500)));
  // A long quiet spell refills only up to the burst.
  const auto later = t0 + std::chrono::seconds(60);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryTake(later)) << i;
  EXPECT_FALSE(bucket.TryTake(later));
}

TEST(TokenBucketTest, ZeroQpsMeansNoLimit) {
  const auto t0 = TokenBucket::Clock::time_point{};
  TokenBucket bucket(0, 0, t0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(bucket.TryTake(t0));
  EXPECT_EQ(bucket.TimeUntilNext(t0), TokenBucket::Clock::duration::zero());
}

}  // namespace
}  // namespace pullfleet::node
