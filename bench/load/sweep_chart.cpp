#include "bench/load/sweep_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace corral::bench {
namespace {

constexpr double width = 640, height = 380, left = 70, right = 20, top = 30, bottom = 50;
constexpr const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

struct series {
  std::string name;
  std::string colour;
  bool dashed = false;
  std::vector<std::pair<double, double>> points;  // x, y
};

std::string num(double v, const char* fmt = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// A round step for about five ticks between 0 and `max`.
double tick_step(double max) {
  if (max <= 0) return 1;
  double raw = max / 5, base = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * base) return m * base;
  return 10 * base;
}

std::string chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                  const std::vector<series>& all) {
  double max_x = 0, max_y = 0;
  for (const auto& s : all)
    for (auto [x, y] : s.points) {
      max_x = std::max(max_x, x);
      max_y = std::max(max_y, y);
    }
  const double sx = tick_step(max_x), sy = tick_step(max_y);
  max_x = std::max(sx, std::ceil(max_x / sx) * sx);
  max_y = std::max(sy, std::ceil(max_y / sy) * sy);
  const double pw = width - left - right, ph = height - top - bottom;
  auto px = [&](double x) { return left + x / max_x * pw; };
  auto py = [&](double y) { return top + ph - y / max_y * ph; };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width, "%.0f") + "\" height=\"" +
                    num(height, "%.0f") + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<text x=\"" + num(width / 2, "%.0f") + "\" y=\"18\" text-anchor=\"middle\" font-weight=\"bold\">" +
         escape(title) + "</text>\n";
  for (double x = 0; x <= max_x + sx / 2; x += sx)
    svg += "<line x1=\"" + num(px(x)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(px(x)) + "\" y2=\"" +
           num(top + ph) + "\" stroke=\"#ddd\"/><text x=\"" + num(px(x)) + "\" y=\"" + num(top + ph + 16) +
           "\" text-anchor=\"middle\">" + num(x, "%g") + "</text>\n";
  for (double y = 0; y <= max_y + sy / 2; y += sy)
    svg += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(y)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" +
           num(py(y)) + "\" stroke=\"#ddd\"/><text x=\"" + num(left - 6) + "\" y=\"" + num(py(y) + 4) +
           "\" text-anchor=\"end\">" + num(y, "%g") + "</text>\n";
  svg += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(height - 10) + "\" text-anchor=\"middle\">" +
         escape(x_label) + "</text>\n";
  svg += "<text transform=\"translate(16," + num(top + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape(y_label) + "</text>\n";
  double legend_y = top + 8;
  for (const auto& s : all) {
    std::string pts;
    for (auto [x, y] : s.points) pts += num(px(x)) + "," + num(py(y)) + " ";
    svg += "<polyline fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"2\"" +
           (s.dashed ? " stroke-dasharray=\"6,4\"" : "") + " points=\"" + pts + "\"/>\n";
    for (auto [x, y] : s.points)
      svg += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3\" fill=\"" + s.colour + "\"/>\n";
    svg += "<line x1=\"" + num(left + 10) + "\" y1=\"" + num(legend_y) + "\" x2=\"" + num(left + 34) + "\" y2=\"" +
           num(legend_y) + "\" stroke=\"" + s.colour + "\" stroke-width=\"2\"" +
           (s.dashed ? " stroke-dasharray=\"6,4\"" : "") + "/><text x=\"" + num(left + 40) + "\" y=\"" +
           num(legend_y + 4) + "\">" + escape(s.name) + "</text>\n";
    legend_y += 16;
  }
  return svg + "</svg>\n";
}

}  // namespace

std::string render_sweep_html(const bench_options& o, const std::vector<target_result>& targets) {
  bool tokens = false;
  for (const auto& t : targets)
    for (const auto& p : t.points) tokens = tokens || p.output_tokens > 0;
  auto x_of = [&](const point_summary& p) { return tokens ? p.output_tokens_per_s : p.requests_per_s; };
  const std::string x_label = tokens ? "output tokens/s" : "requests/s";

  std::vector<series> ttft, e2e;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const std::string colour = colours[i % std::size(colours)];
    series t50{targets[i].url + " p50", colour, false, {}}, t99{targets[i].url + " p99", colour, true, {}};
    series e50 = t50, e99 = t99;
    for (const auto& p : targets[i].points) {
      if (p.ttft.count) {
        t50.points.emplace_back(x_of(p), p.ttft.p50 * 1000);
        t99.points.emplace_back(x_of(p), p.ttft.p99 * 1000);
      }
      if (p.e2e.count) {
        e50.points.emplace_back(x_of(p), p.e2e.p50 * 1000);
        e99.points.emplace_back(x_of(p), p.e2e.p99 * 1000);
      }
    }
    for (auto* s : {&t50, &t99}) if (!s->points.empty()) ttft.push_back(std::move(*s));
    for (auto* s : {&e50, &e99}) if (!s->points.empty()) e2e.push_back(std::move(*s));
  }

  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>corral-bench sweep</title>\n"
                     "<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}"
                     "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>\n";
  html += "<h1>corral-bench: " + escape(std::string(endpoint_path(o.api))) + (o.stream ? ", streamed" : "") + "</h1>\n";
  if (!ttft.empty()) html += chart("Time to first token against throughput", x_label, "TTFT (ms)", ttft);
  if (!e2e.empty()) html += chart("End-to-end latency against throughput", x_label, "latency (ms)", e2e);
  html += "<table><tr><th>target</th><th>point</th><th>ok</th><th>errors</th><th>req/s</th><th>tokens/s</th>"
          "<th>TTFT p50 ms</th><th>TTFT p99 ms</th><th>E2E p50 ms</th><th>E2E p99 ms</th></tr>\n";
  for (const auto& t : targets)
    for (const auto& p : t.points) {
      std::uint64_t errors = p.sent - p.ok;
      html += "<tr><td>" + escape(t.url) + "</td><td>" + escape(p.point.label()) + "</td><td>" +
              std::to_string(p.ok) + "</td><td>" + std::to_string(errors) + "</td><td>" +
              num(p.requests_per_s) + "</td><td>" + num(p.output_tokens_per_s, "%.0f") + "</td><td>" +
              num(p.ttft.p50 * 1000, "%.2f") + "</td><td>" + num(p.ttft.p99 * 1000, "%.2f") + "</td><td>" +
              num(p.e2e.p50 * 1000, "%.2f") + "</td><td>" + num(p.e2e.p99 * 1000, "%.2f") + "</td></tr>\n";
    }
  return html + "</table></body></html>\n";
}

}  // namespace corral::bench
