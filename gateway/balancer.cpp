#include "gateway/balancer.hpp"

#include <tuple>

namespace corral {

balancer_choice choose_backend(std::span<const balancer_candidate> candidates,
                               backend_mask excluded, int max_in_flight, std::uint32_t rotation) {
  bool any_has_model = false;
  bool any_healthy = false;
  const balancer_candidate* best = nullptr;
  int ties = 0;
  auto key = [](const balancer_candidate& c) {
    // Smaller is better.
    return std::tuple(c.loaded ? 0 : 1, c.in_flight, -c.weight);
  };
  // Two passes: find the best key, then pick the rotation-th candidate that has it. No
  // allocation; fleets are small.
  for (const auto& c : candidates) {
    if (!c.has_model) continue;
    any_has_model = true;
    if (!c.healthy) continue;
    if (c.index >= 0 && c.index < max_backends && (excluded >> c.index) & 1) continue;
    any_healthy = true;
    if (max_in_flight > 0 && c.in_flight >= max_in_flight) continue;
    if (!best || key(c) < key(*best)) {
      best = &c;
      ties = 1;
    } else if (key(c) == key(*best)) {
      ++ties;
    }
  }
  balancer_choice out;
  if (!best) {
    out.reason = !any_has_model ? balancer_choice::none_reason::unknown_model
                 : !any_healthy ? balancer_choice::none_reason::no_healthy_backend
                                : balancer_choice::none_reason::all_busy;
    return out;
  }
  if (ties > 1) {
    int want = static_cast<int>(rotation % static_cast<std::uint32_t>(ties));
    auto best_key = key(*best);
    for (const auto& c : candidates) {
      if (!c.has_model || !c.healthy) continue;
      if (c.index >= 0 && c.index < max_backends && (excluded >> c.index) & 1) continue;
      if (max_in_flight > 0 && c.in_flight >= max_in_flight) continue;
      if (key(c) == best_key && want-- == 0) {
        best = &c;
        break;
      }
    }
  }
  out.index = best->index;
  return out;
}

}  // namespace corral
