#include "gateway/balancer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

namespace corral {
namespace {

using reason = balancer_choice::none_reason;

class balancer_test : public ::testing::Test {
 protected:
  // A healthy backend that has the model, idle, weight 1.
  static balancer_candidate ready(int index) {
    balancer_candidate c;
    c.index = index;
    c.healthy = true;
    c.has_model = true;
    return c;
  }

  static balancer_choice choose(const std::vector<balancer_candidate>& candidates,
                                backend_mask excluded = 0, int max_in_flight = 0,
                                std::uint32_t rotation = 0) {
    return choose_backend(candidates, excluded, max_in_flight, rotation);
  }

  // The backends chosen over `rotations` consecutive rotation values.
  static std::set<int> chosen_over_rotations(const std::vector<balancer_candidate>& candidates,
                                             std::uint32_t rotations, backend_mask excluded = 0,
                                             int max_in_flight = 0) {
    std::set<int> out;
    for (std::uint32_t r = 0; r < rotations; ++r)
      out.insert(choose(candidates, excluded, max_in_flight, r).index);
    return out;
  }
};

TEST_F(balancer_test, prefers_backend_with_model_loaded_over_one_with_fewer_in_flight) {
  auto idle = ready(0);
  auto busy_loaded = ready(1);
  busy_loaded.loaded = true;
  busy_loaded.in_flight = 5;
  for (std::uint32_t r = 0; r < 4; ++r) {
    auto c = choose({idle, busy_loaded}, 0, 0, r);
    EXPECT_EQ(c.index, 1) << "rotation " << r;
    EXPECT_EQ(c.reason, reason::none);
  }
  // Order of candidates does not matter.
  EXPECT_EQ(choose({busy_loaded, idle}).index, 1);
}

TEST_F(balancer_test, prefers_fewer_in_flight_over_higher_weight) {
  auto heavy_busy = ready(0);
  heavy_busy.weight = 100;
  heavy_busy.in_flight = 2;
  auto light_idle = ready(1);
  light_idle.in_flight = 1;
  for (std::uint32_t r = 0; r < 4; ++r) EXPECT_EQ(choose({heavy_busy, light_idle}, 0, 0, r).index, 1);
  EXPECT_EQ(choose({light_idle, heavy_busy}).index, 1);
}

TEST_F(balancer_test, prefers_higher_weight_when_loaded_and_in_flight_are_equal) {
  auto light = ready(0);
  auto heavy = ready(1);
  heavy.weight = 5;
  auto medium = ready(2);
  medium.weight = 3;
  for (std::uint32_t r = 0; r < 4; ++r) EXPECT_EQ(choose({light, heavy, medium}, 0, 0, r).index, 1);
}

TEST_F(balancer_test, ties_rotate_so_every_equal_backend_is_chosen) {
  std::vector<balancer_candidate> equal{ready(0), ready(1), ready(2)};
  EXPECT_EQ(chosen_over_rotations(equal, 3), (std::set<int>{0, 1, 2}));
  // Consecutive rotation values give different backends.
  EXPECT_NE(choose(equal, 0, 0, 0).index, choose(equal, 0, 0, 1).index);
  EXPECT_NE(choose(equal, 0, 0, 1).index, choose(equal, 0, 0, 2).index);
  // Large counters wrap around instead of falling off the end.
  EXPECT_NE(choose(equal, 0, 0, 0xFFFFFFFFu).index, -1);
}

TEST_F(balancer_test, ties_rotate_only_among_the_best_not_among_worse_backends) {
  auto best_a = ready(0);
  best_a.loaded = true;
  auto worse = ready(1);
  auto best_b = ready(2);
  best_b.loaded = true;
  EXPECT_EQ(chosen_over_rotations({best_a, worse, best_b}, 8), (std::set<int>{0, 2}));
}

TEST_F(balancer_test, skips_excluded_backends) {
  auto loaded = ready(0);
  loaded.loaded = true;
  auto other = ready(1);
  auto third = ready(2);
  // The otherwise best backend was already tried: never pick it again.
  EXPECT_EQ(chosen_over_rotations({loaded, other, third}, 6, backend_mask{1} << 0),
            (std::set<int>{1, 2}));
  EXPECT_EQ(chosen_over_rotations({loaded, other, third}, 6, (backend_mask{1} << 0) | (backend_mask{1} << 2)),
            (std::set<int>{1}));
}

TEST_F(balancer_test, excluding_every_backend_with_the_model_leaves_none) {
  auto c = choose({ready(0), ready(1)}, 0b11);
  EXPECT_EQ(c.index, -1);
  EXPECT_NE(c.reason, reason::none);
}

TEST_F(balancer_test, max_in_flight_cap_skips_backends_at_the_cap) {
  auto loaded_full = ready(0);
  loaded_full.loaded = true;
  loaded_full.in_flight = 2;
  auto idle = ready(1);
  idle.in_flight = 1;
  // Without a cap the loaded backend wins; with cap 2 it is full.
  EXPECT_EQ(choose({loaded_full, idle}, 0, 0).index, 0);
  for (std::uint32_t r = 0; r < 4; ++r) EXPECT_EQ(choose({loaded_full, idle}, 0, 2, r).index, 1);
}

TEST_F(balancer_test, reports_all_busy_when_every_candidate_is_at_the_cap) {
  auto a = ready(0);
  a.in_flight = 3;
  auto b = ready(1);
  b.in_flight = 4;
  auto c = choose({a, b}, 0, 3);
  EXPECT_EQ(c.index, -1);
  EXPECT_EQ(c.reason, reason::all_busy);
}

TEST_F(balancer_test, reports_unknown_model_when_no_backend_has_it) {
  auto a = ready(0);
  a.has_model = false;
  auto b = ready(1);
  b.has_model = false;
  auto c = choose({a, b});
  EXPECT_EQ(c.index, -1);
  EXPECT_EQ(c.reason, reason::unknown_model);
  EXPECT_EQ(choose({}).reason, reason::unknown_model);
}

TEST_F(balancer_test, never_chooses_a_backend_without_the_model_even_if_it_is_better) {
  auto without = ready(0);
  without.has_model = false;
  without.weight = 1000;
  auto with = ready(1);
  with.in_flight = 7;
  for (std::uint32_t r = 0; r < 4; ++r) EXPECT_EQ(choose({without, with}, 0, 0, r).index, 1);
}

TEST_F(balancer_test, reports_no_healthy_backend_when_those_with_the_model_are_unhealthy) {
  auto sick = ready(0);
  sick.healthy = false;
  sick.loaded = true;
  auto healthy_without = ready(1);
  healthy_without.has_model = false;
  auto c = choose({sick, healthy_without});
  EXPECT_EQ(c.index, -1);
  EXPECT_EQ(c.reason, reason::no_healthy_backend);
}

TEST_F(balancer_test, skips_unhealthy_backends_even_when_loaded) {
  auto sick = ready(0);
  sick.healthy = false;
  sick.loaded = true;
  auto fine = ready(1);
  fine.in_flight = 9;
  for (std::uint32_t r = 0; r < 4; ++r) EXPECT_EQ(choose({sick, fine}, 0, 0, r).index, 1);
}

TEST_F(balancer_test, returns_the_candidate_index_field_not_its_position) {
  auto a = ready(7);
  auto b = ready(42);
  b.loaded = true;
  EXPECT_EQ(choose({a, b}).index, 42);
}

}  // namespace
}  // namespace corral
