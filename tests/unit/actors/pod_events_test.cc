// The coordinator's merge of reported events: repeats add to a count, and events a node sends
// again after registering are kept once.
#include "actors/cluster/pod_events.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pullfleet::actors {
namespace {

pb::Event MakeEvent(const std::string& reason, const std::string& message) {
  pb::Event event;
  event.set_type("Normal");
  event.set_reason(reason);
  event.set_message(message);
  event.set_count(1);
  event.set_source("node-1");
  return event;
}

// A report of stream `source` whose events are numbered from `first`.
pb::PodStatusReport Report(const std::string& source, uint64_t first,
                           const std::vector<pb::Event>& events) {
  pb::PodStatusReport report;
  report.set_events_source(source);
  report.set_first_event_seq(first);
  for (const auto& event : events) *report.add_new_events() = event;
  return report;
}

const pb::Event kPulling = MakeEvent("Pulling", "Pulling image \"app:1\"");
const pb::Event kPulled = MakeEvent("Pulled", "Successfully pulled image \"app:1\"");
const pb::Event kCreated = MakeEvent("Created", "Created container app");

TEST(PodEventsTest, EventsSentAgainAreKeptOnceAndTheNewOnesAdded) {
  pb::Pod pod;
  MergeEvents(pod, Report("a-1", 1, {kPulling, kPulled}));
  ASSERT_EQ(pod.events_size(), 2);
  EXPECT_EQ(pod.events_seq(), 2u);

  // The node did not know events 1 and 2 arrived: it sends 2 and 3.
  MergeEvents(pod, Report("a-1", 2, {kPulled, kCreated}));
  ASSERT_EQ(pod.events_size(), 3);
  EXPECT_EQ(pod.events(1).reason(), "Pulled");
  EXPECT_EQ(pod.events(1).count(), 1);
  EXPECT_EQ(pod.events(2).reason(), "Created");
  EXPECT_EQ(pod.events_seq(), 3u);

  // A late copy of what is held changes nothing.
  MergeEvents(pod, Report("a-1", 1, {kPulling}));
  EXPECT_EQ(pod.events(0).count(), 1);
  EXPECT_EQ(pod.events_seq(), 3u);
}

TEST(PodEventsTest, ANewStreamIsTakenWholeAndRepeatsAddToTheCount) {
  pb::Pod pod;
  MergeEvents(pod, Report("a-1", 1, {kPulling, kPulled}));
  // The node process restarted: its numbers start again under another stream name.
  MergeEvents(pod, Report("b-1", 1, {kPulling}));
  ASSERT_EQ(pod.events_size(), 2);
  EXPECT_EQ(pod.events(0).count(), 2);
  EXPECT_EQ(pod.events_source(), "b-1");
  EXPECT_EQ(pod.events_seq(), 1u);
}

TEST(PodEventsTest, ReportsWithoutAStreamAreMergedAsTheyCome) {
  pb::Pod pod;
  MergeEvents(pod, Report("", 0, {kPulling}));
  MergeEvents(pod, Report("", 0, {kPulling}));
  ASSERT_EQ(pod.events_size(), 1);
  EXPECT_EQ(pod.events(0).count(), 2);
  EXPECT_TRUE(pod.events_source().empty());
}

TEST(PodEventsTest, OnlyTheNewestEventsAreKept) {
  pb::Pod pod;
  std::vector<pb::Event> many;
  for (int i = 0; i < kMaxEventsPerPod + 5; ++i) {
    many.push_back(MakeEvent("Failed", "attempt " + std::to_string(i)));
  }
  MergeEvents(pod, Report("a-1", 1, many));
  ASSERT_EQ(pod.events_size(), kMaxEventsPerPod);
  EXPECT_EQ(pod.events(0).message(), "attempt 5");
}

}  // namespace
}  // namespace pullfleet::actors
