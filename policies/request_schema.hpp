#pragma once
// The request schema: the documented fields of every JSON route of the Ollama and OpenAI APIs
// with their types, checked together with the size and range limits of `request_limits` in one
// walk over a parsed body. Fields the APIs don't document are allowed (clients send extras) and
// only held to the nesting limit. `null` counts as absent, as in Ollama's decoder.
//
// Thread-safety: pure functions over their arguments. No allocation unless the body is rejected.
#include "policies/sampling_options.hpp"

#include <boost/json/fwd.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corral {

struct request_limits {
  std::size_t max_json_depth = 64;              // nesting of arrays and objects; the body is 1
  std::uint64_t max_body_bytes = 32u << 20;     // checked by the caller against the body's size
  std::uint64_t max_prompt_bytes = 1u << 20;    // prompt + system + suffix + message text + inputs
  std::uint64_t max_prompt_tokens = 262'144;    // estimated as ceil(prompt bytes / 4)
  std::uint64_t max_messages = 1024;
  std::array<value_range, option_count> options = default_option_ranges();
};

// Why a body was rejected: the field's path in the client's API ("messages[2].role") and what
// is wrong with it.
struct schema_violation {
  std::string field;
  std::string problem;
  // `field "messages[2].role": unknown role "robot" (...)`.
  std::string message() const;
};

// True when `route` (a route label, e.g. "/api/chat") has a request schema here.
bool has_request_schema(std::string_view route) noexcept;

// Checks `body` as a request to `route` under `limits`; nothing when it passes (also for routes
// without a schema). Stops at the first violation, in the body's member order.
std::optional<schema_violation> check_request(std::string_view route, const boost::json::object& body,
                                              const request_limits& limits);

}  // namespace corral
