#pragma once
// The access log: one JSON line per request on stdout (id, client, method, route, target, model,
// backend, status, bytes, duration, ttfb, tokens, attempts, error), written when the request
// ends, at level info. Turned off by log.access_log: false or a LOG_LEVEL above info.
#include "gateway/core/request_context.hpp"

#include <string>

namespace corral {

// The line for `ctx`, with its trailing '\n' (pure; for tests).
std::string access_log_line(const request_context& ctx);

// Writes the line with one write(2) if access logging is on.
void write_access_log(const request_context& ctx, bool enabled);

}  // namespace corral
