#pragma once
// The request schema: the documented fields of every JSON route of the Ollama and OpenAI APIs
// with their types, checked together with the size and range limits of `request_limits` in one
// walk over a parsed body. Fields the APIs don't document are allowed (clients send extras) and
// only held to the nesting limit. `null` counts as absent, as in Ollama's decoder.
//
// Thread-safety: pure functions over their arguments. No allocation unless the body is rejected.
#include <boost/json/fwd.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace corral {

// The sampling options whose range is configurable. On OpenAI routes the top-level fields of
// the same meaning are held to the same range: max_tokens and max_completion_tokens to
// num_predict; `stop`'s range bounds the number of stop sequences.
enum class option_id : std::uint8_t {
  num_ctx, num_predict, temperature, top_p, top_k, min_p, repeat_penalty, repeat_last_n,
  presence_penalty, frequency_penalty, num_batch, num_keep, seed, stop,
};
inline constexpr std::size_t option_count = static_cast<std::size_t>(option_id::stop) + 1;

std::string_view to_string(option_id id) noexcept;
// The option named `name`, if it is one of option_id.
std::optional<option_id> option_named(std::string_view name) noexcept;
// True for the options that take whole numbers (and for `stop`, whose range is a count).
bool is_integer_option(option_id id) noexcept;

// An inclusive range; an infinite bound is no bound.
struct value_range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};

// The built-in ranges: num_ctx 1..1048576, num_predict >= -2 (-1 endless, -2 fill the context),
// temperature 0..2, top_p 0..1, top_k >= -1, min_p 0..1, repeat_penalty >= 0, repeat_last_n >= -1,
// presence/frequency_penalty -2..2, num_batch >= 1, num_keep >= -1, seed any, stop any count.
std::array<value_range, option_count> default_option_ranges() noexcept;

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
