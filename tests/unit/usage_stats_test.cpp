// The usage and performance recorder: percentiles against values worked out by hand (within a
// bucket), shards merged, windows that forget as slots age (times injected, no sleeping), usage
// rows per hour and day, query parsing and the caps that keep memory bounded.
#include "gateway/usage_stats.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace corral {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using time_point = std::chrono::system_clock::time_point;

// 2026-11-25T19:00:00Z: on a slot's, an hour's and (less 19 h) a day's edge.
const time_point t0 = std::chrono::sys_days(std::chrono::year{2026} / 11 / 25) + 19h;

class UsageTest : public ::testing::Test {
 protected:
  static usage_sample sample(time_point at, std::string_view model = "", unsigned status = 200,
                             double duration_s = 0.1) {
    usage_sample s;
    s.at = at;
    s.route = "/api/chat";
    s.model = model;
    s.status = status;
    s.duration_s = duration_s;
    return s;
  }

  static double number(const json::value& v) { return v.to_number<double>(); }
  static std::uint64_t count(const json::value& v) { return v.to_number<std::uint64_t>(); }

  static const json::object& window(const json::object& perf, std::string_view name) {
    return perf.at("windows").as_object().at(name).as_object();
  }
  static std::uint64_t window_requests(const json::object& perf, std::string_view name) {
    return count(window(perf, name).at("overall").at("requests"));
  }
};

using UsageErrorKindTest = UsageTest;
using UsageStatsTest = UsageTest;
using UsagePerformanceTest = UsageTest;
using UsageProcessTest = UsageTest;
using UsageReportTest = UsageTest;
using UsageQueryTest = UsageTest;
using UsageConcurrencyTest = UsageTest;

TEST_F(UsageErrorKindTest, names_the_statuses_corral_answers_and_numbers_the_rest) {
  EXPECT_EQ(error_kind(200), "");
  EXPECT_EQ(error_kind(399), "");
  EXPECT_EQ(error_kind(400), "bad_request");
  EXPECT_EQ(error_kind(401), "unauthorized");
  EXPECT_EQ(error_kind(403), "forbidden");
  EXPECT_EQ(error_kind(404), "not_found");
  EXPECT_EQ(error_kind(408), "timeout_client");
  EXPECT_EQ(error_kind(409), "conflict");
  EXPECT_EQ(error_kind(413), "too_large");
  EXPECT_EQ(error_kind(429), "rate_limited");
  EXPECT_EQ(error_kind(499), "client_closed");
  EXPECT_EQ(error_kind(500), "internal");
  EXPECT_EQ(error_kind(502), "upstream_failed");
  EXPECT_EQ(error_kind(503), "unavailable");
  EXPECT_EQ(error_kind(504), "upstream_timeout");
  EXPECT_EQ(error_kind(418), "http_418");
  EXPECT_EQ(error_kind(507), "http_507");
}

// ---- stats(): since start.

TEST_F(UsageStatsTest, percentiles_of_1_to_100_ms_are_at_most_a_bucket_above_the_true_ones) {
  usage_stats stats(1, t0);
  for (int ms = 1; ms <= 100; ++ms) stats.record(0, sample(t0, "m", 200, ms / 1000.0));
  auto latency = stats.stats(t0 + 1s).at("latency_ms").as_object();
  EXPECT_EQ(count(latency.at("count")), 100u);
  // Nearest rank: p50 is the 50th value (50 ms); buckets are 10 % wide.
  EXPECT_GE(number(latency.at("p50")), 50);
  EXPECT_LE(number(latency.at("p50")), 55);
  EXPECT_GE(number(latency.at("p90")), 90);
  EXPECT_LE(number(latency.at("p90")), 99);
  EXPECT_GE(number(latency.at("p95")), 95);
  EXPECT_LE(number(latency.at("p95")), 100);
  EXPECT_GE(number(latency.at("p99")), 99);
  EXPECT_LE(number(latency.at("p99")), 100);  // never above the largest value
  EXPECT_DOUBLE_EQ(number(latency.at("max")), 100);
  EXPECT_DOUBLE_EQ(number(latency.at("mean")), 50.5);
}

TEST_F(UsageStatsTest, a_slow_tail_reports_the_largest_value_not_its_buckets_bound) {
  usage_stats stats(1, t0);
  for (int i = 0; i < 90; ++i) stats.record(0, sample(t0, "m", 200, 0.010));
  for (int i = 0; i < 10; ++i) stats.record(0, sample(t0, "m", 200, 2.0));
  auto latency = stats.stats(t0).at("latency_ms").as_object();
  EXPECT_GE(number(latency.at("p50")), 10);
  EXPECT_LE(number(latency.at("p50")), 11);
  EXPECT_GE(number(latency.at("p90")), 10);  // the 90th value is still a fast one
  EXPECT_LE(number(latency.at("p90")), 11);
  EXPECT_DOUBLE_EQ(number(latency.at("p95")), 2000);
  EXPECT_DOUBLE_EQ(number(latency.at("p99")), 2000);
  EXPECT_DOUBLE_EQ(number(latency.at("mean")), (90 * 10 + 10 * 2000) / 100.0);
}

TEST_F(UsageStatsTest, counts_by_label_status_and_error_kind_add_up_over_shards) {
  usage_stats stats(3, t0);
  auto a = sample(t0, "llama3:8b", 200);
  a.preset = "fast";
  a.key = "alice";
  a.ttft_s = 0.25;
  a.prompt_tokens = 10;
  a.completion_tokens = 30;
  stats.record(0, a);
  stats.record(1, a);
  auto b = sample(t0 + 1s, "", 429);
  b.route = "/api/v1/generate";
  b.key = "bob";
  stats.record(2, b);
  auto c = sample(t0 + 2s, "qwen2:7b", 499);
  c.preset = "fast";
  stats.record(1, c);

  auto out = stats.stats(t0 + 10s);
  const auto& req = out.at("requests").as_object();
  EXPECT_EQ(count(req.at("total")), 4u);
  EXPECT_EQ(json::serialize(req.at("by_route")), R"({"/api/chat":3,"/api/v1/generate":1})");
  // A request without a model, preset or key counts in the total only.
  EXPECT_EQ(json::serialize(req.at("by_model")), R"({"llama3:8b":2,"qwen2:7b":1})");
  EXPECT_EQ(json::serialize(req.at("by_preset")), R"({"fast":3})");
  EXPECT_EQ(json::serialize(req.at("by_key")), R"({"alice":2,"bob":1})");
  EXPECT_EQ(json::serialize(req.at("by_status")), R"({"200":2,"429":1,"499":1})");
  EXPECT_EQ(json::serialize(out.at("tokens")), R"({"prompt":20,"completion":60})");
  EXPECT_EQ(json::serialize(out.at("errors")), R"({"total":2,"by_kind":{"client_closed":1,"rate_limited":1}})");
  // Only the two answers that sent a body byte have a time to first byte.
  const auto& ttft = out.at("ttft_ms").as_object();
  EXPECT_EQ(count(ttft.at("count")), 2u);
  EXPECT_DOUBLE_EQ(number(ttft.at("max")), 250);
  EXPECT_EQ(count(out.at("latency_ms").at("count")), 4u);
}

TEST_F(UsageStatsTest, no_ttft_means_a_zero_count_and_null_figures) {
  usage_stats stats(1, t0);
  stats.record(0, sample(t0));
  EXPECT_EQ(json::serialize(stats.stats(t0).at("ttft_ms")),
            R"({"count":0,"p50":null,"p90":null,"p95":null,"p99":null,"max":null,"mean":null})");
}

TEST_F(UsageStatsTest, reports_its_start_and_uptime) {
  usage_stats stats(1, t0 + 250ms);
  auto out = stats.stats(t0 + 90s + 750ms);
  EXPECT_EQ(out.at("since").as_string(), "2026-11-25T19:00:00Z");
  EXPECT_DOUBLE_EQ(number(out.at("uptime_s")), 90.5);
}

TEST_F(UsageStatsTest, labels_past_the_cap_are_counted_as_other) {
  usage_stats stats(1, t0);
  for (std::size_t i = 0; i < usage_max_keys + 5; ++i) {
    auto name = "model-" + std::to_string(i);
    auto s = sample(t0, name);
    s.backend = name;
    stats.record(0, s);
  }
  auto out = stats.stats(t0);
  const auto& by_model = out.at("requests").at("by_model").as_object();
  EXPECT_EQ(by_model.size(), usage_max_keys + 1);
  EXPECT_EQ(count(by_model.at("other")), 5u);
  EXPECT_EQ(count(by_model.at("model-0")), 1u);

  auto perf = stats.performance(t0 + 1s);
  const auto& models = window(perf, "1m").at("models").as_object();
  EXPECT_EQ(models.size(), usage_max_keys + 1);
  EXPECT_EQ(count(models.at("other").at("requests")), 5u);
  EXPECT_EQ(window(perf, "1m").at("backends").as_object().size(), usage_max_keys + 1);
}

// ---- performance(): sliding windows.

TEST_F(UsagePerformanceTest, samples_leave_each_window_as_they_age) {
  usage_stats stats(1, t0 - 2h);
  auto now = t0 + 5s;  // the 1m window is the current slot and 5 whole ones: [t0 - 50 s, now]
  stats.record(0, sample(now - 61min));  // out of every window
  stats.record(0, sample(now - 30min));  // 1h
  stats.record(0, sample(now - 3min));   // 5m, 1h
  stats.record(0, sample(now - 65s));    // 5m, 1h: older than a minute
  stats.record(0, sample(now - 30s));    // all
  stats.record(0, sample(now));          // all
  auto perf = stats.performance(now);
  EXPECT_EQ(window_requests(perf, "1m"), 2u);
  EXPECT_EQ(window_requests(perf, "5m"), 4u);
  EXPECT_EQ(window_requests(perf, "1h"), 5u);
  EXPECT_DOUBLE_EQ(number(window(perf, "1m").at("seconds")), 55);
  EXPECT_DOUBLE_EQ(number(window(perf, "5m").at("seconds")), 295);
  EXPECT_DOUBLE_EQ(number(window(perf, "1h").at("seconds")), 3595);

  // A minute on, the two newest have left the 1m window too.
  perf = stats.performance(now + 60s);
  EXPECT_EQ(window_requests(perf, "1m"), 0u);
  EXPECT_EQ(window_requests(perf, "5m"), 4u);
}

TEST_F(UsagePerformanceTest, rates_are_over_the_seconds_since_start_when_younger_than_the_window) {
  usage_stats stats(1, t0 - 20s);
  for (int i = 0; i < 5; ++i) {
    auto s = sample(t0 - 10s + std::chrono::seconds(i));
    s.completion_tokens = 50;
    stats.record(0, s);
  }
  auto perf = stats.performance(t0 + 5s);
  const auto& w = window(perf, "5m");
  EXPECT_DOUBLE_EQ(number(w.at("seconds")), 25);
  EXPECT_DOUBLE_EQ(number(w.at("overall").at("requests_per_s")), 0.2);
  EXPECT_DOUBLE_EQ(number(w.at("overall").at("output_tokens_per_s")), 10);
}

TEST_F(UsagePerformanceTest, models_and_backends_get_their_own_figures_and_unserved_requests_only_count_overall) {
  usage_stats stats(2, t0 - 1h);
  auto a = sample(t0 - 20s, "llama3:8b", 200, 1.0);
  a.backend = "gpu-a";
  a.ttft_s = 0.2;
  a.load_s = 3.0;
  a.prompt_tokens = 7;
  a.completion_tokens = 100;
  stats.record(0, a);
  auto b = a;
  b.backend = "gpu-b";
  b.status = 502;
  b.load_s = -1;
  stats.record(1, b);
  stats.record(1, sample(t0 - 5s, "", 401, 0.001));  // refused before any model or backend

  auto perf = stats.performance(t0 + 5s);
  const auto& w = window(perf, "1m");
  const auto& overall = w.at("overall").as_object();
  EXPECT_EQ(count(overall.at("requests")), 3u);
  EXPECT_EQ(count(overall.at("errors")), 2u);
  EXPECT_DOUBLE_EQ(number(overall.at("error_rate")), 0.6667);

  const auto& models = w.at("models").as_object();
  ASSERT_EQ(models.size(), 1u);
  const auto& llama = models.at("llama3:8b").as_object();
  EXPECT_EQ(count(llama.at("requests")), 2u);
  EXPECT_EQ(count(llama.at("errors")), 1u);
  EXPECT_DOUBLE_EQ(number(llama.at("error_rate")), 0.5);
  EXPECT_EQ(count(llama.at("prompt_tokens")), 14u);
  EXPECT_EQ(count(llama.at("completion_tokens")), 200u);
  EXPECT_DOUBLE_EQ(number(llama.at("requests_per_s")), round(2 / 55.0 * 1000) / 1000);
  EXPECT_DOUBLE_EQ(number(llama.at("output_tokens_per_s")), round(200 / 55.0 * 1000) / 1000);
  // Buckets are 25 % wide here; the single value is also the largest.
  EXPECT_DOUBLE_EQ(number(llama.at("latency_ms").at("p50")), 1000);
  EXPECT_DOUBLE_EQ(number(llama.at("ttft_ms").at("p99")), 200);
  EXPECT_EQ(json::serialize(llama.at("load_ms")), R"({"count":1,"p50":3E3,"max":3E3})");

  const auto& backends = w.at("backends").as_object();
  ASSERT_EQ(backends.size(), 2u);
  EXPECT_EQ(count(backends.at("gpu-a").at("errors")), 0u);
  EXPECT_EQ(count(backends.at("gpu-b").at("errors")), 1u);
  EXPECT_EQ(json::serialize(backends.at("gpu-b").at("load_ms")), R"({"count":0,"p50":null,"max":null})");
}

TEST_F(UsagePerformanceTest, window_percentiles_are_within_a_slot_bucket) {
  usage_stats stats(4, t0 - 1h);
  // Spread over shards and slots, so both the history and unfinished slots are merged.
  for (int ms = 1; ms <= 100; ++ms)
    stats.record(ms % 4, sample(t0 - std::chrono::seconds(ms % 40), "m", 200, ms / 1000.0));
  auto perf = stats.performance(t0 + 1s);
  const auto& latency = window(perf, "1m").at("overall").at("latency_ms").as_object();
  EXPECT_GE(number(latency.at("p50")), 50);
  EXPECT_LE(number(latency.at("p50")), 62.5);
  EXPECT_GE(number(latency.at("p95")), 95);
  EXPECT_LE(number(latency.at("p99")), 100);
}

TEST_F(UsagePerformanceTest, shards_merge_in_the_current_slot_and_the_finished_ones) {
  usage_stats stats(3, t0 - 1h);
  for (std::size_t shard = 0; shard < 3; ++shard) {
    stats.record(shard, sample(t0 - 40s, "m"));  // handed to the history by the next one
    stats.record(shard, sample(t0 - 20s, "m"));
    stats.record(shard, sample(t0, "m"));  // still the shard's own
  }
  auto perf = stats.performance(t0 + 1s);
  EXPECT_EQ(window_requests(perf, "1m"), 9u);
  EXPECT_EQ(count(window(perf, "1m").at("models").at("m").at("requests")), 9u);
}

TEST_F(UsagePerformanceTest, a_request_ending_after_a_later_one_still_counts) {
  usage_stats stats(1, t0 - 1h);
  stats.record(0, sample(t0 + 12s, "m"));
  stats.record(0, sample(t0 + 3s, "m"));  // its slot was already left behind
  auto perf = stats.performance(t0 + 15s);
  EXPECT_EQ(window_requests(perf, "1m"), 2u);
  usage_query q;
  q.since = t0;
  q.until = t0 + 1h;
  EXPECT_EQ(count(stats.usage(q, t0 + 15s).at("totals").at("requests")), 2u);
}

TEST_F(UsagePerformanceTest, a_slot_reused_an_hour_later_forgets_what_it_held) {
  usage_stats stats(1, t0 - 1h);
  stats.record(0, sample(t0));
  stats.record(0, sample(t0 + 1h));        // same place in the ring as t0
  stats.record(0, sample(t0 + 1h + 10s));  // hands t0 + 1h over
  EXPECT_EQ(window_requests(stats.performance(t0 + 1h + 15s), "1h"), 2u);
}

// ---- performance(): the process.

TEST_F(UsageProcessTest, cpu_percent_needs_two_readings_within_the_window) {
  usage_stats stats(1, t0);
  auto process = [&](time_point now) { return stats.performance(now).at("process").as_object(); };
  EXPECT_EQ(json::serialize(process(t0)),
            R"({"cpu_seconds":null,"cpu_percent":{"1m":null,"5m":null,"1h":null},"rss_bytes":null,"threads":null})");

  stats.sample_process(t0, {1.0, 1000, 4});
  auto one = process(t0);
  EXPECT_DOUBLE_EQ(number(one.at("cpu_seconds")), 1.0);
  EXPECT_TRUE(one.at("cpu_percent").at("1m").is_null());

  stats.sample_process(t0 + 10s, {1.5, 2000, 5});
  auto two = process(t0 + 10s);
  EXPECT_DOUBLE_EQ(number(two.at("cpu_percent").at("1m")), 5.0);  // 0.5 s of CPU over 10 s
  EXPECT_DOUBLE_EQ(number(two.at("cpu_percent").at("1h")), 5.0);
  EXPECT_EQ(count(two.at("rss_bytes")), 2000u);
  EXPECT_EQ(count(two.at("threads")), 5u);

  // Two minutes on, neither reading is within the last minute; both are within 5.
  auto later = process(t0 + 10s + 2min);
  EXPECT_TRUE(later.at("cpu_percent").at("1m").is_null());
  EXPECT_DOUBLE_EQ(number(later.at("cpu_percent").at("5m")), 5.0);
}

TEST_F(UsageProcessTest, readings_an_hour_older_than_the_newest_are_dropped) {
  usage_stats stats(1, t0);
  stats.sample_process(t0, {0.0, 1, 1});
  stats.sample_process(t0 + 30min, {10.0, 1, 1});
  stats.sample_process(t0 + 61min, {12.0, 1, 1});
  // Asked as of t0 + 31 min, the hour would hold t0 and t0 + 30 min, had t0 been kept.
  EXPECT_TRUE(stats.performance(t0 + 31min).at("process").at("cpu_percent").at("1h").is_null());
  // 2 s of CPU over the 31 minutes left.
  EXPECT_DOUBLE_EQ(number(stats.performance(t0 + 61min).at("process").at("cpu_percent").at("1h")),
                   std::round(2.0 / (31 * 60) * 100 * 10) / 10);
}

TEST_F(UsageProcessTest, this_process_reads_as_running_with_memory_and_a_thread) {
  auto r = read_process();
  EXPECT_GT(r.rss_bytes, 0u);
  EXPECT_GE(r.threads, 1u);
  EXPECT_GE(r.cpu_seconds, 0.0);
  usage_stats stats(1, t0);
  stats.sample_process(t0);
  EXPECT_GT(count(stats.performance(t0).at("process").at("rss_bytes")), 0u);
}

// ---- usage(): hours and days.

class UsageReportFixture : public UsageTest {
 protected:
  usage_stats stats_{2, t0 - 48h};

  void add(std::size_t shard, time_point at, std::string_view model, std::string_view preset, std::string_view key,
           unsigned status = 200, std::uint64_t prompt = 0, std::uint64_t completion = 0) {
    auto s = sample(at, model, status);
    s.preset = preset;
    s.key = key;
    s.prompt_tokens = prompt;
    s.completion_tokens = completion;
    stats_.record(shard, s);
  }

  void SetUp() override {
    add(0, t0 - 9h + 15min, "a", "p", "k1", 200, 10, 20);  // 2026-11-25T10:15
    add(1, t0 - 9h + 45min, "a", "", "k2", 500, 5, 0);     // 10:45
    add(0, t0 - 8h + 5min, "b", "", "k1", 200, 1, 2);      // 11:05
    add(1, t0 + 8h, "a", "p", "k1", 200, 3, 4);            // 2026-11-26T03:00
  }

  json::object usage(std::string_view query) const {
    auto parsed = parse_usage_query(query, t0 + 9h);
    EXPECT_TRUE(std::holds_alternative<usage_query>(parsed)) << std::get<std::string>(parsed);
    return stats_.usage(std::get<usage_query>(parsed), t0 + 9h);
  }
};

using UsageReportRows = UsageReportFixture;

TEST_F(UsageReportRows, by_hour_with_every_label_sorted_by_time_then_labels) {
  auto out = usage("since=2026-11-25&until=2026-11-27");
  EXPECT_EQ(out.at("period").as_string(), "hour");
  EXPECT_EQ(json::serialize(out.at("group_by")), R"(["model","preset","key"])");
  EXPECT_EQ(json::serialize(out.at("rows")),
            R"([{"period_start":"2026-11-25T10:00:00Z","model":"a","preset":"","key":"k2","requests":1,"prompt_tokens":5,"completion_tokens":0,"errors":1},)"
            R"({"period_start":"2026-11-25T10:00:00Z","model":"a","preset":"p","key":"k1","requests":1,"prompt_tokens":10,"completion_tokens":20,"errors":0},)"
            R"({"period_start":"2026-11-25T11:00:00Z","model":"b","preset":"","key":"k1","requests":1,"prompt_tokens":1,"completion_tokens":2,"errors":0},)"
            R"({"period_start":"2026-11-26T03:00:00Z","model":"a","preset":"p","key":"k1","requests":1,"prompt_tokens":3,"completion_tokens":4,"errors":0}])");
  EXPECT_EQ(json::serialize(out.at("totals")), R"({"requests":4,"prompt_tokens":19,"completion_tokens":26,"errors":1})");
  EXPECT_EQ(out.at("since").as_string(), "2026-11-25T00:00:00Z");
  EXPECT_EQ(out.at("until").as_string(), "2026-11-27T00:00:00Z");
}

TEST_F(UsageReportRows, by_day_grouped_by_model) {
  auto out = usage("since=2026-11-25&until=2026-11-27&period=day&group_by=model");
  EXPECT_EQ(out.at("period").as_string(), "day");
  EXPECT_EQ(json::serialize(out.at("rows")),
            R"([{"period_start":"2026-11-25T00:00:00Z","model":"a","requests":2,"prompt_tokens":15,"completion_tokens":20,"errors":1},)"
            R"({"period_start":"2026-11-25T00:00:00Z","model":"b","requests":1,"prompt_tokens":1,"completion_tokens":2,"errors":0},)"
            R"({"period_start":"2026-11-26T00:00:00Z","model":"a","requests":1,"prompt_tokens":3,"completion_tokens":4,"errors":0}])");
}

TEST_F(UsageReportRows, by_a_subset_of_labels_or_none) {
  auto by_key = usage("since=2026-11-25&until=2026-11-27&period=day&group_by=key");
  EXPECT_EQ(json::serialize(by_key.at("rows")),
            R"([{"period_start":"2026-11-25T00:00:00Z","key":"k1","requests":2,"prompt_tokens":11,"completion_tokens":22,"errors":0},)"
            R"({"period_start":"2026-11-25T00:00:00Z","key":"k2","requests":1,"prompt_tokens":5,"completion_tokens":0,"errors":1},)"
            R"({"period_start":"2026-11-26T00:00:00Z","key":"k1","requests":1,"prompt_tokens":3,"completion_tokens":4,"errors":0}])");
  auto none = usage("since=2026-11-25&until=2026-11-27&period=day&group_by=");
  EXPECT_EQ(json::serialize(none.at("group_by")), "[]");
  EXPECT_EQ(json::serialize(none.at("rows")),
            R"([{"period_start":"2026-11-25T00:00:00Z","requests":3,"prompt_tokens":16,"completion_tokens":22,"errors":1},)"
            R"({"period_start":"2026-11-26T00:00:00Z","requests":1,"prompt_tokens":3,"completion_tokens":4,"errors":0}])");
}

TEST_F(UsageReportRows, only_hours_overlapping_since_until_and_until_is_exclusive) {
  // [10:30, 11:00) overlaps the 10:00 hour only.
  auto out = usage("since=2026-11-25T10:30:00Z&until=2026-11-25T11:00:00Z&group_by=model");
  EXPECT_EQ(json::serialize(out.at("rows")),
            R"([{"period_start":"2026-11-25T10:00:00Z","model":"a","requests":2,"prompt_tokens":15,"completion_tokens":20,"errors":1}])");
  // Days add up the chosen hours only: the totals do not depend on the period.
  auto day = usage("since=2026-11-25T11:00:00Z&until=2026-11-26T12:00:00Z&period=day&group_by=");
  EXPECT_EQ(json::serialize(day.at("totals")), R"({"requests":2,"prompt_tokens":4,"completion_tokens":6,"errors":0})");
  // The default: the last 24 hours before now (2026-11-26T04:00).
  EXPECT_EQ(count(usage("").at("totals").at("requests")), 4u);
  EXPECT_EQ(count(usage("since=-6h").at("totals").at("requests")), 1u);
}

TEST_F(UsageReportTest, hours_older_than_31_days_are_pruned_when_a_later_request_is_recorded) {
  usage_stats stats(1, t0);
  stats.record(0, sample(t0, "old"));
  stats.record(0, sample(t0 + 1s, "old"));  // same slot: not yet in the history
  stats.record(0, sample(t0 + 31 * 24h, "new"));
  usage_query q;
  q.since = t0 - 1h;
  q.until = t0 + 32 * 24h;
  q.group_by = {"model"};
  // Asked as of a day after t0, so only pruning can have removed t0's hour.
  auto out = stats.usage(q, t0 + 24h);
  const auto& rows = out.at("rows").as_array();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("model").as_string(), "new");
  // A month on, only the retention filter can hide what pruning has not reached yet.
  usage_stats idle(1, t0);
  idle.record(0, sample(t0, "old"));
  EXPECT_EQ(count(idle.usage(q, t0 + 31 * 24h).at("totals").at("requests")), 0u);
  EXPECT_EQ(count(idle.usage(q, t0 + 30 * 24h).at("totals").at("requests")), 1u);
}

TEST_F(UsageReportTest, label_combinations_past_the_cap_of_an_hour_are_one_other_row) {
  usage_stats stats(1, t0);
  for (std::size_t i = 0; i < usage_max_keys + 3; ++i) {
    auto s = sample(t0, "m");
    auto key = "key-" + std::to_string(i);
    s.key = key;
    stats.record(0, s);
  }
  usage_query q;
  q.since = t0;
  q.until = t0 + 1h;
  auto out = stats.usage(q, t0);
  const auto& rows = out.at("rows").as_array();
  ASSERT_EQ(rows.size(), usage_max_keys + 1);
  std::uint64_t other = 0;
  for (const auto& r : rows)
    if (r.at("key").as_string() == "other") other = count(r.at("requests"));
  EXPECT_EQ(other, 3u);
  EXPECT_EQ(count(out.at("totals").at("requests")), usage_max_keys + 3);
}

// ---- parse_usage_query().

TEST_F(UsageQueryTest, defaults_to_the_last_24_hours_by_hour_and_every_label) {
  auto q = std::get<usage_query>(parse_usage_query("", t0));
  EXPECT_EQ(q.until, t0);
  EXPECT_EQ(q.since, t0 - 24h);
  EXPECT_EQ(q.group_by, (std::vector<std::string>{"model", "preset", "key"}));
  EXPECT_EQ(q.granularity, usage_query::period::hour);
  // since alone defaults until to now; until alone puts since a day before it.
  EXPECT_EQ(std::get<usage_query>(parse_usage_query("until=-2h", t0)).since, t0 - 26h);
}

TEST_F(UsageQueryTest, accepts_rfc_3339_dates_unix_seconds_and_relative_times) {
  auto since = [](std::string_view value) {
    auto parsed = parse_usage_query("since=" + std::string(value) + "&until=2100-01-01", t0);
    if (auto* error = std::get_if<std::string>(&parsed)) ADD_FAILURE() << *error;
    return std::get<usage_query>(parsed).since;
  };
  EXPECT_EQ(since("2026-11-25T19:00:00Z"), t0);
  EXPECT_EQ(since("2026-11-25t19:00:00z"), t0);
  EXPECT_EQ(since("2026-11-25T19%3A00%3A00Z"), t0);  // percent-encoded
  EXPECT_EQ(since("2026-11-25T19:00:00.250Z"), t0 + 250ms);
  EXPECT_EQ(since("2026-11-25T20:30:00+01:30"), t0);
  EXPECT_EQ(since("2026-11-25T17:00:00-02:00"), t0);
  EXPECT_EQ(since("2026-11-25"), t0 - 19h);
  EXPECT_EQ(since("1795633200"), t0);
  EXPECT_EQ(since("1795633200.5"), t0 + 500ms);
  EXPECT_EQ(since("-30m"), t0 - 30min);
  EXPECT_EQ(since("-24h"), t0 - 24h);
  EXPECT_EQ(since("-7d"), t0 - 7 * 24h);
}

TEST_F(UsageQueryTest, reads_group_by_in_canonical_order_and_the_period) {
  auto q = std::get<usage_query>(parse_usage_query("group_by=key,%20model,key&period=day", t0));
  EXPECT_EQ(q.group_by, (std::vector<std::string>{"model", "key"}));
  EXPECT_EQ(q.granularity, usage_query::period::day);
  EXPECT_EQ(std::get<usage_query>(parse_usage_query("?period=hour&", t0)).granularity, usage_query::period::hour);
}

TEST_F(UsageQueryTest, every_error_names_its_parameter) {
  auto error = [](std::string_view query) {
    auto parsed = parse_usage_query(query, t0);
    auto* message = std::get_if<std::string>(&parsed);
    return message ? *message : std::string("(accepted)");
  };
  EXPECT_EQ(error("since=x"),
            "since: expected an RFC 3339 time (2026-11-25T19:00:00Z), a date, unix seconds or a relative time like "
            "-24h, got 'x'");
  EXPECT_EQ(error("until=yesterday"),
            "until: expected an RFC 3339 time (2026-11-25T19:00:00Z), a date, unix seconds or a relative time like "
            "-24h, got 'yesterday'");
  for (auto bad : {"since=", "since=2026-13-01", "since=2026-02-30", "since=2026-11-25T25:00:00Z",
                   "since=2026-11-25T19:00:00", "since=2026-11-25T19:00Z", "since=-24", "since=-24w", "since=+24h",
                   "since=12ab", "since=2026-11-25T19:00:00.Z"})
    EXPECT_TRUE(error(bad).starts_with("since: expected")) << bad << " → " << error(bad);
  EXPECT_EQ(error("since=2300-01-01"), "since: '2300-01-01' is outside 1970 to 2199");
  EXPECT_EQ(error("until=-999999999d"), "until: '-999999999d' is outside 1970 to 2199");
  EXPECT_EQ(error("group_by=model,team"),
            "group_by: expected a comma-separated list of model, preset and key, got 'model,team'");
  EXPECT_EQ(error("period=week"), "period: expected hour or day, got 'week'");
  EXPECT_EQ(error("from=-1h"), "unknown parameter 'from' (expected since, until, group_by or period)");
  EXPECT_EQ(error("since=-1h&since=-2h"), "since: given more than once");
  EXPECT_EQ(error("period=day&period=day"), "period: given more than once");
  EXPECT_EQ(error("since=-1h&until=-2h"), "since (2026-11-25T18:00:00Z) is after until (2026-11-25T17:00:00Z)");
}

// ---- Recording while querying.

TEST_F(UsageConcurrencyTest, a_query_never_counts_a_slot_twice_or_misses_one) {
  usage_stats stats(2, t0);
  constexpr int per_thread = 20000;
  std::atomic<std::uint64_t> started{0}, finished{0};
  auto worker = [&](std::size_t shard) {
    // A second apart: every tenth sample hands a slot to the history while the queries run.
    for (int i = 0; i < per_thread; ++i) {
      started.fetch_add(1);
      stats.record(shard, sample(t0 + std::chrono::seconds(i), "m"));
      finished.fetch_add(1);
    }
  };
  usage_query q;
  q.since = t0;
  q.until = t0 + 24h;
  auto total = [&] { return count(stats.usage(q, t0).at("totals").at("requests")); };
  std::thread a(worker, 0), b(worker, 1);
  std::uint64_t last = 0;
  for (bool done = false; !done;) {
    auto before = finished.load();
    auto seen = total();
    auto after = started.load();
    EXPECT_GE(seen, before);
    EXPECT_LE(seen, after);
    EXPECT_GE(seen, last);
    last = seen;
    done = before == 2u * per_thread;
  }
  a.join();
  b.join();
  EXPECT_EQ(total(), 2u * per_thread);
}

}  // namespace
}  // namespace corral
