#pragma once
// Runs one load point against one server and records every request.
//
// One io_context per thread (`--threads`), each with its own keep-alive connections; threads
// share nothing but a few atomic counters, and each keeps its own samples, merged at the end.
// Closed loop: `concurrency` workers, each sending its next request when its answer ends.
// Open loop: arrivals at `rate` per second (constant spacing or Poisson), each on an idle
// connection of its thread or a new one; its latency counts from when it was due, not from when
// it was sent, so a server that falls behind cannot hide it (no coordinated omission).
// New requests stop at the duration or request bound; answers in flight are awaited (each
// bounded by --timeout), so every request sent is accounted for.
#include "bench/load/bench_args.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace corral::bench {

enum class error_kind : std::uint8_t { none, connect, status, broken_stream, timeout };
inline constexpr int error_kind_count = 5;
std::string_view error_kind_name(error_kind k);

struct load_point {
  bool open_loop = false;
  unsigned concurrency = 1;
  double rate = 0;
  std::string label() const;  // "c=4" or "r=50/s"
};

// One request, times in seconds from the start of the run.
struct request_sample {
  double start = 0;   // when it was sent (closed loop) or due (open loop)
  double end = 0;
  double ttft = -1;   // first output text, from start; negative when none came (or not streamed)
  std::uint64_t output_tokens = 0;
  std::uint64_t prompt_tokens = 0;
  unsigned status = 0;
  error_kind error = error_kind::none;
};

struct point_samples {
  load_point point;
  double wall = 0;  // seconds from the start to the last successful answer's end
  std::vector<request_sample> requests;
  std::vector<double> inter_token;  // gaps between consecutive output pieces, all answers
};

// Live counters for a progress display, read by another thread while the run goes on.
struct live_counters {
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> output_tokens{0};
};

// Runs `point` against `url`, cycling through `requests` (complete HTTP request texts).
// Blocks until every answer has ended. Throws std::runtime_error when the host does not resolve.
point_samples run_load(const bench_options& o, const base_url& url, const std::vector<std::string>& requests,
                       const load_point& point, live_counters& live);

}  // namespace corral::bench
