#include "bench/load/request_bodies.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <random>

namespace corral::bench {
namespace {

namespace json = boost::json;

std::string joined_contents(const json::array& messages) {
  std::string out;
  for (const auto& m : messages) {
    if (!m.is_object()) continue;
    const auto* c = m.get_object().if_contains("content");
    if (!c || !c->is_string()) continue;
    if (!out.empty()) out += '\n';
    out += c->get_string();
  }
  return out;
}

json::array as_messages(const prompt& p) {
  if (p.is_array()) return p.get_array();
  return json::array{json::object{{"role", "user"}, {"content", p.as_string()}}};
}

std::string as_text(const prompt& p) {
  if (p.is_string()) return std::string(p.get_string());
  return joined_contents(p.get_array());
}

}  // namespace

std::vector<prompt> load_prompts(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw usage_error("--prompts: cannot read '" + file + "'");
  std::vector<prompt> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto where = "--prompts: " + file + ":" + std::to_string(n) + ": ";
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) throw usage_error(where + "not a JSON object");
    const auto& o = v.get_object();
    if (const auto* p = o.if_contains("prompt"); p && p->is_string()) {
      out.emplace_back(*p);
    } else if (const auto* m = o.if_contains("messages"); m && m->is_array() && !m->get_array().empty()) {
      out.emplace_back(*m);
    } else {
      throw usage_error(where + "wants a \"prompt\" string or a non-empty \"messages\" array");
    }
  }
  if (out.empty()) throw usage_error("--prompts: '" + file + "' holds no prompt");
  return out;
}

std::vector<prompt> generate_prompts(const length_spec& words, std::size_t count, std::uint64_t seed) {
  static constexpr std::string_view vocabulary[] = {
      "the",   "fleet",  "of",     "servers", "answers", "every",   "question", "about",
      "light", "water",  "green",  "mountain", "river",  "quickly", "why",      "model",
      "token", "stream", "gateway", "balance", "cloud",  "sky",     "blue",     "is"};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<unsigned> length(words.min, words.max);
  std::uniform_int_distribution<std::size_t> pick(0, std::size(vocabulary) - 1);
  std::vector<prompt> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::string text;
    for (unsigned w = length(rng); w > 0; --w) {
      if (!text.empty()) text += ' ';
      text += vocabulary[pick(rng)];
    }
    out.emplace_back(json::string(text));
  }
  return out;
}

std::string request_body(const bench_options& o, const std::string& model, const prompt& p) {
  json::object body;
  body["model"] = model;
  json::object extra;
  if (!o.options_json.empty()) extra = json::parse(o.options_json).as_object();
  switch (o.api) {
    case api_kind::ollama_generate: body["prompt"] = as_text(p); break;
    case api_kind::ollama_chat: body["messages"] = as_messages(p); break;
    case api_kind::ollama_embed:
    case api_kind::openai_embeddings: body["input"] = as_text(p); break;
    case api_kind::openai_chat: body["messages"] = as_messages(p); break;
    case api_kind::openai_completions: body["prompt"] = as_text(p); break;
  }
  if (is_embedding(o.api)) {
    for (auto& [k, v] : extra) body[k] = v;
    return json::serialize(body);
  }
  body["stream"] = o.stream;
  if (is_openai(o.api)) {
    // OpenAI answers carry token counts only when asked; the report prefers them.
    if (o.stream) body["stream_options"] = json::object{{"include_usage", true}};
    if (o.max_tokens) body["max_tokens"] = o.max_tokens;
    for (auto& [k, v] : extra) body[k] = v;
  } else {
    if (o.max_tokens) extra["num_predict"] = o.max_tokens;
    if (!extra.empty()) body["options"] = std::move(extra);
  }
  return json::serialize(body);
}

std::string http_request(const bench_options& o, const base_url& url, const std::string& body) {
  std::string r = "POST ";
  r += url.prefix;
  r += endpoint_path(o.api);
  r += " HTTP/1.1\r\nHost: ";
  r += url.host;
  r += ':';
  r += url.port;
  r += "\r\nContent-Type: application/json\r\nUser-Agent: corral-bench\r\n";
  if (!o.api_key.empty()) r += "Authorization: Bearer " + o.api_key + "\r\n";
  for (const auto& [k, v] : o.headers) r += k + ": " + v + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

std::vector<std::string> build_requests(const bench_options& o, const base_url& url) {
  // Generated prompts: enough distinct ones that a cache keyed on the prompt sees variety.
  std::vector<prompt> prompts = o.prompts_file.empty() ? generate_prompts(o.prompt_words, 64, o.seed)
                                                       : load_prompts(o.prompts_file);
  std::vector<std::string> out;
  // P × M texts: text i pairs model i % M with prompt (i / M) % P, so every prompt goes to every
  // model (i % P would tie each prompt to one model whenever M divides P).
  const std::size_t m = o.models.size();
  const std::size_t n = prompts.size() * m;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(http_request(o, url, request_body(o, o.models[i % m], prompts[(i / m) % prompts.size()])));
  return out;
}

}  // namespace corral::bench
