// Label selectors of `get pods -l`: parsing, refusals naming the requirement, and matching.
#include "kube/selector.h"

#include <gtest/gtest.h>

namespace pullfleet::kube {
namespace {

google::protobuf::Map<std::string, std::string> Labels(
    std::initializer_list<std::pair<const std::string, std::string>> entries) {
  google::protobuf::Map<std::string, std::string> labels;
  for (const auto& [key, value] : entries) labels[key] = value;
  return labels;
}

bool Selects(const std::string& selector,
             const google::protobuf::Map<std::string, std::string>& labels) {
  auto parsed = ParseSelector(selector);
  EXPECT_TRUE(parsed.ok()) << selector << ": " << parsed.error().message();
  return parsed.ok() && SelectorMatches(*parsed, labels);
}

TEST(SelectorTest, EqualityInequalityAndExistence) {
  const auto web = Labels({{"app", "web"}, {"tier", "front"}, {"example.com/canary", ""}});
  EXPECT_TRUE(Selects("app=web", web));
  EXPECT_TRUE(Selects("app==web", web));
  EXPECT_TRUE(Selects(" app = web , tier!=db ", web));
  EXPECT_FALSE(Selects("app=db", web));
  EXPECT_FALSE(Selects("app=web,tier=db", web)) << "every requirement must hold";
  EXPECT_TRUE(Selects("example.com/canary", web));
  EXPECT_TRUE(Selects("example.com/canary=", web)) << "an empty value is a value";
  EXPECT_FALSE(Selects("!tier", web));
  EXPECT_TRUE(Selects("!old", web));
  EXPECT_TRUE(Selects("old!=x", web)) << "!= holds when the label is absent, as in Kubernetes";
  EXPECT_TRUE(Selects("", web));
}

TEST(SelectorTest, MalformedRequirementsAreNamed) {
  struct Case {
    const char* selector;
    const char* want;
  };
  for (const Case& c : {
           Case{"app=web,", "an empty requirement"},
           Case{"=web", "\"\" is not a valid label key"},
           Case{"app=we b", "\"we b\" is not a valid label value"},
           Case{"Bad/Key=x", "\"Bad/Key\" is not a valid label key"},
           Case{"env in (a,b)", "set-based requirements (in, notin) are not supported"},
       }) {
    auto parsed = ParseSelector(c.selector);
    ASSERT_FALSE(parsed.ok()) << c.selector;
    EXPECT_NE(parsed.error().message().find(c.want), std::string::npos)
        << c.selector << ": " << parsed.error().message();
    EXPECT_NE(parsed.error().message().find("unable to parse requirement"), std::string::npos);
  }
}

}  // namespace
}  // namespace pullfleet::kube
