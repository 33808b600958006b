#pragma once
// The gateway process: one io_context per worker thread, each with its own SO_REUSEPORT
// listener on the same address, the backend monitor on worker 0, graceful stop on
// SIGINT/SIGTERM (stop accepting, let requests in flight finish for up to 10 s).
#include "gateway/core/config.hpp"

#include <memory>
#include <string>

namespace corral {

// Runs until a stop signal. Throws std::runtime_error when it cannot listen.
void run_server(std::shared_ptr<const config> cfg, std::string version);

}  // namespace corral
