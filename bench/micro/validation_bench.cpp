// The validation policy on already-parsed bodies (parsing is request_parse_bench's): the schema
// walk alone for typical /api/chat, /api/generate and /v1/chat/completions requests, a long
// conversation, a base64 image, and the whole on_request hook as the chain runs it (with the
// cost of running any coroutine hook alongside, for comparison).
#include "policies/request_schema.hpp"
#include "policies/validation.hpp"

#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace {

namespace json = boost::json;

// What a chat client sends: a system prompt, a few turns, options.
constexpr std::string_view typical_chat = R"({"model":"llama3.2","stream":true,
  "messages":[{"role":"system","content":"You are a concise assistant. Answer in plain English."},
              {"role":"user","content":"How does a reverse proxy balance requests across GPU hosts?"},
              {"role":"assistant","content":"It tracks which hosts have the model loaded and sends each request to the least busy one."},
              {"role":"user","content":"And when none has it loaded?"}],
  "options":{"temperature":0.7,"top_p":0.9,"num_ctx":8192},"keep_alive":"5m"})";

constexpr std::string_view typical_generate = R"({"model":"llama3.2","prompt":"Why is the sky blue? Answer in one paragraph.",
  "stream":false,"system":"You are a physics teacher.","options":{"temperature":0.8,"num_predict":256,"seed":42,
  "stop":["\n\n"]},"format":"json","keep_alive":-1})";

constexpr std::string_view typical_openai_chat = R"({"model":"llama3.2","stream":true,"stream_options":{"include_usage":true},
  "messages":[{"role":"system","content":"You are a concise assistant."},
              {"role":"user","content":[{"type":"text","text":"What is in this picture?"},
                {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}],
  "max_tokens":512,"temperature":0.7,"top_p":1})";

json::object parse_object(std::string_view text) { return json::parse(text).as_object(); }

json::object long_chat(std::size_t messages) {
  json::object body = parse_object(typical_chat);
  auto& list = body["messages"].as_array();
  while (list.size() < messages) list.push_back(list[1 + list.size() % 3]);
  return body;
}

json::object chat_with_image(std::size_t image_bytes) {
  json::object body = parse_object(typical_chat);
  std::string image(image_bytes / 4 * 4, 'A');
  body["messages"].as_array()[1].as_object()["images"] = json::array{json::string(image)};
  return body;
}

void check(benchmark::State& state, std::string_view route, const json::object& body) {
  const corral::request_limits limits;
  for (auto _ : state) {
    auto fault = corral::check_request(route, body, limits);
    benchmark::DoNotOptimize(fault);
  }
}

void bm_check_typical_chat(benchmark::State& state) { check(state, "/api/chat", parse_object(typical_chat)); }
void bm_check_typical_generate(benchmark::State& state) {
  check(state, "/api/generate", parse_object(typical_generate));
}
void bm_check_typical_openai_chat(benchmark::State& state) {
  check(state, "/v1/chat/completions", parse_object(typical_openai_chat));
}
void bm_check_long_chat(benchmark::State& state) {
  check(state, "/api/chat", long_chat(static_cast<std::size_t>(state.range(0))));
}
void bm_check_chat_with_image(benchmark::State& state) {
  check(state, "/api/chat", chat_with_image(static_cast<std::size_t>(state.range(0))));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

// What running any on_request costs here (co_spawn, io_context run): subtract it from the hook's.
boost::asio::awaitable<corral::verdict> pass_through() { co_return corral::verdict::next(); }

void bm_coroutine_baseline(benchmark::State& state) {
  boost::asio::io_context io;
  for (auto _ : state) {
    boost::asio::co_spawn(io, pass_through(), boost::asio::detached);
    io.restart();
    io.run();
  }
}

// The hook as the chain runs it: coroutine frame, decision record, per-model lookup among
// `models` configured names.
void bm_on_request_typical_chat(benchmark::State& state) {
  json::object options;
  json::object models;
  for (std::int64_t i = 0; i < state.range(0); ++i)
    models["model-" + std::to_string(i)] = json::object{{"max_prompt_tokens", 8192}};
  if (!models.empty()) options["models"] = std::move(models);
  auto p = corral::make_validation(options);
  p->bind("validation", 0, nullptr);
  json::object body = parse_object(typical_chat);
  corral::request_context ctx;
  corral::policy_request req{ctx};
  req.ctx.route = "/api/chat";
  req.body = &body;
  boost::asio::io_context io;
  for (auto _ : state) {
    ctx.decisions.clear();
    boost::asio::co_spawn(io, p->on_request(req), boost::asio::detached);
    io.restart();
    io.run();
  }
}

BENCHMARK(bm_check_typical_chat);
BENCHMARK(bm_check_typical_generate);
BENCHMARK(bm_check_typical_openai_chat);
BENCHMARK(bm_check_long_chat)->Arg(50)->Arg(500);
BENCHMARK(bm_check_chat_with_image)->Arg(1 << 20);
BENCHMARK(bm_coroutine_baseline);
BENCHMARK(bm_on_request_typical_chat)->Arg(0)->Arg(16);

}  // namespace
