#include "gateway/metrics.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace corral {
namespace {

class metrics_test : public ::testing::Test {
 protected:
  metrics_registry registry_{2, 2};
  std::vector<backend_gauges> backends_{{"gpu-a", true, 1, 0}, {"gpu-b", false, 0, 3}};

  static request_sample sample(std::string_view route, std::string_view model, unsigned status,
                               double duration_s = 0.1, double ttfb_s = -1) {
    request_sample s;
    s.route = route;
    s.model = model;
    s.status = status;
    s.duration_s = duration_s;
    s.ttfb_s = ttfb_s;
    return s;
  }

  std::string render() const { return registry_.render(backends_); }

  static std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  // The value of the sample line that starts with `series` followed by a space, if any.
  static std::optional<std::string> value_of(const std::string& text, std::string_view series) {
    for (const auto& line : lines_of(text))
      if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ')
        return line.substr(series.size() + 1);
    return std::nullopt;
  }

  static bool has_line_starting(const std::string& text, std::string_view prefix) {
    for (const auto& line : lines_of(text))
      if (line.starts_with(prefix)) return true;
    return false;
  }

  // The bucket values of one histogram series, in output order, with their `le` labels.
  static std::vector<std::pair<std::string, std::uint64_t>> buckets(const std::string& text,
                                                                    std::string_view name,
                                                                    std::string_view labels) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    std::string prefix = std::string(name) + "_bucket{" + std::string(labels) + ",le=\"";
    for (const auto& line : lines_of(text)) {
      if (!line.starts_with(prefix)) continue;
      auto end_le = line.find('"', prefix.size());
      auto space = line.rfind(' ');
      out.emplace_back(line.substr(prefix.size(), end_le - prefix.size()),
                       std::stoull(line.substr(space + 1)));
    }
    return out;
  }
};

TEST_F(metrics_test, request_counters_from_two_shards_are_summed) {
  registry_.record(0, sample("/api/chat", "llama2:latest", 200));
  registry_.record(0, sample("/api/chat", "llama2:latest", 200));
  registry_.record(1, sample("/api/chat", "llama2:latest", 200));
  registry_.record(1, sample("/api/chat", "llama2:latest", 500));
  registry_.record(1, sample("/api/tags", "", 200));
  auto text = render();
  EXPECT_EQ(value_of(text, R"(corral_requests_total{route="/api/chat",model="llama2:latest",status="200"})"), "3");
  EXPECT_EQ(value_of(text, R"(corral_requests_total{route="/api/chat",model="llama2:latest",status="500"})"), "1");
  EXPECT_EQ(value_of(text, R"(corral_requests_total{route="/api/tags",model="",status="200"})"), "1");
  EXPECT_EQ(value_of(text, R"(corral_request_duration_seconds_count{route="/api/chat"})"), "4");
}

TEST_F(metrics_test, retries_and_upstream_errors_from_two_shards_are_summed) {
  registry_.count_retry(0);
  registry_.count_retry(1);
  registry_.count_retry(1);
  registry_.count_upstream_error(0, 1, upstream_error_kind::timeout);
  registry_.count_upstream_error(1, 1, upstream_error_kind::timeout);
  registry_.count_upstream_error(1, 0, upstream_error_kind::connect);
  registry_.count_upstream_error(1, 7, upstream_error_kind::connect);  // no such backend: ignored
  auto text = render();
  EXPECT_EQ(value_of(text, "corral_upstream_retries_total"), "3");
  EXPECT_EQ(value_of(text, R"(corral_upstream_errors_total{backend="gpu-b",kind="timeout"})"), "2");
  EXPECT_EQ(value_of(text, R"(corral_upstream_errors_total{backend="gpu-a",kind="connect"})"), "1");
  EXPECT_EQ(value_of(text, R"(corral_upstream_errors_total{backend="gpu-a",kind="timeout"})"), "0");
}

TEST_F(metrics_test, backend_gauges_and_in_flight_are_rendered) {
  registry_.in_flight() = 5;
  auto text = render();
  EXPECT_EQ(value_of(text, "corral_requests_in_flight"), "5");
  EXPECT_EQ(value_of(text, R"(corral_backend_healthy{backend="gpu-a"})"), "1");
  EXPECT_EQ(value_of(text, R"(corral_backend_healthy{backend="gpu-b"})"), "0");
  EXPECT_EQ(value_of(text, R"(corral_backend_in_flight{backend="gpu-a"})"), "1");
  EXPECT_EQ(value_of(text, R"(corral_backend_ejections_total{backend="gpu-b"})"), "3");
}

TEST_F(metrics_test, histogram_buckets_are_cumulative_and_inf_equals_count) {
  for (double d : {0.003, 0.2, 0.2, 7.0}) registry_.record(0, sample("/api/generate", "m", 200, d));
  registry_.record(1, sample("/api/generate", "m", 200, 500.0));  // beyond the last bucket
  auto text = render();
  auto b = buckets(text, "corral_request_duration_seconds", R"(route="/api/generate")");
  ASSERT_EQ(b.size(), latency_buckets.size() + 1);
  std::map<double, std::uint64_t> by_le;
  for (const auto& [le, n] : b)
    if (le != "+Inf") by_le[std::stod(le)] = n;
  EXPECT_EQ(by_le[0.005], 1u);
  EXPECT_EQ(by_le[0.1], 1u);
  EXPECT_EQ(by_le[0.25], 3u);
  EXPECT_EQ(by_le[5], 3u);
  EXPECT_EQ(by_le[10], 4u);
  EXPECT_EQ(by_le[300], 4u);
  EXPECT_EQ(b.back().first, "+Inf");
  EXPECT_EQ(b.back().second, 5u);
  for (std::size_t i = 1; i < b.size(); ++i) EXPECT_LE(b[i - 1].second, b[i].second) << "bucket " << i;
  EXPECT_EQ(value_of(text, R"(corral_request_duration_seconds_count{route="/api/generate"})"), "5");
  auto sum = value_of(text, R"(corral_request_duration_seconds_sum{route="/api/generate"})");
  ASSERT_TRUE(sum);
  EXPECT_DOUBLE_EQ(std::stod(*sum), 0.003 + 0.2 + 0.2 + 7.0 + 500.0);
}

// BUG (gateway/metrics.cpp, number()): bounds are printed with "%.17g", so 0.1 is written
// le="0.10000000000000001". Prometheus before 3.0 stores `le` as that text, and a selector such
// as {le="0.1"} or a dashboard written against other exporters (which print the shortest form
// that round-trips, e.g. Go's strconv 'g' -1) then matches nothing.
TEST_F(metrics_test, histogram_bucket_bounds_are_written_in_shortest_round_trip_form) {
  registry_.record(0, sample("/api/chat", "m", 200, 0.1));
  auto b = buckets(render(), "corral_request_duration_seconds", R"(route="/api/chat")");
  std::vector<std::string> les;
  for (const auto& [le, n] : b) les.push_back(le);
  EXPECT_EQ(les, (std::vector<std::string>{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
                                           "2.5", "5", "10", "30", "60", "120", "300", "+Inf"}));
}

TEST_F(metrics_test, histogram_observe_counts_a_value_equal_to_a_bound_in_that_bucket) {
  histogram h;
  h.observe(0.005);
  h.observe(1);
  EXPECT_EQ(h.counts[0], 1u);
  EXPECT_EQ(h.counts[7], 1u);  // latency_buckets[7] == 1
  EXPECT_EQ(h.count, 2u);
}

TEST_F(metrics_test, label_values_escape_backslash_quote_and_newline) {
  EXPECT_EQ(escape_label(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(escape_label(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(escape_label("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(escape_label("plain:latest"), "plain:latest");
}

TEST_F(metrics_test, rendered_labels_are_escaped) {
  registry_.record(0, sample("/api/chat", "we\"ird\\name\nx", 200, 0.1, 0.05));
  backends_[0].name = "host \"a\"";
  auto text = render();
  EXPECT_EQ(value_of(text, R"(corral_requests_total{route="/api/chat",model="we\"ird\\name\nx",status="200"})"), "1");
  EXPECT_EQ(value_of(text, R"(corral_backend_healthy{backend="host \"a\""})"), "1");
  // No raw newline escaped into a label: every line is a comment or a sample with a value.
  for (const auto& line : lines_of(text)) {
    if (line.starts_with('#')) continue;
    EXPECT_NE(line.rfind(' '), std::string::npos) << line;
    EXPECT_TRUE(line.starts_with("corral_") || line.starts_with("process_")) << line;
  }
}

TEST_F(metrics_test, every_metric_family_has_help_and_type_before_its_samples) {
  registry_.record(0, sample("/api/chat", "m", 200, 0.1, 0.05));
  registry_.count_upstream_error(0, 0, upstream_error_kind::protocol);
  auto text = render();
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  std::set<std::string> sampled;
  for (const auto& line : lines_of(text)) {
    if (line.starts_with("# HELP ")) {
      auto name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helps.insert(name).second) << "second HELP for " << name;
      EXPECT_GT(line.size(), 7 + name.size() + 1) << "empty HELP for " << name;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      auto rest = line.substr(7);
      auto space = rest.find(' ');
      auto name = rest.substr(0, space);
      EXPECT_TRUE(helps.count(name)) << "TYPE before HELP for " << name;
      EXPECT_TRUE(types.emplace(name, rest.substr(space + 1)).second) << "second TYPE for " << name;
      continue;
    }
    ASSERT_FALSE(line.starts_with('#')) << line;
    auto name = line.substr(0, line.find_first_of("{ "));
    std::string family = name;
    if (!types.count(family)) {
      for (std::string_view suffix : {"_bucket", "_sum", "_count"})
        if (name.ends_with(suffix) && types.count(name.substr(0, name.size() - suffix.size())))
          family = name.substr(0, name.size() - suffix.size());
    }
    ASSERT_TRUE(types.count(family)) << "sample before (or without) TYPE: " << line;
    sampled.insert(family);
  }
  EXPECT_EQ(helps.size(), types.size());
  for (const auto& [name, type] : types) {
    EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << name << " " << type;
    if (type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
  }
  EXPECT_EQ(types["corral_requests_total"], "counter");
  EXPECT_EQ(types["corral_request_duration_seconds"], "histogram");
  EXPECT_EQ(types["corral_time_to_first_byte_seconds"], "histogram");
  EXPECT_EQ(types["corral_requests_in_flight"], "gauge");
  EXPECT_TRUE(sampled.count("corral_time_to_first_byte_seconds"));
}

TEST_F(metrics_test, ttfb_histogram_counts_only_samples_that_sent_a_body_byte) {
  registry_.record(0, sample("/api/chat", "m", 200, 1.0, 0.2));
  registry_.record(1, sample("/api/chat", "m", 200, 1.0, 0.3));
  registry_.record(1, sample("/api/chat", "m", 502, 1.0, -1));
  registry_.record(0, sample("/api/tags", "", 200, 0.01, -1));
  auto text = render();
  EXPECT_EQ(value_of(text, R"(corral_time_to_first_byte_seconds_count{route="/api/chat",model="m"})"), "2");
  auto b = buckets(text, "corral_time_to_first_byte_seconds", R"(route="/api/chat",model="m")");
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b.back(), (std::pair<std::string, std::uint64_t>{"+Inf", 2}));
  EXPECT_FALSE(has_line_starting(text, R"(corral_time_to_first_byte_seconds_bucket{route="/api/tags")"));
  EXPECT_FALSE(has_line_starting(text, R"(corral_time_to_first_byte_seconds_count{route="/api/tags")"));
  // The duration histogram still counts all of them.
  EXPECT_EQ(value_of(text, R"(corral_request_duration_seconds_count{route="/api/chat"})"), "3");
}

TEST_F(metrics_test, tokens_are_summed_by_model_across_routes_and_shards) {
  auto chat = sample("/api/chat", "llama2:latest", 200);
  chat.prompt_tokens = 10;
  chat.completion_tokens = 20;
  auto gen = sample("/api/generate", "llama2:latest", 200);
  gen.prompt_tokens = 5;
  gen.completion_tokens = 1;
  auto other = sample("/v1/chat/completions", "phi:latest", 200);
  other.prompt_tokens = 7;
  auto no_model = sample("/api/tags", "", 200);
  no_model.prompt_tokens = 99;
  registry_.record(0, chat);
  registry_.record(1, gen);
  registry_.record(1, other);
  registry_.record(0, no_model);
  auto text = render();
  EXPECT_EQ(value_of(text, R"(corral_prompt_tokens_total{model="llama2:latest"})"), "15");
  EXPECT_EQ(value_of(text, R"(corral_completion_tokens_total{model="llama2:latest"})"), "21");
  EXPECT_EQ(value_of(text, R"(corral_prompt_tokens_total{model="phi:latest"})"), "7");
  EXPECT_EQ(value_of(text, R"(corral_completion_tokens_total{model="phi:latest"})"), "0");
  EXPECT_FALSE(has_line_starting(text, R"(corral_prompt_tokens_total{model=""})"));
}

TEST_F(metrics_test, rendered_text_passes_promtool_check_metrics) {
  const char* promtool = "/usr/bin/promtool";
  if (::access(promtool, X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  registry_.record(0, sample("/api/chat", "llama2:latest", 200, 1.5, 0.2));
  registry_.record(1, sample("/api/chat", "we\"ird\\model\nname", 500, 0.01, -1));
  registry_.record(1, sample("/api/tags", "", 200, 0.002));
  registry_.count_retry(0);
  registry_.count_upstream_error(1, 1, upstream_error_kind::broken_stream);
  auto path = std::filesystem::temp_directory_path() /
              ("corral-metrics-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(path);
    out << render();
  }
  std::string cmd = std::string(promtool) + " check metrics < " + path.string() + " 2>&1";
  int status = std::system(cmd.c_str());
  std::filesystem::remove(path);
  ASSERT_NE(status, -1);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "promtool rejected:\n" << render();
}

}  // namespace
}  // namespace corral
