#include "gateway/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <unistd.h>

namespace corral {
namespace {
std::atomic<int> g_level{static_cast<int>(log_level::info)};

void append_json_string(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}
}  // namespace

void set_log_level(log_level level) { g_level.store(static_cast<int>(level)); }
bool log_enabled(log_level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void log(log_level level, std::string_view message, std::initializer_list<log_field> fields) {
  if (!log_enabled(level)) return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line = "{\"time\":\"";
  line += ts;
  line += "\",\"level\":\"";
  line += to_string(level);
  line += "\",\"msg\":";
  append_json_string(line, message);
  for (const auto& [k, v] : fields) {
    line += ',';
    append_json_string(line, k);
    line += ':';
    append_json_string(line, v);
  }
  line += "}\n";
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace corral
