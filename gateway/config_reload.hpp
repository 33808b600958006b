#pragma once
// Reloading the configuration while serving (SIGHUP): what may change live, and applying it.
//
// Today the policy chain (`policies:`) is what changes live; the other sections (server, ollama,
// upstream, log) hold sockets, threads and pools, so a reload that changes them is refused as a
// whole, naming the first such key's section, and the running configuration stays.
#include "gateway/gateway_state.hpp"

#include <string>

namespace corral {

// Checks `next` against the running configuration and, when only live keys changed, builds its
// chain and swaps it in (requests already running finish with the chain they started with).
// Returns "" on success, else why nothing was applied. Thread-safe.
std::string apply_reload(gateway_state& state, const config& next);

}  // namespace corral
