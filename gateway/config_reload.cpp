#include "gateway/config_reload.hpp"

#include "gateway/log.hpp"
#include "gateway/preset_store.hpp"
#include "gateway/presets.hpp"
#include "gateway/route_table.hpp"

#include <mutex>

namespace corral {

config_update apply_config(gateway_state& state,
                           const std::function<std::shared_ptr<const config>(const config& running)>& make_next) {
  static std::mutex updating;
  std::lock_guard lock(updating);
  auto running = state.cfg();
  config_update out;
  std::shared_ptr<const config> next;
  try {
    next = make_next(*running);
  } catch (const std::exception& e) {
    out.status = 400;
    out.error = e.what();
    return out;
  }
  auto fixed = live_only_changes(*running, *next);
  if (!fixed.empty()) {
    std::string keys;
    for (const auto& k : fixed) keys += (keys.empty() ? "" : ", ") + k;
    out.status = 409;
    out.error = keys + " cannot change while corral runs; restart to apply " +
                std::string(fixed.size() == 1 ? "it" : "them") + " (nothing was applied)";
    return out;
  }
  try {
    auto chain = policy_chain::build(next->policies, &state.decisions(), is_route_label);
    auto presets = configured_presets(*next);
    state.presets().set_configured(std::move(presets));  // checks names; changes nothing on failure
    set_log_level(next->log.level);
    state.set_config(std::move(next), std::move(chain));
  } catch (const std::exception& e) {
    out.status = 400;
    out.error = e.what();
  }
  return out;
}

}  // namespace corral
