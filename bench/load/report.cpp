#include "bench/load/report.hpp"

#include <cstdio>

namespace corral::bench {
namespace {

namespace json = boost::json;

// The figures compared between two targets, in table and JSON alike.
struct compared_figure {
  const char* name;
  double (*get)(const point_summary&);
};
constexpr compared_figure compared[] = {
    {"requests_per_s", [](const point_summary& p) { return p.requests_per_s; }},
    {"output_tokens_per_s", [](const point_summary& p) { return p.output_tokens_per_s; }},
    {"ttft_p50", [](const point_summary& p) { return p.ttft.p50; }},
    {"ttft_p99", [](const point_summary& p) { return p.ttft.p99; }},
    {"itl_p50", [](const point_summary& p) { return p.itl.p50; }},
    {"e2e_p50", [](const point_summary& p) { return p.e2e.p50; }},
    {"e2e_p99", [](const point_summary& p) { return p.e2e.p99; }},
};

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string ms(double seconds) { return format("%.2f", seconds * 1000); }

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

json::object latency_json(const latency_summary& s) {
  return {{"count", s.count}, {"mean", s.mean * 1000}, {"p50", s.p50 * 1000}, {"p90", s.p90 * 1000},
          {"p99", s.p99 * 1000}, {"max", s.max * 1000}};
}

json::object point_json(const point_summary& p) {
  json::object errors;
  for (int k = 1; k < error_kind_count; ++k)
    errors[error_kind_name(static_cast<error_kind>(k))] = p.errors[static_cast<std::size_t>(k)];
  json::object o{{"label", p.point.label()},
                 {"mode", p.point.open_loop ? "open" : "closed"},
                 {"wall_s", p.wall},
                 {"requests", p.sent},
                 {"ok", p.ok},
                 {"errors", std::move(errors)},
                 {"output_tokens", p.output_tokens},
                 {"prompt_tokens", p.prompt_tokens},
                 {"requests_per_s", p.requests_per_s},
                 {"output_tokens_per_s", p.output_tokens_per_s},
                 {"latency_ms", {{"ttft", latency_json(p.ttft)}, {"itl", latency_json(p.itl)},
                                 {"tpot", latency_json(p.tpot)}, {"e2e", latency_json(p.e2e)}}}};
  if (p.point.open_loop) o["rate"] = p.point.rate;
  else o["concurrency"] = p.point.concurrency;
  return o;
}

}  // namespace

point_summary summarize_point(point_samples& samples) {
  point_summary p;
  p.point = samples.point;
  p.wall = samples.wall;
  std::vector<double> ttft, tpot, e2e;
  for (const auto& r : samples.requests) {
    ++p.sent;
    if (r.error != error_kind::none) {
      ++p.errors[static_cast<std::size_t>(r.error)];
      continue;
    }
    ++p.ok;
    p.output_tokens += r.output_tokens;
    p.prompt_tokens += r.prompt_tokens;
    e2e.push_back(r.end - r.start);
    if (r.ttft >= 0) ttft.push_back(r.ttft);
    if (double t = time_per_output_token(r.end - r.start, r.ttft, r.output_tokens); t >= 0) tpot.push_back(t);
  }
  p.requests_per_s = rate(p.ok, p.wall);
  p.output_tokens_per_s = rate(p.output_tokens, p.wall);
  p.ttft = summarize(ttft);
  p.tpot = summarize(tpot);
  p.e2e = summarize(e2e);
  p.itl = summarize(samples.inter_token);
  return p;
}

std::string render_table(const bench_options& o, const std::vector<target_result>& targets) {
  std::string out;
  const std::string mode = is_embedding(o.api) ? "embeddings" : o.stream ? "streamed" : "not streamed";
  for (const auto& t : targets) {
    out += t.url + std::string(endpoint_path(o.api)) + " (" + mode + ")\n";
    out += "  point     sent     ok  errors c/s/b/t    req/s   tok/s |  TTFT ms p50     p90     p99 |"
           "  ITL p50     p99 | TPOT p50 |   E2E p50     p90     p99     max\n";
    for (const auto& p : t.points) {
      std::string errs = std::to_string(p.errors[1]) + "/" + std::to_string(p.errors[2]) + "/" +
                         std::to_string(p.errors[3]) + "/" + std::to_string(p.errors[4]);
      out += "  " + pad(p.point.label(), 8) + pad(std::to_string(p.sent), 7) + pad(std::to_string(p.ok), 7) +
             pad(errs, 16) + pad(format("%.1f", p.requests_per_s), 9) + pad(format("%.0f", p.output_tokens_per_s), 8) +
             " |" + pad(ms(p.ttft.p50), 12) + pad(ms(p.ttft.p90), 8) + pad(ms(p.ttft.p99), 8) + " |" +
             pad(ms(p.itl.p50), 9) + pad(ms(p.itl.p99), 8) + " |" + pad(ms(p.tpot.p50), 9) + " |" +
             pad(ms(p.e2e.p50), 10) + pad(ms(p.e2e.p90), 8) + pad(ms(p.e2e.p99), 8) + pad(ms(p.e2e.max), 8) + "\n";
    }
  }
  if (targets.size() == 2) {
    out += "ratios " + targets[1].url + " / " + targets[0].url + "\n  point   ";
    for (const auto& f : compared) out += pad(f.name, 20);
    out += "\n";
    for (std::size_t i = 0; i < targets[0].points.size() && i < targets[1].points.size(); ++i) {
      out += "  " + pad(targets[0].points[i].point.label(), 8);
      for (const auto& f : compared)
        out += pad(format("%.3f", ratio(f.get(targets[1].points[i]), f.get(targets[0].points[i]))), 20);
      out += "\n";
    }
  }
  return out;
}

json::value to_json(const bench_options& o, const std::vector<target_result>& targets) {
  json::array models;
  for (const auto& m : o.models) models.emplace_back(m);
  json::object settings{{"endpoint", endpoint_path(o.api)},
                        {"models", std::move(models)},
                        {"stream", o.stream},
                        {"threads", o.threads},
                        {"duration_s", o.duration_s},
                        {"requests_per_point", o.requests},
                        {"timeout_s", o.timeout_s},
                        {"arrivals", o.arrival == arrivals::poisson ? "poisson" : "constant"}};
  json::array targets_json;
  for (const auto& t : targets) {
    json::array points;
    for (const auto& p : t.points) points.push_back(point_json(p));
    targets_json.push_back(json::object{{"url", t.url}, {"points", std::move(points)}});
  }
  json::object doc{{"tool", "corral-bench"}, {"settings", std::move(settings)}, {"targets", std::move(targets_json)}};
  if (targets.size() == 2) {
    json::array comparison;
    for (std::size_t i = 0; i < targets[0].points.size() && i < targets[1].points.size(); ++i) {
      json::object ratios;
      for (const auto& f : compared) ratios[f.name] = ratio(f.get(targets[1].points[i]), f.get(targets[0].points[i]));
      comparison.push_back(json::object{{"label", targets[0].points[i].point.label()},
                                        {"base", targets[0].url},
                                        {"compared", targets[1].url},
                                        {"ratios", std::move(ratios)}});
    }
    doc["comparison"] = std::move(comparison);
  }
  return doc;
}

}  // namespace corral::bench
