#include "gateway/backend.hpp"

#include <algorithm>

namespace corral {

namespace {
std::int64_t to_ns(steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

backend::backend(backend_config cfg, int index, upstream_config policy)
    : cfg_(std::move(cfg)), index_(index), policy_(policy) {
  bool v6 = cfg_.host.find(':') != std::string::npos;
  host_header_ = (v6 ? "[" + cfg_.host + "]" : cfg_.host) + ":" + std::to_string(cfg_.port);
}

bool backend::healthy(steady_clock::time_point now) const noexcept {
  return active_ok_.load(std::memory_order_relaxed) &&
         to_ns(now) >= ejected_until_ns_.load(std::memory_order_relaxed);
}

void backend::report_success() noexcept {
  if (consecutive_failures_.load(std::memory_order_relaxed) != 0)
    consecutive_failures_.store(0, std::memory_order_relaxed);
  if (ejection_streak_.load(std::memory_order_relaxed) != 0)
    ejection_streak_.store(0, std::memory_order_relaxed);
}

void backend::report_failure(std::string_view reason, steady_clock::time_point now) {
  {
    std::lock_guard lock(mu_);
    last_error_ = reason;
  }
  int failures = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (failures < policy_.eject_after_failures) return;
  consecutive_failures_.store(0, std::memory_order_relaxed);
  int streak = std::min(ejection_streak_.fetch_add(1, std::memory_order_relaxed), 20);
  auto span = policy_.eject_base * (std::int64_t{1} << streak);
  if (span > policy_.eject_max) span = policy_.eject_max;
  ejected_until_ns_.store(to_ns(now + span), std::memory_order_relaxed);
  ejections_total_.fetch_add(1, std::memory_order_relaxed);
}

void backend::set_active_result(bool ok, std::string_view error, std::string version) {
  {
    std::lock_guard lock(mu_);
    if (!ok) last_error_ = error;
    if (!version.empty()) version_ = std::move(version);
  }
  active_ok_.store(ok, std::memory_order_relaxed);
  checked_.store(true, std::memory_order_release);
}

std::string backend::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

std::string backend::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

std::string backend::unhealthy_reason(steady_clock::time_point now) const {
  if (!checked_.load(std::memory_order_acquire)) return "not checked yet";
  if (!active_ok_.load(std::memory_order_relaxed)) return "health check failed: " + last_error();
  auto until = ejected_until_ns_.load(std::memory_order_relaxed);
  if (to_ns(now) < until) {
    auto ms = (until - to_ns(now)) / 1'000'000;
    return "ejected for " + std::to_string(ms) + "ms after repeated failures: " + last_error();
  }
  return "";
}

void backend::set_endpoints(std::vector<boost::asio::ip::tcp::endpoint> eps) {
  std::lock_guard lock(mu_);
  endpoints_ = std::move(eps);
}

std::vector<boost::asio::ip::tcp::endpoint> backend::endpoints() const {
  std::lock_guard lock(mu_);
  return endpoints_;
}

}  // namespace corral
