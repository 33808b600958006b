#pragma once
// The gateway process: one io_context per worker thread, each with its own SO_REUSEPORT
// listener on the same address, the backend monitor on worker 0, graceful stop on
// SIGINT/SIGTERM (stop accepting, let requests in flight finish for up to 10 s), reload on SIGHUP.
#include "gateway/core/config.hpp"

#include <functional>
#include <memory>
#include <string>

namespace corral {

// Runs until a stop signal. On SIGHUP, `reread` (when given) reads the configuration again the
// way it was read at start; what may change live is applied (config_reload.hpp), and the outcome
// is logged. Throws std::runtime_error when it cannot listen, config_error on a bad chain.
void run_server(std::shared_ptr<const config> cfg, std::string version, std::function<config()> reread = {});

}  // namespace corral
