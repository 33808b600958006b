#pragma once
// The metrics registry behind /metrics (Prometheus text format 0.0.4).
//
// Threading: one shard per worker thread. A request is recorded once, at its end, into its own
// thread's shard under that shard's mutex (uncontended but for the moment a scrape sums the
// shards). Label sets stay bounded: `model` is only ever a model the catalog knows (or "").
#include "gateway/core/string_hash.hpp"
#include "policies/policy_counters.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

enum class upstream_error_kind { connect, timeout, status_5xx, broken_stream, protocol };
inline constexpr int upstream_error_kinds = 5;
std::string_view to_string(upstream_error_kind k);

inline constexpr std::array<double, 15> latency_buckets{
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

struct histogram {
  std::array<std::uint64_t, latency_buckets.size()> counts{};  // per bucket, not cumulative
  std::uint64_t count = 0;
  double sum = 0;
  void observe(double v) noexcept;
  void merge(const histogram& o) noexcept;
};

struct request_sample {
  std::string_view route;   // route label, e.g. "/api/chat"
  std::string_view model;   // normalized model name or ""
  unsigned status = 0;
  double duration_s = 0;
  double ttfb_s = -1;       // < 0: no body byte was sent
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
};

// What /metrics reports per backend, read at scrape time.
struct backend_gauges {
  std::string name;
  bool healthy = false;
  int in_flight = 0;
  std::uint64_t ejections = 0;
};

class metrics_registry {
 public:
  metrics_registry(std::size_t shards, std::size_t backends);

  void record(std::size_t shard, const request_sample& s);
  void count_retry(std::size_t shard);
  void count_upstream_error(std::size_t shard, int backend, upstream_error_kind kind);

  // Requests being served now (all threads).
  std::atomic<std::int64_t>& in_flight() noexcept { return in_flight_; }

  std::string render(const std::vector<backend_gauges>& backends) const;

 private:
  struct by_model {
    std::map<unsigned, std::uint64_t> by_status;
    histogram ttfb;
    std::uint64_t prompt_tokens = 0;
    std::uint64_t completion_tokens = 0;
  };
  struct shard {
    mutable std::mutex mu;
    // key: route + '\x1f' + model
    string_map<by_model> requests;
    string_map<histogram> duration_by_route;
    std::string scratch;  // the key being looked up, reused
    std::uint64_t retries = 0;
    std::vector<std::array<std::uint64_t, upstream_error_kinds>> upstream_errors;
  };
  std::vector<std::unique_ptr<shard>> shards_;
  std::size_t backends_;
  std::atomic<std::int64_t> in_flight_{0};
  double start_time_;
};

// corral_policy_decisions_total{policy,decision}: every registered pair, zeros included.
std::string render_policy_decisions(const std::vector<policy_counters::entry>& counts);

// Escapes a label value for the text format (backslash, double quote, newline).
std::string escape_label(std::string_view v);

}  // namespace corral
