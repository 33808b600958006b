// What the management API spends on each of Ollama's records it reshapes (/api/v1/generate and
// its stream): reading the record with json_cursor and writing the answer's record. Beside it,
// for scale, what parsing the same record into a Boost.JSON tree alone costs — the reading this
// replaced — and what the relay's own search for token counts costs on the Ollama routes.
#include "gateway/management_inference.hpp"
#include "gateway/proxy.hpp"

#include <benchmark/benchmark.h>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <string>
#include <string_view>

namespace {

constexpr std::string_view token_record =
    R"({"model":"llama2","created_at":"2026-11-25T22:33:34.002898607Z","response":" quick","done":false})";
constexpr std::string_view final_record =
    R"({"model":"llama2","created_at":"2026-11-25T22:33:34.037656799Z","response":"","done":true,"done_reason":"stop",)"
    R"("context":[20831,28871,9462,2092,7000,32000,32001,32002,32003,32004,32005,32006,32007,32008,32009],)"
    R"("total_duration":291267,"load_duration":29686,"prompt_eval_count":5,"prompt_eval_duration":29686,)"
    R"("eval_count":10,"eval_duration":231895})";

corral::request_context context() {
  corral::request_context ctx;
  ctx.model = "llama2:latest";
  ctx.preset = "general";
  ctx.backend = "gpu1";
  ctx.id = "0123456789abcdef";
  return ctx;
}

void bm_shape_record(benchmark::State& state, std::string_view record) {
  auto ctx = context();
  auto shaper = corral::make_inference_shaper(corral::inference_kind::generate, true, false, ctx);
  std::string out;
  for (auto _ : state) {
    out.clear();
    shaper->on_record(record, out);
    benchmark::DoNotOptimize(out.data());
  }
}

void bm_shape_whole(benchmark::State& state) {
  auto ctx = context();
  auto shaper = corral::make_inference_shaper(corral::inference_kind::generate, false, false, ctx);
  for (auto _ : state) benchmark::DoNotOptimize(shaper->on_whole(final_record));
}

void bm_boost_json_parse_only(benchmark::State& state, std::string_view record) {
  for (auto _ : state) {
    unsigned char scratch[4096];
    boost::json::monotonic_resource mr(scratch, sizeof scratch);
    boost::system::error_code ec;
    auto v = boost::json::parse(record, ec, &mr);
    benchmark::DoNotOptimize(v);
  }
}

void bm_count_tokens(benchmark::State& state) {
  for (auto _ : state) {
    corral::request_context ctx;
    corral::count_tokens(final_record, ctx);
    benchmark::DoNotOptimize(ctx.completion_tokens);
  }
}

BENCHMARK_CAPTURE(bm_shape_record, token_record, token_record);
BENCHMARK_CAPTURE(bm_shape_record, final_record, final_record);
BENCHMARK(bm_shape_whole);
BENCHMARK_CAPTURE(bm_boost_json_parse_only, token_record, token_record);
BENCHMARK_CAPTURE(bm_boost_json_parse_only, final_record, final_record);
BENCHMARK(bm_count_tokens);

}  // namespace
