#include "policies/policy_counters.hpp"

#include <stdexcept>

namespace corral {

policy_counters::policy_counters(std::size_t shards) {
  if (shards == 0) shards = 1;
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<shard>());
}

std::size_t policy_counters::slot(std::string_view policy, std::string_view decision) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i].first == policy && names_[i].second == decision) return i;
  if (names_.size() >= capacity) throw std::length_error("too many policy decisions to count");
  names_.emplace_back(std::string(policy), std::string(decision));
  return names_.size() - 1;
}

std::vector<policy_counters::entry> policy_counters::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<entry> out;
  out.reserve(names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i) {
    entry e{names_[i].first, names_[i].second, 0};
    for (const auto& s : shards_) e.count += s->counts[i].load(std::memory_order_relaxed);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace corral
