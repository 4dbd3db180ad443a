// PullTracker: the live figures and the stall rule of one download, driven by a test clock.
#include "node/pull_progress.h"

#include <gtest/gtest.h>

namespace pullfleet::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

pull::Progress At(int64_t bytes, int layers_done = 0) {
  pull::Progress p;
  p.bytes_done = bytes;
  p.bytes_total = 1000;
  p.layers_done = layers_done;
  p.layers_total = 3;
  return p;
}

TEST(PullTracker, ReportsTheFiguresAndTheRateOfTheLastSeconds) {
  const auto t0 = PullTracker::Clock::time_point{} + seconds(100);
  PullTracker tracker(t0);
  tracker.Update(At(100), t0 + seconds(1));
  EXPECT_EQ(tracker.Snapshot(t0 + seconds(1)).bytes_per_second, 0) << "one sample measures nothing";
  tracker.Update(At(300, 1), t0 + seconds(2));
  auto figures = tracker.Snapshot(t0 + seconds(2));
  EXPECT_EQ(figures.bytes_done, 300);
  EXPECT_EQ(figures.bytes_total, 1000);
  EXPECT_EQ(figures.layers_done, 1);
  EXPECT_EQ(figures.layers_total, 3);
  EXPECT_DOUBLE_EQ(figures.bytes_per_second, 200.0);
}

TEST(PullTracker, TheRateFallsToZeroWhenNothingMovesForTheWindow) {
  const auto t0 = PullTracker::Clock::time_point{} + seconds(100);
  PullTracker tracker(t0);
  tracker.Update(At(0), t0);
  tracker.Update(At(500), t0 + seconds(1));
  EXPECT_GT(tracker.Snapshot(t0 + seconds(3)).bytes_per_second, 0);
  EXPECT_EQ(
      tracker.Snapshot(t0 + seconds(1) + PullTracker::kRateWindow + seconds(1)).bytes_per_second,
      0);
}

TEST(PullTracker, StallsWhenNoByteMovesForTheTimeoutCountedFromTheStart) {
  const auto t0 = PullTracker::Clock::time_point{} + seconds(100);
  PullTracker tracker(t0);
  EXPECT_FALSE(tracker.Stalled(t0 + milliseconds(1999), seconds(2)));
  EXPECT_TRUE(tracker.Stalled(t0 + seconds(2), seconds(2))) << "no first byte in time";

  tracker.Update(At(10), t0 + seconds(3));
  EXPECT_FALSE(tracker.Stalled(t0 + seconds(4), seconds(2)));
  tracker.Update(At(10), t0 + seconds(4));  // a report without new bytes is no progress
  EXPECT_TRUE(tracker.Stalled(t0 + seconds(5), seconds(2)));
}

TEST(PullTracker, AnotherWritersBytesKeepAWaitingDownloadAlive) {
  const auto t0 = PullTracker::Clock::time_point{} + seconds(100);
  PullTracker tracker(t0);
  pull::Progress waiting = At(0);
  for (int second = 1; second <= 5; ++second) {
    waiting.bytes_waited_on = second * 100;  // the other writer moves, this one does not
    tracker.Update(waiting, t0 + seconds(second));
    EXPECT_FALSE(tracker.Stalled(t0 + seconds(second) + milliseconds(1500), seconds(2)));
  }
  EXPECT_EQ(tracker.Snapshot(t0 + seconds(5)).bytes_done, 0) << "its own figures do not grow";
  tracker.Update(waiting, t0 + seconds(6));  // the other writer stalled too
  EXPECT_TRUE(tracker.Stalled(t0 + seconds(7), seconds(2)));
}

}  // namespace
}  // namespace pullfleet::node
