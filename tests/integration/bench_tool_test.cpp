// corral-bench end to end: the real binary against fake-ollama directly and through corral;
// what it counts must match what the fake says it served.
#include "harness.hpp"

#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace corral::test {
namespace {

namespace json = boost::json;

class bench_tool_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("corral-bench-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs corral-bench to its end with `args` plus --json; returns its exit status.
  int run_bench(std::vector<std::string> args) {
    args.insert(args.end(), {"--json", json_path(), "--quiet"});
    bench_ = std::make_unique<process>(CORRAL_BENCH_BIN, args);
    return bench_->wait_exit(60s);
  }
  std::string json_path() const { return (dir_ / "result.json").string(); }
  json::value result() const {
    std::ifstream in(json_path());
    std::stringstream text;
    text << in.rdbuf();
    return parse_json(text.str());
  }
  // What it printed so far (for failure messages; wait_for_line waits for a line to come).
  std::string output() const {
    std::string all;
    for (const auto& l : bench_->lines()) all += l + "\n";
    return all;
  }
  // The fake's count for `route`, once it has stopped changing to `want` (counters are updated
  // right after each response ends).
  static std::int64_t served(const fake_ollama& f, const std::string& route, std::int64_t want) {
    std::int64_t got = -1;
    eventually([&] {
      auto s = f.stats();
      const auto* n = s.at("by_route").as_object().if_contains(route);
      got = n ? n->to_number<std::int64_t>() : 0;
      return got == want && s.at("in_flight").to_number<std::int64_t>() == 0;
    });
    return got;
  }
  static std::int64_t num(const json::value& v) { return v.to_number<std::int64_t>(); }

  std::filesystem::path dir_;
  std::unique_ptr<process> bench_;
};

TEST_F(bench_tool_test, counts_what_the_fake_served_when_driving_it_directly) {
  fake_ollama fake({"--models", "llama2", "--tokens", "20"});
  ASSERT_EQ(run_bench({"--url", fake.url(), "--requests", "50", "--concurrency", "4", "--header", "X-Fake-Tokens: 7"}), 0)
      << output();
  auto point = result().at("targets").at(0).at("points").at(0);
  EXPECT_EQ(num(point.at("requests")), 50);
  EXPECT_EQ(num(point.at("ok")), 50);
  EXPECT_EQ(num(point.at("output_tokens")), 50 * 7);  // eval_count of each final line
  EXPECT_EQ(num(point.at("latency_ms").at("ttft").at("count")), 50);
  EXPECT_EQ(served(fake, "/api/generate", 50), 50);
  EXPECT_FALSE(bench_->wait_for_line("  c=4").empty());
}

TEST_F(bench_tool_test, takes_time_to_first_token_at_the_first_line_not_at_the_end) {
  fake_ollama fake({"--models", "llama2"});
  // 4 tokens 60 ms apart: the first line comes at once, the answer ends after about 180 ms.
  ASSERT_EQ(run_bench({"--url", fake.url(), "--requests", "2", "--header", "X-Fake-Tokens: 4", "--header",
                       "X-Fake-Token-Delay-Ms: 60"}),
            0)
      << output();
  auto latency = result().at("targets").at(0).at("points").at(0).at("latency_ms");
  const double ttft = latency.at("ttft").at("p50").to_number<double>();
  const double e2e = latency.at("e2e").at("p50").to_number<double>();
  EXPECT_GE(e2e, 180);
  EXPECT_LT(ttft * 3, e2e) << "the first token was timed when the answer ended";
  EXPECT_EQ(num(latency.at("itl").at("count")), 2 * 3);
  EXPECT_GE(latency.at("itl").at("p50").to_number<double>(), 60);
}

TEST_F(bench_tool_test, counts_through_corral_and_compares_with_the_direct_path) {
  fake_ollama fake({"--models", "llama2", "--tokens", "5"});
  corral_process gw({fake.url()});
  const std::string gw_url = "http://127.0.0.1:" + std::to_string(gw.port);
  ASSERT_TRUE(eventually([&] { return request(gw.port, "GET", "/ready").status == 200; }));
  // OpenAI streaming: counts come from the final usage chunk; a sweep of two points per target.
  ASSERT_EQ(run_bench({"--url", gw_url, "--compare", fake.url(), "--endpoint", "/v1/chat/completions",
                       "--sweep-concurrency", "1,3", "--requests", "20", "--threads", "2"}),
            0)
      << output();
  auto doc = result();
  for (std::size_t t = 0; t < 2; ++t) {
    for (std::size_t p = 0; p < 2; ++p) {
      auto point = doc.at("targets").at(t).at("points").at(p);
      EXPECT_EQ(num(point.at("ok")), 20);
      EXPECT_EQ(num(point.at("output_tokens")), 20 * 5);
      EXPECT_GT(point.at("output_tokens_per_s").to_number<double>(), 0);
    }
  }
  EXPECT_EQ(served(fake, "/v1/chat/completions", 80), 80);  // 2 targets × 2 points × 20
  auto ratios = doc.at("comparison").at(1).at("ratios");
  EXPECT_GT(ratios.at("requests_per_s").to_number<double>(), 0);
  EXPECT_EQ(doc.at("comparison").at(1).at("label"), "c=3");
  EXPECT_FALSE(bench_->wait_for_line("ratios " + fake.url() + " / " + gw_url).empty());
}

TEST_F(bench_tool_test, open_loop_sends_exactly_the_requests_asked_and_draws_the_sweep) {
  fake_ollama fake({"--models", "llama2", "--tokens", "3"});
  corral_process gw({fake.url()});
  ASSERT_TRUE(eventually([&] { return request(gw.port, "GET", "/ready").status == 200; }));
  const auto html = (dir_ / "sweep.html").string();
  ASSERT_EQ(run_bench({"--url", "http://127.0.0.1:" + std::to_string(gw.port), "--endpoint", "/api/chat",
                       "--sweep-rate", "200,400", "--arrivals", "poisson", "--requests", "30", "--html", html}),
            0)
      << output();
  auto points = result().at("targets").at(0).at("points");
  EXPECT_EQ(num(points.at(0).at("ok")) + num(points.at(1).at("ok")), 60);
  EXPECT_EQ(num(points.at(1).at("output_tokens")), 30 * 3);
  EXPECT_EQ(points.at(1).at("rate"), 400.0);
  EXPECT_EQ(served(fake, "/api/chat", 60), 60);
  std::ifstream in(html);
  std::stringstream page;
  page << in.rdbuf();
  EXPECT_NE(page.str().find("<svg"), std::string::npos);
  EXPECT_NE(page.str().find("r=400/s"), std::string::npos);
}

TEST_F(bench_tool_test, reports_failures_by_kind_and_exits_1) {
  fake_ollama fake({"--models", "llama2", "--tokens", "4"});
  EXPECT_EQ(run_bench({"--url", fake.url(), "--requests", "6", "--header", "X-Fake-Status: 503"}), 1);
  EXPECT_EQ(num(result().at("targets").at(0).at("points").at(0).at("errors").at("status")), 6);
  EXPECT_EQ(run_bench({"--url", fake.url(), "--requests", "5", "--header", "X-Fake-Drop-After: 2"}), 1);
  auto point = result().at("targets").at(0).at("points").at(0);
  EXPECT_EQ(num(point.at("errors").at("broken_stream")), 5);
  EXPECT_EQ(num(point.at("ok")), 0);
  // Nothing listens on a port just closed by the fake.
  const std::string dead = fake.url();
  fake.proc->kill(SIGTERM);
  fake.proc->wait_exit();
  EXPECT_EQ(run_bench({"--url", dead, "--requests", "3"}), 1);
  EXPECT_EQ(num(result().at("targets").at(0).at("points").at(0).at("errors").at("connect")), 3);
}

TEST_F(bench_tool_test, bad_arguments_name_the_argument_and_exit_2) {
  struct bad_case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<bad_case> cases{
      {{"--concurrency", "4"}, "--url: is required"},
      {{"--url", "http://127.0.0.1:1", "--concurrency", "0"}, "--concurrency: wants a whole number >= 1"},
      {{"--url", "http://127.0.0.1:1", "--prompts", (dir_ / "missing.jsonl").string()}, "--prompts: cannot read"},
      {{"--url", "http://127.0.0.1:1", "--frobnicate"}, "--frobnicate: unknown argument"},
  };
  for (const auto& c : cases) {
    process p(CORRAL_BENCH_BIN, c.args);
    EXPECT_EQ(p.wait_exit(), 2);
    EXPECT_FALSE(p.wait_for_line(c.says).empty());
  }
  process help(CORRAL_BENCH_BIN, {"--help"});
  EXPECT_EQ(help.wait_exit(), 0);
  EXPECT_FALSE(help.wait_for_line("usage: corral-bench").empty());
}

TEST_F(bench_tool_test, reads_prompts_from_jsonl) {
  fake_ollama fake({"--models", "llama2", "--tokens", "2"});
  const auto prompts = (dir_ / "prompts.jsonl").string();
  std::ofstream(prompts) << R"({"prompt":"one two three"})" << "\n\n"
                         << R"({"messages":[{"role":"user","content":"four five"}]})" << "\n";
  ASSERT_EQ(run_bench({"--url", fake.url(), "--prompts", prompts, "--requests", "4"}), 0) << output();
  auto point = result().at("targets").at(0).at("points").at(0);
  EXPECT_EQ(num(point.at("prompt_tokens")), 3 + 2 + 3 + 2);  // the fake counts words
  std::ofstream(prompts) << R"({"text":"x"})" << "\n";
  process bad(CORRAL_BENCH_BIN, {"--url", fake.url(), "--prompts", prompts});
  EXPECT_EQ(bad.wait_exit(), 2);
  EXPECT_FALSE(bad.wait_for_line("prompts.jsonl:1: wants a \"prompt\" string").empty());
}

}  // namespace
}  // namespace corral::test
