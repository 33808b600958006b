#pragma once
// The fleet's models through the management API (/api/v1/models*): one list across every
// healthy backend with what /api/show says of each model (capabilities, details), and model
// lifecycle with a per-backend report.
//
// Lifecycle answers: {"operation", "model", "results": [{"backend", "status": "ok"} |
// {"backend", "status": "error", "http_status", "error"}], "succeeded", "failed"}; HTTP 200
// when every target succeeded, 207 when some failed, and the backend's own status when it was
// the only target. Targets default to the backends the operation concerns (docs/api.md) and
// may be named in `targets` (backend names, or "all").
#include "gateway/downstream.hpp"
#include "gateway/gateway_state.hpp"
#include "gateway/route_table.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <string_view>

namespace corral {

// Serves the /api/v1/models* operations. `body` is the parsed request body (null for GET and
// DELETE); `query` the target's query string.
boost::asio::awaitable<void> serve_models(worker& w, downstream& client, const route_match& route,
                                          const boost::json::object* body, std::string_view query);

// At start, with ollama.auto_pull: pulls each of ollama.models onto every healthy backend that
// lacks it, and logs the outcome.
boost::asio::awaitable<void> pull_configured_models(worker& w);

}  // namespace corral
