#include "policies/sampling_options.hpp"

namespace corral {

namespace {

constexpr std::array<std::string_view, option_count> option_names = {
    "num_ctx", "num_predict", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "repeat_last_n",
    "presence_penalty", "frequency_penalty", "num_batch", "num_keep", "seed", "stop"};

}  // namespace

std::string_view to_string(option_id id) noexcept { return option_names[static_cast<std::size_t>(id)]; }

std::optional<option_id> option_named(std::string_view name) noexcept {
  for (std::size_t i = 0; i < option_count; ++i)
    if (option_names[i] == name) return static_cast<option_id>(i);
  return std::nullopt;
}

bool is_integer_option(option_id id) noexcept {
  switch (id) {
    case option_id::temperature:
    case option_id::top_p:
    case option_id::min_p:
    case option_id::repeat_penalty:
    case option_id::presence_penalty:
    case option_id::frequency_penalty: return false;
    default: return true;
  }
}

std::array<value_range, option_count> default_option_ranges() noexcept {
  constexpr double none = std::numeric_limits<double>::infinity();
  std::array<value_range, option_count> r{};
  auto set = [&](option_id id, double min, double max) { r[static_cast<std::size_t>(id)] = {min, max}; };
  set(option_id::num_ctx, 1, 1 << 20);
  set(option_id::num_predict, -2, none);
  set(option_id::temperature, 0, 2);
  set(option_id::top_p, 0, 1);
  set(option_id::top_k, -1, none);
  set(option_id::min_p, 0, 1);
  set(option_id::repeat_penalty, 0, none);
  set(option_id::repeat_last_n, -1, none);
  set(option_id::presence_penalty, -2, 2);
  set(option_id::frequency_penalty, -2, 2);
  set(option_id::num_batch, 1, none);
  set(option_id::num_keep, -1, none);
  set(option_id::stop, 0, none);
  return r;
}

}  // namespace corral
