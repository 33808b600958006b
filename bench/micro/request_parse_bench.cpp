// What corral does to an inference request before routing (gateway/session.cpp): parse the
// body into a monotonic_resource over a 4 KiB stack buffer, find "model", validate and
// normalize it.
#include "gateway/core/model_name.hpp"

#include <benchmark/benchmark.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace {

namespace json = boost::json;

// An /api/chat body of about `size` bytes: a system prompt and a conversation.
std::string chat_body(std::size_t size) {
  json::array messages;
  messages.push_back({{"role", "system"}, {"content", "You are a concise assistant. Answer in plain English."}});
  std::size_t approx = 200;
  for (int i = 0; approx < size; ++i) {
    json::value m = {{"role", i % 2 ? "assistant" : "user"},
                     {"content", "Explain how a reverse proxy balances requests across GPU hosts "
                                 "that each serve a different set of models, step by step.\n"}};
    approx += json::serialize(m).size() + 1;
    messages.push_back(std::move(m));
  }
  json::object body{{"model", "llama3.1:8b"}, {"messages", std::move(messages)}, {"stream", true},
                    {"options", {{"temperature", 0.7}, {"top_p", 0.9}, {"num_ctx", 8192}}}};
  return json::serialize(body);
}

void bm_parse_chat_request(benchmark::State& state) {
  const std::string body = chat_body(static_cast<std::size_t>(state.range(0)));
  json::parse_options opts;
  opts.max_depth = 256;
  for (auto _ : state) {
    unsigned char scratch[4096];
    json::monotonic_resource mr(scratch, sizeof scratch);
    boost::system::error_code ec;
    auto parsed = json::parse(body, ec, &mr, opts);
    const json::value* model = !ec && parsed.is_object() ? parsed.get_object().if_contains("model") : nullptr;
    if (!model || !model->is_string() || !corral::is_valid_model_name(model->get_string())) {
      state.SkipWithError("no valid model in the body");
      break;
    }
    auto name = corral::normalize_model_name(model->get_string());
    benchmark::DoNotOptimize(name);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}

void bm_normalize_model_name(benchmark::State& state, std::string_view name) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(name);
    auto out = corral::normalize_model_name(name);
    benchmark::DoNotOptimize(out);
  }
}

BENCHMARK(bm_parse_chat_request)->Arg(1024)->Arg(64 * 1024);
BENCHMARK_CAPTURE(bm_normalize_model_name, short_name, "Llama3.1:8B");
BENCHMARK_CAPTURE(bm_normalize_model_name, long_name, "Llama3.1:8B-Instruct-Q4_K_M");

}  // namespace
