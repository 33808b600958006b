// What corral-bench spends on every streamed token: reading one NDJSON line or SSE payload for
// its text and counters. It must stay far below a proxy's cost per chunk, so the load generator
// is never what limits a measurement.
#include "bench/load/response_tokens.hpp"

#include <benchmark/benchmark.h>

#include <string_view>

namespace {

constexpr std::string_view ndjson_token =
    R"({"model":"llama2","created_at":"2024-01-01T00:00:00Z","response":" quick","done":false})";
constexpr std::string_view ndjson_final =
    R"({"model":"llama2","created_at":"2024-01-01T00:00:00Z","response":"","done":true,"done_reason":"stop",)"
    R"("context":[1,2,3,4,5,6,7,8],"total_duration":123456789,"load_duration":1234567,"prompt_eval_count":26,)"
    R"("prompt_eval_duration":2345678,"eval_count":64,"eval_duration":98765432})";
constexpr std::string_view sse_token =
    R"({"id":"chatcmpl-123","object":"chat.completion.chunk","created":1704067200,"model":"llama2",)"
    R"("system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":" quick"},"finish_reason":null}]})";

void bm_read_ollama_piece(benchmark::State& state, std::string_view line) {
  for (auto _ : state) {
    auto info = corral::bench::read_ollama_piece(line);
    benchmark::DoNotOptimize(info);
  }
}

void bm_read_openai_piece(benchmark::State& state, std::string_view payload) {
  for (auto _ : state) {
    auto info = corral::bench::read_openai_piece(payload);
    benchmark::DoNotOptimize(info);
  }
}

BENCHMARK_CAPTURE(bm_read_ollama_piece, token_line, ndjson_token);
BENCHMARK_CAPTURE(bm_read_ollama_piece, final_line, ndjson_final);
BENCHMARK_CAPTURE(bm_read_openai_piece, chat_delta, sse_token);

}  // namespace
