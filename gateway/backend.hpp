#pragma once
// One Ollama host behind corral and its health. Shared by every thread: counters are atomics,
// the few strings (last error, version, resolved address) sit behind a mutex that the hot path
// touches only when it opens a new upstream connection.
//
// Health = the last active check succeeded AND no passive ejection is running. Passive
// ejection: `eject_after_failures` consecutive failures (connect errors, timeouts, 502/503/504,
// broken streams) eject the backend for eject_base, doubling per repeated ejection up to
// eject_max; any success resets the count and the backoff.
#include "gateway/core/config.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace corral {

using steady_clock = std::chrono::steady_clock;

class backend {
 public:
  backend(backend_config cfg, int index, upstream_config policy);

  const backend_config& config() const noexcept { return cfg_; }
  const std::string& name() const noexcept { return cfg_.name; }
  int index() const noexcept { return index_; }
  // "host:port", as sent in the Host header upstream.
  const std::string& host_header() const noexcept { return host_header_; }

  bool healthy(steady_clock::time_point now = steady_clock::now()) const noexcept;
  bool ever_checked() const noexcept { return checked_.load(std::memory_order_acquire); }

  // Requests currently sent to this backend (all threads).
  int in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
  void begin_request() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void end_request() noexcept { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  // Passive health, from real traffic.
  void report_success() noexcept;
  void report_failure(std::string_view reason, steady_clock::time_point now = steady_clock::now());

  // Active health, from the monitor.
  void set_active_result(bool ok, std::string_view error, std::string version);

  std::uint64_t ejections() const noexcept { return ejections_total_.load(std::memory_order_relaxed); }
  std::string last_error() const;
  std::string version() const;
  // Why this backend is not healthy now ("" when healthy).
  std::string unhealthy_reason(steady_clock::time_point now = steady_clock::now()) const;

  void set_endpoints(std::vector<boost::asio::ip::tcp::endpoint> eps);
  std::vector<boost::asio::ip::tcp::endpoint> endpoints() const;

 private:
  backend_config cfg_;
  int index_;
  upstream_config policy_;
  std::string host_header_;

  std::atomic<int> in_flight_{0};
  std::atomic<bool> active_ok_{false};
  std::atomic<bool> checked_{false};
  std::atomic<int> consecutive_failures_{0};
  std::atomic<int> ejection_streak_{0};
  std::atomic<std::int64_t> ejected_until_ns_{0};
  std::atomic<std::uint64_t> ejections_total_{0};

  mutable std::mutex mu_;
  std::string last_error_;
  std::string version_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
};

}  // namespace corral
