// --superlink addresses: what gRPC would take silently (port 84631 wraps to
// 19095, a missing port becomes 0) is refused before a channel is made.
#include <gtest/gtest.h>

#include "pollen/transport/fleet.h"

namespace pollen {
namespace {

TEST(SuperLinkAddressTest, HostNamesIpv4AndBracketedIpv6AreAccepted) {
  for (const char* ok : {"127.0.0.1:9092", "superlink.local:9092", "localhost:1", "a-b_c.d:65535",
                         "[::1]:9092", "[fd00::1:2]:443", "[::ffff:10.0.0.1]:9092"}) {
    EXPECT_TRUE(check_superlink_address(ok).ok()) << ok << ": " << check_superlink_address(ok);
  }
}

TEST(SuperLinkAddressTest, BadAddressesAreRefusedSayingWhy) {
  struct Case {
    const char* address;
    const char* why;
  };
  for (const Case& c : {
           Case{"127.0.0.1:84631", "port 84631 is out of range 1-65535"},
           Case{"1.2.3.4:99999", "port 99999 is out of range"},
           Case{"127.0.0.1:0", "port 0 is out of range"},
           Case{"127.0.0.1:1234567", "out of range"},
           Case{"127.0.0.1", "no port"},
           Case{"127.0.0.1:", "no port"},
           Case{":9092", "no host"},
           Case{"", "no port"},
           Case{"127.0.0.1:90a", "'90a' is not a number"},
           Case{"127.0.0.1:-1", "is not a number"},
           Case{"::1:9092", "an IPv6 address goes in brackets"},
           Case{"[::1:9092", "no ']'"},
           Case{"[::1]9092", "no port after ']'"},
           Case{"[not-v6]:9092", "is not an IPv6 address"},
           Case{"http://host:9092", "drop 'http://'"},
           Case{"host/x:9092", "is not a host name or address"},
           Case{"host name:9092", "is not a host name or address"},
       }) {
    const Status status = check_superlink_address(c.address);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.address;
    EXPECT_NE(status.message().find(c.why), std::string::npos) << c.address << ": " << status;
    EXPECT_NE(status.message().find(std::string("'") + c.address + "'"), std::string::npos)
        << status;
  }
}

TEST(SuperLinkAddressTest, ConnectFleetRefusesABadAddress) {
  FleetOptions options;
  options.superlink = "127.0.0.1:84631";
  options.insecure = true;
  auto connection = connect_fleet(options);
  ASSERT_FALSE(connection.ok());
  EXPECT_NE(connection.status().message().find("out of range"), std::string::npos)
      << connection.status();
}

}  // namespace
}  // namespace pollen
