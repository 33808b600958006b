#include "gateway/config_reload.hpp"

#include "gateway/route_table.hpp"

namespace corral {

std::string apply_reload(gateway_state& state, const config& next) {
  const auto& running = *state.cfg();
  const char* fixed = nullptr;
  if (!(next.server == running.server)) fixed = "server";
  else if (!(next.ollama == running.ollama)) fixed = "ollama";
  else if (!(next.upstream == running.upstream)) fixed = "upstream";
  else if (next.log.level != running.log.level || next.log.access_log != running.log.access_log) fixed = "log";
  if (fixed)
    return std::string("the '") + fixed + "' section changed, and it cannot change while corral runs; restart to apply it "
                                           "(only 'policies' is reloaded live)";
  try {
    state.set_chain(policy_chain::build(next.policies, &state.decisions(), is_route_label));
  } catch (const config_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace corral
