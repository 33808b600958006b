#include "policies/policy.hpp"

#include "policies/policy_counters.hpp"

namespace corral {

std::string_view to_string(route_class c) {
  switch (c) {
    case route_class::probe: return "probe";
    case route_class::inference: return "inference";
    case route_class::fleet_read: return "fleet_read";
    case route_class::fleet_change: return "fleet_change";
    case route_class::management: return "management";
    case route_class::other: return "other";
  }
  return "other";
}

boost::asio::awaitable<verdict> policy::on_request(policy_request&) const { co_return verdict::next(); }
void policy::on_response_head(request_context&, const response_head_view&) const {}
chunk_result policy::on_response_chunk(request_context&, chunk_kind, std::string_view) const {
  return chunk_result::forward();
}
void policy::on_complete(const request_context&) const {}

void policy::bind(std::string name, std::size_t slot, policy_counters* counters) {
  name_ = std::move(name);
  slot_ = slot;
  counters_ = counters;
  counter_slots_.clear();
  if (counters_)
    for (auto d : decisions()) counter_slots_.push_back(counters_->slot(name_, d));
}

void policy::decide(request_context& ctx, std::size_t i, std::string_view detail) const {
  auto names = decisions();
  if (i >= names.size()) return;
  if (counters_) counters_->add(ctx.worker, counter_slots_[i]);
  if (!ctx.decisions.empty()) ctx.decisions += ' ';
  ctx.decisions.append(name_).append(":").append(names[i]);
  if (!detail.empty()) ctx.decisions.append(":").append(detail);
}

}  // namespace corral
