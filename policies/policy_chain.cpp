#include "policies/policy_chain.hpp"

#include "policies/auth.hpp"
#include "policies/output_filter.hpp"
#include "policies/prompt_guard.hpp"
#include "policies/validation.hpp"

#include <boost/json/object.hpp>

#include <array>

namespace corral {

namespace {

constexpr std::uint64_t bit(route_class c) { return std::uint64_t{1} << static_cast<unsigned>(c); }
constexpr std::uint64_t all_classes = bit(route_class::probe) | bit(route_class::inference) | bit(route_class::fleet_read) |
                                      bit(route_class::fleet_change) | bit(route_class::management) | bit(route_class::other);

struct policy_type {
  std::string_view type;
  std::unique_ptr<policy> (*make)(const boost::json::object&);
  std::uint64_t default_routes;
};

constexpr std::array<policy_type, 4> types{{
    {"validation", make_validation, all_classes},
    {"auth", make_auth, all_classes & ~bit(route_class::probe)},
    {"prompt_guard", make_prompt_guard, bit(route_class::inference)},
    {"output_filter", make_output_filter, bit(route_class::inference)},
}};

constexpr std::array<route_class, 6> classes{route_class::probe, route_class::inference, route_class::fleet_read,
                                             route_class::fleet_change, route_class::management, route_class::other};

}  // namespace

bool policy_chain::entry::applies(const request_context& ctx) const noexcept {
  if (class_mask & bit(ctx.cls)) return true;
  for (const auto& l : labels)
    if (l == ctx.route) return true;
  return false;
}

std::shared_ptr<const policy_chain> policy_chain::build(const std::vector<policy_spec>& specs, policy_counters* counters,
                                                       bool (*known_route)(std::string_view)) {
  auto chain = std::make_shared<policy_chain>();
  if (specs.size() > 64) throw config_error(specs[64].where + ": at most 64 policies");
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& spec = specs[i];
    const std::string where = spec.where + " (" + spec.type + ")";
    const policy_type* type = nullptr;
    for (const auto& t : types)
      if (t.type == spec.type) type = &t;
    if (!type) throw config_error(spec.where + ".type: unknown policy '" + spec.type + "' (validation, auth, prompt_guard, output_filter)");
    entry e;
    static const boost::json::object no_options;
    try {
      e.p = type->make(spec.options ? *spec.options : no_options);
    } catch (const config_error& err) {
      throw config_error(where + ": " + err.what());
    }
    if (spec.routes.empty()) e.class_mask = type->default_routes;
    for (const auto& r : spec.routes) {
      if (r == "all") {
        e.class_mask = all_classes;
        continue;
      }
      if (r.starts_with("/")) {
        if (known_route && !known_route(r))
          throw config_error(where + ": routes: no route is called '" + r + "' (routes are named as in /metrics, e.g. /api/chat, /v1/chat/completions, /api/blobs/{digest})");
        e.labels.push_back(r);
        continue;
      }
      bool known = false;
      for (auto c : classes)
        if (to_string(c) == r) {
          e.class_mask |= bit(c);
          known = true;
        }
      if (!known)
        throw config_error(where + ": routes: unknown route class '" + r +
                           "' (all, probe, inference, fleet_read, fleet_change, management, other, or a path such as /api/chat)");
    }
    e.p->bind(spec.name, i, counters);
    chain->entries_.push_back(std::move(e));
  }
  for (const auto& e : chain->entries_) {
    auto h = e.p->hooks();
    if (h & hook_request) chain->request_hooks_.push_back(&e);
    if (h & hook_response_head) chain->head_hooks_.push_back(&e);
    if (h & hook_response_chunk) chain->chunk_hooks_.push_back(&e);
    if (h & hook_complete) chain->complete_hooks_.push_back(&e);
  }
  return chain;
}

bool policy_chain::filters_responses(const request_context& ctx) const noexcept {
  for (const auto* e : chunk_hooks_)
    if (e->applies(ctx)) return true;
  return false;
}

boost::asio::awaitable<verdict> policy_chain::on_request(policy_request& req) const {
  for (const auto* e : request_hooks_) {
    if (!e->applies(req.ctx)) continue;
    auto v = co_await e->p->on_request(req);
    if (v.rejected()) co_return v;
  }
  co_return verdict::next();
}

void policy_chain::on_response_head(request_context& ctx, const response_head_view& head) const {
  ctx.chunk_policies = 0;
  for (const auto* e : head_hooks_) {
    if (!e->applies(ctx)) continue;
    e->p->on_response_head(ctx, head);
    auto slot = e->p->slot();
    if ((e->p->hooks() & hook_response_chunk) && slot < ctx.policy_states.size() && ctx.policy_states[slot])
      ctx.chunk_policies |= std::uint64_t{1} << (slot % 64);
  }
}

chunk_result policy_chain::on_response_chunk(request_context& ctx, chunk_kind kind, std::string_view chunk) const {
  chunk_result out;
  for (const auto* e : chunk_hooks_) {
    if (!(ctx.chunk_policies & (std::uint64_t{1} << (e->p->slot() % 64)))) continue;
    auto r = e->p->on_response_chunk(ctx, kind, chunk);
    if (r.act == chunk_result::action::block) return r;
    if (r.act == chunk_result::action::replace) {
      chunk = r.data;
      out = r;
    }
  }
  return out;
}

void policy_chain::on_complete(const request_context& ctx) const {
  for (const auto* e : complete_hooks_)
    if (e->applies(ctx)) e->p->on_complete(ctx);
}

std::string policy_chain::describe() const {
  std::string out;
  for (const auto& e : entries_) out.append(out.empty() ? "" : ", ").append(e.p->name());
  return out.empty() ? "none" : out;
}

}  // namespace corral
