#pragma once
// The arithmetic of a load test: percentiles of latency samples and rates over a run. Pure
// functions, no clock and no I/O, so every figure the report shows can be checked by hand.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace corral::bench {

// Percentile `p` (0..100) of `sorted` (ascending), interpolating linearly between the two
// closest ranks: rank = p / 100 × (n − 1). 0 for an empty sample, p clamped to [0, 100].
double percentile(const std::vector<double>& sorted, double p);

// What the report shows for one latency measure. All zero when count is 0.
struct latency_summary {
  std::size_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// Sorts `samples` in place and summarises them.
latency_summary summarize(std::vector<double>& samples);

// Events per second over `seconds`; 0 when no time passed (never a division by zero).
double rate(std::uint64_t events, double seconds);

// `value / base`, or 0 when base is 0: comparison ratios in the report and JSON.
double ratio(double value, double base);

// Time per output token of one answer: the time after the first token divided by the tokens
// that followed it. Undefined for answers of fewer than two tokens (returns a negative value).
double time_per_output_token(double e2e_seconds, double ttft_seconds, std::uint64_t output_tokens);

}  // namespace corral::bench
