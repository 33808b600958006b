#pragma once
// Counters of policy decisions, for /metrics (`corral_policy_decisions_total{policy,decision}`).
//
// Threading: one shard per worker thread, each counter written only by its own thread (relaxed
// atomics, so a scrape from another thread reads them safely). Slots are registered when a chain
// is built (under a mutex) and kept for the process's life, so a counter survives a reload that
// rebuilds the chain with the same policy names.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

class policy_counters {
 public:
  static constexpr std::size_t capacity = 1024;  // distinct (policy, decision) pairs

  explicit policy_counters(std::size_t shards);

  // The slot of (policy, decision), registering it when new. Throws std::length_error past
  // `capacity`.
  std::size_t slot(std::string_view policy, std::string_view decision);

  void add(std::size_t shard, std::size_t slot) noexcept {
    if (shard >= shards_.size()) shard = 0;
    shards_[shard]->counts[slot].fetch_add(1, std::memory_order_relaxed);
  }

  struct entry {
    std::string policy;
    std::string decision;
    std::uint64_t count = 0;
  };
  // Every registered pair with its count summed over the shards, in registration order.
  std::vector<entry> snapshot() const;

 private:
  struct alignas(64) shard {
    std::atomic<std::uint64_t> counts[capacity] = {};
  };
  std::vector<std::unique_ptr<shard>> shards_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> names_;
};

}  // namespace corral
