// corral-bench: load for Ollama-native and OpenAI-compatible endpoints; see bench/README.md.
#include "bench/load/bench_args.hpp"
#include "bench/load/load_driver.hpp"
#include "bench/load/report.hpp"
#include "bench/load/request_bodies.hpp"
#include "bench/load/sweep_chart.hpp"

#include <boost/json/serialize.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <unistd.h>

namespace {

using namespace corral::bench;

// Shows how far a point has come while it runs: a redrawn bar on a terminal, a plain line every
// few seconds otherwise (logs and pipes). Its own thread only reads the run's atomic counters.
class progress_display {
 public:
  progress_display(const bench_options& o, std::string title, live_counters& live)
      : opts_(o), title_(std::move(title)), live_(live), tty_(::isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {
    if (!o.quiet) thread_ = std::thread([this] { loop(); });
  }
  ~progress_display() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    draw(true);
  }

 private:
  void loop() {
    const auto period = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(2000);
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) draw(false);
  }

  void draw(bool last) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const auto done = live_.completed.load(std::memory_order_relaxed);
    const auto failed = live_.failed.load(std::memory_order_relaxed);
    const auto tokens = live_.output_tokens.load(std::memory_order_relaxed);
    double fraction = 0;
    if (opts_.duration_s > 0) fraction = elapsed / opts_.duration_s;
    if (opts_.requests > 0) fraction = std::max(fraction, static_cast<double>(done) / static_cast<double>(opts_.requests));
    fraction = std::min(fraction, 1.0);
    char line[256];
    if (tty_) {
      constexpr int width = 30;
      char bar[width + 1];
      int filled = static_cast<int>(fraction * width);
      for (int i = 0; i < width; ++i) bar[i] = i < filled ? '#' : '.';
      bar[width] = '\0';
      std::snprintf(line, sizeof line, "\r%-28s [%s] %5.1fs %8llu done %6llu failed %10llu tokens%s",
                    title_.c_str(), bar, elapsed, static_cast<unsigned long long>(done),
                    static_cast<unsigned long long>(failed), static_cast<unsigned long long>(tokens), last ? "\n" : "");
    } else {
      std::snprintf(line, sizeof line, "corral-bench: %s %.1fs %llu done, %llu failed, %llu tokens%s\n",
                    title_.c_str(), elapsed, static_cast<unsigned long long>(done),
                    static_cast<unsigned long long>(failed), static_cast<unsigned long long>(tokens),
                    last ? " (finished)" : "");
    }
    std::fputs(line, stderr);
    std::fflush(stderr);
  }

  const bench_options& opts_;
  std::string title_;
  live_counters& live_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

std::vector<load_point> load_points(const bench_options& o) {
  std::vector<load_point> points;
  if (o.open_loop)
    for (double r : o.rates) points.push_back({true, 0, r});
  else
    for (unsigned c : o.concurrency) points.push_back({false, c, 0});
  return points;
}

void write_file(const std::string& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + file);
}

int run(const bench_options& o) {
  std::vector<base_url> urls{o.url};
  if (o.compare) urls.push_back(*o.compare);
  std::vector<target_result> targets;
  bool failures = false;
  for (const auto& url : urls) {
    const auto requests = build_requests(o, url);
    target_result t{url.text, {}};
    for (const auto& point : load_points(o)) {
      live_counters live;
      point_samples samples;
      {
        progress_display progress(o, url.text + " " + point.label(), live);
        samples = run_load(o, url, requests, point, live);
      }
      t.points.push_back(summarize_point(samples));
      if (t.points.back().ok != t.points.back().sent) failures = true;
    }
    targets.push_back(std::move(t));
  }
  std::cout << render_table(o, targets) << std::flush;
  if (!o.json_file.empty()) write_file(o.json_file, boost::json::serialize(to_json(o, targets)) + "\n");
  if (!o.html_file.empty()) write_file(o.html_file, render_sweep_html(o, targets));
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  bench_options o;
  try {
    o = parse_args(std::vector<std::string>(argv + 1, argv + argc));
    if (o.help) {
      std::cout << usage_text();
      return 0;
    }
    // Prompt files are read before anything runs, so a bad one is a usage error too.
    (void)build_requests(o, o.url);
  } catch (const usage_error& e) {
    std::cerr << "corral-bench: " << e.what() << "\n(see corral-bench --help)\n";
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "corral-bench: " << e.what() << "\n";
    return 1;
  }
}
