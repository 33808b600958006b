// Catalog look-ups (per inference request) in a fleet of 3 backends × 50 models, and
// merge_tags (per /api/tags and /v1/models) of their 3 lists.
#include "gateway/model_catalog.hpp"

#include <benchmark/benchmark.h>

#include <boost/json/value.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;

constexpr const char* families[] = {"llama3.1", "qwen2.5", "mistral", "gemma2", "phi3", "deepseek-r1",
                                    "nomic-embed-text", "codellama", "llava", "mixtral", "starcoder2",
                                    "tinyllama", "command-r", "granite3"};
constexpr const char* tags[] = {"latest", "7b", "8b-instruct-q4_K_M", "70b", "13b"};

// Model `i` of a pool of 70 as /api/tags lists it; backend b has models [10b, 10b + 50).
json::value tag_entry(int i) {
  std::string name = std::string(families[i % 14]) + ":" + tags[i / 14];
  char modified[64];
  std::snprintf(modified, sizeof modified, "2024-%02d-%02dT%02d:14:03.123456789-07:00", 1 + i % 12,
                1 + i % 28, i % 24);
  return {{"name", name}, {"model", name}, {"modified_at", modified}, {"size", 4661224676 + i},
          {"digest", "365c0bd3c000a25d28ddbf732fe1c6add414de7275464c4e4d1c3b5fcb5d8ad1"},
          {"details", {{"format", "gguf"}, {"family", "llama"}, {"parameter_size", "8.0B"},
                       {"quantization_level", "Q4_K_M"}}}};
}

std::vector<corral::backend_models> fleet() {
  std::vector<corral::backend_models> out(3);
  for (int b = 0; b < 3; ++b) {
    out[b].known = true;
    for (int i = 10 * b; i < 10 * b + 50; ++i) out[b].tags.push_back(tag_entry(i));
    for (int i = 10 * b; i < 10 * b + 2; ++i) out[b].running.push_back(tag_entry(i));
  }
  return out;
}

const corral::model_catalog& catalog() {
  static const corral::model_catalog c(fleet());
  return c;
}

void bm_installed_on(benchmark::State& state, std::string_view name) {
  const auto& c = catalog();
  for (auto _ : state) {
    benchmark::DoNotOptimize(name);
    benchmark::DoNotOptimize(c.installed_on(name));
  }
}

void bm_loaded_on(benchmark::State& state, std::string_view name) {
  const auto& c = catalog();
  for (auto _ : state) {
    benchmark::DoNotOptimize(name);
    benchmark::DoNotOptimize(c.loaded_on(name));
  }
}

void bm_merge_tags(benchmark::State& state) {
  const auto& per_backend = catalog().per_backend();
  const std::vector<const json::array*> lists{&per_backend[0].tags, &per_backend[1].tags,
                                              &per_backend[2].tags};
  for (auto _ : state) {
    auto merged = corral::merge_tags(lists);
    benchmark::DoNotOptimize(merged);
  }
  state.SetItemsProcessed(state.iterations() * 150);  // entries merged
}

// Normalized names up to 15 bytes fit libstdc++'s small-string buffer; longer ones do not.
BENCHMARK_CAPTURE(bm_installed_on, short_name, "mistral:latest");
BENCHMARK_CAPTURE(bm_installed_on, long_name, "llama3.1:8b-instruct-q4_k_m");
BENCHMARK_CAPTURE(bm_installed_on, miss, "no-such-model:latest");
BENCHMARK_CAPTURE(bm_loaded_on, short_name, "qwen2.5:latest");
BENCHMARK(bm_merge_tags);

}  // namespace
