// The output filter on the relay's hot path: one iteration = one record through
// on_response_chunk, all built-in rule sets on (redact), default hold-back (64 bytes).
// Token records carry ~10 characters of text each, as a model streams them.
#include "policies/output_filter.hpp"

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include <string>
#include <vector>

namespace {

using namespace corral;
namespace json = boost::json;

constexpr std::string_view plain_words[] = {" The quick", " brown fox", " jumps over", " the lazy", " dog, then",
                                            " it naps.", " Nothing", " here is", " secret at", " all, fine."};
// Every sentence has an e-mail address, an IPv4 address and a card number split over tokens.
constexpr std::string_view matching_words[] = {" Mail ann.", "lee@corp.", "example.com", " from 10.", "20.30.40",
                                               " card 4111", " 1111 1111", " 1111 ok.", " Then more", " words."};

std::unique_ptr<policy> all_builtins() {
  auto p = make_output_filter(
      json::parse(R"({"builtin": {"email": "redact", "card": "redact", "secrets": "redact", "ipv4": "redact"}})").as_object());
  p->bind("output_filter", 0, nullptr);
  return p;
}

std::string generate_line(std::string_view piece) {
  return json::serialize(json::object{{"model", "llama3.2"}, {"created_at", "2025-01-01T00:00:00.123456Z"},
                                      {"response", piece}, {"done", false}}) +
         "\n";
}

std::string chat_event(std::string_view piece) {
  json::object choice{{"index", 0}, {"delta", json::object{{"role", "assistant"}, {"content", piece}}}, {"finish_reason", nullptr}};
  return "data: " +
         json::serialize(json::object{{"id", "chatcmpl-42"}, {"object", "chat.completion.chunk"}, {"created", 1704067200},
                                      {"model", "llama3.2"}, {"system_fingerprint", "fp_ollama"},
                                      {"choices", json::array{choice}}}) +
         "\n\n";
}

template <std::size_t N>
std::vector<std::string> records(const std::string_view (&words)[N], std::string (*record)(std::string_view)) {
  std::vector<std::string> out;
  for (auto w : words) out.push_back(record(w));
  return out;
}

void run_stream(benchmark::State& state, const std::vector<std::string>& recs, chunk_kind kind, std::string_view type) {
  auto p = all_builtins();
  request_context ctx;
  p->on_response_head(ctx, {200, type});
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const auto& r = recs[i];
    auto result = p->on_response_chunk(ctx, kind, r);
    benchmark::DoNotOptimize(result);
    bytes += r.size();
    if (++i == recs.size()) {
      i = 0;
      if (ctx.decisions.size() > (1u << 16)) ctx.decisions.clear();
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void ndjson_no_match(benchmark::State& state) {
  run_stream(state, records(plain_words, generate_line), chunk_kind::ndjson_line, "application/x-ndjson");
}
BENCHMARK(ndjson_no_match);

void ndjson_with_matches(benchmark::State& state) {
  run_stream(state, records(matching_words, generate_line), chunk_kind::ndjson_line, "application/x-ndjson");
}
BENCHMARK(ndjson_with_matches);

// /api/pull progress and the like: records without a text field.
void ndjson_without_text(benchmark::State& state) {
  run_stream(state, {R"({"status":"pulling 8eeb52dfb3bb","digest":"sha256:8eeb52dfb3bb","total":4661211808,"completed":1048576})" "\n"},
             chunk_kind::ndjson_line, "application/x-ndjson");
}
BENCHMARK(ndjson_without_text);

void sse_no_match(benchmark::State& state) {
  run_stream(state, records(plain_words, chat_event), chunk_kind::sse_event, "text/event-stream");
}
BENCHMARK(sse_no_match);

// A non-streaming /api/generate answer of ~4 KiB.
std::string whole_body(const std::string_view (&words)[10]) {
  std::string text;
  while (text.size() < 4096)
    for (auto w : words) text += w;
  return json::serialize(json::object{{"model", "llama3.2"}, {"created_at", "2025-01-01T00:00:00Z"}, {"response", text},
                                      {"done", true}, {"done_reason", "stop"}, {"eval_count", 1024}});
}

void run_whole(benchmark::State& state, const std::string& body) {
  auto p = all_builtins();
  request_context ctx;
  p->on_response_head(ctx, {200, "application/json; charset=utf-8"});
  for (auto _ : state) {
    benchmark::DoNotOptimize(p->on_response_chunk(ctx, chunk_kind::whole_body, body));
    if (ctx.decisions.size() > (1u << 16)) ctx.decisions.clear();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void whole_body_no_match(benchmark::State& state) { run_whole(state, whole_body(plain_words)); }
BENCHMARK(whole_body_no_match);

void whole_body_with_matches(benchmark::State& state) { run_whole(state, whole_body(matching_words)); }
BENCHMARK(whole_body_with_matches);

}  // namespace
