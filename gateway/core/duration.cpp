#include "gateway/core/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace corral {

namespace {

using nanos = std::int64_t;
constexpr nanos ns_per_ms = 1'000'000;
constexpr nanos ns_per_s = 1'000 * ns_per_ms;

struct unit {
  std::string_view suffix;
  nanos scale;
};

// "ms" before "m" so that the longest suffix wins.
constexpr std::array<unit, 4> units{{
    {"ms", ns_per_ms},
    {"s", ns_per_s},
    {"m", 60'000 * ns_per_ms},
    {"h", 3'600'000 * ns_per_ms},
}};

constexpr nanos max_nanos = std::numeric_limits<nanos>::max();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `number` ("<digits>[.<digits>]", at least one digit) times `scale`, in integer nanoseconds as
// Go does, so "0.1s" is exactly 100ms; nullopt on a malformed number or on overflow.
std::optional<nanos> scaled(std::string_view number, nanos scale) {
  nanos whole = 0;
  std::size_t i = 0;
  for (; i < number.size() && is_digit(number[i]); ++i) {
    const int digit = number[i] - '0';
    if (whole > (max_nanos - digit) / 10) return std::nullopt;
    whole = whole * 10 + digit;
  }
  bool any_digit = i > 0;
  if (whole > max_nanos / scale) return std::nullopt;
  nanos total = whole * scale;
  if (i < number.size() && number[i] == '.') {
    // Each fraction digit is worth a tenth of the previous one; below a nanosecond they vanish.
    nanos step = scale;
    for (++i; i < number.size() && is_digit(number[i]); ++i) {
      any_digit = true;
      step /= 10;
      const nanos add = (number[i] - '0') * step;
      if (total > max_nanos - add) return std::nullopt;
      total += add;
    }
  }
  if (!any_digit || i != number.size()) return std::nullopt;
  return total;
}

bool is_number_char(char c) { return is_digit(c) || c == '.'; }

}  // namespace

std::optional<millis> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::size_t len = 0;
  while (len < text.size() && is_number_char(text[len])) ++len;
  if (len == text.size()) {  // a bare number counts seconds
    const auto total = scaled(text, ns_per_s);
    if (!total) return std::nullopt;
    return millis{*total / ns_per_ms};
  }
  nanos total = 0;
  while (!text.empty()) {
    len = 0;
    while (len < text.size() && is_number_char(text[len])) ++len;
    if (len == 0) return std::nullopt;  // a sign, a space, a unit without a number...
    const std::string_view number = text.substr(0, len);
    text.remove_prefix(len);
    const unit* found = nullptr;
    for (const unit& u : units) {
      if (text.starts_with(u.suffix)) {
        found = &u;
        break;
      }
    }
    if (found == nullptr) return std::nullopt;  // missing or unknown unit
    text.remove_prefix(found->suffix.size());
    const auto part = scaled(number, found->scale);
    if (!part || total > max_nanos - *part) return std::nullopt;
    total += *part;
  }
  // Summed in nanoseconds first so that "1.0005s1.0005s" is 2001ms, then truncated like Go's
  // Duration.Truncate(time.Millisecond).
  return millis{total / ns_per_ms};
}

std::string format_duration(millis d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    // -min cannot be negated; no configured duration comes near it.
    ms = ms == std::numeric_limits<std::int64_t>::min() ? std::numeric_limits<std::int64_t>::max()
                                                        : -ms;
  }
  const std::int64_t hours = ms / 3'600'000;
  const std::int64_t minutes = ms / 60'000 % 60;
  const std::int64_t seconds = ms / 1'000 % 60;
  const std::int64_t rest = ms % 1'000;
  if (hours != 0) out += std::to_string(hours) + 'h';
  if (minutes != 0) out += std::to_string(minutes) + 'm';
  if (seconds == 0) {
    if (rest != 0) out += std::to_string(rest) + "ms";
  } else if (rest == 0) {
    out += std::to_string(seconds) + 's';
  } else {  // "1.5s" is shorter than "1s500ms"
    std::string frac = std::to_string(1'000 + rest).substr(1);
    while (frac.back() == '0') frac.pop_back();
    out += std::to_string(seconds) + '.' + frac + 's';
  }
  return out;
}

}  // namespace corral
