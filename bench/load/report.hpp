#pragma once
// From recorded requests to what a reader sees: one summary per load point, the table printed
// at the end, and the JSON document (`--json`). Pure functions over the samples.
#include "bench/load/bench_args.hpp"
#include "bench/load/bench_stats.hpp"
#include "bench/load/load_driver.hpp"

#include <boost/json/value.hpp>

#include <array>
#include <string>
#include <vector>

namespace corral::bench {

struct point_summary {
  load_point point;
  double wall = 0;
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;
  std::array<std::uint64_t, error_kind_count> errors{};  // indexed by error_kind
  std::uint64_t output_tokens = 0;  // successful answers only
  std::uint64_t prompt_tokens = 0;
  double requests_per_s = 0;        // successful answers per second of wall time
  double output_tokens_per_s = 0;
  // Seconds, over successful answers: time to first token (streamed only), gaps between
  // tokens, time per output token after the first, end to end.
  latency_summary ttft, itl, tpot, e2e;
};

point_summary summarize_point(point_samples& samples);

struct target_result {
  std::string url;
  std::vector<point_summary> points;
};

// The end-of-run table; with two targets, a third block of ratios (second / first).
std::string render_table(const bench_options& o, const std::vector<target_result>& targets);

// Everything: settings, per point and target every figure (latencies in ms), and with two
// targets a "comparison" array of ratios per point.
boost::json::value to_json(const bench_options& o, const std::vector<target_result>& targets);

}  // namespace corral::bench
