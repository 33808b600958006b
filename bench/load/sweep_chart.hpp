#pragma once
// A sweep as a picture: a self-contained HTML page (inline SVG, no script, no external file)
// with latency-against-throughput curves, one point per load point: TTFT p50/p99 and end-to-end
// p50/p99 against output tokens/s (requests/s when the answers carry no tokens), one colour
// per target, and the figures as a table underneath.
#include "bench/load/report.hpp"

#include <string>
#include <vector>

namespace corral::bench {

std::string render_sweep_html(const bench_options& o, const std::vector<target_result>& targets);

}  // namespace corral::bench
