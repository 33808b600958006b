// choose_backend over fleets of 2, 8 and 64 candidates. "idle": every candidate ties, so the
// rotation pass runs too; "busy": mixed health, presence, load and a concurrency cap.
#include "gateway/balancer.hpp"

#include <benchmark/benchmark.h>

#include <vector>

namespace {

std::vector<corral::balancer_candidate> fleet(int n, bool idle) {
  std::vector<corral::balancer_candidate> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& c = out[static_cast<std::size_t>(i)];
    c.index = i;
    c.healthy = idle || i % 7 != 6;
    c.has_model = idle || i % 5 != 4;
    c.loaded = !idle && i % 4 == 1;
    c.in_flight = idle ? 0 : (i * 3) % 5;
  }
  return out;
}

void bm_choose_backend(benchmark::State& state, bool idle) {
  const auto candidates = fleet(static_cast<int>(state.range(0)), idle);
  std::uint32_t rotation = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(candidates.data());
    auto choice = corral::choose_backend(candidates, corral::backend_mask{0}, 4, rotation++);
    benchmark::DoNotOptimize(choice);
  }
}

BENCHMARK_CAPTURE(bm_choose_backend, idle, true)->Arg(2)->Arg(8)->Arg(64);
BENCHMARK_CAPTURE(bm_choose_backend, busy, false)->Arg(2)->Arg(8)->Arg(64);

}  // namespace
