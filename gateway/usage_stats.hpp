#pragma once
// Usage and performance figures behind the management API: totals since start
// (GET /api/v1/stats), sliding windows over the last hour (GET /api/v1/monitoring/performance)
// and hourly usage kept for 31 days (GET /api/v1/monitoring/usage).
//
// Threading: one shard per worker thread, each with its own mutex, so recording a finished
// request is uncontended. A shard fills the current 10-second slot on its own and hands it to
// the shared history only when a sample for a later slot arrives (at most once per 10 s), so the
// hour of slots and the 31 days of hours exist once, not once per worker. Queries merge the
// history with the shards' unfinished slots.
//
// Memory stays bounded: the windows keep 360 slots of 10 s, usage keeps 31 days of hours, and
// every map holds at most usage_max_keys labels; later labels are counted under "other".
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corral {

// Distinct labels (routes, models, presets, keys, backends, statuses, usage rows of one hour)
// any one map keeps before folding the rest into "other".
inline constexpr std::size_t usage_max_keys = 1000;

// One finished request, as the session saw it.
struct usage_sample {
  std::chrono::system_clock::time_point at;  // when the request ended (wall clock)
  std::string_view route;    // route label, e.g. "/api/v1/generate", "/api/chat"
  std::string_view model;    // normalized model name or ""
  std::string_view preset;   // preset name or ""
  std::string_view key;      // the API key's configured name, "" without auth
  std::string_view backend;  // backend name or "" (none served it)
  unsigned status = 0;       // HTTP status (499 = client went away)
  double duration_s = 0;     // whole request
  double ttft_s = -1;        // first body byte; < 0 when none
  double load_s = -1;        // Ollama's load_duration when the answer reported one, else < 0
  std::uint64_t prompt_tokens = 0, completion_tokens = 0;
};

// The error class of a status: "" below 400, a name for the statuses corral answers
// ("rate_limited", "upstream_timeout", ...), "http_<n>" for the others.
std::string_view error_kind(unsigned status);

// What GET /api/v1/monitoring/usage asks for.
struct usage_query {
  std::chrono::system_clock::time_point since, until;  // hours starting in [since, until) or overlapping it
  std::vector<std::string> group_by{"model", "preset", "key"};  // a subset, in this order
  enum class period { hour, day } granularity = period::hour;
};

// Parses the query string of GET /api/v1/monitoring/usage, e.g.
// "since=-7d&group_by=model,key&period=day" (names and values percent-decoded here).
// since/until take RFC 3339 ("2026-11-25T19:00:00Z"), a date ("2026-11-25", midnight UTC),
// unix seconds or a time relative to now ("-30m", "-24h", "-7d"). Defaults: until = now,
// since = until - 24h. On error, a message for a person that names the parameter.
std::variant<usage_query, std::string> parse_usage_query(std::string_view query,
                                                         std::chrono::system_clock::time_point now);

// The process's own CPU time, resident memory and threads, at one moment.
struct process_reading {
  double cpu_seconds = 0;  // user + system, since the process started
  std::uint64_t rss_bytes = 0;
  unsigned threads = 0;
};

// Reads this process's figures (getrusage, /proc/self/statm, /proc/self/stat); a figure that
// cannot be read stays 0.
process_reading read_process();

class usage_stats {
 public:
  explicit usage_stats(std::size_t shards,
                       std::chrono::system_clock::time_point started = std::chrono::system_clock::now());
  ~usage_stats();
  usage_stats(const usage_stats&) = delete;
  usage_stats& operator=(const usage_stats&) = delete;

  // Records one finished request; `shard` is the calling worker's index (< shards).
  void record(std::size_t shard, const usage_sample& s);

  // Adds a process reading taken now (read_process()); the caller does this every few seconds.
  // Readings are kept for an hour, at most one per second.
  void sample_process(std::chrono::system_clock::time_point now);
  void sample_process(std::chrono::system_clock::time_point now, const process_reading& reading);

  // GET /api/v1/stats: everything since `started`.
  boost::json::object stats(std::chrono::system_clock::time_point now) const;
  // GET /api/v1/monitoring/performance: the last minute, 5 minutes and hour, and the process.
  boost::json::object performance(std::chrono::system_clock::time_point now) const;
  // GET /api/v1/monitoring/usage: requests, tokens and errors per hour or day.
  boost::json::object usage(const usage_query& q, std::chrono::system_clock::time_point now) const;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace corral
