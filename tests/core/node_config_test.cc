// flower-supernode's --node-config syntax (pollen/core/node_config.h).
#include "pollen/core/node_config.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace pollen {
namespace {

using testing::contains;

TEST(NodeConfig, ParsesFlowerSyntax) {
  Result<NodeConfig> config = parse_node_config(
      "partition-id=0  num-partitions=4\tname='x' lr=0.01 decay=1e-3 on=true off=false "
      "title=\"a b\" path='/tmp/d ata' big=1_000 neg=-7 empty=''");
  ASSERT_TRUE(config.ok()) << config.status();
  std::vector<std::string> keys;
  for (const auto& item : *config) keys.push_back(item.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"partition-id", "num-partitions", "name", "lr", "decay",
                                            "on", "off", "title", "path", "big", "neg", "empty"}));
  EXPECT_EQ(*config->find("partition-id"), ConfigValue(int64_t{0}));
  EXPECT_EQ(*config->find("num-partitions"), ConfigValue(int64_t{4}));
  EXPECT_EQ(*config->find("name"), ConfigValue(std::string("x")));
  EXPECT_EQ(*config->find("lr"), ConfigValue(0.01));
  EXPECT_EQ(*config->find("decay"), ConfigValue(1e-3));
  EXPECT_EQ(*config->find("on"), ConfigValue(true));
  EXPECT_EQ(*config->find("off"), ConfigValue(false));
  EXPECT_EQ(*config->find("title"), ConfigValue(std::string("a b")));
  EXPECT_EQ(*config->find("path"), ConfigValue(std::string("/tmp/d ata")));
  EXPECT_EQ(*config->find("big"), ConfigValue(int64_t{1000}));
  EXPECT_EQ(*config->find("neg"), ConfigValue(int64_t{-7}));
  EXPECT_EQ(*config->find("empty"), ConfigValue(std::string()));

  Result<NodeConfig> blank = parse_node_config("  ");
  ASSERT_TRUE(blank.ok());
  EXPECT_TRUE(blank->empty());
}

TEST(NodeConfig, ErrorsNameTheToken) {
  struct Case {
    const char* text;
    const char* token;
  };
  for (const Case& c :
       {Case{"a=1 oops", "'oops'"}, Case{"=1", "'=1'"}, Case{"name=x", "'name=x'"},
        Case{"a=1 a=2", "'a=2'"}, Case{"s='abc", "'s='abc'"}, Case{"v=", "'v='"},
        Case{"s='a'b", "'s='a'b'"}, Case{"n=1.2.3", "'n=1.2.3'"}, Case{"n=0x10", "'n=0x10'"}}) {
    SCOPED_TRACE(c.text);
    Result<NodeConfig> config = parse_node_config(c.text);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(config.status().message(), c.token));
  }
}

}  // namespace
}  // namespace pollen
