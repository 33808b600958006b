#pragma once
// Process log: one JSON object per line on stderr, filtered by LOG_LEVEL. Thread-safe; each
// line is one write(2).
#include "gateway/core/config.hpp"

#include <initializer_list>
#include <string_view>
#include <utility>

namespace corral {

void set_log_level(log_level level);
bool log_enabled(log_level level);

using log_field = std::pair<std::string_view, std::string_view>;
void log(log_level level, std::string_view message, std::initializer_list<log_field> fields = {});

}  // namespace corral
