// match_route for the routes that carry the traffic, the prefix routes, and a miss.
#include "gateway/route_table.hpp"

#include <benchmark/benchmark.h>

namespace {

void bm_match_route(benchmark::State& state, std::string_view method, std::string_view path) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(method);
    benchmark::DoNotOptimize(path);
    auto m = corral::match_route(method, path);
    benchmark::DoNotOptimize(m);
  }
}

BENCHMARK_CAPTURE(bm_match_route, post_api_generate, "POST", "/api/generate");
BENCHMARK_CAPTURE(bm_match_route, post_api_chat, "POST", "/api/chat");
BENCHMARK_CAPTURE(bm_match_route, post_api_embed, "POST", "/api/embed");
BENCHMARK_CAPTURE(bm_match_route, post_v1_chat_completions, "POST", "/v1/chat/completions");
BENCHMARK_CAPTURE(bm_match_route, get_api_tags, "GET", "/api/tags");
BENCHMARK_CAPTURE(bm_match_route, get_v1_model, "GET", "/v1/models/llama3.1:8b");
BENCHMARK_CAPTURE(bm_match_route, miss, "GET", "/favicon.ico");

}  // namespace
