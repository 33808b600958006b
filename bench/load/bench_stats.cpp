#include "bench/load/bench_stats.hpp"

#include <algorithm>
#include <numeric>

namespace corral::bench {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  p = std::clamp(p, 0.0, 100.0);
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(rank);
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

latency_summary summarize(std::vector<double>& samples) {
  latency_summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  s.p50 = percentile(samples, 50);
  s.p90 = percentile(samples, 90);
  s.p99 = percentile(samples, 99);
  s.max = samples.back();
  return s;
}

double rate(std::uint64_t events, double seconds) {
  return seconds > 0 ? static_cast<double>(events) / seconds : 0;
}

double ratio(double value, double base) { return base != 0 ? value / base : 0; }

double time_per_output_token(double e2e_seconds, double ttft_seconds, std::uint64_t output_tokens) {
  if (output_tokens < 2 || ttft_seconds < 0) return -1;
  return (e2e_seconds - ttft_seconds) / static_cast<double>(output_tokens - 1);
}

}  // namespace corral::bench
