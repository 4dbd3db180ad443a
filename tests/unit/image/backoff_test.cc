// Backoff ticks with explicit time points (client-go flowcontrol.Backoff semantics).
#include "image/backoff.h"

#include <gtest/gtest.h>

#include <vector>

namespace pullfleet::image {
namespace {

using std::chrono::seconds;

const Clock::time_point kStart = Clock::time_point() + std::chrono::hours(1);

TEST(BackoffTest, DoublesFromTenSecondsAndCapsAtFiveMinutes) {
  Backoff backoff;
  const std::vector<int> want = {10, 20, 40, 80, 160, 300, 300, 300};
  Clock::time_point now = kStart;
  for (size_t i = 0; i < want.size(); ++i) {
    const Clock::duration delay = backoff.Next("pod/busybox", now);
    EXPECT_EQ(delay, seconds(want[i])) << "failure #" << i + 1;
    EXPECT_EQ(backoff.Get("pod/busybox"), seconds(want[i]));
    // Retry exactly when the window ends.
    now += delay;
  }
}

TEST(BackoffTest, InBackOffUntilTheWindowEnds) {
  Backoff backoff;
  backoff.Next("k", kStart);
  struct Case {
    Clock::duration after;
    bool in_backoff;
  };
  for (const Case& c : {Case{seconds(0), true}, Case{seconds(9), true},
                        Case{seconds(10) - std::chrono::nanoseconds(1), true},
                        Case{seconds(10), false}, Case{seconds(11), false}}) {
    EXPECT_EQ(backoff.IsInBackOffSinceUpdate("k", kStart + c.after), c.in_backoff)
        << std::chrono::duration_cast<std::chrono::nanoseconds>(c.after).count() << " ns";
  }
  EXPECT_EQ(backoff.RetryAt("k", kStart + seconds(3)), kStart + seconds(10));
  EXPECT_EQ(backoff.RetryAt("k", kStart + seconds(12)), kStart + seconds(12));
}

TEST(BackoffTest, UnknownKeyIsNotBackingOff) {
  Backoff backoff;
  EXPECT_FALSE(backoff.IsInBackOffSinceUpdate("nope", kStart));
  EXPECT_EQ(backoff.Get("nope"), Clock::duration::zero());
  EXPECT_EQ(backoff.RetryAt("nope", kStart), kStart);
}

TEST(BackoffTest, KeysAreIndependent) {
  Backoff backoff;
  backoff.Next("a", kStart);
  backoff.Next("a", kStart + seconds(10));
  EXPECT_EQ(backoff.Next("b", kStart + seconds(10)), seconds(10));
  EXPECT_EQ(backoff.Get("a"), seconds(20));
  EXPECT_EQ(backoff.size(), 2u);
}

TEST(BackoffTest, StartsOverAfterMoreThanTenMinutesWithoutFailure) {
  struct Case {
    Clock::duration quiet;
    Clock::duration want;
  };
  // Exactly 2 x max (600 s) still counts as recent; one tick later the entry has expired.
  for (const Case& c : {Case{seconds(599), seconds(80)}, Case{seconds(600), seconds(80)},
                        Case{seconds(600) + std::chrono::nanoseconds(1), seconds(10)},
                        Case{seconds(3600), seconds(10)}}) {
    Backoff backoff;
    Clock::time_point now = kStart;
    for (int i = 0; i < 3; ++i) now += backoff.Next("k", now);  // 10, 20, 40
    const Clock::time_point last = now - seconds(40);
    EXPECT_EQ(backoff.Next("k", last + c.quiet), c.want)
        << std::chrono::duration_cast<std::chrono::nanoseconds>(c.quiet).count() << " ns";
  }
}

TEST(BackoffTest, ExpiredEntryIsNotInBackOff) {
  Backoff backoff(seconds(10), seconds(300));
  for (int i = 0; i < 6; ++i) backoff.Next("k", kStart);  // up to 300 s, all at kStart
  EXPECT_EQ(backoff.Get("k"), seconds(300));
  EXPECT_TRUE(backoff.IsInBackOffSinceUpdate("k", kStart + seconds(299)));
  EXPECT_FALSE(backoff.IsInBackOffSinceUpdate("k", kStart + seconds(601)));
}

TEST(BackoffTest, ResetForgetsTheKey) {
  Backoff backoff;
  backoff.Next("k", kStart);
  backoff.Next("k", kStart + seconds(10));
  backoff.Reset("k");
  EXPECT_EQ(backoff.size(), 0u);
  EXPECT_FALSE(backoff.IsInBackOffSinceUpdate("k", kStart + seconds(11)));
  EXPECT_EQ(backoff.Next("k", kStart + seconds(11)), seconds(10));
}

TEST(BackoffTest, GarbageCollectDropsOnlyEntriesOlderThanTwiceMax) {
  Backoff backoff;
  backoff.Next("old", kStart);
  backoff.Next("new", kStart + seconds(100));
  backoff.GarbageCollect(kStart + seconds(600));
  EXPECT_EQ(backoff.size(), 2u);
  backoff.GarbageCollect(kStart + seconds(601));
  EXPECT_EQ(backoff.size(), 1u);
  EXPECT_EQ(backoff.Get("old"), Clock::duration::zero());
  EXPECT_EQ(backoff.Get("new"), seconds(10));
}

TEST(BackoffTest, CustomLimits) {
  Backoff backoff(seconds(1), seconds(5));
  Clock::time_point now = kStart;
  const std::vector<int> want = {1, 2, 4, 5, 5};
  for (int w : want) {
    const Clock::duration delay = backoff.Next("k", now);
    EXPECT_EQ(delay, seconds(w));
    now += delay;
  }
  EXPECT_EQ(backoff.Next("k", now + seconds(11)), seconds(1));
}

}  // namespace
}  // namespace pullfleet::image
