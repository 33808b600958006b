#pragma once
// Active health checks and catalog refresh. One coroutine per backend, on worker 0: resolve the
// host, GET /api/version (health + version), /api/tags and /api/ps (the catalog), then sleep
// ollama.health_check_period. A backend that fails its check is out until one passes.
#include "gateway/gateway_state.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>

namespace corral {

// Polls `b` once: health, version, models. Returns true when the backend answered.
boost::asio::awaitable<bool> poll_backend(worker& w, backend& b);

// Refreshes only the catalog entry of `b` (after pull, delete, copy, create).
boost::asio::awaitable<void> refresh_models(worker& w, backend& b);

// Runs forever (until the io_context stops): polls `b` every health_check_period.
// `first_round_done` is called once after the first poll.
boost::asio::awaitable<void> monitor_backend(worker& w, backend& b, std::function<void()> first_round_done);

}  // namespace corral
