#include "gateway/usage_stats.hpp"

#include "gateway/route_table.hpp"  // percent_decode

#include "gateway/core/string_hash.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace corral {
namespace {

namespace json = boost::json;
namespace chr = std::chrono;
using time_point = chr::system_clock::time_point;

constexpr std::int64_t slot_seconds = 10;
constexpr std::int64_t ring_slots = 360;  // one hour of slots
constexpr std::int64_t hour_seconds = 3600;
constexpr std::int64_t day_seconds = 86400;
constexpr std::int64_t hours_kept = 31 * 24;
constexpr std::int64_t no_slot = std::numeric_limits<std::int64_t>::min();
constexpr std::string_view other_label = "other";

// Windows of performance(), in slots, shortest first.
constexpr std::array<std::pair<std::string_view, std::int64_t>, 3> windows{
    {{"1m", 6}, {"5m", 30}, {"1h", 360}}};

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  auto q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t unix_seconds(time_point t) { return chr::floor<chr::seconds>(t.time_since_epoch()).count(); }
std::int64_t slot_of(time_point t) { return floor_div(unix_seconds(t), slot_seconds); }
std::int64_t hour_of_slot(std::int64_t slot) { return floor_div(slot * slot_seconds, hour_seconds); }
time_point from_unix(std::int64_t seconds) { return time_point(chr::seconds(seconds)); }
double seconds_between(time_point from, time_point to) { return chr::duration<double>(to - from).count(); }

// To `decimals` places, as the nearest double to that decimal (so 0.1 serializes as 0.1).
double round_to(double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

// ---- Log-scale histograms: percentiles within a bucket's width, without keeping samples.

struct log_scale {
  double lowest;        // upper bound of bucket 0, which takes everything up to it
  double ratio;         // between consecutive upper bounds
  std::size_t buckets;  // the last one takes everything above the one before it

  std::size_t index(double v) const {
    if (!(v > lowest)) return 0;
    double i = std::ceil(std::log(v / lowest) / std::log(ratio));
    return i >= static_cast<double>(buckets - 1) ? buckets - 1 : static_cast<std::size_t>(i);
  }
  double upper(std::size_t i) const {
    return i + 1 >= buckets ? std::numeric_limits<double>::infinity()
                            : lowest * std::pow(ratio, static_cast<double>(i));
  }
};

// Since start: 0.05 ms to 1 h at 10 % (bucket 190 ends at 3 661 s; 191 is above).
constexpr log_scale fine_scale{5e-5, 1.1, 192};
// Per 10-second slot, where 360 slots of every model and backend must stay small: 1 ms to
// 17 min at 25 % in 64 counters.
constexpr log_scale slot_scale{1e-3, 1.25, 64};

template <const log_scale& Scale, class Count>
struct log_histogram {
  std::array<Count, Scale.buckets> counts{};
  double max = 0;
  double sum = 0;

  void observe(double v) {
    ++counts[Scale.index(v)];
    max = std::max(max, v);
    sum += v;
  }
  template <class C>
  void merge(const log_histogram<Scale, C>& o) {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
    max = std::max(max, o.max);
    sum += o.sum;
  }
  std::uint64_t count() const {
    std::uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
  }
  // The upper bound of the bucket holding the q-th value (nearest rank), clamped to the
  // largest value seen: never below the true percentile, at most a bucket above it.
  std::optional<double> quantile(double q) const {
    auto total = count();
    if (total == 0) return std::nullopt;
    // 1e-9: 0.9 × 100 must be rank 90, not 91.
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total) - 1e-9));
    rank = std::max<std::uint64_t>(rank, 1);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      seen += counts[i];
      if (seen >= rank) return std::min(Scale.upper(i), max);
    }
    return max;
  }
};

using fine_histogram = log_histogram<fine_scale, std::uint64_t>;

json::value ms(std::optional<double> seconds) {
  if (!seconds) return nullptr;
  return round_to(*seconds * 1000, 1);
}

// Sanitized inputs: a duration that is not a finite number counts as absent (< 0).
double measured(double seconds) { return std::isfinite(seconds) ? seconds : -1; }

// ---- Bounded maps.

// The entry for `label`, or the `other` entry once `map` holds usage_max_keys labels besides
// it. Merging maps that keep to the cap into an empty one therefore folds nothing more.
template <class Map>
typename Map::mapped_type& entry(Map& map, std::string_view label, std::string_view other = other_label) {
  auto it = map.find(label);
  if (it != map.end()) return it->second;
  if (map.size() >= usage_max_keys) {
    it = map.find(other);
    bool has_other = it != map.end();
    if (map.size() - has_other >= usage_max_keys) {
      if (has_other) return it->second;
      label = other;
    }
  }
  return map.emplace(std::string(label), typename Map::mapped_type{}).first->second;
}

template <class V>
using sorted_map = std::map<std::string, V, std::less<>>;

json::object counts_json(const string_map<std::uint64_t>& counts) {
  sorted_map<std::uint64_t> sorted(counts.begin(), counts.end());
  json::object out;
  for (const auto& [label, n] : sorted) out[label] = n;
  return out;
}

// ---- Totals since start, one per shard.

struct totals {
  std::uint64_t requests = 0, errors = 0, prompt_tokens = 0, completion_tokens = 0;
  string_map<std::uint64_t> by_route, by_model, by_preset, by_key, by_status, by_kind;
  fine_histogram latency, ttft;

  void add(const usage_sample& s) {
    ++requests;
    prompt_tokens += s.prompt_tokens;
    completion_tokens += s.completion_tokens;
    // An empty label is no route, model, preset or key: only the totals count it.
    if (!s.route.empty()) ++entry(by_route, s.route);
    if (!s.model.empty()) ++entry(by_model, s.model);
    if (!s.preset.empty()) ++entry(by_preset, s.preset);
    if (!s.key.empty()) ++entry(by_key, s.key);
    char status[16];
    auto end = std::to_chars(status, status + sizeof status, s.status).ptr;
    ++entry(by_status, std::string_view(status, end - status));
    if (auto kind = error_kind(s.status); !kind.empty()) {
      ++errors;
      ++entry(by_kind, kind);
    }
    latency.observe(std::max(0.0, measured(s.duration_s)));
    if (double t = measured(s.ttft_s); t >= 0) ttft.observe(t);
  }

  void merge(const totals& o) {
    requests += o.requests;
    errors += o.errors;
    prompt_tokens += o.prompt_tokens;
    completion_tokens += o.completion_tokens;
    auto add = [](string_map<std::uint64_t>& dst, const string_map<std::uint64_t>& src) {
      for (const auto& [label, n] : src) entry(dst, label) += n;
    };
    add(by_route, o.by_route);
    add(by_model, o.by_model);
    add(by_preset, o.by_preset);
    add(by_key, o.by_key);
    add(by_status, o.by_status);
    add(by_kind, o.by_kind);
    latency.merge(o.latency);
    ttft.merge(o.ttft);
  }
};

json::object distribution_json(const fine_histogram& h) {
  auto n = h.count();
  json::object out;
  out["count"] = n;
  out["p50"] = ms(h.quantile(0.50));
  out["p90"] = ms(h.quantile(0.90));
  out["p95"] = ms(h.quantile(0.95));
  out["p99"] = ms(h.quantile(0.99));
  out["max"] = n ? ms(h.max) : json::value(nullptr);
  out["mean"] = n ? ms(h.sum / static_cast<double>(n)) : json::value(nullptr);
  return out;
}

// ---- Sliding windows: 10-second slots.

// One key's requests in one slot (Count = uint32_t) or merged over a window (uint64_t).
template <class Count>
struct window_counts {
  std::uint64_t requests = 0, errors = 0, prompt_tokens = 0, completion_tokens = 0;
  log_histogram<slot_scale, Count> latency, ttft, load;

  void add(const usage_sample& s) {
    ++requests;
    if (s.status >= 400) ++errors;
    prompt_tokens += s.prompt_tokens;
    completion_tokens += s.completion_tokens;
    latency.observe(std::max(0.0, measured(s.duration_s)));
    if (double t = measured(s.ttft_s); t >= 0) ttft.observe(t);
    if (double t = measured(s.load_s); t >= 0) load.observe(t);
  }
  template <class C>
  void merge(const window_counts<C>& o) {
    requests += o.requests;
    errors += o.errors;
    prompt_tokens += o.prompt_tokens;
    completion_tokens += o.completion_tokens;
    latency.merge(o.latency);
    ttft.merge(o.ttft);
    load.merge(o.load);
  }
};

using slot_counts = window_counts<std::uint32_t>;
using window_totals = window_counts<std::uint64_t>;

struct perf_slot {
  std::int64_t tag = no_slot;  // slot number since the epoch; no_slot when never used
  slot_counts overall;
  string_map<slot_counts> models, backends;

  void reset(std::int64_t slot) {
    tag = slot;
    overall = {};
    models.clear();
    backends.clear();
  }
  void add(const usage_sample& s) {
    overall.add(s);
    // Requests no model or backend took part in only count overall.
    if (!s.model.empty()) entry(models, s.model).add(s);
    if (!s.backend.empty()) entry(backends, s.backend).add(s);
  }
  void merge(const perf_slot& o) {
    overall.merge(o.overall);
    for (const auto& [name, c] : o.models) entry(models, name).merge(c);
    for (const auto& [name, c] : o.backends) entry(backends, name).merge(c);
  }
};

struct window {
  window_totals overall;
  sorted_map<window_totals> models, backends;

  void merge(const perf_slot& s) {
    overall.merge(s.overall);
    for (const auto& [name, c] : s.models) entry(models, name).merge(c);
    for (const auto& [name, c] : s.backends) entry(backends, name).merge(c);
  }
};

template <class H>
json::object percentiles_json(const H& h) {
  return {{"p50", ms(h.quantile(0.50))}, {"p95", ms(h.quantile(0.95))}, {"p99", ms(h.quantile(0.99))}};
}

json::object window_metrics_json(const window_totals& c, double seconds) {
  auto per_s = [&](std::uint64_t n) { return seconds > 0 ? round_to(static_cast<double>(n) / seconds, 3) : 0.0; };
  auto loads = c.load.count();
  json::object out;
  out["requests"] = c.requests;
  out["requests_per_s"] = per_s(c.requests);
  out["errors"] = c.errors;
  out["error_rate"] = c.requests ? round_to(static_cast<double>(c.errors) / static_cast<double>(c.requests), 4) : 0.0;
  out["latency_ms"] = percentiles_json(c.latency);
  out["ttft_ms"] = percentiles_json(c.ttft);
  out["output_tokens_per_s"] = per_s(c.completion_tokens);
  out["prompt_tokens"] = c.prompt_tokens;
  out["completion_tokens"] = c.completion_tokens;
  out["load_ms"] = {{"count", loads},
                    {"p50", ms(c.load.quantile(0.5))},
                    {"max", loads ? ms(c.load.max) : json::value(nullptr)}};
  return out;
}

// ---- Usage per hour.

struct usage_counts {
  std::uint64_t requests = 0, prompt_tokens = 0, completion_tokens = 0, errors = 0;

  void add(const usage_sample& s) {
    ++requests;
    prompt_tokens += s.prompt_tokens;
    completion_tokens += s.completion_tokens;
    if (s.status >= 400) ++errors;
  }
  void merge(const usage_counts& o) {
    requests += o.requests;
    prompt_tokens += o.prompt_tokens;
    completion_tokens += o.completion_tokens;
    errors += o.errors;
  }
};

// A usage row's labels joined as model \x1f preset \x1f key (labels never hold control characters).
constexpr char label_separator = '\x1f';
const std::string other_row = "other\x1fother\x1fother";

usage_counts& usage_entry(string_map<usage_counts>& rows, std::string_view labels) {
  return entry(rows, labels, other_row);
}

std::array<std::string_view, 3> split_labels(std::string_view joined) {
  auto a = joined.find(label_separator);
  auto b = joined.find(label_separator, a + 1);
  return {joined.substr(0, a), joined.substr(a + 1, b - a - 1), joined.substr(b + 1)};
}

// What a shard gathers for the current slot before handing it to the history.
struct pending_slot {
  perf_slot perf;
  string_map<usage_counts> usage;  // by model \x1f preset \x1f key

  void reset(std::int64_t slot) {
    perf.reset(slot);
    usage.clear();
  }
  void add(const usage_sample& s, std::string& scratch) {
    perf.add(s);
    scratch.assign(s.model).push_back(label_separator);
    scratch.append(s.preset).push_back(label_separator);
    scratch.append(s.key);
    usage_entry(usage, scratch).add(s);
  }
};

// Slots handed over by the shards: the last hour of windows, the last 31 days of usage.
struct history {
  std::vector<perf_slot> ring = std::vector<perf_slot>(ring_slots);  // slot n at n mod 360
  std::map<std::int64_t, string_map<usage_counts>> hours;            // by hour since the epoch
  std::int64_t newest_hour = no_slot;

  // A shard has reached `hour`: hours more than 31 days before it go.
  void reached(std::int64_t hour) {
    if (hour <= newest_hour) return;
    newest_hour = hour;
    while (!hours.empty() && hours.begin()->first <= newest_hour - hours_kept) hours.erase(hours.begin());
  }

  void absorb(const pending_slot& p) {
    auto& dst = ring[static_cast<std::size_t>(p.perf.tag - floor_div(p.perf.tag, ring_slots) * ring_slots)];
    if (dst.tag < p.perf.tag) dst.reset(p.perf.tag);
    // A slot more than an hour older than the one in its place is out of every window.
    if (dst.tag == p.perf.tag) dst.merge(p.perf);

    auto hour = hour_of_slot(p.perf.tag);
    reached(hour);
    if (hour <= newest_hour - hours_kept) return;
    auto& rows = hours[hour];
    for (const auto& [labels, c] : p.usage) usage_entry(rows, labels).merge(c);
  }
};

struct shard {
  std::mutex mu;
  totals since_start;
  pending_slot pending;
  std::string scratch;  // a usage row's labels being looked up, reused
};

struct process_point {
  time_point at;
  process_reading reading;
};

std::string rfc3339(time_point t) {
  auto secs = chr::floor<chr::seconds>(t);
  auto day = chr::floor<chr::days>(secs);
  chr::year_month_day ymd{day};
  chr::hh_mm_ss hms{secs - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace

std::string_view error_kind(unsigned status) {
  if (status < 400) return {};
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 408: return "timeout_client";
    case 409: return "conflict";
    case 413: return "too_large";
    case 429: return "rate_limited";
    case 499: return "client_closed";
    case 500: return "internal";
    case 502: return "upstream_failed";
    case 503: return "unavailable";
    case 504: return "upstream_timeout";
    default: break;
  }
  // HTTP statuses have three digits; the names live here so callers get a view.
  static const std::array<std::string, 600> named = [] {
    std::array<std::string, 600> out;
    for (unsigned i = 0; i < out.size(); ++i) out[i] = "http_" + std::to_string(400 + i);
    return out;
  }();
  return status < 1000 ? std::string_view(named[status - 400]) : std::string_view("http_other");
}

// ---- Query parsing.

namespace {

// Exactly `n` decimal digits at `pos`.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Nanoseconds of a fraction's digits (after the point), extra digits ignored.
std::optional<chr::nanoseconds> fraction(std::string_view d) {
  if (!all_digits(d)) return std::nullopt;
  std::int64_t ns = 0;
  for (std::size_t i = 0; i < 9; ++i) ns = ns * 10 + (i < d.size() ? d[i] - '0' : 0);
  return chr::nanoseconds(ns);
}

// "2026-11-25", "2026-11-25T19:00:00Z", "2026-11-25T19:00:00.5+01:00".
std::optional<chr::nanoseconds> parse_rfc3339(std::string_view v) {
  int y, mo, d;
  if (!digits(v, 0, 4, y) || v.size() < 10 || v[4] != '-' || !digits(v, 5, 2, mo) || v[7] != '-' ||
      !digits(v, 8, 2, d))
    return std::nullopt;
  chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(mo)}, chr::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  // Whole seconds first: nanoseconds since 1970 only reach from 1677 to 2262.
  chr::seconds secs = chr::sys_days(ymd).time_since_epoch();
  chr::nanoseconds frac{0};
  if (v.size() > 10) {
    int h, mi, s;
    if ((v[10] != 'T' && v[10] != 't') || !digits(v, 11, 2, h) || v.size() < 19 || v[13] != ':' ||
        !digits(v, 14, 2, mi) || v[16] != ':' || !digits(v, 17, 2, s) || h > 23 || mi > 59 || s > 60)
      return std::nullopt;
    secs += chr::hours(h) + chr::minutes(mi) + chr::seconds(s);
    std::size_t pos = 19;
    if (pos < v.size() && v[pos] == '.') {
      auto end = v.find_first_not_of("0123456789", pos + 1);
      if (end == std::string_view::npos) return std::nullopt;  // a zone must follow
      auto f = fraction(v.substr(pos + 1, end - pos - 1));
      if (!f) return std::nullopt;
      frac = *f;
      pos = end;
    }
    int oh = 0, om = 0;
    bool utc = pos + 1 == v.size() && (v[pos] == 'Z' || v[pos] == 'z');
    bool offset = pos + 6 == v.size() && (v[pos] == '+' || v[pos] == '-') && digits(v, pos + 1, 2, oh) &&
                  v[pos + 3] == ':' && digits(v, pos + 4, 2, om) && oh < 24 && om < 60;
    if (!utc && !offset) return std::nullopt;
    if (offset) {
      chr::seconds east = chr::hours(oh) + chr::minutes(om);
      secs = v[pos] == '+' ? secs - east : secs + east;
    }
  }
  if (secs.count() < 0) return chr::nanoseconds::min();              // out of range
  if (secs.count() > 9'000'000'000) return chr::nanoseconds::max();  // out of range
  return chr::nanoseconds(secs) + frac;
}

// "-30m", "-24h", "-7d" (also seconds, "-90s"): before now.
std::optional<chr::nanoseconds> parse_relative(std::string_view v, time_point now) {
  if (v.size() < 3 || v.size() > 12 || v[0] != '-' || !all_digits(v.substr(1, v.size() - 2))) return std::nullopt;
  std::int64_t n = 0;
  std::from_chars(v.data() + 1, v.data() + v.size() - 1, n);  // at most 10 digits: no overflow
  std::int64_t unit = 0;
  switch (v.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = hour_seconds; break;
    case 'd': unit = day_seconds; break;
    default: return std::nullopt;
  }
  // Further back than nanoseconds since 1970 reach (292 years): before 1970, out of range.
  if (n > 9'000'000'000 / unit) return chr::nanoseconds::min();
  return chr::duration_cast<chr::nanoseconds>(now.time_since_epoch()) - chr::seconds(n * unit);
}

// "1795633200" or "1795633200.25".
std::optional<chr::nanoseconds> parse_unix(std::string_view v) {
  auto point = v.find('.');
  auto whole = v.substr(0, point);
  if (!all_digits(whole) || whole.size() > 12) return std::nullopt;
  std::int64_t secs = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), secs);
  if (secs > 9'000'000'000) return chr::nanoseconds::max();  // past 2262: out of range
  chr::nanoseconds t = chr::seconds(secs);
  if (point != std::string_view::npos) {
    auto f = fraction(v.substr(point + 1));
    if (!f) return std::nullopt;
    t += *f;
  }
  return t;
}

// A time from the query, or an error naming `name`.
std::variant<time_point, std::string> parse_time(std::string_view name, std::string_view v, time_point now) {
  std::optional<chr::nanoseconds> t;
  if (!v.empty() && v[0] == '-') t = parse_relative(v, now);
  else if (v.size() >= 10 && v[4] == '-') t = parse_rfc3339(v);
  else t = parse_unix(v);
  if (!t)
    return std::string(name) +
           ": expected an RFC 3339 time (2026-11-25T19:00:00Z), a date, unix seconds or a relative time "
           "like -24h, got '" +
           std::string(v) + "'";
  // system_clock counts nanoseconds in 64 bits: it ends in 2262.
  constexpr chr::nanoseconds last = chr::sys_days(chr::year{2200} / 1 / 1).time_since_epoch();
  if (*t < chr::nanoseconds::zero() || *t >= last)
    return std::string(name) + ": '" + std::string(v) + "' is outside 1970 to 2199";
  return time_point(chr::duration_cast<time_point::duration>(*t));
}

}  // namespace

std::variant<usage_query, std::string> parse_usage_query(std::string_view query, time_point now) {
  if (!query.empty() && query[0] == '?') query.remove_prefix(1);
  usage_query q;
  std::optional<time_point> since, until;
  bool seen_group_by = false, seen_period = false;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    auto twice = [&] { return name + ": given more than once"; };
    if (name == "since" || name == "until") {
      auto& slot = name == "since" ? since : until;
      if (slot) return twice();
      auto t = parse_time(name, value, now);
      if (auto* error = std::get_if<std::string>(&t)) return std::move(*error);
      slot = std::get<time_point>(t);
    } else if (name == "group_by") {
      if (seen_group_by) return twice();
      seen_group_by = true;
      // Kept in the canonical order model, preset, key whatever the order asked.
      bool model = false, preset = false, key = false;
      std::string_view rest = value;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        auto item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item == "model") model = true;
        else if (item == "preset") preset = true;
        else if (item == "key") key = true;
        else
          return "group_by: expected a comma-separated list of model, preset and key, got '" + value + "'";
      }
      q.group_by.clear();  // "group_by=" alone: one row per period
      if (model) q.group_by.emplace_back("model");
      if (preset) q.group_by.emplace_back("preset");
      if (key) q.group_by.emplace_back("key");
    } else if (name == "period") {
      if (seen_period) return twice();
      seen_period = true;
      if (value == "hour") q.granularity = usage_query::period::hour;
      else if (value == "day") q.granularity = usage_query::period::day;
      else return "period: expected hour or day, got '" + value + "'";
    } else {
      return "unknown parameter '" + name + "' (expected since, until, group_by or period)";
    }
  }
  q.until = until.value_or(now);
  q.since = since.value_or(q.until - chr::hours(24));
  if (q.since > q.until) return "since (" + rfc3339(q.since) + ") is after until (" + rfc3339(q.until) + ")";
  return q;
}

// ---- Process readings.

process_reading read_process() {
  process_reading r;
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    auto secs = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    r.cpu_seconds = secs(ru.ru_utime) + secs(ru.ru_stime);
  }
  // statm: size resident shared ... in pages.
  if (std::ifstream statm("/proc/self/statm"); statm) {
    std::uint64_t size = 0, resident = 0;
    if (statm >> size >> resident) r.rss_bytes = resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  }
  // stat: "pid (comm) state ..."; comm may hold spaces, so count fields after the last ')'.
  // num_threads is field 20, the 18th after the name.
  if (std::ifstream stat("/proc/self/stat"); stat) {
    std::string line;
    std::getline(stat, line);
    if (auto close = line.rfind(')'); close != std::string::npos) {
      std::istringstream fields(line.substr(close + 1));
      std::string field;
      for (int i = 0; i < 17 && fields >> field; ++i) {
      }
      unsigned threads = 0;
      if (fields >> threads) r.threads = threads;
    }
  }
  return r;
}

// ---- usage_stats.

struct usage_stats::state {
  time_point started;
  std::vector<std::unique_ptr<shard>> shards;
  // Lock order: a shard, then history_mu; never the other way round.
  std::mutex history_mu;
  history past;
  std::mutex process_mu;
  std::deque<process_point> process;  // oldest first, at least a second apart, one hour

  // Every shard's unfinished slot, copied while all shards are locked, with the history locked
  // before they are released: no slot can move from a shard to the history in between, so
  // nothing is counted twice or missed.
  std::pair<std::vector<pending_slot>, std::unique_lock<std::mutex>> snapshot() {
    std::vector<std::unique_lock<std::mutex>> held;
    std::vector<pending_slot> pending;
    held.reserve(shards.size());
    for (auto& sh : shards) {
      held.emplace_back(sh->mu);
      if (sh->pending.perf.tag != no_slot) pending.push_back(sh->pending);
    }
    std::unique_lock history_lock(history_mu);
    return {std::move(pending), std::move(history_lock)};
  }
};

usage_stats::usage_stats(std::size_t shards, time_point started) : state_(std::make_unique<state>()) {
  if (shards == 0) throw std::invalid_argument("usage_stats: shards must be at least 1");
  state_->started = started;
  for (std::size_t i = 0; i < shards; ++i) state_->shards.push_back(std::make_unique<shard>());
}

usage_stats::~usage_stats() = default;

void usage_stats::record(std::size_t i, const usage_sample& s) {
  assert(i < state_->shards.size());
  auto& sh = *state_->shards[i];
  auto slot = slot_of(s.at);
  std::lock_guard lock(sh.mu);
  sh.since_start.add(s);
  if (slot < sh.pending.perf.tag) {
    // A straggler (requests end out of order across a slot's edge): straight to the history.
    pending_slot late;
    late.reset(slot);
    late.add(s, sh.scratch);
    std::lock_guard history_lock(state_->history_mu);
    state_->past.absorb(late);
    return;
  }
  if (slot > sh.pending.perf.tag) {
    // The slot turns (at most once per 10 s): hand the finished one over, prune the old hours.
    std::lock_guard history_lock(state_->history_mu);
    if (sh.pending.perf.tag != no_slot) state_->past.absorb(sh.pending);
    state_->past.reached(hour_of_slot(slot));
    sh.pending.reset(slot);
  }
  sh.pending.add(s, sh.scratch);
}

void usage_stats::sample_process(time_point now) { sample_process(now, read_process()); }

void usage_stats::sample_process(time_point now, const process_reading& reading) {
  std::lock_guard lock(state_->process_mu);
  auto& points = state_->process;
  if (!points.empty() && now < points.back().at) return;
  // Readings stay at least a second apart but for the newest, which the next one replaces while
  // it is under a second after the one before: at most 3 602 readings whatever the caller's pace.
  if (points.size() >= 2 && points.back().at - points[points.size() - 2].at < chr::seconds(1)) points.pop_back();
  points.push_back({now, reading});
  while (points.front().at < now - chr::hours(1)) points.pop_front();
}

json::object usage_stats::stats(time_point now) const {
  totals all;
  for (const auto& sh : state_->shards) {
    std::lock_guard lock(sh->mu);
    all.merge(sh->since_start);
  }
  json::object out;
  out["since"] = rfc3339(state_->started);
  out["uptime_s"] = round_to(std::max(0.0, seconds_between(state_->started, now)), 1);
  out["requests"] = {{"total", all.requests},         {"by_route", counts_json(all.by_route)},
                     {"by_model", counts_json(all.by_model)}, {"by_preset", counts_json(all.by_preset)},
                     {"by_key", counts_json(all.by_key)},     {"by_status", counts_json(all.by_status)}};
  out["tokens"] = {{"prompt", all.prompt_tokens}, {"completion", all.completion_tokens}};
  out["errors"] = {{"total", all.errors}, {"by_kind", counts_json(all.by_kind)}};
  out["latency_ms"] = distribution_json(all.latency);
  out["ttft_ms"] = distribution_json(all.ttft);
  return out;
}

json::object usage_stats::performance(time_point now) const {
  auto cur = slot_of(now);
  std::array<window, windows.size()> merged;
  {
    auto [pending, history_lock] = state_->snapshot();
    // Slots within the hour, newest first. Each window is a run of the newest slots, so one
    // pass merges them all, taking a copy as it passes the 1m and then the 5m edge.
    std::vector<const perf_slot*> slots;
    auto in_hour = [&](std::int64_t tag) { return tag != no_slot && tag <= cur && tag > cur - ring_slots; };
    for (const auto& s : state_->past.ring)
      if (in_hour(s.tag)) slots.push_back(&s);
    for (const auto& p : pending)
      if (in_hour(p.perf.tag)) slots.push_back(&p.perf);
    std::sort(slots.begin(), slots.end(), [](auto* a, auto* b) { return a->tag > b->tag; });
    window acc;
    std::size_t w = 0;
    for (const auto* s : slots) {
      while (w < windows.size() && s->tag <= cur - windows[w].second) merged[w++] = acc;
      acc.merge(*s);
    }
    while (w < windows.size()) merged[w++] = acc;
  }

  json::object windows_json;
  auto slot_start = from_unix(cur * slot_seconds);
  for (std::size_t w = 0; w < windows.size(); ++w) {
    // What the merged slots cover: the current one up to now and the whole ones before it,
    // but nothing before the start.
    auto from = std::max(slot_start - chr::seconds((windows[w].second - 1) * slot_seconds), state_->started);
    double seconds = std::max(0.0, seconds_between(from, now));
    json::object models, backends;
    for (const auto& [name, c] : merged[w].models) models[name] = window_metrics_json(c, seconds);
    for (const auto& [name, c] : merged[w].backends) backends[name] = window_metrics_json(c, seconds);
    windows_json[windows[w].first] = {{"seconds", round_to(seconds, 1)},
                                      {"overall", window_metrics_json(merged[w].overall, seconds)},
                                      {"models", std::move(models)},
                                      {"backends", std::move(backends)}};
  }

  json::object process;
  {
    std::lock_guard lock(state_->process_mu);
    const auto& points = state_->process;
    json::object cpu_percent;
    for (const auto& [name, slots] : windows) {
      // The first and last readings within the window, when there are two.
      auto first = std::find_if(points.begin(), points.end(), [&, span = slots](const process_point& p) {
        return p.at >= now - chr::seconds(span * slot_seconds);
      });
      auto last = std::find_if(points.rbegin(), points.rend(), [&](const process_point& p) { return p.at <= now; });
      if (first == points.end() || last == points.rend() || last.base() - 1 <= first) {
        cpu_percent[name] = nullptr;
        continue;
      }
      const auto& a = *first;
      const auto& b = *last;
      double elapsed = seconds_between(a.at, b.at);
      if (elapsed <= 0) {
        cpu_percent[name] = nullptr;
        continue;
      }
      cpu_percent[name] = round_to((b.reading.cpu_seconds - a.reading.cpu_seconds) / elapsed * 100, 1);
    }
    bool any = !points.empty();
    process["cpu_seconds"] = any ? json::value(round_to(points.back().reading.cpu_seconds, 2)) : json::value(nullptr);
    process["cpu_percent"] = std::move(cpu_percent);
    process["rss_bytes"] = any ? json::value(points.back().reading.rss_bytes) : json::value(nullptr);
    process["threads"] = any ? json::value(points.back().reading.threads) : json::value(nullptr);
  }
  return {{"windows", std::move(windows_json)}, {"process", std::move(process)}};
}

json::object usage_stats::usage(const usage_query& q, time_point now) const {
  bool by_model = std::find(q.group_by.begin(), q.group_by.end(), "model") != q.group_by.end();
  bool by_preset = std::find(q.group_by.begin(), q.group_by.end(), "preset") != q.group_by.end();
  bool by_key = std::find(q.group_by.begin(), q.group_by.end(), "key") != q.group_by.end();
  bool daily = q.granularity == usage_query::period::day;

  // Hours are counted when they overlap [since, until); days add up those hours, so the
  // totals are the same whichever the period. Hours past the 31 days kept are left out even
  // when no request has come since to prune them.
  auto oldest_kept = floor_div(unix_seconds(now), hour_seconds) - hours_kept + 1;
  auto wanted = [&](std::int64_t hour) {
    auto start = from_unix(hour * hour_seconds);
    return hour >= oldest_kept && start < q.until && start + chr::hours(1) > q.since;
  };
  using row_key = std::tuple<std::int64_t, std::string, std::string, std::string>;
  std::map<row_key, usage_counts> rows;
  auto add = [&](std::int64_t hour, const string_map<usage_counts>& counts) {
    auto start = daily ? floor_div(hour * hour_seconds, day_seconds) * day_seconds : hour * hour_seconds;
    for (const auto& [joined, c] : counts) {
      auto [model, preset, key] = split_labels(joined);
      rows[row_key(start, by_model ? std::string(model) : "", by_preset ? std::string(preset) : "",
                   by_key ? std::string(key) : "")]
          .merge(c);
    }
  };
  {
    auto [pending, history_lock] = state_->snapshot();
    const auto& hours = state_->past.hours;
    for (auto it = hours.lower_bound(floor_div(unix_seconds(q.since), hour_seconds)); it != hours.end(); ++it) {
      if (from_unix(it->first * hour_seconds) >= q.until) break;
      if (wanted(it->first)) add(it->first, it->second);
    }
    for (const auto& p : pending) {
      auto hour = hour_of_slot(p.perf.tag);
      if (wanted(hour)) add(hour, p.usage);
    }
  }

  json::array rows_json;
  usage_counts total;
  for (const auto& [k, c] : rows) {
    const auto& [start, model, preset, key] = k;
    json::object row;
    row["period_start"] = rfc3339(from_unix(start));
    if (by_model) row["model"] = model;
    if (by_preset) row["preset"] = preset;
    if (by_key) row["key"] = key;
    row["requests"] = c.requests;
    row["prompt_tokens"] = c.prompt_tokens;
    row["completion_tokens"] = c.completion_tokens;
    row["errors"] = c.errors;
    rows_json.push_back(std::move(row));
    total.merge(c);
  }
  json::array group_by;
  for (auto name : {"model", "preset", "key"})
    if (std::find(q.group_by.begin(), q.group_by.end(), name) != q.group_by.end()) group_by.emplace_back(name);
  json::object out;
  out["since"] = rfc3339(q.since);
  out["until"] = rfc3339(q.until);
  out["period"] = daily ? "day" : "hour";
  out["group_by"] = std::move(group_by);
  out["rows"] = std::move(rows_json);
  out["totals"] = {{"requests", total.requests},
                   {"prompt_tokens", total.prompt_tokens},
                   {"completion_tokens", total.completion_tokens},
                   {"errors", total.errors}};
  return out;
}

}  // namespace corral
