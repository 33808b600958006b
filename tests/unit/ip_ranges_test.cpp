#include "policies/ip_ranges.hpp"

#include <gtest/gtest.h>

namespace corral {
namespace {

TEST(ip_ranges_test, matches_ipv4_and_ipv6_prefixes) {
  ip_ranges r;
  EXPECT_EQ(r.add("10.0.0.0/8"), "");
  EXPECT_EQ(r.add("192.168.1.7"), "");
  EXPECT_EQ(r.add("fd00::/8"), "");
  EXPECT_EQ(r.add("172.16.0.0/12"), "");
  EXPECT_TRUE(r.contains("10.200.3.4"));
  EXPECT_TRUE(r.contains("192.168.1.7"));
  EXPECT_FALSE(r.contains("192.168.1.8"));
  EXPECT_TRUE(r.contains("fd12::1"));
  EXPECT_FALSE(r.contains("fe80::1"));
  EXPECT_TRUE(r.contains("172.31.255.255"));
  EXPECT_FALSE(r.contains("172.32.0.0"));
  EXPECT_TRUE(r.contains("::ffff:10.1.1.1")) << "IPv4-mapped addresses count as IPv4";
  EXPECT_FALSE(r.contains("not an address"));
}

TEST(ip_ranges_test, zero_prefix_matches_everything_of_its_family) {
  ip_ranges r;
  EXPECT_EQ(r.add("0.0.0.0/0"), "");
  EXPECT_TRUE(r.contains("8.8.8.8"));
  EXPECT_FALSE(r.contains("2001:db8::1"));
}

TEST(ip_ranges_test, bad_ranges_are_explained) {
  ip_ranges r;
  EXPECT_NE(r.add("10.0.0.0/40"), "");
  EXPECT_NE(r.add("10.0.0/8"), "");
  EXPECT_NE(r.add("::1/129"), "");
  EXPECT_NE(r.add("10.0.0.0/x"), "");
  EXPECT_TRUE(r.empty());
}

}  // namespace
}  // namespace corral
