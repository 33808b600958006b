// corral-bench's pure parts: percentiles, rates, token counting, the command line, the bodies
// it sends and the summary of a point, against values worked out by hand.
#include "bench/load/bench_args.hpp"
#include "bench/load/bench_stats.hpp"
#include "bench/load/report.hpp"
#include "bench/load/request_bodies.hpp"
#include "bench/load/response_tokens.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace corral::bench {
namespace {

namespace json = boost::json;

class bench_stats_test : public ::testing::Test {
 protected:
  static std::string parse_error(std::vector<std::string> args) {
    try {
      parse_args(args);
    } catch (const usage_error& e) {
      return e.what();
    }
    return "(accepted)";
  }
  static std::vector<std::string> with_url(std::vector<std::string> args) {
    args.insert(args.begin(), {"--url", "http://127.0.0.1:9089"});
    return args;
  }
};

TEST_F(bench_stats_test, percentile_interpolates_between_closest_ranks) {
  const std::vector<double> v{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 10);
  EXPECT_DOUBLE_EQ(percentile(v, 50), 5.5);   // rank 4.5
  EXPECT_DOUBLE_EQ(percentile(v, 90), 9.1);   // rank 8.1
  EXPECT_DOUBLE_EQ(percentile(v, 99), 9.91);  // rank 8.91
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
  EXPECT_DOUBLE_EQ(percentile(v, 150), 10);
}

TEST_F(bench_stats_test, summarize_sorts_and_reports_mean_percentiles_and_max) {
  std::vector<double> v{0.4, 0.1, 0.3, 0.2, 1.0};
  auto s = summarize(v);
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.mean, 0.4);
  EXPECT_DOUBLE_EQ(s.p50, 0.3);
  EXPECT_DOUBLE_EQ(s.p90, 0.76);  // rank 3.6: 0.4 + 0.6 × 0.6
  EXPECT_DOUBLE_EQ(s.max, 1.0);
  std::vector<double> none;
  EXPECT_EQ(summarize(none).count, 0u);
  EXPECT_DOUBLE_EQ(summarize(none).p99, 0);
}

TEST_F(bench_stats_test, rates_ratios_and_time_per_token_never_divide_by_zero) {
  EXPECT_DOUBLE_EQ(rate(300, 1.5), 200);
  EXPECT_DOUBLE_EQ(rate(300, 0), 0);
  EXPECT_DOUBLE_EQ(ratio(3, 2), 1.5);
  EXPECT_DOUBLE_EQ(ratio(3, 0), 0);
  // 1.0 s end to end, first token at 0.1 s, 10 tokens: 0.9 s over the 9 after the first.
  EXPECT_DOUBLE_EQ(time_per_output_token(1.0, 0.1, 10), 0.1);
  EXPECT_LT(time_per_output_token(1.0, 0.1, 1), 0);
  EXPECT_LT(time_per_output_token(1.0, -1, 10), 0);
}

TEST_F(bench_stats_test, ollama_pieces_count_content_and_take_the_final_counters) {
  token_tally t;
  t.add(read_ollama_piece(R"({"model":"m","response":" The","done":false})"));
  t.add(read_ollama_piece(R"({"model":"m","response":"","done":false})"));
  t.add(read_ollama_piece(R"({"model":"m","message":{"role":"assistant","content":" fox"},"done":false})"));
  EXPECT_EQ(t.content_pieces, 2u);
  EXPECT_EQ(t.output_tokens(), 2u);
  auto last = read_ollama_piece(R"({"model":"m","response":"","done":true,"prompt_eval_count":5,"eval_count":12})");
  EXPECT_TRUE(last.done);
  EXPECT_FALSE(last.content);
  t.add(last);
  EXPECT_EQ(t.output_tokens(), 12u);
  EXPECT_EQ(t.prompt_tokens(), 5u);

  EXPECT_TRUE(read_ollama_piece(R"({"error":"boom"})").error);
  EXPECT_TRUE(read_ollama_piece(R"({"response":" a)").malformed);
  auto embed = read_ollama_piece(R"({"model":"e","embeddings":[[0.1]],"prompt_eval_count":3})");
  EXPECT_FALSE(embed.content);
  EXPECT_EQ(embed.prompt_tokens, 3u);
}

TEST_F(bench_stats_test, openai_pieces_count_deltas_and_let_the_last_usage_win) {
  token_tally t;
  t.add(read_openai_piece(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":" The"}}]})"));
  t.add(read_openai_piece(R"({"choices":[{"index":0,"delta":{"content":" quick"}}]})"));
  t.add(read_openai_piece(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"));
  EXPECT_EQ(t.output_tokens(), 2u);  // no usage: one per content delta
  // Completions with include_usage: zeroed usage on every chunk, the real one last.
  token_tally c;
  c.add(read_openai_piece(R"({"choices":[{"text":" a","index":0}],"usage":{"prompt_tokens":0,"completion_tokens":0}})"));
  EXPECT_EQ(c.output_tokens(), 0u);
  c.add(read_openai_piece(R"({"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":9,"total_tokens":13}})"));
  EXPECT_EQ(c.output_tokens(), 9u);
  EXPECT_EQ(c.prompt_tokens(), 4u);
  EXPECT_TRUE(read_openai_piece("[DONE]").done);
  EXPECT_TRUE(read_openai_piece(R"({"error":{"message":"x"}})").error);
  auto embeddings = read_openai_piece(R"({"object":"list","data":[],"usage":{"prompt_tokens":6,"total_tokens":6}})");
  EXPECT_EQ(embeddings.output_tokens, 0u);
  EXPECT_EQ(embeddings.prompt_tokens, 6u);
}

TEST_F(bench_stats_test, bad_arguments_name_the_argument) {
  EXPECT_EQ(parse_error({}), "--url: is required (the base address, e.g. http://127.0.0.1:9089)");
  EXPECT_EQ(parse_error({"--url", "https://x"}), "--url: wants an http:// URL, got 'https://x'");
  EXPECT_EQ(parse_error(with_url({"--concurrency", "0"})), "--concurrency: wants a whole number >= 1, got '0'");
  EXPECT_EQ(parse_error(with_url({"--rate", "abc"})), "--rate: wants a number > 0, got 'abc'");
  EXPECT_EQ(parse_error(with_url({"--rate", "5", "--concurrency", "2"})),
            "--rate: and --concurrency exclude each other (open or closed loop)");
  EXPECT_EQ(parse_error(with_url({"--arrivals", "poisson"})), "--arrivals: needs --rate or --sweep-rate");
  EXPECT_EQ(parse_error(with_url({"--arrivals", "bursty", "--rate", "1"})), "--arrivals: wants constant or poisson, got 'bursty'");
  EXPECT_EQ(parse_error(with_url({"--duration", "ten"})), "--duration: wants a duration such as 10, 10s, 500ms or 2m");
  EXPECT_EQ(parse_error(with_url({"--sweep-concurrency", "1,,4"})), "--sweep-concurrency: has an empty item in '1,,4'");
  EXPECT_EQ(parse_error(with_url({"--prompt-tokens", "uniform:9:3"})), "--prompt-tokens: wants MIN <= MAX in 'uniform:9:3'");
  EXPECT_EQ(parse_error(with_url({"--options", "[1]"})), "--options: wants a JSON object such as '{\"temperature\":0}'");
  EXPECT_EQ(parse_error(with_url({"--header", "novalue"})), "--header: wants NAME:VALUE, got 'novalue'");
  EXPECT_EQ(parse_error(with_url({"--endpoint", "/api/tags"})).substr(0, 21), "--endpoint: wants one");
  EXPECT_EQ(parse_error(with_url({"--bogus"})), "--bogus: unknown argument (see --help)");
  EXPECT_EQ(parse_error(with_url({"--requests"})), "--requests: wants a value");
}

TEST_F(bench_stats_test, good_arguments_fill_the_options) {
  auto o = parse_args(with_url({"--sweep-rate=10,50", "--arrivals", "poisson", "--model", "a,b", "--model", "c",
                                "--duration", "500ms", "--prompt-tokens", "uniform:64:256", "--header",
                                "X-Fake-Tokens: 7", "--endpoint", "/v1/chat/completions", "--no-stream"}));
  EXPECT_TRUE(o.open_loop);
  EXPECT_EQ(o.rates, (std::vector<double>{10, 50}));
  EXPECT_EQ(o.arrival, arrivals::poisson);
  EXPECT_EQ(o.models, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_DOUBLE_EQ(o.duration_s, 0.5);
  EXPECT_EQ(o.prompt_words.min, 64u);
  EXPECT_EQ(o.prompt_words.max, 256u);
  ASSERT_EQ(o.headers.size(), 1u);
  EXPECT_EQ(o.headers[0].second, "7");
  EXPECT_EQ(o.api, api_kind::openai_chat);
  EXPECT_FALSE(o.stream);
  EXPECT_EQ(o.url.port, "9089");
  auto d = parse_args(with_url({}));
  EXPECT_DOUBLE_EQ(d.duration_s, 10);  // neither bound given
}

TEST_F(bench_stats_test, bodies_take_the_shape_of_the_endpoint) {
  auto o = parse_args(with_url({"--max-tokens", "5", "--options", R"({"temperature":0})"}));
  auto native = json::parse(request_body(o, "m", json::string("hi there")));
  EXPECT_EQ(native.at("prompt"), "hi there");
  EXPECT_EQ(native.at("options").at("num_predict"), 5);
  EXPECT_EQ(native.at("options").at("temperature"), 0);

  o.api = api_kind::openai_chat;
  auto chat = json::parse(request_body(o, "m", json::string("hi")));
  EXPECT_EQ(chat.at("messages").at(0).at("content"), "hi");
  EXPECT_EQ(chat.at("max_tokens"), 5);
  EXPECT_EQ(chat.at("stream_options").at("include_usage"), true);
  EXPECT_EQ(chat.at("temperature"), 0);

  o.api = api_kind::ollama_generate;
  auto joined = json::parse(request_body(o, "m", json::parse(R"([{"role":"user","content":"a"},{"role":"user","content":"b"}])")));
  EXPECT_EQ(joined.at("prompt"), "a\nb");

  auto generated = generate_prompts({3, 3}, 2, 7);
  ASSERT_EQ(generated.size(), 2u);
  std::string first(generated[0].as_string());
  EXPECT_EQ(std::count(first.begin(), first.end(), ' '), 2);
  EXPECT_EQ(generate_prompts({3, 3}, 2, 7), generated);
}

TEST_F(bench_stats_test, a_point_summary_counts_only_successes_in_rates_and_latencies) {
  point_samples s;
  s.point = {false, 2, 0};
  s.wall = 2.0;
  s.requests = {
      {0.0, 1.0, 0.2, 9, 3, 200, error_kind::none},
      {0.5, 1.0, 0.1, 3, 3, 200, error_kind::none},
      {0.1, 0.2, -1, 0, 0, 503, error_kind::status},
      {0.1, 0.3, -1, 0, 0, 0, error_kind::connect},
  };
  s.inter_token = {0.1, 0.2, 0.3};
  auto p = summarize_point(s);
  EXPECT_EQ(p.sent, 4u);
  EXPECT_EQ(p.ok, 2u);
  EXPECT_EQ(p.errors[static_cast<std::size_t>(error_kind::status)], 1u);
  EXPECT_EQ(p.errors[static_cast<std::size_t>(error_kind::connect)], 1u);
  EXPECT_EQ(p.output_tokens, 12u);
  EXPECT_DOUBLE_EQ(p.requests_per_s, 1.0);
  EXPECT_DOUBLE_EQ(p.output_tokens_per_s, 6.0);
  EXPECT_DOUBLE_EQ(p.e2e.p50, 0.75);             // 1.0 and 0.5
  EXPECT_NEAR(p.ttft.p50, 0.15, 1e-12);          // 0.2 and 0.1
  EXPECT_NEAR(p.tpot.p50, 0.15, 1e-12);          // (1.0 − 0.2) / 8 = 0.1 and (0.5 − 0.1) / 2 = 0.2
  EXPECT_DOUBLE_EQ(p.tpot.max, 0.2);
  EXPECT_DOUBLE_EQ(p.itl.p50, 0.2);
  EXPECT_EQ(p.point.label(), "c=2");
}

}  // namespace
}  // namespace corral::bench
