#include "gateway/metrics.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace corral {

std::string_view to_string(upstream_error_kind k) {
  switch (k) {
    case upstream_error_kind::connect: return "connect";
    case upstream_error_kind::timeout: return "timeout";
    case upstream_error_kind::status_5xx: return "status_5xx";
    case upstream_error_kind::broken_stream: return "broken_stream";
    case upstream_error_kind::protocol: return "protocol";
  }
  return "unknown";
}

void histogram::observe(double v) noexcept {
  std::size_t i = 0;
  while (i < latency_buckets.size() && v > latency_buckets[i]) ++i;
  if (i < latency_buckets.size()) ++counts[i];
  ++count;
  sum += v;
}

void histogram::merge(const histogram& o) noexcept {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
  count += o.count;
  sum += o.sum;
}

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

metrics_registry::metrics_registry(std::size_t shards, std::size_t backends) : backends_(backends) {
  for (std::size_t i = 0; i < shards; ++i) {
    auto s = std::make_unique<shard>();
    s->upstream_errors.resize(backends);
    shards_.push_back(std::move(s));
  }
  start_time_ = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void metrics_registry::record(std::size_t i, const request_sample& s) {
  auto& sh = *shards_[i];
  std::lock_guard lock(sh.mu);
  auto& key = sh.scratch;
  key.assign(s.route).push_back('\x1f');
  key.append(s.model);
  auto found = sh.requests.find(std::string_view(key));
  if (found == sh.requests.end()) found = sh.requests.emplace(key, by_model{}).first;
  auto& m = found->second;
  ++m.by_status[s.status];
  if (s.ttfb_s >= 0) m.ttfb.observe(s.ttfb_s);
  m.prompt_tokens += s.prompt_tokens;
  m.completion_tokens += s.completion_tokens;
  auto it = sh.duration_by_route.find(s.route);
  if (it == sh.duration_by_route.end()) it = sh.duration_by_route.emplace(std::string(s.route), histogram{}).first;
  it->second.observe(s.duration_s);
}

void metrics_registry::count_retry(std::size_t i) {
  std::lock_guard lock(shards_[i]->mu);
  ++shards_[i]->retries;
}

void metrics_registry::count_upstream_error(std::size_t i, int backend, upstream_error_kind kind) {
  if (backend < 0 || static_cast<std::size_t>(backend) >= backends_) return;
  std::lock_guard lock(shards_[i]->mu);
  ++shards_[i]->upstream_errors[backend][static_cast<int>(kind)];
}

namespace {

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// Shortest text that reads back as the same double: bucket bounds print as written ("0.1").
std::string number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc{} ? end : buf);
}

void write_histogram(std::string& out, std::string_view name, const std::string& labels,
                     const histogram& h) {
  std::uint64_t cumulative = 0;
  std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
    cumulative += h.counts[i];
    out.append(name).append("_bucket{").append(labels).append(sep).append("le=\"")
        .append(number(latency_buckets[i])).append("\"} ").append(std::to_string(cumulative)).append("\n");
  }
  out.append(name).append("_bucket{").append(labels).append(sep).append("le=\"+Inf\"} ")
      .append(std::to_string(h.count)).append("\n");
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out.append(name).append("_sum").append(braces).append(" ").append(number(h.sum)).append("\n");
  out.append(name).append("_count").append(braces).append(" ").append(std::to_string(h.count)).append("\n");
}

}  // namespace

std::string metrics_registry::render(const std::vector<backend_gauges>& backends) const {
  // Sum the shards into sorted maps, so the output is stable and diffable.
  std::map<std::string, by_model> requests;
  std::map<std::string, histogram> durations;
  std::uint64_t retries = 0;
  std::vector<std::array<std::uint64_t, upstream_error_kinds>> upstream(backends_);
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh->mu);
    for (const auto& [key, m] : sh->requests) {
      auto& dst = requests[key];
      for (auto [status, n] : m.by_status) dst.by_status[status] += n;
      dst.ttfb.merge(m.ttfb);
      dst.prompt_tokens += m.prompt_tokens;
      dst.completion_tokens += m.completion_tokens;
    }
    for (const auto& [route, h] : sh->duration_by_route) durations[route].merge(h);
    retries += sh->retries;
    for (std::size_t b = 0; b < backends_; ++b)
      for (int k = 0; k < upstream_error_kinds; ++k) upstream[b][k] += sh->upstream_errors[b][k];
  }

  auto split = [](const std::string& key) {
    auto sep = key.find('\x1f');
    return std::pair(key.substr(0, sep), key.substr(sep + 1));
  };

  std::string out;
  out.reserve(8192);
  header(out, "corral_requests_total", "counter", "Requests answered, by route, model and status.");
  for (const auto& [key, m] : requests) {
    auto [route, model] = split(key);
    for (auto [status, n] : m.by_status)
      out.append("corral_requests_total{route=\"").append(escape_label(route)).append("\",model=\"")
          .append(escape_label(model)).append("\",status=\"").append(std::to_string(status))
          .append("\"} ").append(std::to_string(n)).append("\n");
  }
  header(out, "corral_request_duration_seconds", "histogram",
         "Time from the request's head to the response's last byte, by route.");
  for (const auto& [route, h] : durations)
    write_histogram(out, "corral_request_duration_seconds", "route=\"" + escape_label(route) + "\"", h);
  header(out, "corral_time_to_first_byte_seconds", "histogram",
         "Time from the request's head to the first body byte sent to the client, by route and model.");
  for (const auto& [key, m] : requests) {
    if (m.ttfb.count == 0) continue;
    auto [route, model] = split(key);
    write_histogram(out, "corral_time_to_first_byte_seconds",
                    "route=\"" + escape_label(route) + "\",model=\"" + escape_label(model) + "\"", m.ttfb);
  }
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> tokens;
  for (const auto& [key, m] : requests) {
    auto model = split(key).second;
    if (model.empty()) continue;
    tokens[model].first += m.prompt_tokens;
    tokens[model].second += m.completion_tokens;
  }
  header(out, "corral_prompt_tokens_total", "counter", "Prompt tokens reported by backends, by model.");
  for (const auto& [model, t] : tokens)
    out.append("corral_prompt_tokens_total{model=\"").append(escape_label(model)).append("\"} ")
        .append(std::to_string(t.first)).append("\n");
  header(out, "corral_completion_tokens_total", "counter", "Completion tokens reported by backends, by model.");
  for (const auto& [model, t] : tokens)
    out.append("corral_completion_tokens_total{model=\"").append(escape_label(model)).append("\"} ")
        .append(std::to_string(t.second)).append("\n");

  header(out, "corral_requests_in_flight", "gauge", "Requests being served now.");
  out.append("corral_requests_in_flight ").append(std::to_string(in_flight_.load())).append("\n");

  header(out, "corral_backend_healthy", "gauge", "1 when the backend takes traffic (health check passed, not ejected).");
  for (const auto& b : backends)
    out.append("corral_backend_healthy{backend=\"").append(escape_label(b.name)).append("\"} ")
        .append(b.healthy ? "1" : "0").append("\n");
  header(out, "corral_backend_in_flight", "gauge", "Requests in flight to each backend.");
  for (const auto& b : backends)
    out.append("corral_backend_in_flight{backend=\"").append(escape_label(b.name)).append("\"} ")
        .append(std::to_string(b.in_flight)).append("\n");
  header(out, "corral_backend_ejections_total", "counter", "Passive ejections after repeated failures.");
  for (const auto& b : backends)
    out.append("corral_backend_ejections_total{backend=\"").append(escape_label(b.name)).append("\"} ")
        .append(std::to_string(b.ejections)).append("\n");

  header(out, "corral_upstream_retries_total", "counter", "Requests sent to another backend after a failure before the first byte.");
  out.append("corral_upstream_retries_total ").append(std::to_string(retries)).append("\n");
  header(out, "corral_upstream_errors_total", "counter", "Failures talking to backends, by backend and kind.");
  for (std::size_t b = 0; b < backends_ && b < backends.size(); ++b)
    for (int k = 0; k < upstream_error_kinds; ++k)
      out.append("corral_upstream_errors_total{backend=\"").append(escape_label(backends[b].name))
          .append("\",kind=\"").append(to_string(static_cast<upstream_error_kind>(k))).append("\"} ")
          .append(std::to_string(upstream[b][k])).append("\n");

  header(out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
  out.append("process_start_time_seconds ").append(number(start_time_)).append("\n");
  return out;
}

std::string render_policy_decisions(const std::vector<policy_counters::entry>& counts) {
  std::string out =
      "# HELP corral_policy_decisions_total Decisions taken by each policy of the chain.\n"
      "# TYPE corral_policy_decisions_total counter\n";
  for (const auto& c : counts)
    out += "corral_policy_decisions_total{policy=\"" + escape_label(c.policy) + "\",decision=\"" +
           escape_label(c.decision) + "\"} " + std::to_string(c.count) + "\n";
  return out;
}

}  // namespace corral
