#include "node/events.h"

#include <gtest/gtest.h>

namespace pullfleet::node {
namespace {

TEST(GoDurationTest, FormatsLikeGoTruncatedToMilliseconds) {
  struct Case {
    double seconds;
    const char* want;
  } cases[] = {
      {0, "0s"},          {0.0004, "0s"},        {0.512, "512ms"},     {1.0, "1s"},
      {1.2345, "1.234s"}, {1.5, "1.5s"},         {59.999, "59.999s"},  {60, "1m0s"},
      {123.5, "2m3.5s"},  {3600, "1h0m0s"},      {3725.25, "1h2m5.25s"},
  };
  for (const auto& c : cases) EXPECT_EQ(GoDuration(c.seconds), c.want) << c.seconds;
}

TEST(EventsTest, MessagesMatchTheKubelet) {
  EXPECT_EQ(PulledMessage("busybox", 1.2, 1.5, 2048),
            "Successfully pulled image \"busybox\" in 1.2s (1.5s including waiting). Image "
            "size: 2048 bytes.");
  EXPECT_EQ(NeverPullMessage("a:1"),
            "Container image \"a:1\" is not present with pull policy of Never");
  EXPECT_EQ(BackOffMessage("a:1"), "Back-off pulling image \"a:1\"");
  EXPECT_EQ(AlreadyPresentMessage("a:1"), "Container image \"a:1\" already present on machine");
  EXPECT_EQ(ErrorReasonMessage("ErrImagePull"), "Error: ErrImagePull");
}

}  // namespace
}  // namespace pullfleet::node
