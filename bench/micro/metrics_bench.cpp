// metrics_registry::record (once per request, on its worker's shard) and render() (per scrape)
// with 4 routes × 5 models.
#include "gateway/metrics.hpp"

#include <benchmark/benchmark.h>

#include <vector>

namespace {

constexpr std::string_view routes[] = {"/api/chat", "/api/generate", "/v1/chat/completions", "/api/embed"};
constexpr std::string_view models[] = {"llama3.1:8b", "qwen2.5:7b", "mistral:latest",
                                       "nomic-embed-text:latest", "llama3.1:70b"};
constexpr std::size_t combos = std::size(routes) * std::size(models);

corral::request_sample sample(std::size_t i) {
  corral::request_sample s;
  s.route = routes[i % std::size(routes)];
  s.model = models[i / std::size(routes) % std::size(models)];
  s.status = i % 17 == 0 ? 500 : 200;
  s.duration_s = 0.05 * static_cast<double>(i % 100);
  s.ttfb_s = 0.01 * static_cast<double>(i % 50);
  s.prompt_tokens = 30 + i % 200;
  s.completion_tokens = 100 + i % 400;
  return s;
}

void bm_record(benchmark::State& state) {
  corral::metrics_registry reg(2, 3);
  std::vector<corral::request_sample> samples;
  for (std::size_t i = 0; i < combos * 4; ++i) samples.push_back(sample(i));
  for (std::size_t i = 0; i < samples.size(); ++i) reg.record(0, samples[i]);  // label sets exist
  std::size_t i = 0;
  for (auto _ : state) {
    reg.record(0, samples[i]);
    i = i + 1 == samples.size() ? 0 : i + 1;
    benchmark::ClobberMemory();
  }
}

void bm_render(benchmark::State& state) {
  corral::metrics_registry reg(2, 3);
  for (std::size_t i = 0; i < combos * 20; ++i) reg.record(i % 2, sample(i));
  const std::vector<corral::backend_gauges> backends{
      {"gpu-a", true, 3, 0}, {"gpu-b", true, 1, 2}, {"gpu-c", false, 0, 7}};
  std::int64_t bytes = 0;
  for (auto _ : state) {
    auto text = reg.render(backends);
    bytes += static_cast<std::int64_t>(text.size());
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(bytes);  // of exposition text produced
}

BENCHMARK(bm_record);
BENCHMARK(bm_render);

}  // namespace
