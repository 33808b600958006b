#include "gateway/backend.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace corral {
namespace {

using namespace std::chrono_literals;

class backend_test : public ::testing::Test {
 protected:
  static backend_config make_config() {
    backend_config c;
    c.name = "gpu-a";
    c.url = "http://10.0.0.5:11434";
    c.host = "10.0.0.5";
    c.port = 11434;
    return c;
  }

  static upstream_config make_policy() {
    upstream_config p;
    p.eject_after_failures = 3;
    p.eject_base = 1000ms;
    p.eject_max = 5000ms;
    return p;
  }

  // Fails `policy_.eject_after_failures` times at `at`: one ejection.
  void eject_at(steady_clock::time_point at) {
    for (int i = 0; i < policy_.eject_after_failures; ++i) backend_.report_failure("connect refused", at);
  }

  // An arbitrary fixed origin: the backend never reads the real clock when given `now`.
  const steady_clock::time_point t0_ = steady_clock::time_point{} + 1h;
  upstream_config policy_ = make_policy();
  backend backend_{make_config(), 3, policy_};
};

TEST_F(backend_test, is_not_healthy_until_an_active_check_passes) {
  EXPECT_FALSE(backend_.ever_checked());
  EXPECT_FALSE(backend_.healthy(t0_));
  backend_.set_active_result(false, "connection refused", "");
  EXPECT_TRUE(backend_.ever_checked());
  EXPECT_FALSE(backend_.healthy(t0_));
  backend_.set_active_result(true, "", "0.5.1");
  EXPECT_TRUE(backend_.healthy(t0_));
  EXPECT_EQ(backend_.version(), "0.5.1");
}

TEST_F(backend_test, a_failed_active_check_makes_a_healthy_backend_unhealthy) {
  backend_.set_active_result(true, "", "0.5.1");
  backend_.set_active_result(false, "timeout", "");
  EXPECT_FALSE(backend_.healthy(t0_));
  EXPECT_EQ(backend_.last_error(), "timeout");
  // A failed check does not forget the version learned earlier.
  EXPECT_EQ(backend_.version(), "0.5.1");
}

TEST_F(backend_test, fewer_failures_than_the_threshold_do_not_eject) {
  backend_.set_active_result(true, "", "");
  for (int i = 0; i < policy_.eject_after_failures - 1; ++i) backend_.report_failure("502", t0_);
  EXPECT_TRUE(backend_.healthy(t0_));
  EXPECT_EQ(backend_.ejections(), 0u);
  EXPECT_EQ(backend_.last_error(), "502");
}

TEST_F(backend_test, threshold_failures_eject_for_eject_base) {
  backend_.set_active_result(true, "", "");
  eject_at(t0_);
  EXPECT_EQ(backend_.ejections(), 1u);
  EXPECT_FALSE(backend_.healthy(t0_));
  EXPECT_FALSE(backend_.healthy(t0_ + policy_.eject_base - 1ms));
  EXPECT_TRUE(backend_.healthy(t0_ + policy_.eject_base));
}

TEST_F(backend_test, repeated_ejections_double_the_span_up_to_eject_max) {
  backend_.set_active_result(true, "", "");
  // Base 1s, max 5s: 1s, 2s, 4s, 5s, 5s.
  auto at = t0_;
  for (auto expected : {1000ms, 2000ms, 4000ms, 5000ms, 5000ms}) {
    SCOPED_TRACE("ejection expected to last " + std::to_string(expected.count()) + "ms");
    eject_at(at);
    EXPECT_FALSE(backend_.healthy(at + expected - 1ms));
    EXPECT_TRUE(backend_.healthy(at + expected));
    at += expected + 10s;  // the ejection ran out; the backend failed again later
  }
  EXPECT_EQ(backend_.ejections(), 5u);
}

TEST_F(backend_test, many_repeated_ejections_stay_capped_at_eject_max) {
  backend_.set_active_result(true, "", "");
  auto at = t0_;
  for (int i = 0; i < 70; ++i) {
    eject_at(at);
    at += 1h;
  }
  at -= 1h;
  EXPECT_FALSE(backend_.healthy(at + policy_.eject_max - 1ms));
  EXPECT_TRUE(backend_.healthy(at + policy_.eject_max));
}

TEST_F(backend_test, success_resets_the_consecutive_failure_count) {
  backend_.set_active_result(true, "", "");
  for (int i = 0; i < policy_.eject_after_failures - 1; ++i) backend_.report_failure("broken stream", t0_);
  backend_.report_success();
  for (int i = 0; i < policy_.eject_after_failures - 1; ++i) backend_.report_failure("broken stream", t0_);
  EXPECT_TRUE(backend_.healthy(t0_));
  EXPECT_EQ(backend_.ejections(), 0u);
  backend_.report_failure("broken stream", t0_);
  EXPECT_FALSE(backend_.healthy(t0_));
}

TEST_F(backend_test, success_resets_the_ejection_backoff_to_eject_base) {
  backend_.set_active_result(true, "", "");
  eject_at(t0_);
  auto later = t0_ + 1min;
  eject_at(later);
  EXPECT_FALSE(backend_.healthy(later + 2000ms - 1ms));  // the second ejection doubled
  backend_.report_success();
  auto much_later = later + 1min;
  eject_at(much_later);
  EXPECT_FALSE(backend_.healthy(much_later + policy_.eject_base - 1ms));
  EXPECT_TRUE(backend_.healthy(much_later + policy_.eject_base));
}

TEST_F(backend_test, an_ejected_backend_is_unhealthy_even_when_active_checks_pass) {
  backend_.set_active_result(true, "", "");
  eject_at(t0_);
  backend_.set_active_result(true, "", "");
  EXPECT_FALSE(backend_.healthy(t0_ + 1ms));
}

TEST_F(backend_test, unhealthy_reason_is_empty_exactly_when_healthy) {
  EXPECT_FALSE(backend_.unhealthy_reason(t0_).empty()) << "not checked yet";

  backend_.set_active_result(false, "connection refused", "");
  auto failed = backend_.unhealthy_reason(t0_);
  EXPECT_FALSE(failed.empty());
  EXPECT_NE(failed.find("connection refused"), std::string::npos) << failed;

  backend_.set_active_result(true, "", "");
  EXPECT_TRUE(backend_.healthy(t0_));
  EXPECT_EQ(backend_.unhealthy_reason(t0_), "");

  eject_at(t0_);
  auto ejected = backend_.unhealthy_reason(t0_);
  EXPECT_FALSE(ejected.empty());
  EXPECT_NE(ejected.find("connect refused"), std::string::npos) << ejected;
  EXPECT_EQ(backend_.unhealthy_reason(t0_ + policy_.eject_base), "");
}

TEST_F(backend_test, in_flight_counts_begun_minus_ended_requests) {
  EXPECT_EQ(backend_.in_flight(), 0);
  backend_.begin_request();
  backend_.begin_request();
  backend_.end_request();
  EXPECT_EQ(backend_.in_flight(), 1);
}

TEST_F(backend_test, host_header_brackets_ipv6_hosts) {
  EXPECT_EQ(backend_.host_header(), "10.0.0.5:11434");
  EXPECT_EQ(backend_.index(), 3);
  auto cfg = make_config();
  cfg.host = "::1";
  cfg.port = 8080;
  backend v6(cfg, 0, policy_);
  EXPECT_EQ(v6.host_header(), "[::1]:8080");
}

}  // namespace
}  // namespace corral
