#pragma once
// The sampling options whose range the validation policy configures (num_ctx, temperature,
// ...): their names, which take whole numbers, and the built-in ranges.
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
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

}  // namespace corral
