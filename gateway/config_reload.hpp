#pragma once
// Changing the configuration while serving: SIGHUP (the file re-read) and PUT /api/v1/config
// (a document merged over the running one) both end here, and are applied the same way.
//
// All or nothing: the new configuration is checked whole (its policy chain and presets built)
// before anything changes; then it is swapped in as one snapshot. Requests already running
// finish with the configuration and chain they started with; connections and streams are not
// touched. Keys that hold sockets, threads or pools (config.hpp: live_only_changes) cannot
// change live: a change to any of them refuses the whole update, naming them.
#include "gateway/gateway_state.hpp"

#include <functional>
#include <memory>
#include <string>

namespace corral {

struct config_update {
  unsigned status = 200;  // 200 applied; 400 invalid; 409 a key that needs a restart changed
  std::string error;      // why nothing was applied
};

// Builds the next configuration from the running one and applies it. Thread-safe: updates are
// serialised, and `make_next` runs under the same lock, so two updates (two PUTs, a PUT and a
// SIGHUP) never build on the same running configuration and lose one another's changes. An
// exception from `make_next` (config_error: the document is invalid) is a 400.
config_update apply_config(gateway_state& state,
                           const std::function<std::shared_ptr<const config>(const config& running)>& make_next);

}  // namespace corral
