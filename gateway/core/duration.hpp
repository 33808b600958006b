#pragma once
// Durations as the config and the environment write them: Go-style strings ("300ms", "60s",
// "5m", "1h30m") or a bare number of seconds ("60", "1.5").
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace corral {

using millis = std::chrono::milliseconds;

// Parses a duration; nullopt on anything malformed or negative.
std::optional<millis> parse_duration(std::string_view text);

// Formats as the shortest exact Go-style string ("1m30s", "250ms", "0s").
std::string format_duration(millis d);

}  // namespace corral
